"""Celery app, sync engine and operations for the Rackbeat to e-conomic integration."""

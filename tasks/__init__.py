"""Celery app, sync engine and operations for the Rackbeat to e-conomic integration."""

from tasks.celery import app as app  # `celery -A tasks` finds the app here

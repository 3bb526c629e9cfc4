"""Local emulators of the Rackbeat and Visma e-conomic APIs: for tests, demos, and trying without accounts.

Run one with ``python -m sandbox rackbeat --port 8081`` or ``python -m sandbox economic --port 8082``.
"""

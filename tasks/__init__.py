"""Celery tasks: thin wrappers that load, call brief, store. `celery -A tasks worker -B`."""

from tasks.app import app

__all__ = ["app"]

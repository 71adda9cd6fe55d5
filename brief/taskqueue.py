"""Enqueueing Celery tasks by name from processes that are not workers (web, inbound mail).

The web app does not import `tasks` (the workers' app, configured from the environment):
it sends by task name through a Celery client built from its own Settings.
"""

from __future__ import annotations

from typing import Any, Protocol

from celery import Celery

from brief.config import Settings


class TaskQueue(Protocol):
    def send(self, name: str, *args: Any) -> str:
        """Enqueue task `name`; returns its id."""
        ...

    def ping(self) -> None:
        """Raise when the broker cannot be reached."""
        ...


class CeleryQueue:
    def __init__(self, settings: Settings) -> None:
        self._app = Celery(
            "brief-web",
            broker=settings.celery_broker_url,
            backend=settings.celery_result_backend,
            set_as_current=False,
        )
        self._app.conf.update(
            task_serializer="json", accept_content=["json"], broker_connection_retry_on_startup=True
        )

    def send(self, name: str, *args: Any) -> str:
        return str(self._app.send_task(name, args=list(args)).id)

    def ping(self) -> None:
        with self._app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=3)

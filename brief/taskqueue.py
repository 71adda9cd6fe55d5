"""Enqueueing Celery tasks by name from processes that are not workers (web, inbound mail).

The web app does not import `tasks` (the workers' app, configured from the environment):
it sends by task name through a Celery client built from its own Settings.
"""

from __future__ import annotations

from contextlib import suppress
from typing import Any, Protocol

from celery import Celery
from kombu.exceptions import OperationalError
from sqlalchemy.exc import IntegrityError

from brief.config import Settings, hide_password
from brief.errors import BrokerError


class TaskQueue(Protocol):
    def send(self, name: str, *args: Any) -> str:
        """Enqueue task `name`; returns its id."""
        ...

    def ping(self) -> None:
        """Raise when the broker cannot be reached."""
        ...


class CeleryQueue:
    def __init__(self, settings: Settings) -> None:
        self._url = settings.celery_broker_url
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
        try:
            return str(self._app.send_task(name, args=list(args)).id)
        except IntegrityError:
            # The embedded broker: another process created the queue's row first
            # (see declare_queues); this time it is found.
            return str(self._app.send_task(name, args=list(args)).id)

    def declare_queues(self) -> None:
        """Create the broker's default queue now, before processes race to.

        kombu's SQLAlchemy transport (the embedded broker) creates a queue's row on
        first use; when two processes do so at once, the loser fails with an
        IntegrityError. Declaring it once, before a worker starts, ends the race.
        Harmless on Redis.
        """
        declare_queues(self._app)

    def ping(self) -> None:
        """Raise BrokerError, naming BRIEF_BROKER_URL, when the broker does not answer."""
        try:
            with self._app.connection_for_write() as conn:
                conn.ensure_connection(max_retries=1, timeout=2)
        except (OperationalError, OSError) as exc:
            raise broker_unreachable(self._url, exc) from None


def broker_unreachable(url: str, exc: Exception) -> BrokerError:
    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return BrokerError(
        f"cannot reach the broker at {hide_password(url)} (BRIEF_BROKER_URL): {reason}"
    )


def declare_queues(app: Celery) -> None:
    """Declare `app`'s default queue on its broker; once is enough (see CeleryQueue)."""
    with app.connection_for_write() as conn:
        queue = app.amqp.queues[app.conf.task_default_queue]
        # IntegrityError: another process declared it meanwhile; it is there.
        with suppress(IntegrityError):
            queue(conn.default_channel).declare()

"""What `brief status` reports: probes of the database, the broker and the workers.

Each probe answers within about PROBE_TIMEOUT seconds, whatever the state of the
server it asks: a dead broker is reported, not waited for. Probes return plain
values; the CLI prints them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from brief.config import hide_password
from brief.errors import DatabaseError

if TYPE_CHECKING:
    from brief.config import Settings

PROBE_TIMEOUT = 1.0  # seconds, per probe
CELERY_QUEUE = "celery"  # brief's tasks all go to Celery's default queue


@dataclass
class DatabaseStatus:
    url: str
    ok: bool
    error: str | None = None
    note: str | None = None
    schema: str | None = None  # Alembic revision; None before the first command
    last_edition: dict[str, Any] | None = None
    feeds: int = 0
    failing_feeds: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class BrokerStatus:
    url: str
    kind: str  # "embedded" (kombu's SQLAlchemy transport) or "redis"
    ok: bool
    error: str | None = None
    queued: int | None = None  # messages waiting in brief's queue
    workers: list[str] | None = None  # None: this broker cannot tell (no broadcast)
    workers_note: str | None = None


def database_status(settings: Settings) -> DatabaseStatus:
    """Reach the database without changing it: schema, last edition, failing feeds."""
    from brief import store
    from brief.db import open_database, schema_revision, session_scope, where

    url = settings.db_url
    shown = hide_password(url)
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        return DatabaseStatus(shown, ok=True, note="not created yet (any command creates it)")
    try:
        engine = open_database(url, upgrade=False)
    except DatabaseError as exc:
        return DatabaseStatus(shown, ok=False, error=str(exc))
    status = DatabaseStatus(where(engine), ok=True)
    with engine.connect() as conn:
        status.schema = schema_revision(conn)
    if status.schema is None:
        status.note = "empty: no schema yet (brief db upgrade, or any command, creates it)"
        return status
    with session_scope(engine) as session:
        edition = store.latest_edition(session)
        if edition is not None:
            status.last_edition = {
                "id": edition.id,
                "date": edition.date.isoformat(),
                "status": edition.status,
                "stories": len(edition.stories),
                "deliveries": store.delivery_counts(session, edition.id),
            }
        status.feeds = store.feed_counts(session)[0]
        status.failing_feeds = [
            {
                "url": feed.url,
                "errors": feed.error_count,
                "last_error": feed.last_error,
                "disabled": feed.disabled_at is not None,
            }
            for feed in store.failing_feeds(session)
        ]
    return status


def broker_status(settings: Settings) -> BrokerStatus:
    """Whether the broker answers, how many tasks wait, which workers answer a ping."""
    url = settings.celery_broker_url
    if url.startswith(("redis://", "rediss://")):
        return _redis_status(url)
    if url.startswith("sqla+"):
        return _embedded_status(url)
    return BrokerStatus(
        hide_password(url), kind=url.partition(":")[0], ok=False, error="not checked"
    )


def _embedded_status(url: str) -> BrokerStatus:
    """kombu's SQLAlchemy transport: the queue is rows of its message table."""
    from sqlalchemy import create_engine, inspect, text
    from sqlalchemy.exc import DBAPIError

    shown = hide_password(url)
    note = "not visible: the embedded broker has no broadcast to ping workers with"
    status = BrokerStatus(shown, kind="embedded", ok=True, queued=0, workers_note=note)
    db_url = url.removeprefix("sqla+")
    if db_url.startswith("sqlite:///") and not Path(db_url.removeprefix("sqlite:///")).exists():
        return status  # no task queued yet: the file is made by the first one
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            if inspect(conn).has_table("kombu_message"):
                status.queued = conn.execute(
                    text(
                        "SELECT count(*) FROM kombu_message m JOIN kombu_queue q "
                        "ON m.queue_id = q.id WHERE q.name = :queue AND m.visible"
                    ),
                    {"queue": CELERY_QUEUE},
                ).scalar_one()
    except DBAPIError as exc:
        status.ok, status.queued = False, None
        status.error = f"cannot read {shown}: {str(exc.orig).strip().splitlines()[0]}"
    finally:
        engine.dispose()
    return status


def _redis_status(url: str) -> BrokerStatus:
    import redis

    status = BrokerStatus(hide_password(url), kind="redis", ok=False)
    client = redis.Redis.from_url(
        url, socket_timeout=PROBE_TIMEOUT, socket_connect_timeout=PROBE_TIMEOUT
    )
    try:
        client.ping()
        status.queued = int(client.llen(CELERY_QUEUE))
    except redis.RedisError as exc:
        status.error = str(exc) or type(exc).__name__
        return status
    finally:
        client.close()
    status.ok = True
    status.workers = ping_workers(url)
    return status


def ping_workers(broker_url: str) -> list[str]:
    """The names of the Celery workers that answer a ping within PROBE_TIMEOUT."""
    from celery import Celery

    app = Celery("brief-status", broker=broker_url, set_as_current=False)
    app.conf.update(broker_connection_timeout=PROBE_TIMEOUT, broker_connection_max_retries=1)
    try:
        replies = app.control.inspect(timeout=PROBE_TIMEOUT).ping() or {}
    finally:
        app.close()
    return sorted(replies)

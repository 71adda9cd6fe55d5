"""What `brief status` reports: probes of the database, the broker and the workers.

Each probe answers within about PROBE_TIMEOUT seconds, whatever the state of the
server it asks: a dead broker is reported, not waited for. Probes return plain
values; the CLI prints them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from brief.config import hide_password
from brief.errors import DatabaseError
from brief.revisions import is_newer, revisions

if TYPE_CHECKING:
    from brief.config import Settings

_Errors = tuple[type[Exception], ...]  # a DB-API driver's error classes
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


# Plain SQL on a DB-API connection, not the store: SQLAlchemy and the ORM models take
# longer to import than `brief status` may take in all (bench/startup.py). None has
# parameters, so the same text runs on SQLite and PostgreSQL.
_SQL_REVISION = "SELECT version_num FROM alembic_version"
_SQL_LAST_EDITION = (
    "SELECT id, date, status, json_array_length(stories) FROM edition ORDER BY date DESC LIMIT 1"
)
_SQL_DELIVERIES = (
    "SELECT status, count(*) FROM delivery WHERE edition_id = "
    "(SELECT id FROM edition ORDER BY date DESC LIMIT 1) GROUP BY status"
)
_SQL_QUEUED = (
    "SELECT count(*) FROM kombu_message m JOIN kombu_queue q ON m.queue_id = q.id "
    f"WHERE q.name = '{CELERY_QUEUE}' AND m.visible"
)
_SQL_FEEDS = "SELECT count(*) FROM feed WHERE disabled_at IS NULL"
_SQL_FAILING = (
    "SELECT url, error_count, last_error, disabled_at FROM feed WHERE error_count > 0 "
    "ORDER BY error_count DESC, url"
)


def database_status(settings: Settings) -> DatabaseStatus:
    """Reach the database without changing it: schema, last edition, failing feeds."""
    url = settings.db_url
    shown = hide_password(url)
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        return DatabaseStatus(shown, ok=True, note="not created yet (any command creates it)")
    try:
        with _connect(url) as (conn, errors):
            return _read(conn, errors, shown)
    except DatabaseError as exc:
        return DatabaseStatus(shown, ok=False, error=str(exc))


@contextmanager
def _connect(url: str, setting: str = "BRIEF_DATABASE_URL") -> Iterator[tuple[Any, _Errors]]:
    """A DB-API connection to brief's database URL (SQLite, or PostgreSQL via psycopg),
    and the driver's error classes."""
    if url.startswith("sqlite:///"):
        import sqlite3

        path = url.removeprefix("sqlite:///")
        try:
            conn: Any = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=PROBE_TIMEOUT)
            conn.execute("SELECT 1")
        except sqlite3.Error as exc:
            raise DatabaseError.unreachable(url, exc, setting) from None
        errors: _Errors = (sqlite3.Error,)
    else:
        import psycopg

        libpq_url = "postgresql:" + url.partition(":")[2]  # no "+psycopg" for libpq
        try:
            conn = psycopg.connect(libpq_url, connect_timeout=2, autocommit=True)
        except psycopg.Error as exc:
            raise DatabaseError.unreachable(hide_password(url), exc, setting) from None
        errors = (psycopg.Error,)
    try:
        yield conn, errors
    except errors as exc:
        raise DatabaseError.unreachable(hide_password(url), exc, setting) from None
    finally:
        conn.close()


def _rows(conn: Any, sql: str) -> list[tuple[Any, ...]]:
    cursor = conn.cursor()
    try:
        cursor.execute(sql)
        return list(cursor.fetchall())
    finally:
        cursor.close()


def _read(conn: Any, errors: _Errors, shown: str) -> DatabaseStatus:
    status = DatabaseStatus(shown, ok=True)
    try:
        [(status.schema,)] = _rows(conn, _SQL_REVISION) or [(None,)]
    except errors as exc:  # each driver words "no such table" its own way
        if "alembic_version" not in str(exc):
            raise
    if status.schema is None:
        status.note = "empty: no schema yet (brief db upgrade, or any command, creates it)"
        return status
    if is_newer(status.schema):
        raise DatabaseError.newer_schema(shown, status.schema, revisions()[1])
    for edition_id, day, state, stories in _rows(conn, _SQL_LAST_EDITION):
        status.last_edition = {
            "id": edition_id,
            "date": str(day),
            "status": state,
            "stories": stories,
            "deliveries": {str(k): int(n) for k, n in _rows(conn, _SQL_DELIVERIES)},
        }
    [(status.feeds,)] = _rows(conn, _SQL_FEEDS)
    status.failing_feeds = [
        {"url": url, "errors": errors, "last_error": error, "disabled": disabled is not None}
        for url, errors, error, disabled in _rows(conn, _SQL_FAILING)
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
    shown = hide_password(url)
    note = "not visible: the embedded broker has no broadcast to ping workers with"
    status = BrokerStatus(shown, kind="embedded", ok=True, queued=0, workers_note=note)
    db_url = url.removeprefix("sqla+")
    if db_url.startswith("sqlite:///") and not Path(db_url.removeprefix("sqlite:///")).exists():
        return status  # no task queued yet: the file is made by the first one
    try:
        with _connect(db_url, "BRIEF_BROKER_URL") as (conn, errors):
            try:
                [(status.queued,)] = _rows(conn, _SQL_QUEUED)
            except errors as exc:
                if "kombu_" not in str(exc):  # no table yet: nothing was ever queued
                    raise
    except DatabaseError as exc:
        status.ok, status.queued, status.error = False, None, str(exc)
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

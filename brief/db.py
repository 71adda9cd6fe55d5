"""Engine, sessions and migrations. SQLite by default, PostgreSQL by URL."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from brief.errors import DatabaseError
from brief.revisions import is_newer, revisions

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA journal_mode=WAL")  # readers don't block the writer
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        if ":memory:" not in url and url.startswith("sqlite:///"):
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    # A server that does not answer is an error after seconds, not minutes.
    args = {"connect_timeout": 10} if url.startswith("postgresql") else {}
    return create_engine(url, pool_pre_ping=True, connect_args=args)


@cache
def engine_for(url: str) -> Engine:
    """One engine per URL per process (Celery prefork children build their own)."""
    return make_engine(url)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session that commits on success and rolls back on error."""
    with session_factory(engine)() as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def alembic_config(url: str) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def open_database(url: str, *, upgrade: bool = True) -> Engine:
    """The process's engine for `url`, checked (and migrated when `upgrade`).

    A database that cannot be reached or opened, or whose schema is newer than
    this code, is a DatabaseError naming the URL (without password) and the setting.
    """
    try:
        engine = engine_for(url)
    except OSError as exc:  # the SQLite file's folder cannot be made
        raise DatabaseError(
            f"cannot create the database at {url} (BRIEF_DATABASE_URL, BRIEF_DATA_DIR): "
            f"{exc.strerror or exc}: {exc.filename}"
        ) from None
    try:
        if upgrade:
            migrate(engine)
        else:
            with engine.connect() as conn:
                check_revision(conn, schema_revision(conn))
    except DBAPIError as exc:
        raise unreachable(engine, exc) from None
    return engine


def where(engine: Engine) -> str:
    """The engine's URL as shown to people: without the password."""
    return engine.url.render_as_string(hide_password=True)


def unreachable(engine: Engine, exc: DBAPIError) -> DatabaseError:
    return DatabaseError.unreachable(where(engine), exc.orig or exc)


def schema_revision(conn: Connection) -> str | None:
    """The database's Alembic revision; None for a database brief never set up."""
    if not inspect(conn).has_table("alembic_version"):
        return None
    return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def check_revision(conn: Connection, current: str | None) -> None:
    """Refuse a schema written by a newer brief: this code would misread it."""
    if current is not None and is_newer(current):
        raise DatabaseError.newer_schema(where(conn.engine), current, revisions()[1])


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision (idempotent)."""
    with engine.connect() as conn:
        current = schema_revision(conn)
        check_revision(conn, current)
    if current == revisions()[1]:
        return  # already current: no need to load Alembic
    from alembic import command

    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with warnings.catch_warnings(), engine.begin() as conn:
        # SQLite cannot reflect the lower(email) index; 0003 re-creates it by hand.
        warnings.filterwarnings("ignore", "Skipped unsupported reflection")
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")

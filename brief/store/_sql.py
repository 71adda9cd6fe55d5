"""SQL helpers shared by the store's modules (SQLite and PostgreSQL alike)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session


def dialect_insert(session: Session) -> Any:
    """The INSERT construct with ON CONFLICT support for the session's database."""
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


def insert_ignoring_conflicts(session: Session, model: Any, rows: Sequence[dict[str, Any]]) -> int:
    """INSERT ... ON CONFLICT DO NOTHING on SQLite and PostgreSQL; returns rows inserted."""
    if not rows:
        return 0
    insert = dialect_insert(session)
    # RETURNING counts reliably where rowcount does not (psycopg reports -1 here).
    stmt = insert(model).values(list(rows)).on_conflict_do_nothing().returning(model.id)
    return len(session.execute(stmt).all())


def execute_prepared(conn: Connection, sql: str, params: dict[str, Any]) -> list[Any]:
    """Run ``sql`` (psycopg placeholders) on the driver's connection under ``conn``, as a
    prepared statement, and return its rows; for a hot statement, where SQLAlchemy's own
    work per execute costs more than the database's.

    In ``conn``'s transaction, if it has one. Errors come out as SQLAlchemy's would
    (OperationalError for a lost server), and a lost connection is invalidated, so
    ``conn`` reconnects as after any other statement.
    """
    dbapi = conn.connection.driver_connection
    assert dbapi is not None
    try:
        return dbapi.execute(sql, params, prepare=True).fetchall()  # type: ignore[no-any-return]
    except conn.dialect.loaded_dbapi.Error as exc:
        gone = conn.dialect.is_disconnect(exc, conn.connection.dbapi_connection, None)
        if gone:
            conn.invalidate(exc)
        raise DBAPIError.instance(
            sql,
            params,
            exc,
            conn.dialect.loaded_dbapi.Error,
            connection_invalidated=gone,
            dialect=conn.dialect,
        ) from exc

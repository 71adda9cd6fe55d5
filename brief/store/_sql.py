"""SQL helpers shared by the store's modules (SQLite and PostgreSQL alike)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session


def dialect_insert(session: Session) -> Any:
    """The INSERT construct with ON CONFLICT support for the session's database.

    Imported here: the PostgreSQL dialect package is slow to import, and a SQLite
    process (or a CLI command that writes nothing) does not need it.
    """
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert
    from sqlalchemy.dialects import sqlite

    return sqlite.insert


def insert_ignoring_conflicts(session: Session, model: Any, rows: Sequence[dict[str, Any]]) -> int:
    """INSERT ... ON CONFLICT DO NOTHING on SQLite and PostgreSQL; returns rows inserted."""
    if not rows:
        return 0
    insert = dialect_insert(session)
    # RETURNING counts reliably where rowcount does not (psycopg reports -1 here).
    stmt = insert(model).values(list(rows)).on_conflict_do_nothing().returning(model.id)
    return len(session.execute(stmt).all())

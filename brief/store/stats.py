"""The operator's overview: rows counted by status, feeds that are failing."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from brief.models import Delivery, Feed, Subscriber


def _count_by(session: Session, column: Any) -> dict[str, int]:
    rows = session.execute(select(column, func.count()).group_by(column))
    return {str(status): int(count) for status, count in rows}


def subscribers_by_status(session: Session) -> dict[str, int]:
    return _count_by(session, Subscriber.status)


def deliveries_by_status(session: Session) -> dict[str, int]:
    """Every edition's deliveries together (`delivery_counts` gives one edition's)."""
    return _count_by(session, Delivery.status)


def failing_feeds(session: Session) -> list[Feed]:
    """Feeds whose last fetches failed, the most failures first."""
    query = select(Feed).where(Feed.error_count > 0).order_by(Feed.error_count.desc())
    return list(session.scalars(query))

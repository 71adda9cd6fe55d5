"""The operator's overview: rows counted by status and reason, feeds that are failing."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from brief.models import Delivery, Feed, MailEvent, Subscriber


def _count_by(session: Session, column: Any) -> dict[str, int]:
    rows = session.execute(select(column, func.count()).group_by(column))
    return {str(status): int(count) for status, count in rows}


def subscribers_by_status(session: Session) -> dict[str, int]:
    return _count_by(session, Subscriber.status)


def subscribers_by_reason(session: Session) -> dict[str, dict[str, int]]:
    """{status: {reason: count}} for the subscribers whose status has a reason
    (``{"bounced": {"hard-bounce": 3, "send-refused": 1}, "unsubscribed": {"complaint": 2}}``)."""
    rows = session.execute(
        select(Subscriber.status, Subscriber.status_reason, func.count())
        .where(Subscriber.status_reason.is_not(None))
        .group_by(Subscriber.status, Subscriber.status_reason)
        .order_by(Subscriber.status, Subscriber.status_reason)
    )
    counts: dict[str, dict[str, int]] = {}
    for status, reason, count in rows:
        counts.setdefault(str(status), {})[str(reason)] = int(count)
    return counts


def mail_events_by_kind(session: Session) -> dict[str, int]:
    """Bounces, complaints and refusals ever recorded, by kind."""
    return _count_by(session, MailEvent.kind)


def deliveries_by_status(session: Session) -> dict[str, int]:
    """Every edition's deliveries together (`delivery_counts` gives one edition's)."""
    return _count_by(session, Delivery.status)


def failing_feeds(session: Session) -> list[Feed]:
    """Feeds whose last fetches failed, the most failures first."""
    query = select(Feed).where(Feed.error_count > 0).order_by(Feed.error_count.desc())
    return list(session.scalars(query))

"""Mail events: bounces, complaints and refusals at send time, one row each."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from brief.models import MailEvent
from brief.types import MailEventKind

# The failures that count towards suspending an address: soft bounces, and refusals at
# send time that were not about the address (a hard one bounces it at once).
COUNTED = (MailEventKind.SOFT, MailEventKind.REFUSED)


def add_mail_event(
    session: Session,
    *,
    subscriber_id: int | None,
    delivery_id: int | None,
    email: str,
    kind: MailEventKind,
    code: str | None,
    detail: str | None,
    now: datetime,
) -> bool:
    """Record an event; False when this delivery already has one of this kind.

    Reports come more than once (a relay retrying after our 451, a second "delayed"
    warning); one per delivery and kind keeps the counts honest.
    """
    if delivery_id is not None:
        seen = session.scalar(
            select(MailEvent.id).where(MailEvent.delivery_id == delivery_id, MailEvent.kind == kind)
        )
        if seen is not None:
            return False
    session.add(
        MailEvent(
            subscriber_id=subscriber_id,
            delivery_id=delivery_id,
            email=email,
            kind=kind,
            code=code[:32] if code else None,
            detail=detail,
            created_at=now,
        )
    )
    session.flush()
    return True


def count_soft_failures(session: Session, subscriber_id: int, since: datetime) -> int:
    """Deliveries to this subscriber that failed softly since then (each counted once)."""
    query = select(func.count(func.distinct(func.coalesce(MailEvent.delivery_id, -MailEvent.id))))
    return int(
        session.scalar(
            query.where(
                MailEvent.subscriber_id == subscriber_id,
                MailEvent.kind.in_(COUNTED),
                MailEvent.created_at >= since,
            )
        )
        or 0
    )


def mail_events_for(session: Session, subscriber_id: int) -> list[MailEvent]:
    """A subscriber's events, oldest first."""
    query = select(MailEvent).where(MailEvent.subscriber_id == subscriber_id)
    return list(session.scalars(query.order_by(MailEvent.created_at, MailEvent.id)))

"""Deliveries: one per (edition, subscriber), claimed by a conditional UPDATE."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from brief.models import Delivery, Edition, Subscriber
from brief.store._sql import insert_ignoring_conflicts
from brief.types import DeliveryStatus, SubscriberStatus


def add_pending_deliveries(
    session: Session, edition_id: int, recipients: Iterable[tuple[int, str]], now: datetime
) -> int:
    """Pending deliveries of an edition to (subscriber id, address) pairs; existing ones kept."""
    rows = [
        {
            "edition_id": edition_id,
            "subscriber_id": subscriber_id,
            "recipient": email,
            "status": DeliveryStatus.PENDING,
            "attempts": 0,
            "created_at": now,
        }
        for subscriber_id, email in recipients
    ]
    return insert_ignoring_conflicts(session, Delivery, rows)


def create_deliveries(
    session: Session, edition_id: int, now: datetime, *, subscriber_id: int | None = None
) -> int:
    """One pending Delivery per active subscriber (or only this one) who has none yet."""
    query = select(Subscriber.id, Subscriber.email).where(
        Subscriber.status == SubscriberStatus.ACTIVE
    )
    if subscriber_id is not None:
        query = query.where(Subscriber.id == subscriber_id)
    return add_pending_deliveries(session, edition_id, session.execute(query).all(), now)


def pending_delivery_ids(
    session: Session, edition_id: int, *, subscriber_id: int | None = None
) -> list[int]:
    """The edition's deliveries still to send (to everyone, or to this subscriber)."""
    query = select(Delivery.id).where(
        Delivery.edition_id == edition_id, Delivery.status == DeliveryStatus.PENDING
    )
    if subscriber_id is not None:
        query = query.where(Delivery.subscriber_id == subscriber_id)
    return list(session.scalars(query.order_by(Delivery.id)))


def find_delivery(session: Session, delivery_id: int) -> Delivery | None:
    return session.get(Delivery, delivery_id)


def claim_delivery(session: Session, delivery_id: int, now: datetime) -> bool:
    """Move one delivery from pending to sending; False if someone else has it or it is done.

    The conditional UPDATE is the lock: of two workers racing, one gets rowcount 1.
    """
    result = session.execute(
        update(Delivery)
        .where(Delivery.id == delivery_id, Delivery.status == DeliveryStatus.PENDING)
        .values(status=DeliveryStatus.SENDING, attempts=Delivery.attempts + 1, claimed_at=now)
    )
    return int(getattr(result, "rowcount", 0) or 0) == 1


def finish_delivery(session: Session, delivery_id: int, now: datetime, message_id: str) -> None:
    session.execute(
        update(Delivery)
        .where(Delivery.id == delivery_id, Delivery.status == DeliveryStatus.SENDING)
        .values(status=DeliveryStatus.SENT, sent_at=now, message_id=message_id, last_error=None)
    )


def fail_delivery(session: Session, delivery_id: int, error: str, *, retry: bool) -> None:
    """Record an error: back to pending when worth retrying, failed otherwise."""
    session.execute(
        update(Delivery)
        .where(Delivery.id == delivery_id, Delivery.status == DeliveryStatus.SENDING)
        .values(
            status=DeliveryStatus.PENDING if retry else DeliveryStatus.FAILED,
            last_error=error[:2000],
        )
    )


def delivery_counts(session: Session, edition_id: int) -> dict[str, int]:
    rows = session.execute(
        select(Delivery.status, func.count())
        .where(Delivery.edition_id == edition_id)
        .group_by(Delivery.status)
    ).all()
    return {status: count for status, count in rows}


def create_due_deliveries(session: Session, edition: Edition, now: datetime) -> int:
    """Pending deliveries of `edition` for the active subscribers whose morning it now is."""
    from zoneinfo import ZoneInfo

    from brief.sendtime import is_due

    have = select(Delivery.subscriber_id).where(Delivery.edition_id == edition.id)
    waiting = session.execute(
        select(
            Subscriber.id, Subscriber.email, Subscriber.timezone, Subscriber.delivery_hour
        ).where(Subscriber.status == SubscriberStatus.ACTIVE, Subscriber.id.not_in(have))
    ).all()
    due = [
        (sid, email)
        for sid, email, zone, hour in waiting
        if is_due(now, edition.created_at, ZoneInfo(zone), hour)
    ]
    return add_pending_deliveries(session, edition.id, due, now)

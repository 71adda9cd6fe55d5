"""Subscribers: adding, finding, listing and paging, unsubscribing."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from brief.errors import NotFoundError
from brief.models import Subscriber
from brief.types import SubscriberStatus

# Why a status changed when the reader did not choose it (Subscriber.status_reason).
HARD_BOUNCE = "hard-bounce"
SOFT_BOUNCES = "soft-bounces"
COMPLAINT = "complaint"
SEND_REFUSED = "send-refused"
OPERATOR = "operator"


def held_back(sub: Subscriber) -> bool:
    """Bounced, suspended, or unsubscribed by a complaint: nothing but the owner's own
    new opt-in, or the operator forcing it, makes the address active again."""
    return sub.status in (SubscriberStatus.BOUNCED, SubscriberStatus.SUSPENDED) or (
        sub.status == SubscriberStatus.UNSUBSCRIBED and sub.status_reason == COMPLAINT
    )


def find_subscriber(session: Session, email: str) -> Subscriber | None:
    return session.scalar(select(Subscriber).where(func.lower(Subscriber.email) == email.lower()))


def get_subscriber(session: Session, subscriber_id: int) -> Subscriber:
    sub = session.get(Subscriber, subscriber_id)
    if sub is None:
        raise NotFoundError("this subscription no longer exists")
    return sub


def add_subscriber(
    session: Session,
    email: str,
    *,
    now: datetime,
    timezone: str | None = None,
    sections: list[str] | None = None,
    delivery_hour: int | None = None,
    status: SubscriberStatus = SubscriberStatus.ACTIVE,
    force: bool = False,
) -> tuple[Subscriber, bool]:
    """Add (or re-activate) a subscriber; `email` must already be validated.

    An address that is `held_back` (bounced, suspended, complained) is left exactly as it
    is unless ``force``: the caller sees it by its status, still not active.
    """
    sub = find_subscriber(session, email)
    created = sub is None
    if sub is None:
        sub = Subscriber(email=email, created_at=now, status=status)
        session.add(sub)
    elif status == SubscriberStatus.ACTIVE and sub.status != SubscriberStatus.ACTIVE:
        if held_back(sub) and not force:
            return sub, False
        sub.status = SubscriberStatus.ACTIVE
        sub.status_reason = OPERATOR
        sub.unsubscribed_at = None
    if status == SubscriberStatus.ACTIVE and sub.confirmed_at is None:
        sub.confirmed_at = now
    if timezone is not None or created:
        sub.timezone = timezone or "UTC"
    if sections is not None or created:
        sub.sections = sections
    if delivery_hour is not None or created:
        sub.delivery_hour = delivery_hour
    session.flush()
    return sub, created


def list_subscribers(session: Session, status: str | None = None) -> list[Subscriber]:
    query = select(Subscriber).order_by(Subscriber.id)
    if status:
        query = query.where(Subscriber.status == status)
    return list(session.scalars(query))


def page_subscribers(
    session: Session, status: str | None, *, page: int, per_page: int
) -> tuple[int, list[Subscriber]]:
    """One page (numbered from 1) of subscribers by id, and how many there are in all."""
    query = select(Subscriber)
    if status:
        query = query.where(Subscriber.status == status)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.order_by(Subscriber.id).offset((page - 1) * per_page).limit(per_page)
    )
    return total, list(rows)


def unsubscribe(
    session: Session, email: str, now: datetime, *, reason: str | None = None
) -> Subscriber:
    """Unsubscribe an address; ``reason`` when the reader did not ask (operator, complaint)."""
    sub = find_subscriber(session, email)
    if sub is None:
        raise NotFoundError(f"no subscriber {email!r}")
    if sub.status != SubscriberStatus.UNSUBSCRIBED:
        sub.status = SubscriberStatus.UNSUBSCRIBED
        sub.status_reason = reason
        sub.unsubscribed_at = now
    return sub


def subscriber_to_confirm(session: Session, subscriber_id: int) -> Subscriber | None:
    """The subscriber a confirmation is for, while the address still awaits confirming."""
    sub = session.get(Subscriber, subscriber_id)
    return sub if sub is not None and sub.status == SubscriberStatus.PENDING else None

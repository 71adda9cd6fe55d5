"""Subscribing, confirming, changing preferences and leaving: the rules, on the database.

Double opt-in: nothing but the one confirmation message goes to an address
until its owner follows the signed link in it. Every step is idempotent, so a
double click or a mail scanner fetching a link twice changes nothing more.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from brief import store
from brief.errors import NotFoundError
from brief.models import Subscriber

STATUSES = ("pending", "active", "paused", "unsubscribed", "bounced")


@dataclass(frozen=True)
class SubscribeOutcome:
    subscriber_id: int
    send_confirmation: bool  # False when the address is already active


def request_subscription(
    session: Session,
    email: str,
    *,
    now: datetime,
    timezone: str | None = None,
    sections: list[str] | None = None,
    delivery_hour: int | None = None,
) -> SubscribeOutcome:
    """Record a wish to subscribe. The caller answers the same whatever comes back."""
    sub = store.find_subscriber(session, email)
    if sub is None:
        sub, _ = store.add_subscriber(
            session,
            email,
            now=now,
            timezone=timezone,
            sections=sections,
            delivery_hour=delivery_hour,
            status="pending",
        )
        return SubscribeOutcome(sub.id, True)
    if sub.status in ("active", "paused"):
        # Preferences are not changed by an unauthenticated form: the owner has a link.
        return SubscribeOutcome(sub.id, False)
    # pending, unsubscribed or bounced: (re)start the opt-in with the new wishes.
    sub.status = "pending"
    if timezone:
        sub.timezone = timezone
    if sections is not None:
        sub.sections = sections
    if delivery_hour is not None:
        sub.delivery_hour = delivery_hour
    session.flush()
    return SubscribeOutcome(sub.id, True)


def get(session: Session, subscriber_id: int) -> Subscriber:
    sub = session.get(Subscriber, subscriber_id)
    if sub is None:
        raise NotFoundError("this subscription no longer exists")
    return sub


def confirm(session: Session, subscriber_id: int, now: datetime) -> tuple[Subscriber, bool]:
    """Activate a pending subscriber. Returns (subscriber, newly_confirmed)."""
    sub = get(session, subscriber_id)
    if sub.status == "active":
        return sub, False
    sub.status = "active"
    sub.confirmed_at = sub.confirmed_at or now
    sub.unsubscribed_at = None
    return sub, True


def update_preferences(
    session: Session,
    subscriber_id: int,
    *,
    sections: list[str] | None,
    timezone: str,
    delivery_hour: int | None,
    paused: bool,
) -> Subscriber:
    sub = get(session, subscriber_id)
    sub.sections, sub.timezone, sub.delivery_hour = sections, timezone, delivery_hour
    if sub.status in ("active", "paused"):
        sub.status = "paused" if paused else "active"
    return sub


def unsubscribe(session: Session, subscriber_id: int, now: datetime) -> Subscriber:
    sub = get(session, subscriber_id)
    if sub.status != "unsubscribed":
        sub.status = "unsubscribed"
        sub.unsubscribed_at = now
    return sub

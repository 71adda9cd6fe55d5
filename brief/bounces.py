"""What a bounce, a complaint or a refusal at send time does to a subscriber.

- hard bounce (the address is gone) -> ``bounced``, reason "hard-bounce";
- a 5xx at send time about the address -> ``bounced``, reason "send-refused";
- soft bounce (mailbox full, delayed, a policy block) -> counted: the third delivery to
  fail softly within 14 days -> ``suspended``, reason "soft-bounces";
- complaint (the reader clicked "spam") -> ``unsubscribed``, reason "complaint".

Every report is kept as a mail_event row, once per delivery and kind. Only an address
the report is proven to be about is touched: by the signed VERP address, or by our
Message-ID together with the same recipient. Mail goes to ``active`` subscribers only,
so none of these is mailed again; `store.held_back` keeps imports from reviving them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from brief import store
from brief.batch import mark_failed
from brief.mail.bounces import BounceReport, classify_refusal, find_status
from brief.mail.smtp_session import SendReply
from brief.models import Delivery, Subscriber
from brief.store.deliveries import ClaimedDelivery
from brief.store.subscribers import COMPLAINT, HARD_BOUNCE, SEND_REFUSED, SOFT_BOUNCES
from brief.types import MailEventKind, SubscriberStatus

log = logging.getLogger(__name__)

SOFT_LIMIT = 3  # deliveries failing softly ...
SOFT_WINDOW = timedelta(days=14)  # ... within this long suspend the address
_STILL_MAILED = (SubscriberStatus.ACTIVE, SubscriberStatus.PAUSED)


@dataclass(frozen=True)
class Applied:
    """What a report did: ``outcome`` is bounced, suspended, unsubscribed, counted
    (recorded, nothing changed), duplicate (seen already) or unmatched (not ours)."""

    outcome: str
    subscriber_id: int | None = None
    delivery_id: int | None = None


def _delivery_for(session: Session, report: BounceReport) -> Delivery | None:
    if report.delivery_id is None:
        return None
    delivery = store.find_delivery(session, report.delivery_id)
    if delivery is None or report.verified:
        return delivery
    # Only a Message-ID names it: anyone can write one, so the recipient must agree.
    named = (report.recipient or "").lower()
    return delivery if named and named == delivery.recipient.lower() else None


def _bounce(sub: Subscriber, reason: str) -> str:
    if sub.status in (SubscriberStatus.UNSUBSCRIBED, SubscriberStatus.BOUNCED):
        return "counted"  # not mailed any more either way; the reader's own choice stays
    sub.status, sub.status_reason = SubscriberStatus.BOUNCED, reason
    return "bounced"


def _count_soft(session: Session, sub: Subscriber, now: datetime) -> str:
    failures = store.count_soft_failures(session, sub.id, now - SOFT_WINDOW)
    if failures < SOFT_LIMIT or sub.status not in _STILL_MAILED:
        return "counted"
    sub.status, sub.status_reason = SubscriberStatus.SUSPENDED, SOFT_BOUNCES
    return "suspended"


def _complain(sub: Subscriber, now: datetime) -> str:
    if sub.status == SubscriberStatus.UNSUBSCRIBED and sub.status_reason == COMPLAINT:
        return "counted"
    sub.status, sub.status_reason = SubscriberStatus.UNSUBSCRIBED, COMPLAINT
    sub.unsubscribed_at = sub.unsubscribed_at or now
    return "unsubscribed"


def apply_report(session: Session, report: BounceReport, now: datetime) -> Applied:
    """Record a parsed bounce or complaint and change its subscriber's status."""
    delivery = _delivery_for(session, report)
    if delivery is None:
        return Applied("unmatched", delivery_id=report.delivery_id)
    sub = delivery.subscriber
    fresh = store.add_mail_event(
        session,
        subscriber_id=sub.id,
        delivery_id=delivery.id,
        email=delivery.recipient,
        kind=report.kind,
        code=report.status,
        detail=report.diagnostic,
        now=now,
    )
    if not fresh:
        return Applied("duplicate", sub.id, delivery.id)
    if report.kind == MailEventKind.HARD:
        outcome = _bounce(sub, HARD_BOUNCE)
    elif report.kind == MailEventKind.COMPLAINT:
        outcome = _complain(sub, now)
    else:
        outcome = _count_soft(session, sub, now)
    log.info("%s for delivery %s to %s: %s", report.kind, delivery.id, sub.email, outcome)
    return Applied(outcome, sub.id, delivery.id)


def record_send_refusal(
    session: Session,
    *,
    delivery_id: int | None,
    subscriber_id: int,
    email: str,
    code: int,
    text: str,
    now: datetime,
) -> str:
    """A 5xx from the relay for this recipient, at send time: the batch sender calls this.

    A refusal about the address (``550 5.1.1``, "no such user") bounces the subscriber
    at once; one that is not (``554 5.7.1`` policy, ``552`` mailbox full) counts like a
    soft bounce. Returns the outcome (bounced, suspended, counted, duplicate). The
    caller commits.
    """
    fresh = store.add_mail_event(
        session,
        subscriber_id=subscriber_id,
        delivery_id=delivery_id,
        email=email,
        kind=MailEventKind.REFUSED,
        code=find_status(text) or str(code),
        detail=f"{code} {' '.join(text.split())}",
        now=now,
    )
    if not fresh:
        return "duplicate"
    sub = store.get_subscriber(session, subscriber_id)
    if classify_refusal(code, text) == MailEventKind.HARD:
        return _bounce(sub, SEND_REFUSED)
    return _count_soft(session, sub, now)


def refused_at_send(session: Session, delivery: ClaimedDelivery, reply: SendReply) -> None:
    """The batch sender's answer to a 5xx: the delivery fails; a refusal AT RCPT is about
    the reader's address and counts against it. A 5xx to DATA is about the message
    (size, content, policy), not the address, so it only fails the delivery."""
    mark_failed(session, delivery, reply)
    if reply.code is None or not reply.text.upper().startswith("RCPT"):
        return
    record_send_refusal(
        session,
        delivery_id=delivery.id,
        subscriber_id=delivery.subscriber_id,
        email=delivery.recipient,
        code=reply.code,
        text=reply.text,
        now=datetime.now(UTC),
    )

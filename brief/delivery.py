"""Sending one delivery exactly once: claim, render, send, record.

Shared by the CLI (`brief digest send`, `brief run`) and the Celery task, so
both keep the same guarantee. Each step commits before the next:

1. claim: pending -> sending (conditional UPDATE; a second runner gets nothing)
2. render the subscriber's copy and send it
3. record: sending -> sent, failed (a permanent mail error), or back to pending
   (a transient mail error, re-raised so a task can retry)

Any other error is logged with its traceback and re-raised. Raised before the
message reached the sender (a bug while rendering, a database error), it puts
the row back to pending: nothing left, so sending later is safe. Raised by the
sender itself, or a crash between 2 and 3, leaves the row in `sending`; nothing
re-sends it on its own, because the message may have left. `brief editions show`
lists such rows.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime
from email.message import EmailMessage

from sqlalchemy.orm import Session

from brief import store
from brief.errors import MailError, MailPermanentError, MailTransientError
from brief.mail.message import build_message, make_message_id
from brief.mail.render import render_digest
from brief.mail.senders import EmailSender
from brief.mail.transactional import render_confirmation
from brief.models import Delivery, Edition
from brief.types import Digest, Recipient, SendStatus, SiteContext, Story

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeliveryOutcome:
    delivery_id: int
    recipient: str
    status: SendStatus
    where: str = ""
    error: str | None = None


def edition_digest(edition: Edition) -> Digest:
    stories = [Story.from_json(s) for s in edition.stories]
    return Digest.from_stories(edition.date, (edition.window_start, edition.window_end), stories)


def digest_message(
    edition: Edition,
    digest: Digest,
    recipient: Recipient,
    ctx: SiteContext,
    *,
    message_id: str,
    now: datetime,
    test: bool = False,
) -> EmailMessage:
    """One recipient's copy of an edition; a test copy is marked and has no List-Unsubscribe."""
    rendered = render_digest(
        digest,
        brief_name=ctx.brief_name,
        web_url=ctx.web_url(edition.date),
        recipient=recipient,
        postal_address=ctx.postal_address,
    )
    if test:
        rendered = replace(rendered, subject=f"[TEST] {rendered.subject}")
    return build_message(
        rendered,
        sender=ctx.mail_from,
        to=recipient.email,
        message_id=message_id,
        date=now,
        unsubscribe_url=None if test else recipient.unsubscribe_url,
        unsubscribe_mailto=None if test else ctx.unsubscribe_mailto(),
    )


def send_delivery(
    session: Session, delivery_id: int, sender: EmailSender, ctx: SiteContext, now: datetime
) -> DeliveryOutcome:
    """Send one delivery if it is still pending. Never sends a delivery twice.

    Raises MailTransientError (after recording it) so a Celery task can retry,
    and any error that is not about the mail (see the module's docstring).
    """
    if not store.claim_delivery(session, delivery_id, now):
        session.rollback()
        found = store.find_delivery(session, delivery_id)
        return DeliveryOutcome(delivery_id, found.recipient if found else "?", SendStatus.SKIPPED)
    session.commit()

    try:
        delivery = store.find_delivery(session, delivery_id)
        assert delivery is not None  # we hold its claim
        recipient = delivery.recipient
        message_id = make_message_id(
            "digest", f"{delivery.edition.date.isoformat()}.{delivery.id}", ctx.domain
        )
        message = _delivery_message(delivery, ctx, message_id, now)
    except Exception as exc:
        log.exception("delivery %s: cannot make its message; back to pending", delivery_id)
        _put_back(session, delivery_id, f"{type(exc).__name__}: {exc}")
        raise

    try:
        where = sender.send(message)
    except MailTransientError as exc:
        store.fail_delivery(session, delivery_id, str(exc), retry=True)
        session.commit()
        raise
    except MailPermanentError as exc:
        log.warning("delivery %s to %s failed: %s", delivery_id, recipient, exc)
        store.fail_delivery(session, delivery_id, str(exc), retry=False)
        session.commit()
        return DeliveryOutcome(delivery_id, recipient, SendStatus.FAILED, error=str(exc))
    except Exception:
        log.exception(
            "delivery %s: the sender broke; left in sending: it may have gone", delivery_id
        )
        raise

    store.finish_delivery(session, delivery_id, now, message_id)
    session.commit()
    return DeliveryOutcome(delivery_id, recipient, SendStatus.SENT, where=where)


def _delivery_message(
    delivery: Delivery, ctx: SiteContext, message_id: str, now: datetime
) -> EmailMessage:
    edition, subscriber = delivery.edition, delivery.subscriber
    recipient = Recipient(
        email=delivery.recipient,
        unsubscribe_url=ctx.links.unsubscribe(subscriber.id),
        preferences_url=ctx.links.preferences(subscriber.id),
    )
    digest = edition_digest(edition).for_sections(subscriber.sections)
    return digest_message(edition, digest, recipient, ctx, message_id=message_id, now=now)


def _put_back(session: Session, delivery_id: int, error: str) -> None:
    """Claimed -> pending again, for a message that never reached the sender."""
    session.rollback()
    try:
        store.fail_delivery(session, delivery_id, error, retry=True)
        session.commit()
    except Exception:  # the database may be what failed; the caller raises the first error
        session.rollback()
        log.exception("delivery %s: cannot put it back to pending; left in sending", delivery_id)


def send_confirmation(
    session: Session,
    subscriber_id: int,
    sender: EmailSender,
    ctx: SiteContext,
    now: datetime,
    *,
    expires_hours: int,
) -> str | None:
    """Send the double opt-in message, the one email an unconfirmed address may get.

    Returns where it went, or None when there is nothing to confirm any more.
    """
    sub = store.subscriber_to_confirm(session, subscriber_id)
    if sub is None:
        return None
    rendered = render_confirmation(
        brief_name=ctx.brief_name,
        confirm_url=ctx.links.confirm(sub.id),
        expires_hours=expires_hours,
        postal_address=ctx.postal_address,
    )
    message = build_message(
        rendered,
        sender=ctx.mail_from,
        to=sub.email,
        message_id=make_message_id("confirm", f"{sub.id}.{int(now.timestamp())}", ctx.domain),
        date=now,
        unsubscribe_url=None,
        unsubscribe_mailto=None,
    )
    return sender.send(message)


def send_test(
    session: Session,
    edition_id: int,
    addresses: list[str],
    sender: EmailSender,
    ctx: SiteContext,
    now: datetime,
) -> list[DeliveryOutcome]:
    """Send an edition to these addresses only, marked as a test; nothing is recorded.

    The personal links point at the site, not at a subscription: the addresses
    may not be subscribers at all.
    """
    edition = store.get_edition(session, edition_id)
    digest = edition_digest(edition)
    outcomes = []
    for n, address in enumerate(addresses):
        recipient = Recipient(email=address, unsubscribe_url=f"{ctx.base_url}/")
        key = f"{edition.date.isoformat()}.{int(now.timestamp())}.{n}"
        message = digest_message(
            edition,
            digest,
            recipient,
            ctx,
            message_id=make_message_id("test", key, ctx.domain),
            now=now,
            test=True,
        )
        try:
            where = sender.send(message)
        except MailError as exc:
            outcomes.append(DeliveryOutcome(0, address, SendStatus.FAILED, error=str(exc)))
            continue
        outcomes.append(DeliveryOutcome(0, address, SendStatus.SENT, where=where))
    return outcomes

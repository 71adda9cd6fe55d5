"""Messages outside the batches, and what batches share: an edition's digest, an outcome.

Deliveries of an edition go through the batched sender (brief.batch). Here: the
double opt-in message, test sends of an edition (nothing recorded), and building
one recipient's copy as an EmailMessage (test sends; the batch sender prepares
each variant once instead).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from email.message import EmailMessage

from sqlalchemy.orm import Session

from brief import store
from brief.errors import MailError
from brief.mail.message import build_message, make_message_id
from brief.mail.render import render_digest
from brief.mail.senders import EmailSender
from brief.mail.transactional import render_confirmation
from brief.models import Edition
from brief.types import Digest, Recipient, SendStatus, SiteContext, Story


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

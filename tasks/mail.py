"""Mail tasks: one task per delivery, claimed in the database so it is sent once.

Edition sends queue those tasks through `brief.sending.send_pending`, the path
`brief run` takes too; only the hand-over differs (enqueue here, send there).
"""

from __future__ import annotations

from typing import Any

from brief.db import session_factory
from brief.delivery import send_confirmation as confirm_one
from brief.delivery import send_delivery as send_one
from brief.errors import MailTransientError
from brief.runtime import mail_context, sender
from brief.sending import DueNow, EveryActive, OneSubscriber, send_pending
from tasks.app import app
from tasks.base import engine, settings, utcnow


@app.task(name="brief.send_edition")
def send_edition(edition_id: int) -> int:
    """Create a delivery per active subscriber, commit, then queue one send each."""
    return len(send_pending(engine(), EveryActive(), _enqueue, utcnow(), edition_id=edition_id))


@app.task(name="brief.send_due", ignore_result=True)
def send_due() -> int:
    """Beat: queue the latest edition for every subscriber whose morning it now is."""
    return len(send_pending(engine(), DueNow(), _enqueue, utcnow()))


@app.task(
    name="brief.send_delivery",
    autoretry_for=(MailTransientError,),
    retry_backoff=30,
    retry_backoff_max=30 * 60,
    max_retries=6,
    soft_time_limit=90,
    time_limit=120,
)
def send_delivery(delivery_id: int) -> dict[str, Any]:
    s = settings()
    with session_factory(engine())() as session:
        outcome = send_one(session, delivery_id, sender(s), mail_context(s), utcnow())
    return {"delivery_id": delivery_id, "status": outcome.status, "error": outcome.error}


@app.task(
    name="brief.send_confirmation",
    autoretry_for=(MailTransientError,),
    retry_backoff=30,
    max_retries=5,
    soft_time_limit=90,
    time_limit=120,
)
def send_confirmation(subscriber_id: int) -> str | None:
    """The double opt-in message (skipped if the address is no longer pending)."""
    s = settings()
    with session_factory(engine())() as session:
        return confirm_one(
            session,
            subscriber_id,
            sender(s),
            mail_context(s),
            utcnow(),
            expires_hours=s.confirm_max_age_hours,
        )


@app.task(name="brief.send_welcome")
def send_welcome(subscriber_id: int) -> int | None:
    """Send the latest edition to a subscriber who just confirmed, through a delivery row."""
    queued = send_pending(engine(), OneSubscriber(subscriber_id), _enqueue, utcnow())
    return queued[0] if queued else None


def _enqueue(delivery_id: int) -> int:
    """Hand one delivery to a worker (send_pending calls this after its commit)."""
    send_delivery.delay(delivery_id)
    return delivery_id

"""Mail tasks: one task per delivery, claimed in the database so it is sent once."""

from __future__ import annotations

from typing import Any

from brief import store
from brief.db import session_factory, session_scope
from brief.delivery import send_confirmation as confirm_one
from brief.delivery import send_delivery as send_one
from brief.delivery import welcome_delivery
from brief.errors import MailTransientError
from brief.runtime import mail_context, sender
from tasks.app import app
from tasks.base import engine, settings, utcnow


@app.task(name="brief.send_edition")
def send_edition(edition_id: int) -> int:
    """Create a delivery per active subscriber, commit, then queue one send each."""
    with session_scope(engine()) as session:
        store.create_deliveries(session, edition_id, utcnow())
    with session_scope(engine()) as session:
        ids = store.pending_delivery_ids(session, edition_id)
    for delivery_id in ids:
        send_delivery.delay(delivery_id)
    return len(ids)


@app.task(name="brief.send_due", ignore_result=True)
def send_due() -> int:
    """Beat: queue the latest edition for every subscriber whose morning it now is."""
    now = utcnow()
    with session_scope(engine()) as session:
        edition = store.latest_edition(session)
        if edition is None:
            return 0
        store.create_due_deliveries(session, edition, now)
        edition_id = edition.id
    with session_scope(engine()) as session:
        ids = store.pending_delivery_ids(session, edition_id)
    for delivery_id in ids:
        send_delivery.delay(delivery_id)
    return len(ids)


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
    with session_scope(engine()) as session:
        delivery_id = welcome_delivery(session, subscriber_id, utcnow())
    if delivery_id is not None:
        send_delivery.delay(delivery_id)
    return delivery_id

"""Mail tasks: edition sends create pending rows; `send_batch` tasks send them in batches.

    send_edition / send_due / send_welcome (and the API's send)
        -> brief.sending.send_pending (rows committed) -> send_batch x as many as useful
    send_batch -> brief.batch.send_batches until nothing is due or its budget is spent
        (then it queues its successor)
    sweep_deliveries (the beat, every 15 s, and at worker start)
        -> expired claims back to pending, expired sends unsure -> send_batch for what is due

The database is the record of what is left to send: a lost queue or a database restart
delays mail by seconds (the next sweep), never loses it; the rows a killed worker had
claimed come back when their lease ends (BRIEF_SEND_LEASE_SECONDS).
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from kombu.exceptions import OperationalError as BrokerError

from brief import store
from brief.batch import DB_ERRORS, Mailer, send_batches
from brief.config import Settings
from brief.db import session_factory, session_scope
from brief.delivery import send_confirmation as confirm_one
from brief.errors import MailTransientError
from brief.runtime import batch_config, mail_context, mailer, sender
from brief.sending import DueNow, EveryActive, OneSubscriber, send_pending
from brief.types import SendStatus
from tasks.app import app
from tasks.base import engine, settings, utcnow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SendLimits:
    """A send_batch's times, all within the lease of its claims (BRIEF_SEND_LEASE_SECONDS):
    the hard limit ends the task before the lease of its first claim ends, so the sweep
    never takes the rows of a live batch, and a killed worker's rows come back within
    one lease (plus a sweep)."""

    budget: float  # claim no new batch after this long; then hand over to a new task
    soft: float  # a relay too slow for the budget: stop cleanly
    hard: float

    @classmethod
    def for_lease(cls, lease: float) -> SendLimits:
        return cls(budget=0.3 * lease, soft=0.6 * lease, hard=0.8 * lease)


DEFAULT_LIMITS = SendLimits.for_lease(Settings.model_fields["send_lease_seconds"].default)


@app.task(name="brief.send_edition")
def send_edition(edition_id: int) -> int:
    """Create a delivery per active subscriber, commit, then queue the batches."""
    pending = send_pending(engine(), EveryActive(), utcnow(), edition_id=edition_id).pending
    _queue_batches(pending)
    return pending


@app.task(name="brief.send_due", ignore_result=True)
def send_due() -> int:
    """Beat: queue the latest edition for every subscriber whose morning it now is."""
    pending = send_pending(engine(), DueNow(), utcnow()).pending
    _queue_batches(pending)
    return pending


@app.task(name="brief.send_welcome")
def send_welcome(subscriber_id: int) -> int:
    """Send the latest edition to a subscriber who just confirmed, through a delivery row."""
    pending = send_pending(engine(), OneSubscriber(subscriber_id), utcnow()).pending
    _queue_batches(pending)
    return pending


@app.task(
    name="brief.send_batch",
    # Nobody reads its result (the worker logs it): storing it in the result backend,
    # the broker's Redis, would fail a batch that did its work while Redis restarts.
    ignore_result=True,
    acks_late=True,
    autoretry_for=DB_ERRORS,  # the database restarting: the rows wait for us
    retry_backoff=2,
    retry_backoff_max=60,
    max_retries=10,
    # For the default lease; _queue_send_batch sets them from the configured one.
    soft_time_limit=DEFAULT_LIMITS.soft,
    time_limit=DEFAULT_LIMITS.hard,
)
def send_batch(edition_id: int | None = None) -> dict[str, Any]:
    """Send due deliveries in batches for up to the budget; queue a successor if some
    are left. A soft time limit stops it cleanly (rows not started go back)."""
    s = settings()
    budget = SendLimits.for_lease(s.send_lease_seconds).budget
    config = batch_config(s, edition_id=edition_id, budget=budget)
    try:
        report = send_batches(engine(), _mailer(), config, now=utcnow)
    except SoftTimeLimitExceeded:
        log.warning("send_batch: soft time limit; stopped cleanly, the rest goes back")
        _queue_send_batch(edition_id)
        return {"stopped": "soft time limit"}
    if report.stopped:  # the budget: more may be due, and another task takes over
        _queue_send_batch(edition_id)
    return {
        "claimed": report.claimed,
        **{str(status): report.count(status) for status in SendStatus if report.count(status)},
        "stopped": report.stopped,
    }


@app.task(name="brief.sweep_deliveries", ignore_result=True)
def sweep_deliveries() -> dict[str, int]:
    """Beat and worker start: free expired claims, then queue sends for what is due."""
    with session_scope(engine()) as session:
        swept = store.sweep(session, utcnow())
    if swept.released or swept.unsure:
        log.warning(
            "sweep: %d expired claims back to pending, %d unsure (a batch died mid-send)",
            swept.released,
            swept.unsure,
        )
    # A live batch sends on and hands over by itself: one more task only in case its
    # claims belong to a worker that died (they stay "live" until their lease ends).
    tasks = _queue_batches(swept.due, most=1 if swept.active else None)
    return {**vars(swept), "queued": tasks}


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


def _queue_batches(pending: int, *, most: int | None = None) -> int:
    """Queue enough send_batch tasks for `pending` rows: one per batch, up to one per core
    (a send_batch loops until nothing is due; extra ones find nothing and stop).

    Returns how many were queued.
    """
    tasks = min(math.ceil(pending / settings().send_batch_size), most or os.cpu_count() or 1)
    return sum(_queue_send_batch() for _ in range(tasks))


def _queue_send_batch(edition_id: int | None = None) -> bool:
    """Queue a send_batch; False when the broker cannot take it (down, restarting): the
    rows wait in the database and the sweep queues a send once the broker is back, so
    the task that asked ends normally, its outcomes recorded, instead of failing."""
    limits = SendLimits.for_lease(settings().send_lease_seconds)
    try:
        send_batch.apply_async((edition_id,), soft_time_limit=limits.soft, time_limit=limits.hard)
    except BrokerError as exc:
        log.warning("cannot queue a send_batch (%s); the sweep will once the broker is back", exc)
        return False
    return True


_MAILER: list[tuple[Settings, Mailer]] = []


def _mailer() -> Mailer:
    """One per process (and settings): its rate limiter keeps a Redis connection pool."""
    s = settings()
    if not _MAILER or _MAILER[0][0] is not s:
        _MAILER[:] = [(s, mailer(s))]
    return _MAILER[0][1]

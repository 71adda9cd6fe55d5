"""One way to start sending an edition: create its deliveries (pending rows), commit.

Every send goes through `send_pending`, then through the batched sender
(`brief.batch.send_batches`): `brief run` and `brief digest send` run it in this
process; the Celery tasks (`send_edition`, `send_due`, `send_welcome`, the API's send)
queue `send_batch` tasks after the commit, so a worker always finds the rows. The
database, not the queue, is the record of what is left to send: a lost task only
delays mail until the sweep queues another.

Every pending delivery of the edition counts, not only the new ones: a row left
pending by an earlier transient error goes out with the next send.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from brief import store
from brief.db import session_scope
from brief.models import Edition


@dataclass(frozen=True)
class EveryActive:
    """Every active subscriber (`brief run`, `brief digest send`, the API's send)."""


@dataclass(frozen=True)
class DueNow:
    """Active subscribers whose morning (time zone and delivery hour) has come."""


@dataclass(frozen=True)
class OneSubscriber:
    """One subscriber, if active: the copy a newly confirmed reader gets at once."""

    subscriber_id: int


Recipients = EveryActive | DueNow | OneSubscriber


@dataclass(frozen=True)
class PendingSend:
    """What `send_pending` left to send: the edition and its pending deliveries."""

    edition_id: int | None  # None: there is no edition yet
    pending: int


def _create(session: Session, edition: Edition, recipients: Recipients, now: datetime) -> None:
    match recipients:
        case EveryActive():
            store.create_deliveries(session, edition.id, now)
        case DueNow():
            store.create_due_deliveries(session, edition, now)
        case OneSubscriber(subscriber_id):
            store.create_deliveries(session, edition.id, now, subscriber_id=subscriber_id)


def send_pending(
    engine: Engine, recipients: Recipients, now: datetime, *, edition_id: int | None = None
) -> PendingSend:
    """Create the deliveries of an edition (default the latest) to ``recipients``; commit.

    Returns how many of them (of this subscriber's, for OneSubscriber) are pending:
    what the caller then sends, here or by queueing `send_batch` tasks.
    """
    with session_scope(engine) as session:
        if edition_id is None:
            edition = store.latest_edition(session)
            if edition is None:
                return PendingSend(None, 0)
        else:
            edition = store.get_edition(session, edition_id)
        _create(session, edition, recipients, now)
        only = recipients.subscriber_id if isinstance(recipients, OneSubscriber) else None
        pending = store.count_pending(session, edition.id, subscriber_id=only)
        return PendingSend(edition.id, pending)

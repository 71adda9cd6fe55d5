"""One way to send an edition: create its deliveries, commit, then hand each pending one on.

Every send goes through `send_pending`: `brief run` and `brief digest send` hand each
delivery id to `delivery.send_delivery` in this process; the Celery tasks
(`send_edition`, `send_due`, `send_welcome`) enqueue one `send_delivery` task per id.
Ids are handed on only after the commit, so a worker always finds its row.

Every pending delivery of the edition is handed on, not only the new ones: a row left
pending by an earlier transient error goes out with the next send.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from brief import store
from brief.db import session_scope
from brief.models import Edition

T = TypeVar("T")


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


def _create(session: Session, edition: Edition, recipients: Recipients, now: datetime) -> None:
    match recipients:
        case EveryActive():
            store.create_deliveries(session, edition.id, now)
        case DueNow():
            store.create_due_deliveries(session, edition, now)
        case OneSubscriber(subscriber_id):
            store.create_deliveries(session, edition.id, now, subscriber_id=subscriber_id)


def send_pending(
    engine: Engine,
    recipients: Recipients,
    send_one: Callable[[int], T],
    now: datetime,
    *,
    edition_id: int | None = None,
    on_start: Callable[[int], None] | None = None,
) -> list[T]:
    """Create the deliveries of an edition (default the latest) to ``recipients``, commit,
    then call ``send_one`` (send here, or enqueue) on each of their pending deliveries.

    Returns what ``send_one`` returned, in delivery order; nothing without an edition.
    ``on_start`` hears how many are about to be handed on (a progress bar's length).
    """
    with session_scope(engine) as session:
        if edition_id is None:
            edition = store.latest_edition(session)
            if edition is None:
                return []
        else:
            edition = store.get_edition(session, edition_id)
        _create(session, edition, recipients, now)
        only = recipients.subscriber_id if isinstance(recipients, OneSubscriber) else None
        ids = store.pending_delivery_ids(session, edition.id, subscriber_id=only)
    if on_start:
        on_start(len(ids))
    return [send_one(delivery_id) for delivery_id in ids]

"""Editions: one per date, stored once; rebuilt only before anything was sent."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from brief.errors import InputError, NotFoundError
from brief.models import Delivery, Edition
from brief.store._sql import insert_ignoring_conflicts
from brief.types import DeliveryStatus, NewEdition


def get_edition(session: Session, edition_id: int) -> Edition:
    edition = session.get(Edition, edition_id)
    if edition is None:
        raise NotFoundError(f"no edition {edition_id} (see `brief editions list`)")
    return edition


def edition_for_date(session: Session, day: date) -> Edition | None:
    return session.scalar(select(Edition).where(Edition.date == day))


def latest_edition(session: Session) -> Edition | None:
    return session.scalar(select(Edition).order_by(Edition.date.desc()).limit(1))


def list_editions(session: Session) -> list[Edition]:
    return list(session.scalars(select(Edition).order_by(Edition.date.desc())))


def save_edition(session: Session, new: NewEdition) -> tuple[Edition, bool]:
    """Store an edition unless one exists for its date (then that one wins)."""
    created = insert_ignoring_conflicts(session, Edition, [asdict(new)]) == 1
    edition = edition_for_date(session, new.date)
    assert edition is not None
    return edition, created


def delete_unsent_edition(session: Session, edition: Edition) -> None:
    """Drop an edition to rebuild it, which is only allowed before anything was sent."""
    started = session.scalar(
        select(func.count())
        .select_from(Delivery)
        .where(Delivery.edition_id == edition.id, Delivery.status != DeliveryStatus.PENDING)
    )
    if started:
        raise InputError(
            f"edition {edition.date} has already been sent to {started} subscriber(s); "
            "it cannot be rebuilt"
        )
    session.delete(edition)
    session.flush()

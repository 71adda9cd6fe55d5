"""Subscribing, confirming, changing preferences and leaving: the checks and the rules.

Double opt-in: nothing but the one confirmation message goes to an address
until its owner follows the signed link in it. Every step is idempotent, so a
double click or a mail scanner fetching a link twice changes nothing more.

The checks (`normalize_email`, `check_timezone`, ..., the CSV reader) are pure;
the rules work on a session through `store`. Every entry point (web page, API,
inbound mail) starts a subscription with `start_subscription`, so its limits
are written once.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from email_validator import EmailNotValidError, validate_email
from sqlalchemy.orm import Session

from brief import store
from brief.errors import InputError, InvalidEmailError
from brief.models import Subscriber
from brief.types import SubscriberStatus

if TYPE_CHECKING:  # the CLI imports the checks without loading Celery
    from brief.ratelimit import RateLimiter
    from brief.taskqueue import TaskQueue

STATUSES = tuple(SubscriberStatus)
MAX_EMAIL_LENGTH = 254
CONFIRMATIONS_PER_ADDRESS_PER_HOUR = 3  # a pending address asking again gets a few, not a flood


# -- checks (pure) -----------------------------------------------------------


def normalize_email(address: str) -> str:
    """A syntactically valid address with its domain lower-cased; no DNS lookups."""
    raw = address.strip()
    if not raw:
        raise InvalidEmailError(address, "empty")
    if any(c in raw for c in "\r\n\0") or len(raw) > MAX_EMAIL_LENGTH:
        raise InvalidEmailError(address, "not a single address")
    try:
        return validate_email(raw, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise InvalidEmailError(address, str(exc)) from None


def check_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InputError(
            f"unknown time zone {name!r} (use an IANA name like Europe/Paris)"
        ) from None
    return name


def check_sections(names: Iterable[str], known: Sequence[str] | None = None) -> list[str] | None:
    """The sections asked for, blanks dropped; None (every section) when there are none."""
    sections = [s for s in names if s]
    if known is not None:
        unknown = [s for s in sections if s not in known]
        if unknown:
            raise InputError(f"unknown section(s) {', '.join(unknown)}; known: {', '.join(known)}")
    return sections or None


def check_section(name: str, known: Sequence[str]) -> str:
    """One section a feed goes in: one of the configured ones (BRIEF_SECTIONS)."""
    section = name.strip().lower()
    if section not in known:
        raise InputError(f"unknown section {name!r}; known: {', '.join(known)}")
    return section


def parse_sections(value: str | None, known: Sequence[str] | None = None) -> list[str] | None:
    """'world, tech' -> ['world', 'tech']; empty -> None (every section)."""
    if not value:
        return None
    return check_sections((p.strip().lower() for p in value.split(",")), known)


def check_hour(hour: int) -> int:
    if not 0 <= hour <= 23:
        raise InputError(f"delivery hour must be between 0 and 23, not {hour}")
    return hour


@dataclass(frozen=True)
class SubscriberRow:
    email: str
    timezone: str | None = None
    sections: list[str] | None = None


@dataclass(frozen=True)
class RejectedRow:
    line: int
    value: str
    reason: str


def parse_subscriber_csv(
    text: str, known_sections: Sequence[str] | None = None
) -> tuple[list[SubscriberRow], list[RejectedRow]]:
    """Rows of 'email[,timezone[,sections]]', with or without a header line.

    Good rows and rejected rows come back separately, so an import can report
    every bad line instead of stopping at the first.
    """
    rows: list[SubscriberRow] = []
    rejected: list[RejectedRow] = []
    # Universal newlines: a lone CR ends a line (csv refuses it inside a field).
    reader = csv.reader(io.StringIO(text, newline=None))
    for number, fields in enumerate(reader, start=1):
        fields = [f.strip() for f in fields]
        if not fields or not fields[0] or fields[0].startswith("#"):
            continue
        if number == 1 and fields[0].lower() in ("email", "e-mail", "address"):
            continue
        try:
            email = normalize_email(fields[0])
            tz = check_timezone(fields[1]) if len(fields) > 1 and fields[1] else None
            sections = (
                parse_sections(fields[2].replace(";", ","), known_sections)
                if len(fields) > 2
                else None
            )
        except InputError as exc:
            rejected.append(RejectedRow(number, fields[0], str(exc)))
            continue
        rows.append(SubscriberRow(email, tz, sections))
    return rows, rejected


# -- rules (on the database) -------------------------------------------------


def start_subscription(
    session: Session,
    email: str,
    *,
    queue: TaskQueue,
    limiter: RateLimiter,
    now: datetime,
    timezone: str | None = None,
    sections: Iterable[str] | None = None,
    delivery_hour: int | None = None,
    known_sections: Sequence[str] | None = None,
) -> bool:
    """Check the wish, record it, commit, and queue the confirmation (rate-limited).

    Raises InputError for a malformed wish, before anything is written. Returns
    whether a confirmation was queued; callers answer the same either way, so
    nobody learns whether an address is known. The session is committed before
    the confirmation is queued, so the worker finds the subscriber.
    """
    address = normalize_email(email)
    tz = check_timezone(timezone) if timezone else None
    wanted = check_sections(sections or [], known_sections)
    hour = check_hour(delivery_hour) if delivery_hour is not None else None
    subscriber_id, confirm = _record_wish(
        session, address, now=now, timezone=tz, sections=wanted, delivery_hour=hour
    )
    session.commit()
    if confirm and limiter.hit(
        f"confirm:{address.lower()}", CONFIRMATIONS_PER_ADDRESS_PER_HOUR, 3600
    ):
        queue.send("brief.send_confirmation", subscriber_id)
        return True
    return False


def _record_wish(
    session: Session,
    email: str,
    *,
    now: datetime,
    timezone: str | None,
    sections: list[str] | None,
    delivery_hour: int | None,
) -> tuple[int, bool]:
    """Record a wish to subscribe: (subscriber id, whether to send a confirmation)."""
    sub = store.find_subscriber(session, email)
    if sub is None:
        sub, _ = store.add_subscriber(
            session,
            email,
            now=now,
            timezone=timezone,
            sections=sections,
            delivery_hour=delivery_hour,
            status=SubscriberStatus.PENDING,
        )
        return sub.id, True
    if sub.status in (SubscriberStatus.ACTIVE, SubscriberStatus.PAUSED):
        # Preferences are not changed by an unauthenticated form: the owner has a link.
        return sub.id, False
    # pending, unsubscribed, bounced, suspended or complained: (re)start the opt-in with
    # the new wishes. The address gets nothing but the confirmation until its owner
    # follows the link: for a bounced or complained address that is the one way back,
    # the reader's own new consent (the status reason stays until then).
    sub.status = SubscriberStatus.PENDING
    if timezone:
        sub.timezone = timezone
    if sections is not None:
        sub.sections = sections
    if delivery_hour is not None:
        sub.delivery_hour = delivery_hour
    return sub.id, True


def confirm(session: Session, subscriber_id: int, now: datetime) -> tuple[Subscriber, bool]:
    """Activate a pending subscriber. Returns (subscriber, newly_confirmed)."""
    sub = store.get_subscriber(session, subscriber_id)
    if sub.status == SubscriberStatus.ACTIVE:
        return sub, False
    sub.status = SubscriberStatus.ACTIVE
    sub.status_reason = None  # the reader chose this; an old bounce or complaint is over
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
    sub = store.get_subscriber(session, subscriber_id)
    sub.sections, sub.timezone, sub.delivery_hour = sections, timezone, delivery_hour
    if sub.status in (SubscriberStatus.ACTIVE, SubscriberStatus.PAUSED):
        sub.status = SubscriberStatus.PAUSED if paused else SubscriberStatus.ACTIVE
    return sub


def unsubscribe(session: Session, subscriber_id: int, now: datetime) -> Subscriber:
    """Leave by a signed link's subscriber id; by address, `store.unsubscribe` does the same."""
    return store.unsubscribe(session, store.get_subscriber(session, subscriber_id).email, now)

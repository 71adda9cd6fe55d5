"""Validating what an operator or a visitor says about a subscriber (pure)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from email_validator import EmailNotValidError, validate_email

from brief.errors import InputError, InvalidEmailError

MAX_EMAIL_LENGTH = 254


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


def parse_sections(value: str | None, known: list[str] | None = None) -> list[str] | None:
    """'world, tech' -> ['world', 'tech']; empty -> None (every section)."""
    if not value:
        return None
    sections = [s for s in (p.strip().lower() for p in value.split(",")) if s]
    if known is not None:
        unknown = [s for s in sections if s not in known]
        if unknown:
            raise InputError(f"unknown section(s) {', '.join(unknown)}; known: {', '.join(known)}")
    return sections or None


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


def parse_subscriber_csv(text: str) -> tuple[list[SubscriberRow], list[RejectedRow]]:
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
            sections = parse_sections(fields[2].replace(";", ",")) if len(fields) > 2 else None
        except InputError as exc:
            rejected.append(RejectedRow(number, fields[0], str(exc)))
            continue
        rows.append(SubscriberRow(email, tz, sections))
    return rows, rejected

"""`brief subscribers ...`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from brief.cli.common import JsonOpt, now, print_json, state
from brief.errors import InputError

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from brief.models import Subscriber

subs_app = typer.Typer(help="Manage subscribers.", no_args_is_help=True)
ForceOpt = Annotated[
    bool,
    typer.Option(
        "--force", help="Re-activate addresses that bounced, were suspended or complained."
    ),
]


def _sub_json(sub: Subscriber) -> dict[str, Any]:
    return {
        "id": sub.id,
        "email": sub.email,
        "status": sub.status,
        "status_reason": sub.status_reason,
        "timezone": sub.timezone,
        "delivery_hour": sub.delivery_hour,
        "sections": sub.sections,
        "created_at": sub.created_at,
        "confirmed_at": sub.confirmed_at,
        "unsubscribed_at": sub.unsubscribed_at,
    }


def _held(sub: Subscriber) -> str:
    return f"{sub.email} is {sub.status} ({sub.status_reason})"


def summary(session: Session) -> dict[str, Any]:
    """Every subscriber counted by status and by reason, and the mail events by kind."""
    from brief import store

    return {
        "by_status": store.subscribers_by_status(session),
        "by_reason": store.subscribers_by_reason(session),
        "mail_events": store.mail_events_by_kind(session),
    }


def summary_lines(counts: dict[str, Any]) -> list[str]:
    """``all: active 40, bounced 2 (hard-bounce 1, send-refused 1), unsubscribed 3 (...)``"""
    parts = []
    for status, count in sorted(counts["by_status"].items()):
        reasons = counts["by_reason"].get(status, {})
        detail = ", ".join(f"{reason} {n}" for reason, n in sorted(reasons.items()))
        parts.append(f"{status} {count}" + (f" ({detail})" if detail else ""))
    lines = [f"all: {', '.join(parts) or 'none'}"]
    if counts["mail_events"]:
        events = ", ".join(f"{kind} {n}" for kind, n in sorted(counts["mail_events"].items()))
        lines.append(f"mail events: {events}")
    return lines


@subs_app.command("add")
def subscribers_add(
    email: str,
    timezone: Annotated[str | None, typer.Option(help="IANA zone, e.g. Europe/Paris.")] = None,
    sections: Annotated[str | None, typer.Option(help="Comma-separated; default all.")] = None,
    hour: Annotated[int | None, typer.Option(help="Delivery hour, 0-23.")] = None,
    force: ForceOpt = False,
) -> None:
    """Add a subscriber, active at once (you vouch for the address)."""
    from brief import store
    from brief.db import session_scope
    from brief.subscriptions import check_hour, check_timezone, normalize_email, parse_sections

    address = normalize_email(email)
    tz = check_timezone(timezone) if timezone else None
    wanted = parse_sections(sections, state.settings.sections)
    delivery_hour = check_hour(hour) if hour is not None else None
    with session_scope(state.engine) as session:
        sub, created = store.add_subscriber(
            session,
            address,
            now=now(),
            timezone=tz,
            sections=wanted,
            delivery_hour=delivery_hour,
            force=force,
        )
        if store.held_back(sub):
            raise InputError(f"{_held(sub)}: not re-activated (--force to add it anyway)")
    typer.echo(f"{'added' if created else 'updated'} {address} (active)")


@subs_app.command("list")
def subscribers_list(
    status: Annotated[str | None, typer.Option(help="Only this status.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """List subscribers, then every subscriber counted by status and reason."""
    from brief import store
    from brief.db import session_scope

    with session_scope(state.engine) as session:
        subs = store.list_subscribers(session, status)
        counts = summary(session)
        if as_json:
            print_json({"subscribers": [_sub_json(s) for s in subs], "summary": counts})
            return
        for s in subs:
            sections = ",".join(s.sections) if s.sections else "all sections"
            reason = f"  ({s.status_reason})" if s.status_reason else ""
            typer.echo(f"{s.status:>12}  {s.email}  {s.timezone}  {sections}{reason}")
        typer.echo(f"{len(subs)} subscriber(s)")
        for line in summary_lines(counts):
            typer.echo(line)


@subs_app.command("remove")
def subscribers_remove(email: str) -> None:
    """Unsubscribe an address (kept, marked unsubscribed, so it gets nothing more)."""
    from brief import store
    from brief.db import session_scope
    from brief.store.subscribers import OPERATOR

    with session_scope(state.engine) as session:
        sub = store.unsubscribe(session, email.strip(), now(), reason=OPERATOR)
    typer.echo(f"unsubscribed {sub.email}")


@subs_app.command("import")
def subscribers_import(path: Path, force: ForceOpt = False) -> None:
    """Add subscribers from a CSV file: email[,timezone[,sections]] per line.

    Addresses that bounced, were suspended or complained stay as they are unless --force.
    """
    from brief import store
    from brief.db import session_scope
    from brief.subscriptions import parse_subscriber_csv

    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read {path}: {exc}") from None
    rows, rejected = parse_subscriber_csv(text, state.settings.sections)
    added, held = 0, []
    with (
        session_scope(state.engine) as session,
        typer.progressbar(rows, label="importing", file=sys.stderr) as progress,
    ):
        for row in progress:
            sub, created = store.add_subscriber(
                session,
                row.email,
                now=now(),
                timezone=row.timezone,
                sections=row.sections,
                force=force,
            )
            added += created
            if store.held_back(sub):
                held.append(_held(sub))
    for bad in rejected:
        typer.echo(f"line {bad.line}: skipped {bad.value!r}: {bad.reason}", err=True)
    for line in held:
        typer.echo(f"held back: {line} (--force to re-activate)", err=True)
    updated = len(rows) - added - len(held)
    typer.echo(f"{added} added, {updated} updated, {len(held)} held back, {len(rejected)} rejected")


# -- the whole job ---------------------------------------------------------

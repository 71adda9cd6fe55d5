"""`brief subscribers ...`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from brief import store
from brief.cli.common import JsonOpt, now, print_json, state
from brief.db import session_scope
from brief.errors import InputError
from brief.models import Subscriber
from brief.subscriptions import (
    check_hour,
    check_timezone,
    normalize_email,
    parse_sections,
    parse_subscriber_csv,
)

subs_app = typer.Typer(help="Manage subscribers.", no_args_is_help=True)


def _sub_json(sub: Subscriber) -> dict[str, Any]:
    return {
        "id": sub.id,
        "email": sub.email,
        "status": sub.status,
        "timezone": sub.timezone,
        "delivery_hour": sub.delivery_hour,
        "sections": sub.sections,
        "created_at": sub.created_at,
        "confirmed_at": sub.confirmed_at,
        "unsubscribed_at": sub.unsubscribed_at,
    }


@subs_app.command("add")
def subscribers_add(
    email: str,
    timezone: Annotated[str | None, typer.Option(help="IANA zone, e.g. Europe/Paris.")] = None,
    sections: Annotated[str | None, typer.Option(help="Comma-separated; default all.")] = None,
    hour: Annotated[int | None, typer.Option(help="Delivery hour, 0-23.")] = None,
) -> None:
    """Add a subscriber, active at once (you vouch for the address)."""
    address = normalize_email(email)
    tz = check_timezone(timezone) if timezone else None
    wanted = parse_sections(sections)
    delivery_hour = check_hour(hour) if hour is not None else None
    with session_scope(state.engine) as session:
        _, created = store.add_subscriber(
            session, address, now=now(), timezone=tz, sections=wanted, delivery_hour=delivery_hour
        )
    typer.echo(f"{'added' if created else 'updated'} {address} (active)")


@subs_app.command("list")
def subscribers_list(
    status: Annotated[str | None, typer.Option(help="Only this status.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """List subscribers."""
    with session_scope(state.engine) as session:
        subs = store.list_subscribers(session, status)
        if as_json:
            print_json([_sub_json(s) for s in subs])
            return
        for s in subs:
            sections = ",".join(s.sections) if s.sections else "all sections"
            typer.echo(f"{s.status:>12}  {s.email}  {s.timezone}  {sections}")
        typer.echo(f"{len(subs)} subscriber(s)")


@subs_app.command("remove")
def subscribers_remove(email: str) -> None:
    """Unsubscribe an address (kept, marked unsubscribed, so it gets nothing more)."""
    with session_scope(state.engine) as session:
        sub = store.unsubscribe(session, email.strip(), now())
    typer.echo(f"unsubscribed {sub.email}")


@subs_app.command("import")
def subscribers_import(path: Path) -> None:
    """Add subscribers from a CSV file: email[,timezone[,sections]] per line."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read {path}: {exc}") from None
    rows, rejected = parse_subscriber_csv(text)
    added = 0
    with (
        session_scope(state.engine) as session,
        typer.progressbar(rows, label="importing", file=sys.stderr) as progress,
    ):
        for row in progress:
            _, created = store.add_subscriber(
                session, row.email, now=now(), timezone=row.timezone, sections=row.sections
            )
            added += created
    for bad in rejected:
        typer.echo(f"line {bad.line}: skipped {bad.value!r}: {bad.reason}", err=True)
    typer.echo(f"{added} added, {len(rows) - added} updated, {len(rejected)} rejected")


# -- the whole job ---------------------------------------------------------

"""`brief status`: where things are, whether the services answer, what is queued and next."""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Any

import typer

from brief.cli.common import JsonOpt, now, print_json, state

if TYPE_CHECKING:
    from datetime import datetime

    from brief.health import BrokerStatus, DatabaseStatus


def status(as_json: JsonOpt = False) -> None:
    """Data folder, database, broker, workers, queue, last edition, failing feeds, next edition.

    Exits with 1 when the database or the broker does not answer.
    """
    from brief.health import broker_status, database_status
    from brief.sendtime import next_edition_at

    s = state.settings
    db, broker = database_status(s), broker_status(s)
    next_at = next_edition_at(now(), s.zone, s.edition_hour, s.edition_minute)
    report: dict[str, Any] = {
        "data_dir": str(s.data_dir),
        "data_dir_exists": s.data_dir.is_dir(),
        "database": asdict(db),
        "broker": asdict(broker),
        "next_edition_at": next_at.isoformat(),
        "timezone": s.timezone,
    }
    if as_json:
        print_json(report)
    else:
        _print(report, db, broker, next_at)
    if not (db.ok and broker.ok):
        raise typer.Exit(1)


def _print(
    report: dict[str, Any], db: DatabaseStatus, broker: BrokerStatus, next_at: datetime
) -> None:
    rows = [
        ("data folder", report["data_dir"] + ("" if report["data_dir_exists"] else " (not yet)")),
        ("database", f"{db.url}  {_state(db.ok, db.error or db.note)}"),
        ("", f"schema {db.schema}" if db.schema else ""),
        ("broker", f"{broker.kind} {broker.url}  {_state(broker.ok, broker.error)}"),
        ("queued tasks", "?" if broker.queued is None else str(broker.queued)),
        ("workers", _workers(broker)),
    ]
    if db.schema:  # the database answered and has tables
        rows.append(("last edition", _edition(db.last_edition)))
        rows.append(("feeds", f"{db.feeds}, {len(db.failing_feeds)} failing"))
    for name, value in rows:
        if value:
            typer.echo(f"{name:<13} {value}")
    for feed in db.failing_feeds:
        disabled = ", disabled" if feed["disabled"] else ""
        typer.echo(f"    {feed['url']} (x{feed['errors']}{disabled}): {feed['last_error']}")
    typer.echo(f"{'next edition':<13} {next_at:%Y-%m-%d %H:%M} {report['timezone']}")


def _state(ok: bool, error: str | None) -> str:
    if not ok:
        return f"FAILING: {error}"
    return f"ok ({error})" if error else "ok"


def _workers(broker: BrokerStatus) -> str:
    if broker.workers is None:
        return broker.workers_note or "? (the broker does not answer)"
    return f"{len(broker.workers)}" + (f": {', '.join(broker.workers)}" if broker.workers else "")


def _edition(edition: dict[str, Any] | None) -> str:
    if edition is None:
        return "none yet"
    counts = ", ".join(f"{k} {v}" for k, v in sorted(edition["deliveries"].items()))
    return (
        f"{edition['date']} (#{edition['id']}, {edition['status']}): {edition['stories']} "
        f"stories; deliveries {counts or 'none'}"
    )

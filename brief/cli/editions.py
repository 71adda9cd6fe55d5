"""`brief digest ...` and `brief editions ...`."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from brief.cli.common import JsonOpt, now, print_json, state
from brief.errors import InputError

if TYPE_CHECKING:
    from brief.models import Edition
    from brief.store import UnsureDelivery

digest_app = typer.Typer(help="Build, preview and send editions.", no_args_is_help=True)
editions_app = typer.Typer(help="Look at stored editions.", no_args_is_help=True)


def _parse_day(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InputError(f"not a date: {value!r} (expected YYYY-MM-DD)") from None


def _edition_json(edition: Edition, counts: dict[str, int] | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": edition.id,
        "date": edition.date.isoformat(),
        "status": edition.status,
        "subject": edition.subject,
        "window_start": edition.window_start,
        "window_end": edition.window_end,
        "story_count": len(edition.stories),
    }
    if counts is not None:
        data["deliveries"] = counts
        data["stories"] = edition.stories
    return data


def _edition(session: Any, edition_id: int | None) -> Edition:
    from brief import store

    if edition_id is not None:
        return store.get_edition(session, edition_id)
    latest = store.latest_edition(session)
    if latest is None:
        raise InputError("no edition yet: run `brief digest build` first")
    return latest


@digest_app.command("build")
def digest_build(
    day: Annotated[str | None, typer.Option("--date", help="Edition date, YYYY-MM-DD.")] = None,
    rebuild: Annotated[bool, typer.Option(help="Replace an edition not yet sent.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Build the edition of a date (default today) from the articles already stored."""
    from brief import runtime, store
    from brief.db import session_scope
    from brief.editions import build_edition

    s = state.settings
    plan = runtime.edition_plan(s)
    started = now()
    with session_scope(state.engine) as session:
        edition, created = build_edition(
            session,
            plan,
            runtime.mail_context(s),
            day=_parse_day(day) or plan.today(started),
            now=started,
            rebuild=rebuild,
            summarizer=runtime.summarizer(s),
        )
        if as_json:
            print_json(_edition_json(edition, store.delivery_counts(session, edition.id)))
            return
        verb = "built" if created else "already built (use --rebuild to replace)"
        typer.echo(
            f"edition {edition.id} for {edition.date}: {verb}, {len(edition.stories)} stories"
        )


def write_preview(edition: Edition) -> Path:
    folder = state.settings.data_dir / "preview"
    folder.mkdir(parents=True, exist_ok=True)
    path = (folder / f"edition-{edition.date.isoformat()}.html").resolve()
    path.write_text(edition.html, encoding="utf-8")
    return path


@digest_app.command("preview")
def digest_preview(
    edition_id: Annotated[int | None, typer.Argument(help="Edition id (default latest).")] = None,
    open_browser: Annotated[bool, typer.Option("--open", help="Open it in a browser.")] = False,
) -> None:
    """Write an edition's HTML to a file and print the path."""
    from brief.db import session_scope

    with session_scope(state.engine) as session:
        path = write_preview(_edition(session, edition_id))
    typer.echo(str(path))
    if open_browser:
        import webbrowser

        webbrowser.open(path.as_uri())


@digest_app.command("send")
def digest_send(
    edition_id: Annotated[int | None, typer.Argument(help="Edition id (default latest).")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="A line per message.")] = False,
) -> None:
    """Send an edition to every active subscriber who has not had it yet."""
    from brief import runtime
    from brief.db import session_scope
    from brief.pipeline import send_edition
    from brief.types import SendStatus

    s = state.settings
    with session_scope(state.engine) as session:
        edition = _edition(session, edition_id)
    with _Progress(verbose) as progress:
        outcomes = send_edition(
            state.engine,
            edition.id,
            runtime.mailer(s),
            now,
            config=runtime.batch_config(s),
            on_progress=progress.step,
            on_start=progress.start,
        )
    sent = sum(o.status == SendStatus.SENT for o in outcomes)
    failed = sum(o.status == SendStatus.FAILED for o in outcomes)
    unsure = sum(o.status == SendStatus.UNSURE for o in outcomes)
    line = f"edition {edition.date}: {sent} sent, {failed} failed, "
    if unsure:
        line += f"{unsure} unsure (see `brief editions show {edition.id}`), "
    typer.echo(line + f"{len(outcomes) - sent - failed - unsure} to retry later")


class _Progress:
    """A progress bar for long sends; failures (or, verbose, every message) as lines."""

    def __init__(self, verbose: bool) -> None:
        self.verbose = verbose
        self.bar: Any = None

    def __enter__(self) -> _Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)

    def start(self, total: int) -> None:
        # Only on a terminal: in a log, the bar's label would be a line of its own.
        if total and not self.verbose and sys.stderr.isatty():
            self.bar = typer.progressbar(length=total, label="sending", file=sys.stderr)
            self.bar.__enter__()

    def step(self, outcome: Any) -> None:
        from brief.types import SendStatus

        if self.bar is not None:
            self.bar.update(1)
        if self.verbose or outcome.status != SendStatus.SENT:
            echo_outcome(outcome)


@digest_app.command("test-send")
def digest_test_send(
    edition_id: Annotated[int, typer.Argument(help="Edition id.")],
    to: Annotated[list[str], typer.Option("--to", help="Address; repeat for more.")],
) -> None:
    """Send an edition only to these addresses, marked [TEST]; nothing is recorded."""
    from brief import runtime
    from brief.db import session_scope
    from brief.delivery import send_test
    from brief.subscriptions import normalize_email
    from brief.types import SendStatus

    s = state.settings
    addresses = [normalize_email(a) for a in to]
    with session_scope(state.engine) as session:
        outcomes = send_test(
            session, edition_id, addresses, runtime.sender(s), runtime.mail_context(s), now()
        )
    for outcome in outcomes:
        echo_outcome(outcome)
    if any(o.status != SendStatus.SENT for o in outcomes):
        raise typer.Exit(1)


def echo_outcome(outcome: Any) -> None:
    line = f"{outcome.status:>8}  {outcome.recipient}"
    if outcome.where:
        line += f"  -> {outcome.where}"
    if outcome.error:
        line += f"  ({outcome.error})"
    typer.echo(line)


@editions_app.command("list")
def editions_list(as_json: JsonOpt = False) -> None:
    """List stored editions, newest first."""
    from brief import store
    from brief.db import session_scope

    with session_scope(state.engine) as session:
        editions = store.list_editions(session)
        if as_json:
            print_json([_edition_json(e) for e in editions])
            return
        if not editions:
            typer.echo("no editions yet: brief digest build")
        for e in editions:
            counts = store.delivery_counts(session, e.id)
            typer.echo(
                f"{e.id:>4}  {e.date}  {len(e.stories):>3} stories  "
                f"sent {counts.get('sent', 0)}  {e.subject}"
            )


@editions_app.command("show")
def editions_show(edition_id: int, as_json: JsonOpt = False) -> None:
    """Show one edition's stories and deliveries."""
    from brief import store
    from brief.db import session_scope

    with session_scope(state.engine) as session:
        edition = store.get_edition(session, edition_id)
        counts = store.delivery_counts(session, edition.id)
        if as_json:
            print_json(_edition_json(edition, counts))
            return
        typer.echo(f"edition {edition.id}  {edition.date}  {edition.subject}")
        typer.echo(
            f"window {edition.window_start:%Y-%m-%d %H:%M} - "
            f"{edition.window_end:%Y-%m-%d %H:%M} UTC; deliveries {counts or 'none'}"
        )
        _echo_unsure(store.unsure_deliveries(session, edition.id))
        section = None
        for story in edition.stories:
            if story["section"] != section:
                section = story["section"]
                typer.echo(f"\n## {section}")
            sources = ", ".join(src["name"] for src in story["sources"])
            typer.echo(f"- {story['title']} ({sources})\n  {story['url']}")


def _echo_unsure(rows: list[UnsureDelivery]) -> None:
    if not rows:
        return
    typer.echo(
        f"\n{len(rows)} unsure delivery(ies): the connection ended after the message was "
        "sent, before the server said it was accepted (or a worker died then). It may "
        "have arrived; brief never resends these by itself. Look for the Message-ID in "
        "your mail server's log, then:\n"
        "  brief editions mark-sent ID...   it arrived\n"
        "  brief editions resend ID...      it did not: send it again"
    )
    for row in rows:
        when = f"{row.claimed_at:%Y-%m-%d %H:%M} UTC" if row.claimed_at else "?"
        typer.echo(f"  {row.id:>6}  {row.recipient}  {row.message_id or ''}  {when}")
        if row.last_error:
            typer.echo(f"          {row.last_error}")


@editions_app.command("resend")
def editions_resend(
    delivery_ids: Annotated[list[int], typer.Argument(help="Unsure delivery ids.")],
) -> None:
    """Send unsure deliveries again (they did not arrive); the next send takes them."""
    from brief import store
    from brief.db import session_scope

    with session_scope(state.engine) as session:
        changed = store.resend_unsure(session, delivery_ids, now())
    _echo_resolved(delivery_ids, changed, "pending again: the next send takes them")


@editions_app.command("mark-sent")
def editions_mark_sent(
    delivery_ids: Annotated[list[int], typer.Argument(help="Unsure delivery ids.")],
) -> None:
    """Record unsure deliveries as sent (the mail log shows they arrived)."""
    from brief import store
    from brief.db import session_scope

    with session_scope(state.engine) as session:
        changed = store.mark_unsure_sent(session, delivery_ids, now())
    _echo_resolved(delivery_ids, changed, "recorded as sent")


def _echo_resolved(asked: list[int], changed: list[int], what: str) -> None:
    if changed:
        typer.echo(f"{', '.join(map(str, changed))}: {what}")
    skipped = sorted(set(asked) - set(changed))
    if skipped:
        typer.echo(f"{', '.join(map(str, skipped))}: not unsure deliveries; left as they are")
        raise typer.Exit(1)


# -- subscribers -----------------------------------------------------------

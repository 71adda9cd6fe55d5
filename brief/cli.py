"""The `brief` command line: feeds, subscribers, ingest, digest, editions, run, demo."""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from sqlalchemy import Engine

from brief import runtime, store
from brief.config import Settings, load_settings
from brief.db import session_scope
from brief.errors import BriefError, ConfigError, InputError
from brief.feeds.opml import OPMLFeed, parse_opml, to_opml
from brief.models import Edition, Feed, Subscriber
from brief.pipeline import RunReport, ingest_all, run_once, send_edition
from brief.subscribers import (
    check_hour,
    check_timezone,
    normalize_email,
    parse_sections,
    parse_subscriber_csv,
)

app = typer.Typer(
    help="brief: a daily news brief email from public RSS/Atom feeds.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
feeds_app = typer.Typer(help="Manage the feeds brief reads.", no_args_is_help=True)
subs_app = typer.Typer(help="Manage subscribers.", no_args_is_help=True)
digest_app = typer.Typer(help="Build, preview and send editions.", no_args_is_help=True)
editions_app = typer.Typer(help="Look at stored editions.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(feeds_app, name="feeds")
app.add_typer(subs_app, name="subscribers")
app.add_typer(digest_app, name="digest")
app.add_typer(editions_app, name="editions")
app.add_typer(db_app, name="db")

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]


class _State:
    """Settings and engine, built once per command on first use."""

    def __init__(self) -> None:
        self._settings: Settings | None = None
        self._engine: Engine | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings()
        return self._settings

    def use_env(self) -> None:
        self._settings, self._engine = None, None

    def use(self, settings: Settings) -> None:
        self._settings, self._engine = settings, None

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = runtime.database(self.settings)
        return self._engine


state = _State()


@app.callback()
def _root() -> None:
    # A fresh state per invocation (tests call the app many times in one process).
    state.use_env()


def now() -> datetime:
    return datetime.now(UTC)


def _print_json(value: Any) -> None:
    typer.echo(json.dumps(value, indent=2, ensure_ascii=False, default=str))


def _ago(when: datetime | None) -> str:
    return when.strftime("%Y-%m-%d %H:%M UTC") if when else "never"


# -- feeds -----------------------------------------------------------------


def _feed_json(feed: Feed) -> dict[str, Any]:
    return {
        "id": feed.id,
        "url": feed.url,
        "title": feed.title,
        "section": feed.section,
        "last_fetched_at": feed.last_fetched_at,
        "last_success_at": feed.last_success_at,
        "last_status": feed.last_status,
        "error_count": feed.error_count,
        "last_error": feed.last_error,
    }


@feeds_app.command("add")
def feeds_add(
    url: str,
    section: Annotated[str, typer.Option(help="Section the feed's stories go in.")] = "world",
    title: Annotated[str | None, typer.Option(help="Name shown as the source.")] = None,
) -> None:
    """Add a feed (or change the section of one already added)."""
    with session_scope(state.engine) as session:
        feed, created = store.add_feed(session, url, section, title)
        typer.echo(f"{'added' if created else 'updated'} {feed.url} in section {feed.section}")


@feeds_app.command("add-defaults")
def feeds_add_defaults() -> None:
    """Add brief's default list of international news feeds."""
    from brief.feeds.defaults import DEFAULT_FEEDS

    _add_many(DEFAULT_FEEDS)


def _add_many(feeds: Any) -> None:
    added = 0
    with session_scope(state.engine) as session:
        for item in feeds:
            _, created = store.add_feed(session, item.url, item.section or "world", item.title)
            added += created
    typer.echo(f"{added} feed(s) added, {len(feeds) - added} already there")


@feeds_app.command("list")
def feeds_list(as_json: JsonOpt = False) -> None:
    """List feeds with their health."""
    with session_scope(state.engine) as session:
        feeds = store.list_feeds(session)
        if as_json:
            _print_json([_feed_json(f) for f in feeds])
            return
        if not feeds:
            typer.echo(
                "no feeds yet: brief feeds add URL --section NAME (or brief feeds add-defaults)"
            )
        for f in feeds:
            health = "ok" if not f.error_count else f"FAILING x{f.error_count}: {f.last_error}"
            typer.echo(f"[{f.section}] {f.url}  {f.title or ''}")
            typer.echo(f"    last success {_ago(f.last_success_at)}; {health}")


@feeds_app.command("remove")
def feeds_remove(url: str) -> None:
    """Remove a feed and its stored articles."""
    with session_scope(state.engine) as session:
        store.remove_feed(session, url)
    typer.echo(f"removed {url}")


@feeds_app.command("import")
def feeds_import(path: Path) -> None:
    """Add every feed of an OPML file (outline categories become sections)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from None
    _add_many(parse_opml(data))


@feeds_app.command("export")
def feeds_export(
    output: Annotated[Path | None, typer.Option("--output", "-o")] = None,
) -> None:
    """Write the feeds as OPML (to standard output, or a file)."""
    with session_scope(state.engine) as session:
        items = [
            OPMLFeed(url=f.url, title=f.title, section=f.section) for f in store.list_feeds(session)
        ]
    text = to_opml(items, title=f"{state.settings.name} feeds")
    if output:
        output.write_text(text, encoding="utf-8")
        typer.echo(f"wrote {len(items)} feed(s) to {output}")
    else:
        typer.echo(text)


# -- ingest ----------------------------------------------------------------


@app.command()
def ingest(as_json: JsonOpt = False) -> None:
    """Fetch every feed now and store new articles."""
    s = state.settings
    results = ingest_all(
        state.engine, timeout=s.fetch_timeout, user_agent=runtime.user_agent(s), now=now()
    )
    if as_json:
        _print_json([r.__dict__ for r in results])
        return
    for r in results:
        detail = f"error: {r.error}" if r.error else f"{r.new_articles} new"
        typer.echo(f"{r.status:>12}  {r.url}  {detail}")
    typer.echo(f"{len(results)} feed(s), {sum(r.new_articles for r in results)} new article(s)")


# -- digest & editions -----------------------------------------------------


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
        )
        if as_json:
            _print_json(_edition_json(edition, store.delivery_counts(session, edition.id)))
            return
        verb = "built" if created else "already built (use --rebuild to replace)"
        typer.echo(
            f"edition {edition.id} for {edition.date}: {verb}, {len(edition.stories)} stories"
        )


def _write_preview(edition: Edition) -> Path:
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
    with session_scope(state.engine) as session:
        path = _write_preview(_edition(session, edition_id))
    typer.echo(str(path))
    if open_browser:
        import webbrowser

        webbrowser.open(path.as_uri())


@digest_app.command("send")
def digest_send(
    edition_id: Annotated[int | None, typer.Argument(help="Edition id (default latest).")] = None,
) -> None:
    """Send an edition to every active subscriber who has not had it yet."""
    s = state.settings
    with session_scope(state.engine) as session:
        edition = _edition(session, edition_id)
    outcomes = send_edition(
        state.engine,
        edition.id,
        runtime.sender(s),
        runtime.mail_context(s),
        now,
        on_progress=_echo_outcome,
    )
    sent = sum(o.status == "sent" for o in outcomes)
    typer.echo(
        f"edition {edition.date}: {sent} sent, "
        f"{sum(o.status in ('failed', 'retry') for o in outcomes)} failed, "
        f"{len(outcomes) - sent} not sent now"
    )


def _echo_outcome(outcome: Any) -> None:
    line = f"{outcome.status:>8}  {outcome.recipient}"
    if outcome.where:
        line += f"  -> {outcome.where}"
    if outcome.error:
        line += f"  ({outcome.error})"
    typer.echo(line)


@editions_app.command("list")
def editions_list(as_json: JsonOpt = False) -> None:
    """List stored editions, newest first."""
    with session_scope(state.engine) as session:
        editions = store.list_editions(session)
        if as_json:
            _print_json([_edition_json(e) for e in editions])
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
    with session_scope(state.engine) as session:
        edition = store.get_edition(session, edition_id)
        counts = store.delivery_counts(session, edition.id)
        if as_json:
            _print_json(_edition_json(edition, counts))
            return
        typer.echo(f"edition {edition.id}  {edition.date}  {edition.subject}")
        typer.echo(
            f"window {edition.window_start:%Y-%m-%d %H:%M} - "
            f"{edition.window_end:%Y-%m-%d %H:%M} UTC; deliveries {counts or 'none'}"
        )
        if counts.get("sending"):
            typer.echo(
                f"warning: {counts['sending']} delivery(ies) stuck in 'sending': "
                "a worker stopped mid-send; check the mail log before re-sending"
            )
        section = None
        for story in edition.stories:
            if story["section"] != section:
                section = story["section"]
                typer.echo(f"\n## {section}")
            sources = ", ".join(src["name"] for src in story["sources"])
            typer.echo(f"- {story['title']} ({sources})\n  {story['url']}")


# -- subscribers -----------------------------------------------------------


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
            _print_json([_sub_json(s) for s in subs])
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
    with session_scope(state.engine) as session:
        for row in rows:
            _, created = store.add_subscriber(
                session, row.email, now=now(), timezone=row.timezone, sections=row.sections
            )
            added += created
    for bad in rejected:
        typer.echo(f"line {bad.line}: skipped {bad.value!r}: {bad.reason}", err=True)
    typer.echo(f"{added} added, {len(rows) - added} updated, {len(rejected)} rejected")


# -- the whole job ---------------------------------------------------------


def _print_report(report: RunReport, where: str) -> None:
    ok = sum(r.status != "error" for r in report.ingested)
    typer.echo(
        f"feeds: {len(report.ingested)} fetched, {ok} ok, "
        f"{len(report.failed_feeds)} failed; {report.new_articles} new article(s)"
    )
    for r in report.failed_feeds:
        typer.echo(f"  failed {r.url}: {r.error}")
    verb = "built" if report.edition_created else "already built"
    typer.echo(f"edition {report.edition_date} ({verb}): {report.stories} stories")
    for outcome in report.deliveries:
        _echo_outcome(outcome)
    typer.echo(
        f"messages: {report.count('sent')} sent to {where}, "
        f"{report.count('failed') + report.count('retry')} failed"
    )


def _run(settings: Settings) -> RunReport:
    return run_once(
        state.engine,
        plan=runtime.edition_plan(settings),
        ctx=runtime.mail_context(settings),
        sender=runtime.sender(settings),
        timeout=settings.fetch_timeout,
        user_agent=runtime.user_agent(settings),
        now=now,
    )


def _destination(settings: Settings) -> str:
    smtp = settings.smtp
    return f"smtp://{smtp.host}:{smtp.port}" if smtp else str(settings.outbox_path.resolve())


@app.command()
def run() -> None:
    """Ingest, build today's edition and send it, once, now."""
    s = state.settings
    _print_report(_run(s), _destination(s))


@app.command()
def demo(
    email: Annotated[str, typer.Option(help="The demo subscriber.")] = "demo@example.com",
) -> None:
    """Run the whole job offline on sample feeds, into a fresh demo folder."""
    from brief.feeds.samples import sample_feeds, serve_samples

    base = state.settings
    folder = base.data_dir / "demo"
    shutil.rmtree(folder, ignore_errors=True)
    # Embedded defaults whatever the environment says: SQLite and the outbox.
    demo_settings = base.model_copy(
        update={
            "data_dir": folder,
            "database_url": None,
            "broker_url": None,
            "result_backend": None,
            "smtp_url": None,
            "outbox_dir": None,
        }
    )
    state.use(demo_settings)
    samples = sample_feeds(now())
    with serve_samples(samples) as urls:
        with session_scope(state.engine) as session:
            for name, section, _ in samples:
                store.add_feed(session, urls[name], section)
            store.add_subscriber(session, normalize_email(email), now=now(), timezone=base.timezone)
        report = _run(demo_settings)
    _print_report(report, _destination(demo_settings))
    with session_scope(state.engine) as session:
        assert report.edition_id is not None
        preview = _write_preview(store.get_edition(session, report.edition_id))
    typer.echo(f"preview: {preview}")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or upgrade the database schema."""
    runtime.database(state.settings)
    typer.echo(f"database at {state.settings.db_url.split('@')[-1]} is up to date")


def main(argv: list[str] | None = None) -> None:
    """Console entry point: user mistakes get one line on stderr, not a traceback."""
    command: Callable[..., Any] = typer.main.get_command(app)
    try:
        command(args=argv, prog_name="brief", standalone_mode=True)
    except ConfigError as exc:
        print(f"brief: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    except BriefError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()

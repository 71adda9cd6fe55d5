"""`brief feeds ...` and `brief ingest`."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from brief.cli.common import JsonOpt, ago, now, print_json, state
from brief.errors import InputError

if TYPE_CHECKING:
    from brief.models import Feed

feeds_app = typer.Typer(help="Manage the feeds brief reads.", no_args_is_help=True)


def _feed_json(feed: Feed, at: datetime) -> dict[str, Any]:
    return {
        "id": feed.id,
        "url": feed.url,
        "title": feed.title,
        "section": feed.section,
        "weight": feed.weight,
        "last_fetched_at": feed.last_fetched_at,
        "last_success_at": feed.last_success_at,
        "last_status": feed.last_status,
        "error_count": feed.error_count,
        "last_error": feed.last_error,
        "failing_since": _failing_since(feed),
        "failing_for_days": _failing_for_days(feed, at),
        "next_poll_at": feed.next_poll_at,
        "poll_interval_minutes": feed.poll_interval_minutes,
        "last_new_article_at": feed.last_new_article_at,
        "disabled_at": feed.disabled_at,
        "disabled_reason": feed.disabled_reason,
        "quarantined_at": feed.quarantined_at,
        "quarantine_reason": feed.quarantine_reason,
    }


def _failing_since(feed: Feed) -> datetime | None:
    from brief.feeds import schedule

    return schedule.failing_since(feed.error_count, feed.last_success_at, feed.created_at)


def _failing_for_days(feed: Feed, at: datetime) -> bool:
    from brief.feeds import schedule

    return schedule.failing_for_days(feed.error_count, feed.last_success_at, feed.created_at, at)


def _health(feed: Feed, at: datetime) -> str:
    if feed.disabled_at is not None:
        return f"DISABLED since {ago(feed.disabled_at)}: {feed.disabled_reason or 'by hand'}"
    if feed.quarantined_at is not None:
        return f"QUARANTINED since {ago(feed.quarantined_at)}: {feed.quarantine_reason}"
    if not feed.error_count:
        return "ok"
    days = ""
    if _failing_for_days(feed, at):
        since = _failing_since(feed)
        assert since is not None
        days = f" for {(at - since).days} days"
    return f"FAILING{days} (x{feed.error_count}): {feed.last_error}"


def _next(when: datetime | None, at: datetime) -> str:
    return "now (due)" if when is None or when <= at else ago(when)


@feeds_app.command("add")
def feeds_add(
    url: str,
    section: Annotated[str, typer.Option(help="Section the feed's stories go in.")] = "world",
    title: Annotated[str | None, typer.Option(help="Name shown as the source.")] = None,
    weight: Annotated[
        float | None, typer.Option(help="Importance of its stories in ranking (default 1.0).")
    ] = None,
    check: Annotated[
        bool, typer.Option(help="Fetch the URL once first and refuse it if it is not a feed.")
    ] = True,
) -> None:
    """Add a feed (or change the section, title or weight of one already added).

    A new feed (or a disabled one added again) is fetched once first, as ingest
    fetches it: an HTML page, an HTTP error or a refused address is not added.
    """
    from brief import store
    from brief.db import session_scope
    from brief.subscriptions import check_section

    section = check_section(section, state.settings.sections)
    url = store.check_feed_url(url)
    with session_scope(state.engine) as session:
        known = store.get_feed_by_url(session, url)
    if check and (known is None or known.disabled_at is not None):
        _check_feed(url)
    with session_scope(state.engine) as session:
        feed, created = store.add_feed(session, url, section, title, weight)
        typer.echo(f"{'added' if created else 'updated'} {feed.url} in section {feed.section}")


def _check_feed(url: str) -> None:
    """Refuse `url`, with the reason, unless it answers with a feed."""
    from brief import runtime
    from brief.errors import FeedError, FetchRefusedError
    from brief.feeds.check import check_feed

    try:
        check_feed(url, runtime.fetch_config(state.settings))
    except FetchRefusedError as exc:
        raise InputError(
            f"not added: {url}: {exc.message} (BRIEF_FETCH_ALLOW_PRIVATE=true allows it; "
            "--no-check adds it without fetching)"
        ) from None
    except FeedError as exc:
        raise InputError(f"not added: {url}: {exc.message} (--no-check adds it anyway)") from None


@feeds_app.command("add-defaults")
def feeds_add_defaults() -> None:
    """Add brief's default list of international news feeds."""
    from brief.feeds.defaults import DEFAULT_FEEDS

    _add_many(DEFAULT_FEEDS)


def _add_many(feeds: Any) -> None:
    from brief import store
    from brief.db import session_scope
    from brief.subscriptions import check_section

    added, skipped = 0, 0
    known = state.settings.sections
    with session_scope(state.engine) as session:
        for item in feeds:
            try:
                section = check_section(item.section or known[0], known)
            except InputError as exc:
                typer.echo(f"skipped {item.url}: {exc}", err=True)
                skipped += 1
                continue
            _, created = store.add_feed(session, item.url, section, item.title)
            added += created
    there = len(feeds) - added - skipped
    typer.echo(f"{added} feed(s) added, {there} already there, {skipped} skipped")


@feeds_app.command("list")
def feeds_list(as_json: JsonOpt = False) -> None:
    """List feeds with their health: last success, last error, next poll."""
    from brief import store
    from brief.db import session_scope

    at = now()
    with session_scope(state.engine) as session:
        feeds = store.list_feeds(session)
        if as_json:
            print_json([_feed_json(f, at) for f in feeds])
            return
        if not feeds:
            typer.echo(
                "no feeds yet: brief feeds add URL --section NAME (or brief feeds add-defaults)"
            )
        for f in feeds:
            weight = f"  weight {f.weight:g}" if f.weight != 1.0 else ""
            typer.echo(f"[{f.section}] {f.url}  {f.title or ''}{weight}")
            next_poll = "" if f.disabled_at else f"; next poll {_next(f.next_poll_at, at)}"
            typer.echo(f"    last success {ago(f.last_success_at)}{next_poll}; {_health(f, at)}")


@feeds_app.command("remove")
def feeds_remove(url: str) -> None:
    """Remove a feed and its stored articles."""
    from brief import store
    from brief.db import session_scope

    with session_scope(state.engine) as session:
        store.remove_feed(session, url)
    typer.echo(f"removed {url}")


@feeds_app.command("import")
def feeds_import(path: Path) -> None:
    """Add every feed of an OPML file (outline categories become sections)."""
    from brief.feeds.opml import parse_opml

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
    from brief import store
    from brief.db import session_scope
    from brief.feeds.opml import OPMLFeed, to_opml

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


def ingest(as_json: JsonOpt = False) -> None:
    """Fetch every feed now and store new articles."""
    from brief import runtime
    from brief.pipeline import ingest_all

    s = state.settings
    results = ingest_all(
        state.engine,
        runtime.ingest_config(s),
        now=now(),
        processes=runtime.ingest_processes(),
    )
    if as_json:
        print_json([r.__dict__ for r in results])
        return
    for r in results:
        detail = f"error: {r.error}" if r.error else f"{r.new_articles} new"
        if r.updated_articles:
            detail += f", {r.updated_articles} updated"
        if r.moved_to:
            detail += f", moved to {r.moved_to}"
        typer.echo(f"{r.status:>12}  {r.url}  {detail}")
    typer.echo(f"{len(results)} feed(s), {sum(r.new_articles for r in results)} new article(s)")
    if any(r.error and r.error.startswith("refused:") for r in results):
        typer.echo(
            "some feeds are on loopback or private addresses, which brief fetches only "
            "with BRIEF_FETCH_ALLOW_PRIVATE=true"
        )


# -- digest & editions -----------------------------------------------------

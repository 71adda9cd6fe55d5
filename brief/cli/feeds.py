"""`brief feeds ...` and `brief ingest`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from brief import runtime, store
from brief.cli.common import JsonOpt, ago, now, print_json, state
from brief.db import session_scope
from brief.errors import InputError
from brief.feeds.opml import OPMLFeed, parse_opml, to_opml
from brief.models import Feed
from brief.pipeline import ingest_all

feeds_app = typer.Typer(help="Manage the feeds brief reads.", no_args_is_help=True)


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
            print_json([_feed_json(f) for f in feeds])
            return
        if not feeds:
            typer.echo(
                "no feeds yet: brief feeds add URL --section NAME (or brief feeds add-defaults)"
            )
        for f in feeds:
            health = "ok" if not f.error_count else f"FAILING x{f.error_count}: {f.last_error}"
            typer.echo(f"[{f.section}] {f.url}  {f.title or ''}")
            typer.echo(f"    last success {ago(f.last_success_at)}; {health}")


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


def ingest(as_json: JsonOpt = False) -> None:
    """Fetch every feed now and store new articles."""
    s = state.settings
    results = ingest_all(
        state.engine, timeout=s.fetch_timeout, user_agent=runtime.user_agent(s), now=now()
    )
    if as_json:
        print_json([r.__dict__ for r in results])
        return
    for r in results:
        detail = f"error: {r.error}" if r.error else f"{r.new_articles} new"
        typer.echo(f"{r.status:>12}  {r.url}  {detail}")
    typer.echo(f"{len(results)} feed(s), {sum(r.new_articles for r in results)} new article(s)")


# -- digest & editions -----------------------------------------------------

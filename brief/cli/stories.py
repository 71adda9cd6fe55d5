"""`brief stories` (what is there today, grouped) and `brief summarize` (stories on stdin)."""

from __future__ import annotations

import json
import sys
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any

import typer

from brief.cli.common import JsonOpt, now, print_json, state
from brief.errors import InputError

if TYPE_CHECKING:
    from brief.types import Doc


def _when(value: str | None, default: datetime) -> datetime:
    if value is None:
        return default
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise InputError(
            f"not a time: {value!r} (expected ISO 8601, e.g. 2026-11-25T06:00)"
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=state.settings.zone)


def stories(
    since: Annotated[str | None, typer.Option(help="Start, ISO 8601 (default: 24 h ago).")] = None,
    until: Annotated[str | None, typer.Option(help="End, ISO 8601 (default: now).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Every story of a window, best first, with its articles' URLs (not only the edition's)."""
    from brief import store
    from brief.db import session_scope
    from brief.digest.build import group_stories, left_out

    end = _when(until, now())
    start = _when(since, end - timedelta(hours=24))
    if start >= end:
        raise InputError("--since must be before --until")
    with session_scope(state.engine) as session:
        articles = store.articles_in_window(session, start, end)
    drafts = group_stories(articles, window=(start, end), sections=state.settings.sections)
    if as_json:
        print_json(
            [
                {
                    "id": d.key,
                    "section": d.section,
                    "score": round(d.score, 4),
                    "published_at": d.published_at,
                    "outlets": list(d.outlets),
                    # Why the edition leaves the story out (not news), or null.
                    "left_out": left_out(d),
                    "articles": [
                        {
                            "title": a.title,
                            "url": a.link,
                            "source": a.source,
                            "published_at": a.published_at,
                        }
                        for a in d.articles
                    ],
                }
                for d in drafts
            ]
        )
        return
    for d in drafts:
        reason = left_out(d)
        typer.echo(
            f"[{d.section}] {d.articles[0].title}  "
            f"({len(d.outlets)} outlet(s), score {d.score:.2f})"
            + (f"  [left out: {reason}]" if reason else "")
        )
        for a in d.articles:
            typer.echo(f"    {a.source}: {a.link or a.title}")
    typer.echo(
        f"{len(drafts)} stories from {len(articles)} articles, "
        f"{start:%Y-%m-%d %H:%M} - {end:%Y-%m-%d %H:%M} UTC"
    )


def _docs(data: Any) -> list[Doc]:
    from brief.types import Doc

    if not isinstance(data, dict) or not isinstance(data.get("docs"), list) or not data["docs"]:
        raise ValueError('expected {"id": ..., "docs": [{"title": ..., "text": ..., "url": ...}]}')
    docs = []
    for doc in data["docs"]:
        if not isinstance(doc, dict):
            raise ValueError("each doc must be an object")
        docs.append(
            Doc(
                title=str(doc.get("title") or ""),
                text=str(doc.get("text") or ""),
                url=doc.get("url") if isinstance(doc.get("url"), str) else None,
            )
        )
    return docs


def summarize(as_json: JsonOpt = False) -> None:
    """Summarize stories from stdin, one JSON object a line; the edition's own code."""
    from brief.digest.summarize import summarize_story

    bad = 0
    for number, line in enumerate(sys.stdin, start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            summary = summarize_story(_docs(data))
        except ValueError as exc:  # JSONDecodeError is a ValueError
            typer.echo(f"line {number}: skipped: {exc}", err=True)
            bad += 1
            continue
        if as_json:
            typer.echo(json.dumps({"id": data.get("id"), **summary.to_json()}, ensure_ascii=False))
        else:
            typer.echo(f"{data.get('id')}: {summary.headline}\n    {summary.summary}\n")
    if bad:
        raise typer.Exit(1)

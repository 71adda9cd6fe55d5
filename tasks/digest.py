"""Edition tasks: the morning run ingests every feed, then builds (a canvas) and sends.

    daily_edition -> chord(refresh_feed_batch x batches of feeds) -> build_and_send(day)
    build_and_send -> chord(summarize_story x chosen stories) -> compose_edition(day)
    compose_edition -> store the edition (once per date) -> send_due (each subscriber's morning)

Summaries run in parallel on any worker; one failing story is logged and left
out, it never fails the edition.
"""

from __future__ import annotations

import logging
from datetime import date, datetime
from typing import Any

from celery import chord

from brief import store
from brief.db import session_scope
from brief.digest.build import summarize_draft
from brief.editions import draft_edition, existing_edition, store_edition
from brief.errors import EmptyEditionError
from brief.runtime import edition_plan, mail_context, summarizer
from brief.types import Story, StoryDraft
from tasks.app import app
from tasks.base import engine, settings, utcnow
from tasks.ingest import BATCH_SIZE, refresh_feed_batch
from tasks.mail import send_due

log = logging.getLogger(__name__)


@app.task(name="brief.daily_edition", ignore_result=True)
def daily_edition(day: str | None = None) -> None:
    """Refresh every feed (in parallel, on any worker), then build and send the edition."""
    with session_scope(engine()) as session:
        ids = store.feed_ids(session, include_quarantined=False)
    day = day or edition_plan(settings()).today(utcnow()).isoformat()
    body = build_and_send.si(day)
    if ids:
        batches = [ids[i : i + BATCH_SIZE] for i in range(0, len(ids), BATCH_SIZE)]
        chord(refresh_feed_batch.si(batch) for batch in batches)(body)
    else:
        body.delay()


@app.task(name="brief.build_and_send")
def build_and_send(day: str, send: bool = True) -> dict[str, Any]:
    """Choose the stories of `day` and summarize them in parallel; then compose and send."""
    s = settings()
    now = utcnow()
    with session_scope(engine()) as session:
        found = existing_edition(session, date.fromisoformat(day), rebuild=False)
        if found is None:
            window, drafts = draft_edition(
                session, edition_plan(s), day=date.fromisoformat(day), now=now
            )
    if found is not None:
        log.info("edition %s already built (%s)", day, found.id)
        if send:
            send_due.delay()
        return {"edition_id": found.id, "created": False}
    compose = compose_edition.s(day, [w.isoformat() for w in window], now.isoformat(), send)
    if not drafts:
        compose.delay([])  # records, in the log, why there is no edition today
    else:
        chord(summarize_story.s(d.to_json()) for d in drafts)(compose)
    return {"edition_id": None, "stories": len(drafts)}


@app.task(name="brief.summarize_story", soft_time_limit=60, time_limit=90)
def summarize_story(draft: dict[str, Any]) -> dict[str, Any] | None:
    """One story's headline and summary; None (and a log line) if it cannot be made."""
    try:
        story = summarize_draft(StoryDraft.from_json(draft), summarizer=summarizer(settings()))
    except Exception:  # one bad story must not sink the edition
        log.exception("summarizing a story failed; it is left out of the edition")
        return None
    return story.to_json()


@app.task(name="brief.compose_edition")
def compose_edition(
    results: list[dict[str, Any] | None], day: str, window: list[str], now: str, send: bool
) -> dict[str, Any]:
    """Store the edition from the summarized stories (once per date), then queue its sending."""
    stories = [Story.from_json(r) for r in results if r is not None]
    s = settings()
    try:
        with session_scope(engine()) as session:
            edition, created = store_edition(
                session,
                edition_plan(s),
                mail_context(s),
                day=date.fromisoformat(day),
                window=(datetime.fromisoformat(window[0]), datetime.fromisoformat(window[1])),
                stories=stories,
                now=datetime.fromisoformat(now),
            )
            edition_id = edition.id
    except EmptyEditionError as exc:  # nothing to send today: not an error to retry
        log.warning("edition %s: %s", day, exc)
        return {"edition_id": None, "created": False, "stories": 0, "reason": str(exc)}
    left_out = len(results) - len(stories)
    log.info(
        "edition %s (%s): %d stories, %d left out, %s",
        day,
        edition_id,
        len(stories),
        left_out,
        "built" if created else "already built",
    )
    if send:
        send_due.delay()  # each subscriber in their own morning; the beat sends the rest
    return {
        "edition_id": edition_id,
        "created": created,
        "stories": len(stories),
        "left_out": left_out,
    }

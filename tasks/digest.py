"""Edition tasks: the morning run ingests every feed, then builds and sends."""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

from celery import chord

from brief import store
from brief.db import session_scope
from brief.editions import build_edition
from brief.runtime import edition_plan, mail_context
from tasks.app import app
from tasks.base import engine, settings, utcnow
from tasks.ingest import refresh_feed
from tasks.mail import send_edition

log = logging.getLogger(__name__)


@app.task(name="brief.daily_edition", ignore_result=True)
def daily_edition(day: str | None = None) -> None:
    """Refresh every feed (in parallel, on any worker), then build and send the edition."""
    with session_scope(engine()) as session:
        ids = store.feed_ids(session)
    day = day or edition_plan(settings()).today(utcnow()).isoformat()
    body = build_and_send.si(day)
    if ids:
        chord(refresh_feed.si(feed_id) for feed_id in ids)(body)
    else:
        body.delay()


@app.task(name="brief.build_and_send")
def build_and_send(day: str, send: bool = True) -> dict[str, Any]:
    """Build the edition of `day` (once: unique by date) and queue its deliveries."""
    s = settings()
    with session_scope(engine()) as session:
        edition, created = build_edition(
            session, edition_plan(s), mail_context(s), day=date.fromisoformat(day), now=utcnow()
        )
        edition_id, stories = edition.id, len(edition.stories)
    log.info(
        "edition %s (%s): %d stories, %s",
        day,
        edition_id,
        stories,
        "built" if created else "already built",
    )
    if send:
        send_edition.delay(edition_id)
    return {"edition_id": edition_id, "created": created, "stories": stories}

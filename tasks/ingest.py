"""Ingest tasks: the beat fans out one task per feed."""

from __future__ import annotations

import logging
from typing import Any

from brief import store
from brief.db import session_factory, session_scope
from brief.feeds.fetch import make_client
from brief.feeds.ingest import refresh_feed as refresh_one
from brief.runtime import user_agent
from tasks.app import app
from tasks.base import engine, settings, utcnow

log = logging.getLogger(__name__)


@app.task(name="brief.refresh_due_feeds", ignore_result=True)
def refresh_due_feeds() -> int:
    with session_scope(engine()) as session:
        ids = store.feed_ids(session)
    for feed_id in ids:
        refresh_feed.delay(feed_id)
    return len(ids)


@app.task(name="brief.refresh_feed", soft_time_limit=120, time_limit=150)
def refresh_feed(feed_id: int) -> dict[str, Any]:
    """Fetch and store one feed; a feed's failure is recorded on its row, never raised."""
    s = settings()
    with (
        make_client(s.fetch_timeout, user_agent(s)) as client,
        session_factory(engine())() as session,
    ):
        result = refresh_one(session, client, feed_id, utcnow())
    if result.error:
        log.warning("feed %s (%s) failed: %s", feed_id, result.url, result.error)
    return {"feed_id": feed_id, "status": result.status, "new_articles": result.new_articles}

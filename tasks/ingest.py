"""Ingest tasks: the beat claims the due feeds and fans them out in batches.

Each batch is one task, fetched concurrently inside one worker process (one event
loop, a global and a per-host limit), so adding workers adds batches in flight.
"""

from __future__ import annotations

import contextlib
import logging
from datetime import timedelta
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded

from brief import store
from brief.db import session_scope
from brief.feeds.ingest import finish_batch, refresh_batch, start_batch
from brief.feeds.writer import IngestResult
from brief.runtime import ingest_config
from brief.types import RefreshStatus
from tasks.app import app
from tasks.base import engine, settings, utcnow

log = logging.getLogger(__name__)

BATCH_SIZE = 50  # feeds per task


def lease() -> timedelta:
    """A claimed feed whose task never finished (worker lost, killed) is due again after
    this: never before the task's time limit has run out."""
    s = settings()
    return timedelta(seconds=max(s.ingest_lease_seconds, s.ingest_time_limit))


@app.task(name="brief.refresh_due_feeds", ignore_result=True)
def refresh_due_feeds() -> int:
    """Claim the feeds due a poll and enqueue one batch task per BATCH_SIZE of them."""
    with session_scope(engine()) as session:
        ids = store.claim_due_feeds(session, utcnow(), lease())
    # Enqueued after the claim is committed (session_scope exited).
    for start in range(0, len(ids), BATCH_SIZE):
        refresh_feed_batch.delay(ids[start : start + BATCH_SIZE])
    return len(ids)


@app.task(name="brief.refresh_feed_batch")  # time limits: tasks.app's task_annotations
def refresh_feed_batch(feed_ids: list[int]) -> dict[str, Any]:
    """Fetch and store a batch of feeds; a feed's failure is recorded on its row, never raised.

    Feeds that were in flight when an earlier run's process died are retried each in a
    task of its own, or quarantined (brief.feeds.quarantine); the others run here.
    """
    config, now = ingest_config(settings()), utcnow()
    limit = timedelta(seconds=settings().ingest_time_limit)
    plan = start_batch(engine(), feed_ids, config.poll, now, limit)
    for feed_id in plan.alone:
        refresh_feed_batch.delay([feed_id])
    try:
        results = refresh_batch(engine(), plan.run, config, now)
    except SoftTimeLimitExceeded:
        raise  # timed out: the feeds still in flight count as lost, as if killed
    except Exception:
        # An error (the database went away, say), not a death: no feed is to blame.
        with contextlib.suppress(Exception):
            finish_batch(engine(), plan.run)
        raise
    finish_batch(engine(), plan.run)
    return {
        **_summary(results),
        "alone": len(plan.alone),
        "quarantined": len(plan.quarantine),
        "busy": len(plan.busy),
    }


def _summary(results: list[IngestResult]) -> dict[str, Any]:
    for r in results:
        if r.error:
            log.warning("feed %s (%s) failed: %s", r.feed_id, r.url, r.error)
    return {
        "feeds": len(results),
        "failed": sum(r.status == RefreshStatus.ERROR for r in results),
        "new_articles": sum(r.new_articles for r in results),
    }

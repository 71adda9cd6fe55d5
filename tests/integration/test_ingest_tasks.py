"""The beat's ingest task: claim the due feeds, one batch task per BATCH_SIZE of them.

Task bodies run here, eagerly (no broker); tests/e2e runs them on a real worker.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, update

from brief.config import Settings
from brief.db import session_scope
from brief.feeds.fetch import FetchConfig
from brief.feeds.ingest import IngestConfig
from brief.models import Article, Feed
from tests.feedserver import FeedServer
from tests.integration.test_ingest import add_feed, rss


@pytest.fixture
def tasks(engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    import tasks.ingest
    from tasks.app import app, celery_config

    url = engine.url.render_as_string(hide_password=False)
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        data_dir=tmp_path,
        database_url=url,
        fetch_allow_private=True,
        fulltext=False,
    )
    config = {**celery_config(settings), "task_always_eager": True}
    saved = {k: app.conf.get(k) for k in config}
    app.conf.update(config)
    monkeypatch.setattr(tasks.ingest, "BATCH_SIZE", 2)
    batches: list[list[int]] = []
    real = tasks.ingest.refresh_feed_batch.run

    def recording(feed_ids: list[int]) -> object:
        batches.append(feed_ids)
        return real(feed_ids)

    monkeypatch.setattr(tasks.ingest.refresh_feed_batch, "run", recording)
    try:
        yield batches
    finally:
        app.conf.update(saved)


def test_due_feeds_are_claimed_and_refreshed_in_batches(
    engine: Engine, tasks: list[list[int]]
) -> None:
    from tasks.ingest import refresh_due_feeds

    with FeedServer() as server:
        ids = [
            add_feed(engine, server.add(f"/{i}.xml", rss((f"g{i}", f"https://w.example/{i}", "T"))))
            for i in range(5)
        ]
        later = datetime.now(UTC) + timedelta(hours=3)
        with session_scope(engine) as s:  # one feed is not due, one is disabled
            s.execute(update(Feed).where(Feed.id == ids[3]).values(next_poll_at=later))
            s.execute(update(Feed).where(Feed.id == ids[4]).values(disabled_at=later))

        assert refresh_due_feeds.run() == 3

        assert tasks == [ids[0:2], ids[2:3]]
        with session_scope(engine) as s:
            assert s.scalar(select(func.count()).select_from(Article)) == 3
            polls = dict(s.execute(select(Feed.id, Feed.next_poll_at)).all())
        scheduled = [polls[i] for i in ids[:3]]
        assert all(when is not None and when > datetime.now(UTC) for when in scheduled)
        # Claimed feeds are not due again until their next poll.
        assert refresh_due_feeds.run() == 0
        assert server.hits["/3.xml"] == server.hits["/4.xml"] == 0


def test_a_batch_after_a_lost_worker_isolates_then_quarantines_the_feeds_in_flight(
    engine: Engine,
) -> None:
    """The database as a dead process leaves it: start_batch committed, nothing after.

    tests/e2e/test_poison_feed.py kills real workers; this checks each step's rows.
    """
    from brief.feeds.ingest import finish_batch, refresh_batch, start_batch
    from brief.feeds.schedule import PollPolicy

    config = IngestConfig(fetch=FetchConfig(user_agent="t", allow_private=True), fulltext=False)
    limit = timedelta(minutes=11)  # the batch's hard time limit
    now = datetime.now(UTC) - 10 * limit

    def later() -> datetime:  # each task starts after the last one's time limit ran out
        nonlocal now
        now += limit + timedelta(seconds=1)
        return now

    with FeedServer() as server:
        ids = [
            add_feed(engine, server.add(f"/{i}.xml", rss((f"g{i}", f"https://w.example/{i}", "T"))))
            for i in range(3)
        ]
        # The first run marks all three in flight, stores feed 0, and its process dies.
        assert start_batch(engine, ids, PollPolicy(), now, limit).run == ids
        refresh_batch(engine, ids[:1], config, now)
        # Redelivered at once: 1 and 2 may be another task's; the batch runs 0 only.
        plan = start_batch(engine, ids, PollPolicy(), now, limit)
        assert (plan.run, plan.busy) == ([ids[0]], ids[1:])
        refresh_batch(engine, plan.run, config, now)
        finish_batch(engine, plan.run)
        # Claimed again after the lease: 1 and 2 were lost, each goes to a task of its own.
        plan = start_batch(engine, ids, PollPolicy(), later(), limit)
        assert (plan.run, plan.alone, plan.quarantine) == ([ids[0]], ids[1:], {})
        refresh_batch(engine, plan.run, config, now)
        finish_batch(engine, plan.run)
        # Feed 1 alone comes through; feed 2 alone dies again, and is quarantined.
        for feed_id in ids[1:]:
            assert start_batch(engine, [feed_id], PollPolicy(), now, limit).run == [feed_id]
        refresh_batch(engine, [ids[1]], config, now)
        finish_batch(engine, [ids[1]])
        assert start_batch(engine, [ids[2]], PollPolicy(), later(), limit).quarantine == {ids[2]: 2}
        assert server.hits["/2.xml"] == 0  # (never fetched: its "deaths" came before)

    with session_scope(engine) as s:
        rows = {f.id: f for f in s.scalars(select(Feed))}
        for feed_id in ids[:2]:
            feed = rows[feed_id]
            assert feed.last_success_at is not None
            assert (feed.fetch_started_at, feed.lost_count, feed.quarantined_at) == (None, 0, None)
        poison = rows[ids[2]]
        assert poison.quarantined_at is not None and poison.lost_count == 2
        assert poison.quarantine_reason and "2 times" in poison.quarantine_reason
        assert poison.fetch_started_at is None and poison.error_count == 1
        # Back-off: the first error's interval, the poll policy's minimum (30 min).
        assert poison.next_poll_at is not None
        assert poison.next_poll_at >= now + timedelta(minutes=PollPolicy().min_minutes - 1)

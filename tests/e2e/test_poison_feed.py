"""A poison feed through a real Celery worker: isolated, quarantined, and the loop ends.

One feed of a batch makes its worker process die every time: its body takes the
parser far longer than the batch task's hard time limit (3 s here), so Celery kills
the process and fails the task. In the second case the time limit is longer and the
process is killed while it parses that feed, as the kernel's out-of-memory killer
does with a feed too big to parse: Celery then puts the task back in the queue at once
(acks_late, reject_on_worker_lost), the loop of the issue. The test plays the beat
(``brief.refresh_due_feeds`` every half second) on a private Redis and PostgreSQL
(tests/instances.py), and checks that the other feeds of the batch are stored, that
the poison feed ends quarantined with its reason (in `brief feeds list --json`) and a
back-off, and that the worker was killed twice, no more, however long the beat goes on.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from celery import Celery
from sqlalchemy import func, select

from brief import store
from brief.db import make_engine, migrate, session_scope
from brief.models import Article, Feed
from tests.feedserver import FeedServer
from tests.floods import rss
from tests.instances import REPO, CeleryProcess, PostgresInstance, RedisInstance
from tests.wait import wait_until

pytestmark = pytest.mark.slow

TIME_LIMIT = 3  # seconds: the batch task's hard time limit
GOOD = [f"/good{i}.xml" for i in range(4)]
# ~3 MB, 20,000 items: ~20 s of feedparser on this machine, so always past the limit.
POISON_ITEMS = 20_000
KILLED = re.compile(r"Hard time limit \(\d+(?:\.\d+)?s\) exceeded for brief\.refresh_feed_batch")


def pool_children(pid: int) -> list[int]:
    """The worker's pool processes: the children of its main process."""
    children = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(c) for c in children.read_text().split()] if children.exists() else []


class OOMKiller:
    """SIGKILLs the worker's pool processes each time the poison feed has been served
    (concurrency 1: the one process, busy parsing it), as the kernel would."""

    def __init__(self, feeds: FeedServer) -> None:
        self.feeds, self.seen, self.kills = feeds, 0, 0

    def __call__(self, worker: CeleryProcess) -> None:
        if worker.process is None or self.feeds.hits["/poison.xml"] <= self.seen:
            return
        self.seen = self.feeds.hits["/poison.xml"]
        time.sleep(1.0)  # parsing by now
        for child in pool_children(worker.process.pid):
            os.kill(child, signal.SIGKILL)
        self.kills += 1


@pytest.fixture
def services(tmp_path: Path) -> Iterator[tuple[RedisInstance, PostgresInstance]]:
    with RedisInstance(tmp_path) as redis, PostgresInstance() as postgres:
        yield redis, postgres


@pytest.mark.parametrize("fault", ["time limit", "killed"])
def test_a_poison_feed_is_quarantined_and_the_rest_of_its_batch_updates(
    tmp_path: Path, services: tuple[RedisInstance, PostgresInstance], fault: str
) -> None:
    redis, postgres = services
    # Killed: a longer limit (10 s); the kill comes first, 1 s into the parse.
    limit = TIME_LIMIT if fault == "time limit" else 10
    engine = make_engine(postgres.url)
    migrate(engine)
    with FeedServer() as feeds:
        for i, path in enumerate(GOOD):
            feeds.add(path, rss(f"https://good{i}.test", 5, title=f"Good {i}"))
        feeds.add("/poison.xml", rss("https://poison.test", POISON_ITEMS, title="Poison"))
        with session_scope(engine) as session:
            for path in [*GOOD[:2], "/poison.xml", *GOOD[2:]]:  # one batch, poison inside
                store.add_feed(session, feeds.url(path), "world")
        env = {
            "BRIEF_DATABASE_URL": postgres.url,
            "BRIEF_BROKER_URL": redis.url,
            "BRIEF_DATA_DIR": str(tmp_path / "data"),
            "BRIEF_FETCH_ALLOW_PRIVATE": "true",  # the feed server is on 127.0.0.1
            "BRIEF_FULLTEXT": "false",
            "BRIEF_INGEST_TIME_LIMIT": str(limit),
            "BRIEF_INGEST_LEASE_SECONDS": str(limit + 1),
            "PATH": "/usr/bin:/bin",
        }
        beat = Celery(broker=redis.url)
        started = time.monotonic()
        oom = OOMKiller(feeds)
        concurrency = 2 if fault == "time limit" else 1
        with CeleryProcess.worker(
            tmp_path / "worker.log", env, name="poison", concurrency=concurrency
        ) as worker:

            def tick() -> None:  # what the beat does every BRIEF_INGEST_INTERVAL_MINUTES
                worker.check_alive()
                if fault == "killed":
                    oom(worker)
                beat.send_task("brief.refresh_due_feeds")

            def settled() -> bool:
                tick()
                with session_scope(engine) as session:
                    rows = session.execute(
                        select(Feed.url, Feed.last_success_at, Feed.quarantined_at)
                    ).all()
                done = [r for r in rows if r.last_success_at or r.quarantined_at]
                return len(done) == len(rows)

            wait_until(settled, 120, interval=0.5, what=lambda: f"feeds settled:\n{worker.tail()}")
            seconds = time.monotonic() - started
            # The beat goes on for several leases: the poison feed is not tried again.
            end = time.monotonic() + 2 * (limit + 1)  # two leases
            while time.monotonic() < end:
                tick()
                time.sleep(0.5)
            log = worker.text()
            kills = len(KILLED.findall(log)) if fault == "time limit" else oom.kills
        listed = subprocess.run(
            [sys.executable, "-m", "brief.cli", "feeds", "list", "--json"],
            cwd=REPO,
            env={**env, "PYTHONPATH": str(REPO)},
            capture_output=True,
            check=True,
        )
        poison_fetches = feeds.hits["/poison.xml"]
    beat.close()

    fetched = f"{poison_fetches} fetches"
    print(f"poison feed ({fault}): {kills} kills, {fetched}, settled in {seconds:.1f} s")
    assert kills == 2, log[-4000:]
    assert poison_fetches == 2
    now = datetime.now(UTC)
    with session_scope(engine) as session:
        by_url = {f.url.rsplit("/", 1)[1]: f for f in session.scalars(select(Feed))}
        poison = by_url["poison.xml"]
        assert poison.quarantined_at is not None and poison.lost_count == 2
        assert poison.next_poll_at is not None and poison.next_poll_at > now + timedelta(minutes=25)
        assert poison.fetch_started_at is None
        for path in GOOD:
            good = by_url[path.lstrip("/")]
            assert good.last_success_at is not None, path
            assert good.quarantined_at is None and good.lost_count == 0, path
            count = session.scalar(select(func.count()).where(Article.feed_id == good.id))
            assert count == 5, path
    engine.dispose()
    [row] = [f for f in json.loads(listed.stdout) if f["url"].endswith("/poison.xml")]
    assert "killed or timed out the worker 2 times" in row["quarantine_reason"]

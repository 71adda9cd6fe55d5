"""From feeds on loopback HTTP to messages in an SMTP server, through a real Celery worker.

Run twice: on Redis + PostgreSQL (production-like), and on the embedded broker
(kombu's SQLAlchemy transport) + SQLite with no server at all.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any, TypeVar

import pytest
from celery import Celery
from sqlalchemy import Engine, select, text

from brief import store
from brief.config import Settings
from brief.db import make_engine, migrate, session_scope
from brief.models import Delivery, Feed
from brief.taskqueue import CeleryQueue
from tests.feedserver import FeedServer
from tests.services import require_postgres, require_redis
from tests.smtpserver import Received, SMTPServer
from tests.wait import wait_until

REPO = Path(__file__).resolve().parents[2]
T = TypeVar("T")
pytestmark = pytest.mark.slow


def rss(title: str, site: str, items: list[tuple[str, str, float]]) -> bytes:
    now = datetime.now(UTC)
    entries = "".join(
        f"<item><title>{t}</title><link>{site}/{slug}</link><guid>{site}/{slug}</guid>"
        f"<description>&lt;p&gt;{t} was reported on {title}. Officials said more would "
        f"follow.&lt;/p&gt;</description>"
        f"<pubDate>{format_datetime(now - timedelta(hours=h))}</pubDate></item>"
        for t, slug, h in items
    )
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>{title}</title>'
        f"<link>{site}</link><description>x</description>{entries}</channel></rss>"
    ).encode()


FEEDS = {
    "/world-a.xml": (
        "world",
        rss(
            "Alpha World",
            "https://alpha.test",
            [
                ("Ceasefire agreed in the north", "ceasefire", 1),
                ("Floods force evacuations", "floods", 3),
            ],
        ),
    ),
    "/world-b.xml": (
        "world",
        rss("Beta News", "https://beta.test", [("Election results delayed", "election", 2)]),
    ),
    "/biz.xml": (
        "business",
        rss(
            "Gamma Markets",
            "https://gamma.test",
            [("Central bank holds rates", "rates", 1.5), ("Chipmaker shares jump", "chips", 4)],
        ),
    ),
}
TITLES = [
    "Ceasefire agreed in the north",
    "Floods force evacuations",
    "Election results delayed",
    "Central bank holds rates",
    "Chipmaker shares jump",
]


@dataclass
class Stack:
    env: dict[str, str]
    engine: Engine
    client: Celery
    smtp: SMTPServer
    feeds: FeedServer
    log: Path
    worker: subprocess.Popen[bytes]

    def settings(self) -> Settings:
        """The worker's settings, for an app in this process (the web app, say)."""
        values: dict[str, Any] = {
            k.removeprefix("BRIEF_").lower(): v
            for k, v in self.env.items()
            if k.startswith("BRIEF_") and k != "BRIEF_FROM"
        }
        values["mail_from"] = self.env["BRIEF_FROM"]
        return Settings(**values)

    def serve_feeds(self) -> None:
        for path, (_, body) in FEEDS.items():
            self.feeds.add(path, body, headers={"Content-Type": "application/rss+xml"})

    def check_alive(self) -> None:
        if self.worker.poll() is not None:
            raise AssertionError(
                f"the worker exited with {self.worker.returncode}:\n{self.worker_log()[-4000:]}"
            )

    def worker_log(self) -> str:
        return self.log.read_text(errors="replace")

    def wait(
        self, predicate: Callable[[], T | None], timeout: float, what: str | Callable[[], str]
    ) -> T:
        """Poll `predicate` while the worker lives; the end of its log on a timeout."""

        def check() -> T | None:
            self.check_alive()
            return predicate()

        def described() -> str:
            detail = what() if callable(what) else what
            return f"{detail}; worker log:\n{self.worker_log()[-4000:]}"

        return wait_until(check, timeout, interval=0.2, what=described)

    def wait_for_mail(self, count: int, timeout: float) -> list[Received]:
        def arrived() -> list[Received] | None:
            got = self.smtp.messages
            return got if len(got) >= count else None

        return self.wait(arrived, timeout, lambda: f"{count} messages, got {self.smtp.messages}")

    def succeeded(self, task: str) -> int:
        """How many runs of `task` the worker has logged as done (for tasks that keep no result)."""
        return len(re.findall(rf"Task {re.escape(task)}\[[^\]]+\] succeeded", self.worker_log()))

    def deliveries_settled(self) -> bool:
        """No delivery is waiting to be sent or being sent."""
        return not {"pending", "claimed", "sending"} & set(_statuses(self.engine))


def _databases(kind: str, tmp: Path) -> tuple[str, str]:
    if kind == "redis":
        broker = require_redis()
        import redis

        redis.Redis.from_url(broker).flushdb()
        db_url = require_postgres()
        engine = make_engine(db_url)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        engine.dispose()
        from tests import conftest

        conftest._PG_MIGRATED.clear()  # other tests must re-create their schema
        return broker, db_url
    return f"sqla+sqlite:///{tmp / 'broker.sqlite'}", f"sqlite:///{tmp / 'brief.sqlite'}"


@contextmanager
def running_stack(
    kind: str, tmp_path: Path, *, beat: bool = False, env: dict[str, str] | None = None
) -> Iterator[Stack]:
    broker, db_url = _databases(kind, tmp_path)
    with SMTPServer() as smtp, FeedServer() as feeds:
        full_env = {
            **os.environ,
            "BRIEF_DATA_DIR": str(tmp_path / "data"),
            "BRIEF_DATABASE_URL": db_url,
            "BRIEF_BROKER_URL": broker,
            "BRIEF_SMTP_URL": f"smtp://127.0.0.1:{smtp.port}",
            "BRIEF_FROM": "Daily Brief <brief@brief.test>",
            "BRIEF_BASE_URL": "https://brief.test",
            "BRIEF_SECRET_KEY": "e2e-secret",
            "BRIEF_TIMEZONE": "UTC",
            "BRIEF_EDITION_HOUR": "23",
            "BRIEF_FETCH_TIMEOUT": "3",
            "BRIEF_FETCH_ALLOW_PRIVATE": "true",  # the feed server is on 127.0.0.1
            "BRIEF_SECTIONS": "world,business",
            **(env or {}),
        }
        settings = Settings(
            data_dir=Path(full_env["BRIEF_DATA_DIR"]),
            database_url=db_url,
            broker_url=broker,
        )
        engine = make_engine(settings.db_url)
        migrate(engine)
        CeleryQueue(settings).declare_queues()  # as brief serve does: no race on the row
        log = tmp_path / "worker.log"
        command = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "tasks",
            "worker",
            "-l",
            "info",
            "-c",
            "2",
            "-n",
            f"e2e-{uuid.uuid4().hex[:8]}@%h",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ]
        if beat:
            command.append("-B")
        worker = subprocess.Popen(
            command, cwd=REPO, env=full_env, stdout=log.open("wb"), stderr=subprocess.STDOUT
        )
        client = Celery(broker=settings.celery_broker_url, backend=settings.celery_result_backend)
        try:
            yield Stack(full_env, engine, client, smtp, feeds, log, worker)
        finally:
            worker.send_signal(signal.SIGTERM)
            try:
                worker.wait(20)
            except subprocess.TimeoutExpired:
                worker.kill()
            client.close()
            engine.dispose()


@pytest.fixture(params=["redis", "embedded"])
def stack(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Stack]:
    with running_stack(request.param, tmp_path) as running:
        yield running


def _serve_and_subscribe(stack: Stack) -> None:
    stack.serve_feeds()
    stack.feeds.add("/broken.xml", b"oops", status=500)
    now = datetime.now(UTC)
    with session_scope(stack.engine) as session:
        for path, (section, _) in FEEDS.items():
            store.add_feed(session, stack.feeds.url(path), section)
        store.add_feed(session, stack.feeds.url("/broken.xml"), "world")
        store.add_subscriber(session, "ana@example.org", now=now, timezone="Europe/Paris")
        store.add_subscriber(session, "ben@example.org", now=now, sections=["business"])
        store.add_subscriber(session, "pending@example.org", now=now, status="pending")
        store.add_subscriber(session, "left@example.org", now=now)
        store.unsubscribe(session, "left@example.org", now)


def test_feed_to_inbox_through_a_celery_worker(stack: Stack) -> None:
    _serve_and_subscribe(stack)
    stack.client.send_task("brief.daily_edition")

    received = stack.wait_for_mail(2, timeout=90)
    stack.wait(lambda: _statuses(stack.engine) == {"sent": 2}, 30, "deliveries marked sent")
    stack.wait(lambda: stack.succeeded("brief.send_due") == 1, 30, "the first send_due")
    by_rcpt = {r.rcpt_tos[0]: r for r in received}
    assert sorted(by_rcpt) == ["ana@example.org", "ben@example.org"]

    ana = by_rcpt["ana@example.org"].message
    assert ana["From"] == "Daily Brief <brief@brief.test>" and ana["To"] == "ana@example.org"
    assert ana["Message-ID"] and ana["Date"] and ana["Subject"]
    assert ana.get_content_type() == "multipart/alternative"
    unsubscribe = str(ana["List-Unsubscribe"])
    assert "<https://brief.test/unsubscribe/" in unsubscribe
    assert "<mailto:brief@brief.test?subject=unsubscribe>" in unsubscribe
    assert ana["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text_part = ana.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    html_part = ana.get_body(("html",)).get_content()  # type: ignore[union-attr]
    for title, slug in [
        ("Ceasefire agreed in the north", "https://alpha.test/ceasefire"),
        ("Central bank holds rates", "https://gamma.test/rates"),
    ]:
        assert title in text_part and title in html_part
        assert slug in text_part and f'href="{slug}"' in html_part
    assert all(t in text_part for t in TITLES)
    ben_text = by_rcpt["ben@example.org"].message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "Central bank holds rates" in ben_text and "Ceasefire" not in ben_text

    with session_scope(stack.engine) as session:
        broken = session.scalars(select(Feed).where(Feed.url.endswith("/broken.xml"))).one()
        assert broken.error_count == 1 and "500" in (broken.last_error or "")
        edition = store.latest_edition(session)
        assert edition is not None and len(edition.stories) == 5

    # Sending again, by task or by the whole morning job, sends nothing new.
    queued = stack.client.send_task("brief.send_edition", args=[edition.id]).get(timeout=60)
    assert queued == 0
    stack.client.send_task("brief.daily_edition")
    stack.wait(lambda: _feeds_polled_twice(stack.engine), 60, "the second morning run")
    # The run ends with send_due (the edition exists already): once it is done, all
    # it could have sent is sent.
    stack.wait(lambda: stack.succeeded("brief.send_due") == 2, 60, "the second send_due")
    stack.wait(stack.deliveries_settled, 30, "the deliveries to settle")
    assert len(stack.smtp.messages) == 2
    assert _statuses(stack.engine) == {"sent": 2}


def _statuses(engine: Engine) -> dict[str, int]:
    with session_scope(engine) as session:
        rows = session.scalars(select(Delivery.status)).all()
    return {s: rows.count(s) for s in set(rows)}


def _feeds_polled_twice(engine: Engine) -> bool:
    # The second run's fetches come back 304 (ETag) or 200 with nothing new.
    with session_scope(engine) as session:
        feeds = session.scalars(select(Feed)).all()
        return all(f.error_count == 2 for f in feeds if f.url.endswith("/broken.xml"))


def test_worker_with_beat_makes_and_sends_the_edition_on_schedule(tmp_path: Path) -> None:
    """`celery -A tasks worker -B` on Redis: nobody triggers anything, the schedule does."""
    at = (datetime.now(UTC) + timedelta(seconds=80)).replace(second=0, microsecond=0)
    schedule = {"BRIEF_EDITION_HOUR": str(at.hour), "BRIEF_EDITION_MINUTE": str(at.minute)}
    with running_stack("redis", tmp_path, beat=True, env=schedule) as stack:
        _serve_and_subscribe(stack)
        received = stack.wait_for_mail(2, timeout=150)
        assert sorted(r.rcpt_tos[0] for r in received) == ["ana@example.org", "ben@example.org"]
        assert datetime.now(UTC) >= at  # sent by the schedule, not before it
        with session_scope(stack.engine) as session:
            edition = store.latest_edition(session)
            assert edition is not None and edition.window_end == at
            assert len(edition.stories) == 5


def test_rows_no_task_was_queued_for_are_sent_by_the_sweep(tmp_path: Path) -> None:
    """The database, not the broker, is the record of what is left to send: pending
    deliveries whose tasks were lost (here: never queued) go out with the next sweep."""
    from brief.editions import build_edition
    from tests.factories import CTX, add_feed_with_articles, plan

    with running_stack("redis", tmp_path, beat=True) as stack:
        now = datetime.now(UTC)
        with session_scope(stack.engine) as session:
            add_feed_with_articles(session, "https://a.test/feed", "world", ["Quake"], now=now)
            for n in range(30):
                store.add_subscriber(session, f"reader{n}@example.org", now=now)
            edition, _ = build_edition(session, plan(), CTX, day=now.date(), now=now)
            store.create_deliveries(session, edition.id, now)
        received = stack.wait_for_mail(30, timeout=90)
        stack.wait(lambda: _statuses(stack.engine) == {"sent": 30}, 30, "deliveries marked sent")
        assert stack.succeeded("brief.sweep_deliveries") >= 1
        assert sorted(r.rcpt_tos[0] for r in received) == sorted(
            f"reader{n}@example.org" for n in range(30)
        )

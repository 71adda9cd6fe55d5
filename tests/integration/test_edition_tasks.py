"""The edition canvas's task bodies, run here (tests/e2e runs them on a real worker)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from brief import store
from brief.config import Settings
from brief.db import session_scope
from brief.digest.build import group_stories, summarize_draft
from brief.editions import build_edition
from tests.factories import CTX, NOW, add_feed_with_articles, plan


@pytest.fixture
def configured(engine: Engine, tmp_path: Path) -> Iterator[None]:
    from tasks.app import app

    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        data_dir=tmp_path,
        database_url=engine.url.render_as_string(hide_password=False),
        sections=["world", "business"],
    )
    saved = app.conf.get("brief_settings")
    app.conf.update(brief_settings=settings)
    try:
        yield
    finally:
        app.conf.update(brief_settings=saved)


def test_a_story_that_fails_is_left_out_not_the_edition(engine: Engine, configured: None) -> None:
    from tasks.digest import compose_edition, summarize_story

    window = (NOW - timedelta(hours=24), NOW)
    with session_scope(engine) as session:
        add_feed_with_articles(session, "https://a.test/feed", "world", ["Quake in Chile"])
        add_feed_with_articles(session, "https://b.test/feed", "business", ["Stocks rally"])
        drafts = group_stories(store.articles_in_window(session, *window), window=window)
    good = summarize_story.run(drafts[0].to_json())
    assert good == summarize_draft(drafts[0]).to_json()
    assert summarize_story.run({"not": "a draft"}) is None

    result = compose_edition.run(
        [good, None],
        NOW.date().isoformat(),
        [w.isoformat() for w in window],
        NOW.isoformat(),
        False,
    )
    assert result["stories"] == 1 and result["left_out"] == 1 and result["created"]
    with session_scope(engine) as session:
        edition = store.get_edition(session, result["edition_id"])
        assert [s["title"] for s in edition.stories] == [good["title"]]
    again = compose_edition.run(
        [good], NOW.date().isoformat(), [w.isoformat() for w in window], NOW.isoformat(), False
    )
    assert again["edition_id"] == result["edition_id"] and not again["created"]


def test_the_send_tasks_create_rows_then_queue_batches_that_send_them(
    engine: Engine, configured: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from tasks import mail

    queued: list[tuple[object, ...]] = []
    monkeypatch.setattr(mail.send_batch, "apply_async", _recording(queued))
    monkeypatch.setattr(mail, "utcnow", lambda: NOW + timedelta(minutes=1))
    with session_scope(engine) as session:
        add_feed_with_articles(session, "https://a.test/feed", "world", ["Quake in Chile"])
        early, _ = store.add_subscriber(session, "early@x.test", now=NOW)
        late, _ = store.add_subscriber(session, "late@x.test", now=NOW, delivery_hour=18)
        edition, _ = build_edition(session, plan(), CTX, day=NOW.date(), now=NOW)
        early_id, late_id, edition_id = early.id, late.id, edition.id
    with session_scope(engine) as session:
        assert store.count_pending(session, edition_id) == 0

    assert mail.send_due.run() == 1  # only the reader whose morning it is
    with session_scope(engine) as session:
        assert store.count_pending(session, edition_id, subscriber_id=early_id) == 1
    assert queued == [(None,)]  # one batch's worth: one send_batch task
    assert mail.send_welcome.run(late_id) == 1  # a new reader gets the edition at once
    assert len(queued) == 2
    # The nothing-sent-yet rows go with the next send of the whole edition.
    assert mail.send_edition.run(edition_id) == 2 and len(queued) == 3

    # A send_batch sends every due row (here into the outbox: no SMTP configured).
    done = mail.send_batch.run()
    assert done["claimed"] == 2 and done["sent"] == 2 and done["stopped"] is None
    outbox = sorted((tmp_path / "outbox").glob("*.eml"))
    assert len(outbox) == 2
    assert mail.send_batch.run()["claimed"] == 0 and len(queued) == 3  # nothing left
    assert mail.send_edition.run(edition_id) == 0 and len(queued) == 3


def test_the_sweep_frees_a_dead_batch_and_queues_its_rows(
    engine: Engine, configured: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tasks import mail

    queued: list[tuple[object, ...]] = []
    monkeypatch.setattr(mail.send_batch, "apply_async", _recording(queued))
    with session_scope(engine) as session:
        add_feed_with_articles(session, "https://a.test/feed", "world", ["Quake in Chile"])
        for n in range(3):
            store.add_subscriber(session, f"r{n}@x.test", now=NOW)
        edition, _ = build_edition(session, plan(), CTX, day=NOW.date(), now=NOW)
        store.create_deliveries(session, edition.id, NOW)
    # A worker claims a batch, starts the first message and dies.
    lease = timedelta(minutes=10)
    with session_scope(engine) as session:
        first, *_ = store.claim_batch(session, limit=9, lease=lease, now=NOW)
        store.mark_progress(session, sent=None, sending=first)

    monkeypatch.setattr(mail, "utcnow", lambda: NOW + timedelta(minutes=1))
    live = mail.sweep_deliveries.run()
    assert (live["released"], live["unsure"], live["due"], live["active"]) == (0, 0, 0, 3)
    assert queued == []
    monkeypatch.setattr(mail, "utcnow", lambda: NOW + lease + timedelta(seconds=1))
    swept = mail.sweep_deliveries.run()
    assert (swept["released"], swept["unsure"], swept["due"]) == (2, 1, 2)
    assert swept["queued"] == 1 and queued == [(None,)]


def test_a_batch_that_cannot_queue_its_successor_ends_normally(
    engine: Engine, configured: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The broker is down when a send_batch's budget ends: its outcomes are recorded and
    it returns; the rows left wait in the database for the sweep."""
    from kombu.exceptions import OperationalError

    from tasks import mail

    def broker_down(args: tuple[object, ...], **options: float) -> None:
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(mail.send_batch, "apply_async", broker_down)
    with session_scope(engine) as session:
        add_feed_with_articles(session, "https://a.test/feed", "world", ["Quake in Chile"])
        for n in range(3):
            store.add_subscriber(session, f"r{n}@x.test", now=NOW)
        edition, _ = build_edition(session, plan(), CTX, day=NOW.date(), now=NOW)
        edition_id = edition.id
    assert mail.send_edition.run(edition_id) == 3  # rows made, their send not queued
    monkeypatch.setattr(mail.SendLimits, "for_lease", lambda lease: mail.SendLimits(0, 60, 90))
    done = mail.send_batch.run()  # a zero budget: one batch, then "queue the next"
    assert done["sent"] == 3 and done["stopped"] == "time budget spent"
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == 3
    # Nor does storing its result need the broker's Redis (nobody reads it).
    assert mail.send_batch.ignore_result


def _recording(queued: list[tuple[object, ...]]) -> Callable[..., None]:
    """send_batch.apply_async, recording the arguments; the time limits come from the
    lease (BRIEF_SEND_LEASE_SECONDS, 600 s by default), within it."""

    def apply_async(args: tuple[object, ...], **options: float) -> None:
        assert options == {"soft_time_limit": 360.0, "time_limit": 480.0}
        queued.append(args)

    return apply_async

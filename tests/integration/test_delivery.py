"""Exactly-once delivery on a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

import logging
from datetime import timedelta
from email.message import EmailMessage

import pytest
from sqlalchemy import Engine, select

from brief import store
from brief.db import session_factory, session_scope
from brief.delivery import send_delivery
from brief.editions import build_edition
from brief.errors import MailTransientError
from brief.mail.senders import SMTPSender
from brief.models import Delivery
from brief.pipeline import send_edition
from brief.sending import DueNow, EveryActive, OneSubscriber, send_pending
from tests.factories import CTX, NOW, RecordingSender, add_feed_with_articles, plan
from tests.smtpserver import SMTPServer


def now() -> object:
    return NOW


def _setup(engine: Engine) -> int:
    with session_scope(engine) as session:
        add_feed_with_articles(session, "https://a.test/feed", "world", ["Quake in Chile", "Vote"])
        add_feed_with_articles(session, "https://b.test/feed", "business", ["Stocks rally"])
        for email in ("one@x.test", "two@x.test", "three@x.test"):
            store.add_subscriber(session, email, now=NOW)
        store.add_subscriber(session, "pending@x.test", now=NOW, status="pending")
        store.add_subscriber(session, "gone@x.test", now=NOW)
        store.unsubscribe(session, "gone@x.test", NOW)
        edition, created = build_edition(session, plan(), CTX, day=NOW.date(), now=NOW)
        assert created and len(edition.stories) == 3
        return edition.id


def test_send_twice_sends_once(engine: Engine) -> None:
    edition_id = _setup(engine)
    sender = RecordingSender()
    first = send_edition(engine, edition_id, sender, CTX, lambda: NOW)
    assert sorted(o.recipient for o in first if o.status == "sent") == [
        "one@x.test",
        "three@x.test",
        "two@x.test",
    ]
    again = send_edition(engine, edition_id, sender, CTX, lambda: NOW + timedelta(minutes=5))
    assert again == []
    assert sorted(sender.recipients()) == ["one@x.test", "three@x.test", "two@x.test"]
    with session_scope(engine) as session:
        rows = session.scalars(select(Delivery)).all()
        assert {r.status for r in rows} == {"sent"} and len(rows) == 3
        assert all(r.message_id and r.sent_at and r.attempts == 1 for r in rows)


def test_a_claimed_delivery_is_not_sent_by_a_second_runner(engine: Engine) -> None:
    edition_id = _setup(engine)
    with session_scope(engine) as session:
        store.create_deliveries(session, edition_id, NOW)
    with session_scope(engine) as session:
        delivery_id = store.pending_delivery_ids(session, edition_id)[0]
    # Runner A claims (as a worker that then crashes before recording the send).
    with session_scope(engine) as session:
        assert store.claim_delivery(session, delivery_id, NOW)
    sender = RecordingSender()
    with session_factory(engine)() as session:
        outcome = send_delivery(session, delivery_id, sender, CTX, NOW)
    assert outcome.status == "skipped" and sender.messages == []


def test_one_bad_address_does_not_stop_the_others(engine: Engine) -> None:
    edition_id = _setup(engine)
    sender = RecordingSender(refuse={"two@x.test"})
    outcomes = send_edition(engine, edition_id, sender, CTX, lambda: NOW)
    assert {o.recipient: o.status for o in outcomes} == {
        "one@x.test": "sent",
        "two@x.test": "failed",
        "three@x.test": "sent",
    }
    with session_scope(engine) as session:
        failed = session.scalars(select(Delivery).where(Delivery.status == "failed")).one()
        assert failed.recipient == "two@x.test" and "550" in (failed.last_error or "")


def test_a_transient_failure_is_retried_later(engine: Engine) -> None:
    edition_id = _setup(engine)
    busy = RecordingSender(busy={"one@x.test"})
    outcomes = send_edition(engine, edition_id, busy, CTX, lambda: NOW)
    assert {o.recipient: o.status for o in outcomes}["one@x.test"] == "retry"
    with session_scope(engine) as session:
        row = session.scalars(select(Delivery).where(Delivery.recipient == "one@x.test")).one()
        assert row.status == "pending" and "451" in (row.last_error or "")
        delivery_id = row.id
    # A Celery retry calls send_delivery again: the transient error propagates first...
    with session_factory(engine)() as session, pytest.raises(MailTransientError):
        send_delivery(session, delivery_id, busy, CTX, NOW)
    # ...and once the server accepts, it is sent, once.
    ok = RecordingSender()
    again = send_edition(engine, edition_id, ok, CTX, lambda: NOW)
    assert [o.recipient for o in again] == ["one@x.test"] and ok.recipients() == ["one@x.test"]


@pytest.mark.filterwarnings("ignore::UserWarning:aiosmtpd.*")
@pytest.mark.parametrize(
    ("code", "outcome", "status"), [(550, "failed", "failed"), (451, "retry", "pending")]
)
def test_an_smtp_5xx_fails_the_delivery_a_4xx_leaves_it_pending(
    engine: Engine, code: int, outcome: str, status: str
) -> None:
    edition_id = _setup(engine)
    with SMTPServer(reject={"two@x.test": code}) as smtp:
        sender = SMTPSender("127.0.0.1", smtp.port, timeout=5)
        outcomes = send_edition(engine, edition_id, sender, CTX, lambda: NOW)
        received = smtp.wait_for(2)
    assert {o.recipient: o.status for o in outcomes} == {
        "one@x.test": "sent",
        "two@x.test": outcome,
        "three@x.test": "sent",
    }
    assert sorted(r.rcpt_tos for r in received) == [("one@x.test",), ("three@x.test",)]
    with session_scope(engine) as session:
        row = session.scalars(select(Delivery).where(Delivery.recipient == "two@x.test")).one()
        assert row.status == status and f"SMTP {code}" in (row.last_error or "")


def _errors_logged(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "brief.delivery" and r.levelno == logging.ERROR]


def test_a_rendering_bug_surfaces_and_loses_no_mail(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    edition_id = _setup(engine)

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("template bug")

    monkeypatch.setattr("brief.delivery.render_digest", broken)
    sender = RecordingSender()
    with pytest.raises(RuntimeError, match="template bug"):
        send_edition(engine, edition_id, sender, CTX, lambda: NOW)
    assert sender.messages == []
    [logged] = _errors_logged(caplog)
    assert logged.exc_info is not None  # the traceback, not only the message
    with session_scope(engine) as session:
        rows = session.scalars(select(Delivery).order_by(Delivery.id)).all()
        # The one tried went back to pending with its error; the run stopped there.
        assert [(r.status, r.attempts) for r in rows] == [
            ("pending", 1),
            ("pending", 0),
            ("pending", 0),
        ]
        assert rows[0].last_error == "RuntimeError: template bug"
    # Once the bug is fixed, the next send delivers every copy, once.
    monkeypatch.undo()
    fixed = RecordingSender()
    again = send_edition(engine, edition_id, fixed, CTX, lambda: NOW)
    assert [o.status for o in again] == ["sent"] * 3
    assert sorted(fixed.recipients()) == ["one@x.test", "three@x.test", "two@x.test"]


class BrokenSender:
    def send(self, message: EmailMessage) -> str:
        raise RuntimeError("bug in the sender")


def test_an_unexpected_sender_error_surfaces_and_is_never_resent(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    edition_id = _setup(engine)
    with session_scope(engine) as session:
        store.create_deliveries(session, edition_id, NOW)
    with session_scope(engine) as session:
        delivery_id = store.pending_delivery_ids(session, edition_id)[0]
    with session_factory(engine)() as session, pytest.raises(RuntimeError, match="sender"):
        send_delivery(session, delivery_id, BrokenSender(), CTX, NOW)
    [logged] = _errors_logged(caplog)
    assert logged.exc_info is not None
    # The message may have left: the row stays claimed, as after a crash mid-send.
    with session_scope(engine) as session:
        assert store.delivery_counts(session, edition_id) == {"sending": 1, "pending": 2}


def test_send_pending_hands_over_committed_deliveries_of_the_chosen_recipients(
    engine: Engine,
) -> None:
    handed: list[tuple[str, str]] = []

    def enqueue(delivery_id: int) -> int:
        with session_scope(engine) as session:  # what a worker's own connection sees
            row = store.find_delivery(session, delivery_id)
            assert row is not None, "handed over before its commit"
            handed.append((row.recipient, row.status))
        return delivery_id

    assert send_pending(engine, DueNow(), enqueue, NOW) == []  # no edition yet
    edition_id = _setup(engine)
    with session_scope(engine) as session:
        one, waiting = (store.find_subscriber(session, e) for e in ("one@x.test", "pending@x.test"))
        assert one is not None and waiting is not None
        one_id, waiting_id = one.id, waiting.id
    assert send_pending(engine, OneSubscriber(waiting_id), enqueue, NOW) == []  # not confirmed
    [welcome] = send_pending(engine, OneSubscriber(one_id), enqueue, NOW)
    assert handed == [("one@x.test", "pending")]
    # Every pending delivery goes, the welcome copy too while it is unsent.
    everyone = send_pending(engine, EveryActive(), enqueue, NOW, edition_id=edition_id)
    assert welcome in everyone and len(everyone) == 3
    assert sorted(r for r, _ in handed[1:]) == ["one@x.test", "three@x.test", "two@x.test"]


def test_subscriber_sections_narrow_the_email(engine: Engine) -> None:
    edition_id = _setup(engine)
    with session_scope(engine) as session:
        store.add_subscriber(session, "biz@x.test", now=NOW, sections=["business"])
    sender = RecordingSender()
    send_edition(engine, edition_id, sender, CTX, lambda: NOW)
    biz = next(m for m in sender.messages if m["To"] == "biz@x.test")
    everyone = next(m for m in sender.messages if m["To"] == "one@x.test")
    biz_text = biz.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    all_text = everyone.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "Stocks rally" in biz_text and "Quake in Chile" not in biz_text
    assert "Stocks rally" in all_text and "Quake in Chile" in all_text


def test_an_edition_is_built_once_per_date(engine: Engine) -> None:
    edition_id = _setup(engine)
    with session_scope(engine) as session:
        again, created = build_edition(session, plan(), CTX, day=NOW.date(), now=NOW)
    assert (again.id, created) == (edition_id, False)
    with session_scope(engine) as session:
        rebuilt, created = build_edition(
            session, plan(), CTX, day=NOW.date(), now=NOW, rebuild=True
        )
    assert created
    send_edition(engine, rebuilt.id, RecordingSender(), CTX, lambda: NOW)
    from brief.errors import InputError

    with session_scope(engine) as session, pytest.raises(InputError, match="already been sent"):
        build_edition(session, plan(), CTX, day=NOW.date(), now=NOW, rebuild=True)


@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31"])
def test_an_edition_date_out_of_range_is_a_clear_error(engine: Engine, day: str) -> None:
    from datetime import date

    from brief.errors import InputError

    with session_scope(engine) as session, pytest.raises(InputError, match="no edition"):
        build_edition(session, plan(), CTX, day=date.fromisoformat(day), now=NOW)


def test_no_stories_no_edition_and_nothing_sent(engine: Engine) -> None:
    from brief.errors import EmptyEditionError
    from brief.feeds.fetch import FetchConfig
    from brief.feeds.ingest import IngestConfig
    from brief.pipeline import run_once

    with session_scope(engine) as session:
        store.add_subscriber(session, "one@x.test", now=NOW)
    with session_scope(engine) as session, pytest.raises(EmptyEditionError, match="no stories"):
        build_edition(session, plan(), CTX, day=NOW.date(), now=NOW)
    sender = RecordingSender()
    ingest = IngestConfig(fetch=FetchConfig(user_agent="brief-test"))
    report = run_once(engine, plan=plan(), ctx=CTX, sender=sender, ingest=ingest, now=lambda: NOW)
    assert report.edition_id is None and "no edition made" in (report.edition_error or "")
    assert sender.messages == [] and report.deliveries == []
    with session_scope(engine) as session:
        assert store.latest_edition(session) is None  # the date stays free for a later run

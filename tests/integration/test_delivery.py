"""Exactly-once delivery through the batched sender, on SQLite and PostgreSQL."""

from __future__ import annotations

import logging
from collections import OrderedDict
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from brief import store
from brief.batch import BatchConfig, Mailer, retry_delay
from brief.db import session_scope
from brief.editions import build_edition
from brief.mail.smtp_session import SMTPSession
from brief.models import Delivery
from brief.pipeline import send_edition
from brief.sending import DueNow, EveryActive, OneSubscriber, PendingSend, send_pending
from tests.factories import CTX, NOW, add_feed_with_articles, plan
from tests.mailfakes import BUSY, FULL, GREYLISTED, NO_REPLY, REFUSED, RecordingMail
from tests.smtpserver import SMTPServer

LEASE = timedelta(minutes=10)


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
    mail = RecordingMail()
    first = send_edition(engine, edition_id, mail.mailer(), lambda: NOW)
    assert sorted(o.recipient for o in first if o.status == "sent") == [
        "one@x.test",
        "three@x.test",
        "two@x.test",
    ]
    again = send_edition(engine, edition_id, mail.mailer(), lambda: NOW + timedelta(minutes=5))
    assert again == []
    assert sorted(mail.recipients()) == ["one@x.test", "three@x.test", "two@x.test"]
    with session_scope(engine) as session:
        rows = session.scalars(select(Delivery)).all()
        assert {r.status for r in rows} == {"sent"} and len(rows) == 3
        assert all(r.message_id and r.sent_at and r.attempts == 1 for r in rows)
    assert {str(m["Message-ID"]) for m in mail.messages} == {r.message_id for r in rows}


def test_a_claimed_delivery_is_not_sent_by_a_second_runner(engine: Engine) -> None:
    edition_id = _setup(engine)
    with session_scope(engine) as session:
        store.create_deliveries(session, edition_id, NOW)
    # Runner A claims one row (as a worker that then dies before sending it).
    with session_scope(engine) as session:
        [claimed] = store.claim_batch(session, limit=1, lease=LEASE, now=NOW)
    mail = RecordingMail()
    outcomes = send_edition(engine, edition_id, mail.mailer(), lambda: NOW)
    assert claimed.recipient not in mail.recipients() and len(outcomes) == 2
    # Once its lease is over, the sweep gives it back, and it is sent, once.
    late = NOW + LEASE + timedelta(seconds=1)
    with session_scope(engine) as session:
        assert store.sweep(session, late).released == 1
    again = send_edition(engine, edition_id, mail.mailer(), lambda: late)
    assert [o.recipient for o in again] == [claimed.recipient]
    assert sorted(mail.recipients()) == ["one@x.test", "three@x.test", "two@x.test"]


def test_one_bad_address_does_not_stop_the_others(engine: Engine) -> None:
    edition_id = _setup(engine)
    mail = RecordingMail(replies={"two@x.test": REFUSED})
    outcomes = send_edition(engine, edition_id, mail.mailer(), lambda: NOW)
    assert {o.recipient: o.status for o in outcomes} == {
        "one@x.test": "sent",
        "two@x.test": "failed",
        "three@x.test": "sent",
    }
    with session_scope(engine) as session:
        failed = session.scalars(select(Delivery).where(Delivery.status == "failed")).one()
        assert failed.recipient == "two@x.test" and "550" in (failed.last_error or "")
        assert failed.smtp_code == 550


def test_a_transient_failure_is_retried_later(engine: Engine) -> None:
    edition_id = _setup(engine)
    full = RecordingMail(replies={"one@x.test": FULL})
    outcomes = send_edition(engine, edition_id, full.mailer(), lambda: NOW)
    assert {o.recipient: o.status for o in outcomes} == {
        "one@x.test": "retry",
        "two@x.test": "sent",
        "three@x.test": "sent",
    }
    with session_scope(engine) as session:
        row = session.scalars(select(Delivery).where(Delivery.recipient == "one@x.test")).one()
        assert row.status == "pending" and "452" in (row.last_error or "")
        assert row.not_before == NOW + retry_delay(1) and row.smtp_code == 452
    # Not before its back-off...
    ok = RecordingMail()
    assert send_edition(engine, edition_id, ok.mailer(), lambda: NOW) == []
    # ...and then, once the server accepts, it is sent, once.
    later = NOW + retry_delay(1)
    again = send_edition(engine, edition_id, ok.mailer(), lambda: later)
    assert [o.recipient for o in again] == ["one@x.test"] and ok.recipients() == ["one@x.test"]


def test_a_busy_domain_is_slowed_down_not_the_whole_send(engine: Engine) -> None:
    edition_id = _setup(engine)
    with session_scope(engine) as session:
        store.add_subscriber(session, "four@y.test", now=NOW)
    busy = RecordingMail(replies={"one@x.test": BUSY})
    config = BatchConfig(connections=1)  # in delivery order: one@ first
    outcomes = send_edition(engine, edition_id, busy.mailer(), lambda: NOW, config=config)
    assert {o.recipient: o.status for o in outcomes} == {
        "one@x.test": "retry",
        "two@x.test": "retry",  # x.test waits...
        "three@x.test": "retry",
        "four@y.test": "sent",  # ...y.test does not
    }
    with session_scope(engine) as session:
        rows = {r.recipient: r for r in session.scalars(select(Delivery))}
    waiting = [rows[r] for r in ("two@x.test", "three@x.test")]
    # Given back untried: their attempt is not counted, and they wait for the domain.
    assert all(r.status == "pending" and r.attempts == 0 for r in waiting)
    assert all(r.not_before and r.not_before >= NOW + timedelta(seconds=29) for r in waiting)
    assert rows["one@x.test"].attempts == 1 and busy.recipients() == ["four@y.test"]


def test_a_greylisted_recipient_waits_alone(engine: Engine) -> None:
    edition_id = _setup(engine)
    greylisting = RecordingMail(replies={"one@x.test": GREYLISTED})
    config = BatchConfig(connections=1)  # in delivery order: one@ first
    outcomes = send_edition(engine, edition_id, greylisting.mailer(), lambda: NOW, config=config)
    assert {o.recipient: o.status for o in outcomes} == {
        "one@x.test": "retry",
        "two@x.test": "sent",  # the domain goes on
        "three@x.test": "sent",
    }


@pytest.mark.filterwarnings("ignore::UserWarning:aiosmtpd.*")
@pytest.mark.parametrize(
    ("code", "outcome", "status"), [(550, "failed", "failed"), (451, "retry", "pending")]
)
def test_an_smtp_5xx_fails_the_delivery_a_4xx_leaves_it_pending(
    engine: Engine, code: int, outcome: str, status: str
) -> None:
    edition_id = _setup(engine)
    with SMTPServer(reject={"two@x.test": code}) as smtp:
        mailer = Mailer(
            open_session=lambda: SMTPSession("127.0.0.1", smtp.port, timeout=5),
            ctx=CTX,
            where="smtp",
        )
        outcomes = send_edition(engine, edition_id, mailer, lambda: NOW)
        received = smtp.wait_for(2)
    assert {o.recipient: o.status for o in outcomes} == {
        "one@x.test": "sent",
        "two@x.test": outcome,
        "three@x.test": "sent",
    }
    assert sorted(r.rcpt_tos for r in received) == [("one@x.test",), ("three@x.test",)]
    with session_scope(engine) as session:
        row = session.scalars(select(Delivery).where(Delivery.recipient == "two@x.test")).one()
        assert row.status == status and f"{code} " in (row.last_error or "")
        assert row.smtp_code == code


def _errors_logged(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "brief.batch" and r.levelno == logging.ERROR]


def test_a_rendering_bug_surfaces_and_loses_no_mail(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    edition_id = _setup(engine)

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("template bug")

    monkeypatch.setattr("brief.batch.prepare_digest", broken)
    monkeypatch.setattr("brief.batch._VARIANTS", OrderedDict())  # none prepared before
    mail = RecordingMail()
    with pytest.raises(RuntimeError, match="template bug"):
        send_edition(engine, edition_id, mail.mailer(), lambda: NOW)
    assert mail.received == []
    [logged] = _errors_logged(caplog)
    assert logged.exc_info is not None  # the traceback, not only the message
    with session_scope(engine) as session:
        rows = session.scalars(select(Delivery).order_by(Delivery.id)).all()
        # The batch tried went back to pending with its error; the run stopped there.
        assert [(r.status, r.attempts) for r in rows] == [("pending", 1)] * 3
        assert {r.last_error for r in rows} == {"RuntimeError: template bug"}
    # Once the bug is fixed, the next send delivers every copy, once.
    monkeypatch.undo()
    fixed = RecordingMail()
    again = send_edition(engine, edition_id, fixed.mailer(), lambda: NOW)
    assert [o.status for o in again] == ["sent"] * 3
    assert sorted(fixed.recipients()) == ["one@x.test", "three@x.test", "two@x.test"]


def test_an_unexpected_sender_error_surfaces_and_is_never_resent(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    edition_id = _setup(engine)
    broken = RecordingMail(broken={"one@x.test"})
    config = BatchConfig(connections=1)
    with pytest.raises(RuntimeError, match="sender"):
        send_edition(engine, edition_id, broken.mailer(), lambda: NOW, config=config)
    [logged] = _errors_logged(caplog)
    assert logged.exc_info is not None
    # The message may have left after `sending` was recorded: unsure, for the operator.
    with session_scope(engine) as session:
        counts = store.delivery_counts(session, edition_id)
        [unsure] = store.unsure_deliveries(session, edition_id)
    assert unsure.recipient == "one@x.test" and "bug in the sender" in (unsure.last_error or "")
    # Nothing else is lost: the rest were given back, and go with the next send.
    assert counts == {"unsure": 1, "pending": 2}
    fixed = RecordingMail()
    send_edition(engine, edition_id, fixed.mailer(), lambda: NOW)
    assert sorted(fixed.recipients()) == ["three@x.test", "two@x.test"]


def test_send_pending_commits_the_deliveries_of_the_chosen_recipients(engine: Engine) -> None:
    assert send_pending(engine, DueNow(), NOW) == PendingSend(None, 0)  # no edition yet
    edition_id = _setup(engine)
    with session_scope(engine) as session:
        one, waiting = (store.find_subscriber(session, e) for e in ("one@x.test", "pending@x.test"))
        assert one is not None and waiting is not None
        one_id, waiting_id = one.id, waiting.id
    # Not confirmed: nothing for them.
    assert send_pending(engine, OneSubscriber(waiting_id), NOW) == PendingSend(edition_id, 0)
    assert send_pending(engine, OneSubscriber(one_id), NOW) == PendingSend(edition_id, 1)
    with session_scope(engine) as session:  # what a worker's own connection sees
        assert [r.recipient for r in session.scalars(select(Delivery))] == ["one@x.test"]
    # Every pending delivery counts, the welcome copy too while it is unsent.
    everyone = send_pending(engine, EveryActive(), NOW, edition_id=edition_id)
    assert everyone == PendingSend(edition_id, 3)


def test_subscriber_sections_narrow_the_email(engine: Engine) -> None:
    edition_id = _setup(engine)
    with session_scope(engine) as session:
        store.add_subscriber(session, "biz@x.test", now=NOW, sections=["business"])
    mail = RecordingMail()
    send_edition(engine, edition_id, mail.mailer(), lambda: NOW)
    biz = next(m for m in mail.messages if m["To"] == "biz@x.test")
    everyone = next(m for m in mail.messages if m["To"] == "one@x.test")
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
    send_edition(engine, rebuilt.id, RecordingMail().mailer(), lambda: NOW)
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
    mail = RecordingMail()
    ingest = IngestConfig(fetch=FetchConfig(user_agent="brief-test"))
    report = run_once(
        engine, plan=plan(), ctx=CTX, mailer=mail.mailer(), ingest=ingest, now=lambda: NOW
    )
    assert report.edition_id is None and "no edition made" in (report.edition_error or "")
    assert mail.received == [] and report.deliveries == []
    with session_scope(engine) as session:
        assert store.latest_edition(session) is None  # the date stays free for a later run


def test_the_operator_sees_and_resolves_unsure_deliveries(tmp_path: Path) -> None:
    from brief.config import Settings
    from brief.db import make_engine, migrate
    from tests.integration.test_cli import brief

    engine = make_engine(Settings(data_dir=tmp_path / "data").db_url)
    migrate(engine)
    edition_id = _setup(engine)
    mail = RecordingMail(replies={"one@x.test": NO_REPLY, "two@x.test": NO_REPLY})
    send_edition(engine, edition_id, mail.mailer(), lambda: NOW)
    with session_scope(engine) as session:
        ids = {u.recipient: u.id for u in store.unsure_deliveries(session, edition_id)}
    engine.dispose()

    shown = brief(tmp_path, "editions", "show", str(edition_id))
    assert shown.returncode == 0, shown.stderr
    assert "2 unsure delivery(ies)" in shown.stdout and "brief editions resend" in shown.stdout
    assert f"{ids['one@x.test']:>6}  one@x.test  <brief.digest." in shown.stdout
    resent = brief(tmp_path, "editions", "resend", str(ids["one@x.test"]))
    assert resent.returncode == 0 and "pending again" in resent.stdout
    marked = brief(tmp_path, "editions", "mark-sent", str(ids["two@x.test"]), "999")
    assert marked.returncode == 1 and "recorded as sent" in marked.stdout
    assert "999: not unsure deliveries" in marked.stdout
    # The resent one goes with the next send; the other is done.
    sent = brief(tmp_path, "digest", "send", str(edition_id))
    assert sent.returncode == 0 and "1 sent, 0 failed" in sent.stdout, sent.stderr
    again = brief(tmp_path, "editions", "show", str(edition_id))
    assert "unsure" not in again.stdout

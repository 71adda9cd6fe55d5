"""The batched sender against real SMTP servers on loopback (some misbehaving on purpose),
on SQLite and PostgreSQL: every address ends with exactly one copy, or an honest record
of why not."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from types import FrameType
from typing import Any

import pytest
from celery.exceptions import SoftTimeLimitExceeded
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from brief import store
from brief.batch import (
    REFUSALS_SLOW_DOMAIN,
    BatchConfig,
    BatchReport,
    Mailer,
    mark_failed,
    retry_delay,
    send_batches,
)
from brief.db import make_engine, session_scope
from brief.editions import build_edition
from brief.mail.smtp_session import SendReply, SMTPSession
from brief.models import Delivery
from brief.store import ClaimedDelivery
from tests.factories import CTX, NOW, add_feed_with_articles, plan
from tests.faultsmtp import (
    GREYLISTED,
    HANG_UP,
    SHUTTING_DOWN,
    Faults,
    FaultSMTPServer,
    at,
    chosen,
    every,
    greylist,
    refuse,
)
from tests.wait import wait_until

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning:aiosmtpd.*")

LEASE = timedelta(minutes=10)
CONFIG = BatchConfig(batch_size=7, connections=3, lease=LEASE)


def _setup(engine: Engine, count: int = 30) -> list[str]:
    """An edition, and `count` subscribers on two domains: a third of them business only."""
    addresses = [f"r{n}@{'x' if n % 2 else 'y'}.test" for n in range(count)]
    with session_scope(engine) as session:
        add_feed_with_articles(session, "https://a.test/feed", "world", ["Quake in Chile"])
        add_feed_with_articles(session, "https://b.test/feed", "business", ["Stocks rally"])
        for n, address in enumerate(addresses):
            sections = ["business"] if n % 3 == 0 else None
            store.add_subscriber(session, address, now=NOW, sections=sections)
        edition, _ = build_edition(session, plan(), CTX, day=NOW.date(), now=NOW)
        store.create_deliveries(session, edition.id, NOW)
    return addresses


def _mailer(smtp: FaultSMTPServer, *, timeout: float = 5.0, **kwargs: Any) -> Mailer:
    """A new Mailer each time: its rate limiter's back-offs run on the real clock."""
    return Mailer(
        open_session=lambda: SMTPSession(smtp.host, smtp.port, timeout=timeout),
        ctx=CTX,
        where=f"smtp://{smtp.host}:{smtp.port}",
        **kwargs,
    )


def _send(
    engine: Engine,
    smtp: FaultSMTPServer,
    *,
    at: datetime = NOW,
    config: BatchConfig = CONFIG,
    **kwargs: Any,
) -> BatchReport:
    return send_batches(engine, _mailer(smtp, **kwargs), config, now=lambda: at)


def _statuses(engine: Engine) -> dict[str, str]:
    with session_scope(engine) as session:
        return {r.recipient: r.status for r in session.scalars(select(Delivery))}


def _rows(engine: Engine) -> dict[str, Delivery]:
    with session_scope(engine) as session:
        return {r.recipient: r for r in session.scalars(select(Delivery))}


@pytest.fixture
def smtp() -> Iterator[FaultSMTPServer]:
    with FaultSMTPServer() as server:
        yield server


def test_every_address_gets_exactly_one_copy(engine: Engine, smtp: FaultSMTPServer) -> None:
    addresses = _setup(engine)
    report = _send(engine, smtp)
    assert report.claimed == len(addresses) and report.count("sent") == len(addresses)
    taken = smtp.wait_for(len(addresses))
    assert smtp.copies() == dict.fromkeys(addresses, 1)
    assert set(_statuses(engine).values()) == {"sent"}
    rows = _rows(engine)
    # What is recorded is what went: the Message-ID, the 250, to the right reader.
    for message in taken:
        [rcpt] = message.rcpt_tos
        assert message.message_id == rows[rcpt].message_id and rows[rcpt].smtp_code == 250
        parsed = message.message
        assert parsed["To"] == rcpt and message.mail_from == CTX.mail_from_address
        text = parsed.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        business_only = int(rcpt[1:].split("@")[0]) % 3 == 0
        assert "Stocks rally" in text and ("Quake in Chile" in text) != business_only
        assert "/unsubscribe/" in str(parsed["List-Unsubscribe"])
    assert smtp.connections <= CONFIG.connections  # kept open from batch to batch
    # Nothing is due any more: a second run sends nothing.
    assert _send(engine, smtp).claimed == 0 and len(smtp.taken) == len(addresses)


def test_two_senders_at_once_never_send_a_row_twice(engine: Engine, smtp: FaultSMTPServer) -> None:
    addresses = _setup(engine, 40)
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            _send(engine, smtp, config=BatchConfig(batch_size=3, connections=2, lease=LEASE))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    smtp.wait_for(len(addresses))
    assert smtp.copies() == dict.fromkeys(addresses, 1)
    assert set(_statuses(engine).values()) == {"sent"}


def test_a_5xx_fails_only_that_one_and_a_4xx_waits_for_its_back_off(engine: Engine) -> None:
    addresses = _setup(engine, 12)
    gone, full = "r3@x.test", "r5@x.test"

    def rcpt(address: str, attempt: int) -> str | None:
        if address == gone:
            return "550 5.1.1 No such user here"
        if address == full and attempt == 1:
            return "452 4.2.2 Mailbox full"
        return None

    with FaultSMTPServer(Faults(rcpt=rcpt)) as smtp:
        _send(engine, smtp)
        rows = _rows(engine)
        assert (rows[gone].status, rows[gone].smtp_code) == ("failed", 550)
        assert (rows[full].status, rows[full].smtp_code) == ("pending", 452)
        assert rows[full].not_before == NOW + retry_delay(1)
        assert {rows[a].status for a in addresses if a not in (gone, full)} == {"sent"}
        assert _send(engine, smtp).claimed == 0  # not before its time
        later = NOW + retry_delay(1)
        assert _send(engine, smtp, at=later).count("sent") == 1
        smtp.wait_for(len(addresses) - 1)
    assert smtp.copies() == {a: 1 for a in addresses if a != gone}
    assert _statuses(engine)[gone] == "failed"


def test_the_first_retry_waits_as_long_as_configured(engine: Engine) -> None:
    addresses = _setup(engine, 4)
    busy = addresses[1]
    faults = Faults(rcpt=lambda a, n: "451 4.7.1 Greylisted" if a == busy and n == 1 else None)
    config = BatchConfig(batch_size=10, connections=1, lease=LEASE, retry_base=5)
    with FaultSMTPServer(faults) as smtp:
        _send(engine, smtp, config=config)
        assert _rows(engine)[busy].not_before == NOW + timedelta(seconds=5)
        assert _send(engine, smtp, config=config, at=NOW + timedelta(seconds=5)).count("sent") == 1
    assert smtp.copies() == dict.fromkeys(addresses, 1)


def test_greylisting_a_fifth_delays_only_those_recipients(engine: Engine) -> None:
    addresses = _setup(engine, 60)
    greylisted = {a for a in addresses if chosen(a, 0.2)}
    assert 5 <= len(greylisted) <= 20
    with FaultSMTPServer(Faults(rcpt=greylist(0.2))) as smtp:
        first = _send(engine, smtp)
        # One pass sends everyone else: no domain waits for its greylisted recipients.
        assert first.count("sent") == len(addresses) - len(greylisted)
        rows = _rows(engine)
        assert {a for a in addresses if rows[a].status == "pending"} == greylisted
        assert all(rows[a].not_before == NOW + retry_delay(1) for a in greylisted)
        assert _send(engine, smtp, at=NOW + retry_delay(1)).count("sent") == len(greylisted)
        smtp.wait_for(len(addresses))
    assert smtp.copies() == dict.fromkeys(addresses, 1)


def test_a_run_of_recipient_refusals_slows_that_domain(engine: Engine) -> None:
    addresses = _setup(engine, 2 * REFUSALS_SLOW_DOMAIN + 10)
    on_x = [a for a in addresses if a.endswith("@x.test")]
    with FaultSMTPServer(
        Faults(rcpt=lambda a, n: GREYLISTED if a.endswith("@x.test") else None)
    ) as smtp:
        report = _send(engine, smtp, config=BatchConfig(batch_size=100, connections=1, lease=LEASE))
    rows = _rows(engine)
    tried = [a for a in on_x if rows[a].attempts]
    # After ten refusals in a row the domain waits: the rest of x.test is given back
    # untried, and y.test is sent meanwhile.
    assert len(tried) == REFUSALS_SLOW_DOMAIN
    assert all(rows[a].status == "pending" for a in on_x)
    assert report.count("sent") == len(addresses) - len(on_x)


@pytest.mark.parametrize(
    "faults",
    [
        pytest.param(Faults(data_reply_delay=lambda n: 3.0 if n == 4 else 0.0), id="late-reply"),
        pytest.param(Faults(after_data=at({4}, HANG_UP)), id="hang-up"),
    ],
)
def test_no_reply_to_the_end_of_data_is_unsure_and_never_resent(
    engine: Engine, faults: Faults
) -> None:
    addresses = _setup(engine, 10)
    with FaultSMTPServer(faults) as smtp:
        report = _send(engine, smtp, timeout=1.0)
        smtp.wait_for(len(addresses))
        [unsure] = [a for a, status in _statuses(engine).items() if status == "unsure"]
        assert report.count("unsure") == 1 and report.count("sent") == len(addresses) - 1
        # Not resent: not by the next run, not by the sweep.
        later = NOW + timedelta(days=1)
        with session_scope(engine) as session:
            assert store.sweep(session, later).due == 0
        assert _send(engine, smtp, at=later).claimed == 0
    # The server did take it: one copy each, none twice (same Message-ID).
    assert smtp.copies() == dict.fromkeys(addresses, 1)
    rows = _rows(engine)
    assert rows[unsure].sent_at is None and "end of DATA" in (rows[unsure].last_error or "")


def test_drops_and_421_go_back_to_pending_and_arrive_once(engine: Engine) -> None:
    addresses = _setup(engine, 24)
    faults = Faults(
        mail=every(5, SHUTTING_DOWN),
        rcpt=lambda a, n: HANG_UP if n == 1 and a == "r7@x.test" else None,
    )
    with FaultSMTPServer(faults) as smtp:
        at = NOW
        for _ in range(8):  # each run after every back-off has passed
            _send(engine, smtp, at=at)
            if set(_statuses(engine).values()) == {"sent"}:
                break
            at += timedelta(hours=2)
        smtp.wait_for(len(addresses))
    assert set(_statuses(engine).values()) == {"sent"}
    assert smtp.copies() == dict.fromkeys(addresses, 1)


def test_a_killed_batch_is_swept_back_and_sent_once(engine: Engine, smtp: FaultSMTPServer) -> None:
    addresses = _setup(engine, 10)
    # A worker claims a batch, commits its first row `sending` (its end of DATA may have
    # gone) and is killed.
    with session_scope(engine) as session:
        dead = store.claim_batch(session, limit=4, lease=LEASE, now=NOW)
        store.mark_progress(session, sent=None, sending=dead[0])
    _send(engine, smtp)
    sent = [a for a, s in _statuses(engine).items() if s == "sent"]
    assert sorted(sent) == sorted(set(addresses) - {d.recipient for d in dead})
    # Until the lease ends the rows stay with the dead batch; then the sweep frees them.
    late = NOW + LEASE + timedelta(seconds=1)
    with session_scope(engine) as session:
        assert store.sweep(session, NOW + timedelta(minutes=1)).released == 0
        swept = store.sweep(session, late)
    assert (swept.released, swept.unsure, swept.due) == (3, 1, 3)
    assert _send(engine, smtp, at=late).count("sent") == 3
    smtp.wait_for(len(addresses) - 1)
    # The row that may have gone is the operator's to decide; every other got one copy.
    assert _statuses(engine)[dead[0].recipient] == "unsure"
    assert smtp.copies() == {a: 1 for a in addresses if a != dead[0].recipient}


def test_a_soft_time_limit_stops_cleanly(engine: Engine) -> None:
    addresses = _setup(engine, 40)

    def time_limit(signum: int, frame: FrameType | None) -> None:
        raise SoftTimeLimitExceeded()  # as Celery raises it, in the task's thread

    before = signal.signal(signal.SIGALRM, time_limit)
    try:
        with FaultSMTPServer(Faults(reply_delay=0.02)) as smtp:
            signal.setitimer(signal.ITIMER_REAL, 0.8)
            with pytest.raises(SoftTimeLimitExceeded):
                _send(engine, smtp)
            signal.setitimer(signal.ITIMER_REAL, 0)
            statuses = _statuses(engine)
            # What was on the wire finished and was recorded; the rest went back.
            assert set(statuses.values()) == {"sent", "pending"}
            sent = {a for a, s in statuses.items() if s == "sent"}
            assert sent and smtp.copies() == dict.fromkeys(sent, 1)
            rows = _rows(engine)
            assert all(rows[a].attempts == 0 for a in addresses if a not in sent)
            _send(engine, smtp)  # the next task sends the rest
            smtp.wait_for(len(addresses))
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, before)
    assert smtp.copies() == dict.fromkeys(addresses, 1)


def test_a_database_blip_while_recording_is_retried_and_loses_no_250(
    engine: Engine, smtp: FaultSMTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    addresses = _setup(engine, 12)
    real = store.mark_progress
    calls = {"n": 0}

    def flaky(session: Session, **kwargs: Any) -> bool:
        calls["n"] += 1
        if calls["n"] in (3, 4, 9):  # the database restarting, twice
            raise OperationalError("UPDATE delivery", {}, Exception("server closed the connection"))
        return real(session, **kwargs)

    monkeypatch.setattr(store, "mark_progress", flaky)
    report = _send(engine, smtp)
    assert report.count("sent") == len(addresses)
    smtp.wait_for(len(addresses))
    assert smtp.copies() == dict.fromkeys(addresses, 1)
    assert set(_statuses(engine).values()) == {"sent"}


def test_the_time_budget_stops_after_a_batch(engine: Engine, smtp: FaultSMTPServer) -> None:
    _setup(engine, 20)
    report = _send(engine, smtp, config=BatchConfig(batch_size=5, connections=2, budget=0))
    assert (report.claimed, report.stopped) == (5, "time budget spent")
    assert sorted(_statuses(engine).values()).count("pending") == 15


def test_the_envelope_sender_and_refusal_seams(engine: Engine) -> None:
    addresses = _setup(engine, 6)
    refused: list[tuple[int, int | None]] = []

    def on_refused(session: Session, delivery: ClaimedDelivery, reply: SendReply) -> None:
        refused.append((delivery.id, reply.code))
        mark_failed(session, delivery, reply)

    def verp(delivery_id: int) -> str:
        return f"bounces+{delivery_id}@brief.test"

    with FaultSMTPServer(Faults(rcpt=refuse(["r2@y.test"]))) as smtp:
        _send(engine, smtp, envelope_from=verp, on_refused=on_refused)
        taken = smtp.wait_for(len(addresses) - 1)
    rows = _rows(engine)
    assert refused == [(rows["r2@y.test"].id, 550)] and rows["r2@y.test"].status == "failed"
    assert {t.mail_from for t in taken} == {verp(rows[t.rcpt_tos[0]].id) for t in taken}


def test_signing_applies_to_the_bytes_sent(engine: Engine, smtp: FaultSMTPServer) -> None:
    addresses = _setup(engine, 3)
    sign: Callable[[bytes], bytes] = lambda data: b"X-Signed: yes\r\n" + data  # noqa: E731
    _send(engine, smtp, sign=sign)
    taken = smtp.wait_for(len(addresses))
    assert all(t.message["X-Signed"] == "yes" for t in taken)


@pytest.mark.parametrize("engine", ["postgresql"], indirect=True)  # SQLite has no server
def test_database_connections_killed_mid_send_lose_nothing(
    engine: Engine, smtp: FaultSMTPServer, caplog: pytest.LogCaptureFixture
) -> None:
    """The server ends every connection of the sender (as a PostgreSQL restart does):
    the threads reconnect, retry their commits, and every address gets one copy."""
    addresses = _setup(engine, 60)
    smtp.faults.reply_delay = 0.01
    killer = make_engine(engine.url.render_as_string(hide_password=False))
    killed: list[int] = []

    def kill_connections() -> None:
        wait_until(lambda: len(smtp.taken) >= 15, 20, what="the send to start")
        with killer.connect() as conn:
            pids = conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            ).all()
        killed.append(len(pids))

    thread = threading.Thread(target=kill_connections)
    thread.start()
    report = _send(engine, smtp)
    thread.join()
    killer.dispose()
    assert killed and killed[0] >= CONFIG.connections
    assert any("recording deliveries failed" in r.message for r in caplog.records)
    smtp.wait_for(len(addresses))
    assert smtp.copies() == dict.fromkeys(addresses, 1)
    assert report.count("sent") == len(addresses)
    assert set(_statuses(engine).values()) == {"sent"}


def test_a_short_lease_still_sends(engine: Engine, smtp: FaultSMTPServer) -> None:
    addresses = _setup(engine, 5)  # the shortest lease the settings allow
    _send(engine, smtp, config=BatchConfig(lease=timedelta(seconds=30)))
    smtp.wait_for(len(addresses))
    assert set(_statuses(engine).values()) == {"sent"}


def test_a_sending_thread_that_cannot_reach_the_database_stops_the_batch(
    engine: Engine, smtp: FaultSMTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    _setup(engine, 6)
    real = Engine.connect

    def connect(self: Engine) -> Any:
        if threading.current_thread().name.startswith("brief-send-"):
            raise OperationalError("connect", {}, Exception("the database is down"))
        return real(self)

    monkeypatch.setattr(Engine, "connect", connect)
    with pytest.raises(OperationalError, match="the database is down"):
        _send(engine, smtp)
    monkeypatch.undo()
    assert smtp.taken == [] and set(_statuses(engine).values()) == {"pending"}

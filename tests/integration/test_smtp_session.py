"""SMTPSession against real SMTP servers on loopback, well-behaved and not."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest

from brief.errors import InputError, MailTransientError
from brief.mail.prepared import PreparedMessage, personalize, prepare_digest
from brief.mail.smtp_session import RelayError, SendOutcome, SendReply, SMTPSession
from tests.faultsmtp import (
    HANG_UP,
    NO_SUCH_USER,
    SHUTTING_DOWN,
    FaultSMTPServer,
    at,
    every,
    greylist,
    refuse,
)
from tests.smtpserver import SMTPServer, free_port
from tests.unit.test_render import WEB_URL, realistic_digest

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning:aiosmtpd.*")

FROM = "bounces@example.com"
DATE = datetime(2026, 11, 25, 6, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def prepared() -> PreparedMessage:
    return prepare_digest(
        realistic_digest(),
        brief_name="Daily Brief",
        web_url=WEB_URL,
        sender="Daily Brief <brief@example.com>",
        date=DATE,
    )


def message(prepared: PreparedMessage, n: int) -> tuple[str, bytes]:
    to = f"reader{n}@example.com"
    data = personalize(
        prepared,
        to=to,
        message_id=f"<brief.digest.2026-11-25.{n}@example.com>",
        unsubscribe_url=f"https://brief.test/unsubscribe/tok{n}",
        preferences_url=f"https://brief.test/preferences/tok{n}",
        unsubscribe_mailto="unsubscribe@example.com",
    )
    return to, data


@pytest.fixture(autouse=True, params=["plain", "pipelining"])
def pipelining(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> bool:
    """Every test twice: commands one at a time, and MAIL/RCPT/DATA in one write."""
    on = bool(request.param == "pipelining")
    monkeypatch.setattr(FaultSMTPServer, "pipelining_default", on)
    return on


@pytest.fixture
def server() -> Iterator[FaultSMTPServer]:
    with FaultSMTPServer() as smtp:
        yield smtp


def session_for(smtp: FaultSMTPServer | SMTPServer, **kw: object) -> SMTPSession:
    return SMTPSession(smtp.host, smtp.port, timeout=kw.pop("timeout", 5.0), **kw)  # type: ignore[arg-type]


def send_all(
    session: SMTPSession, prepared: PreparedMessage, numbers: range
) -> dict[int, SendReply]:
    replies = {}
    for n in numbers:
        to, data = message(prepared, n)
        replies[n] = session.send(FROM, to, data)
    return replies


def test_many_messages_over_one_connection_arrive_intact(
    server: FaultSMTPServer, prepared: PreparedMessage, pipelining: bool
) -> None:
    sent = {}
    with session_for(server) as session:
        for n in range(30):
            to, data = message(prepared, n)
            sent[to] = data
            reply = session.send(FROM, to, data)
            assert reply == SendReply(SendOutcome.SENT, 250, "2.0.0 Ok: queued")
        assert session._smtp is not None and session._smtp.has_extn("pipelining") == pipelining
    taken = server.wait_for(30)
    assert session.connects == 1 and server.connections == 1
    for got in taken:
        [to] = got.rcpt_tos
        assert got.mail_from == FROM
        assert got.raw == sent[to]  # byte for byte: dot-stuffing undone by the server
        assert got.message["To"] == to
        assert got.message_id is not None and got.message_id.startswith("<brief.digest")


def test_dot_stuffing_and_a_missing_final_crlf(server: FaultSMTPServer) -> None:
    data = b".starts with a dot\r\nSubject: dots\r\n\r\n.\r\n..two\r\n.\r\n. \r\nmiddle.dot\r\nend."
    with session_for(server) as session:
        assert session.send(FROM, "a@example.com", data).outcome is SendOutcome.SENT
        assert session.send(FROM, "b@example.com", data + b"\r\n").outcome is SendOutcome.SENT
    first, second = server.wait_for(2)
    assert first.raw == second.raw == data + b"\r\n"


def test_before_end_runs_once_per_message_before_the_server_has_it(
    server: FaultSMTPServer, prepared: PreparedMessage
) -> None:
    calls: list[int] = []

    def before_end(n: int) -> Callable[[], None]:
        def check() -> None:
            calls.append(n)
            time.sleep(0.1)  # time enough for the server to take it, had the "." left
            assert len(server.taken) == n  # the previous ones only

        return check

    with session_for(server) as session:
        for n in range(5):
            to, data = message(prepared, n)
            assert session.send(FROM, to, data, before_end=before_end(n)).outcome == "sent"
    assert calls == [0, 1, 2, 3, 4]
    assert len(server.wait_for(5)) == 5


def test_before_end_failing_leaves_nothing_delivered(
    server: FaultSMTPServer, prepared: PreparedMessage
) -> None:
    def fail() -> None:
        raise RuntimeError("database down")

    with session_for(server) as session:
        to, data = message(prepared, 1)
        with pytest.raises(RuntimeError, match="database down"):
            session.send(FROM, to, data, before_end=fail)
        to, data = message(prepared, 2)
        assert session.send(FROM, to, data).outcome is SendOutcome.SENT  # on a new connection
    [taken] = server.wait_for(1)
    assert taken.rcpt_tos == ("reader2@example.com",)
    time.sleep(0.2)
    assert len(server.taken) == 1
    assert session.connects == 2


def test_the_server_dropping_idle_connections_is_invisible(
    server: FaultSMTPServer, prepared: PreparedMessage
) -> None:
    """A hang-up at MAIL FROM on a reused connection: reconnect, and send it there."""
    server.faults.mail = every(4, HANG_UP)
    with session_for(server) as session:
        replies = send_all(session, prepared, range(12))
    assert {r.outcome for r in replies.values()} == {SendOutcome.SENT}
    assert len(server.wait_for(12)) == 12
    assert set(server.copies().values()) == {1}
    assert session.connects == server.connections > 1


def test_a_connection_closed_while_idle_is_reopened(prepared: PreparedMessage) -> None:
    with FaultSMTPServer(idle_timeout=0.2) as smtp, session_for(smtp) as session:
        assert session.send(FROM, *message(prepared, 1)).outcome is SendOutcome.SENT
        time.sleep(0.6)  # the server hangs up meanwhile
        assert session.send(FROM, *message(prepared, 2)).outcome is SendOutcome.SENT
        assert len(smtp.wait_for(2)) == 2
    assert session.connects == 2


def test_421_at_mail_from_reconnects(server: FaultSMTPServer, prepared: PreparedMessage) -> None:
    server.faults.mail = every(3, SHUTTING_DOWN)
    with session_for(server) as session:
        replies = send_all(session, prepared, range(10))
    assert {r.outcome for r in replies.values()} == {SendOutcome.SENT}
    assert set(server.copies().values()) == {1} and len(server.copies()) == 10
    assert session.connects > 1


def test_drop_or_421_mid_transaction_is_transient_and_the_next_message_goes(
    server: FaultSMTPServer, prepared: PreparedMessage
) -> None:
    def rcpt(address: str, attempt: int) -> str | None:
        return {
            "reader2@example.com": HANG_UP,
            "reader5@example.com": SHUTTING_DOWN,
        }.get(address)

    server.faults.rcpt = rcpt
    with session_for(server) as session:
        replies = send_all(session, prepared, range(8))
    assert replies[2] == SendReply(SendOutcome.TRANSIENT, None, replies[2].text)
    assert replies[5].outcome is SendOutcome.TRANSIENT and replies[5].code == 421
    assert all(r.outcome is SendOutcome.SENT for n, r in replies.items() if n not in (2, 5))
    assert session.connects == 3
    assert sorted(server.copies()) == sorted(f"reader{n}@example.com" for n in (0, 1, 3, 4, 6, 7))


def test_451_for_some_recipients(server: FaultSMTPServer, prepared: PreparedMessage) -> None:
    server.faults.rcpt = greylist(0.3)
    with session_for(server) as session:
        first = send_all(session, prepared, range(40))
        transient = [n for n, r in first.items() if r.outcome is SendOutcome.TRANSIENT]
        assert 0 < len(transient) < 40
        assert all(first[n].code == 451 and "Greylisted" in first[n].text for n in transient)
        assert all(r.outcome is SendOutcome.SENT for n, r in first.items() if n not in transient)
        # RSET after each refusal: the same connection carries the rest
        assert session.connects == 1
        again = {n: session.send(FROM, *message(prepared, n)) for n in transient}
    assert {r.outcome for r in again.values()} == {SendOutcome.SENT}
    copies = server.copies()
    assert len(copies) == 40 and set(copies.values()) == {1}


def test_550_for_some_recipients(server: FaultSMTPServer, prepared: PreparedMessage) -> None:
    server.faults.rcpt = refuse({"reader3@example.com", "reader4@example.com"})
    with session_for(server) as session:
        replies = send_all(session, prepared, range(8))
    for n in (3, 4):
        assert replies[n].outcome is SendOutcome.PERMANENT
        assert replies[n].code == 550
        assert replies[n].text == f"RCPT: {NO_SUCH_USER}"
    assert all(r.outcome is SendOutcome.SENT for n, r in replies.items() if n not in (3, 4))
    assert session.connects == 1
    assert len(server.copies()) == 6


@pytest.mark.parametrize(
    ("reply", "outcome"),
    [("554 5.7.1 Spam detected", SendOutcome.PERMANENT), ("452 4.3.1 Full", SendOutcome.TRANSIENT)],
)
def test_a_refusal_after_the_end_of_data(
    server: FaultSMTPServer, prepared: PreparedMessage, reply: str, outcome: SendOutcome
) -> None:
    server.faults.after_data = at({2}, reply)
    with session_for(server) as session:
        replies = send_all(session, prepared, range(4))
    assert replies[1].outcome is outcome and replies[1].code == int(reply[:3])
    assert [replies[n].outcome for n in (0, 2, 3)] == [SendOutcome.SENT] * 3
    assert session.connects == 1


def test_a_reply_to_the_end_of_data_later_than_the_timeout_is_unsure(
    server: FaultSMTPServer, prepared: PreparedMessage
) -> None:
    server.faults.data_reply_delay = lambda n: 2.0 if n == 2 else 0.0
    with session_for(server, timeout=0.5) as session:
        started = time.monotonic()
        replies = send_all(session, prepared, range(4))
        elapsed = time.monotonic() - started
    assert replies[1].outcome is SendOutcome.UNSURE and replies[1].code is None
    assert "end of DATA" in replies[1].text
    assert [replies[n].outcome for n in (0, 2, 3)] == [SendOutcome.SENT] * 3
    assert elapsed < 2.0  # it did not wait for the late reply
    taken = server.wait_for(4)
    assert "reader1@example.com" in taken[1].rcpt_tos  # the server did get it
    assert not taken[1].replied
    assert session.connects == 2


def test_a_drop_right_after_the_end_of_data_is_unsure(
    server: FaultSMTPServer, prepared: PreparedMessage
) -> None:
    server.faults.after_data = at({3}, HANG_UP)
    with session_for(server) as session:
        replies = send_all(session, prepared, range(5))
    assert replies[2].outcome is SendOutcome.UNSURE and replies[2].code is None
    assert all(r.outcome is SendOutcome.SENT for n, r in replies.items() if n != 2)
    assert server.copies()["reader2@example.com"] == 1
    assert session.connects == 2


def test_a_timeout_before_the_end_of_data_is_transient(
    server: FaultSMTPServer, prepared: PreparedMessage
) -> None:
    server.faults.reply_delay = 1.0  # a slow relay: every reply late
    with session_for(server, timeout=0.3) as session:
        to, data = message(prepared, 1)
        reply = session.send(FROM, to, data)
    assert reply.outcome is SendOutcome.TRANSIENT and reply.code is None
    time.sleep(1.5)
    assert server.taken == []


def test_a_slow_relay_within_the_timeout_is_fine(
    server: FaultSMTPServer, prepared: PreparedMessage
) -> None:
    server.faults.reply_delay = 0.05
    with session_for(server, timeout=2.0) as session:
        replies = send_all(session, prepared, range(3))
    assert {r.outcome for r in replies.values()} == {SendOutcome.SENT}


def test_nothing_listening_is_transient_until_it_comes_back(prepared: PreparedMessage) -> None:
    port = free_port()
    with SMTPSession("127.0.0.1", port, timeout=2.0) as session:
        reply = session.send(FROM, *message(prepared, 1))
        assert reply.outcome is SendOutcome.TRANSIENT and reply.code is None
        assert "connect" in reply.text
        with FaultSMTPServer(port=port) as smtp:
            assert session.send(FROM, *message(prepared, 1)).outcome is SendOutcome.SENT
            assert smtp.wait_for(1)[0].rcpt_tos == ("reader1@example.com",)


def test_a_server_that_never_greets_is_transient(prepared: PreparedMessage) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        with SMTPSession("127.0.0.1", port, timeout=0.3) as session:
            reply = session.send(FROM, *message(prepared, 1))
    assert reply.outcome is SendOutcome.TRANSIENT and reply.code is None


def test_a_greeting_of_421_is_transient(prepared: PreparedMessage) -> None:
    """A raw server: greets with 421 and hangs up."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]

        def serve() -> None:
            conn, _ = listener.accept()
            with conn:
                conn.sendall(b"421 4.3.2 Too busy\r\n")

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        with SMTPSession("127.0.0.1", port, timeout=2.0) as session:
            reply = session.send(FROM, *message(prepared, 1))
        thread.join(5)
    assert reply.outcome is SendOutcome.TRANSIENT
    assert "421" in reply.text


def test_the_relay_refusing_our_sender_raises(
    server: FaultSMTPServer, prepared: PreparedMessage
) -> None:
    server.faults.mail = lambda n: "553 5.7.1 Sender address rejected: not owned by user"
    with session_for(server) as session, pytest.raises(RelayError, match="553"):
        session.send(FROM, *message(prepared, 1))


def test_login_and_a_wrong_password() -> None:
    data = b"Subject: hi\r\n\r\nhello\r\n"
    with SMTPServer(credentials=("brief", "s3cret")) as smtp:
        with session_for(smtp, username="brief", password="s3cret") as session:
            assert session.send(FROM, "a@example.com", data).outcome is SendOutcome.SENT
        wrong = session_for(smtp, username="brief", password="wrong")
        with wrong as session, pytest.raises(RelayError, match="535") as raised:
            session.send(FROM, "b@example.com", data)
        assert isinstance(raised.value, MailTransientError)  # the relay's fault: retry later
        [received] = smtp.wait_for(1)
    assert received.rcpt_tos == ("a@example.com",)


def test_bad_envelope_addresses(server: FaultSMTPServer) -> None:
    data = b"Subject: hi\r\n\r\nhello\r\n"
    with session_for(server) as session:
        with pytest.raises(InputError):
            session.send("bounces@example.com>\r\nRCPT TO:<x@evil.test", "a@example.com", data)
        reply = session.send(FROM, "a@example.com>\r\nRCPT TO:<x@evil.test", data)
        assert reply.outcome is SendOutcome.PERMANENT and reply.code is None
        assert session.send(FROM, "a@example.com", data).outcome is SendOutcome.SENT
    [taken] = server.wait_for(1)
    assert taken.rcpt_tos == ("a@example.com",)


def test_close_is_quiet_and_can_be_repeated(server: FaultSMTPServer) -> None:
    session = session_for(server)
    session.close()  # never connected
    with session:
        assert session.send(FROM, "a@example.com", b"\r\nhi\r\n").outcome is SendOutcome.SENT
    session.close()
    assert session.connects == 1


def test_close_after_the_server_went_away(prepared: PreparedMessage) -> None:
    with FaultSMTPServer() as smtp:
        session = session_for(smtp)
        assert session.send(FROM, *message(prepared, 1)).outcome is SendOutcome.SENT
    started = time.monotonic()
    session.close()
    assert time.monotonic() - started < 1.0


def test_outcomes_are_strings() -> None:
    assert [str(o) for o in SendOutcome] == ["sent", "transient", "permanent", "unsure"]
    assert SendOutcome("unsure") is SendOutcome.UNSURE

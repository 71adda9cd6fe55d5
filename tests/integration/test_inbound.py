"""Mail to `brief inbound`, through a real SMTP conversation: subscribing and leaving by
email, and bounces and complaints sent to the VERP and bounces@ addresses."""

from __future__ import annotations

import smtplib
from collections.abc import Iterator
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import Engine

from brief import store
from brief.db import session_scope
from brief.inbound import InboundHandler, parse_request
from brief.mail.verp import Verp
from brief.ratelimit import MemoryRateLimiter
from tests.factories import NOW, RecordingQueue
from tests.integration.test_bounces import DATA, RECIPIENTS, send_samples_edition
from tests.smtpserver import free_port

OWN = "brief@brief.test"
# The samples in tests/data/bounces/ were signed with this secret for this domain.
VERP = Verp(domain="brief.example.com", secret="test-secret")
BOUNCES = "bounces@brief.example.com"


def message(sender: str, subject: str, body: str = "", **headers: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, OWN, subject
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content(body or "\n")
    return msg


@pytest.mark.parametrize(
    ("msg", "expected"),
    [
        (message("Ana <ana@example.org>", "Subscribe"), ("subscribe", "ana@example.org")),
        (message("ana@example.org", "unsubscribe"), ("unsubscribe", "ana@example.org")),
        (
            message("ana@example.org", "", "  STOP please\nthanks"),
            ("unsubscribe", "ana@example.org"),
        ),
        (message("ana@example.org", "Re: hello", "subscribe"), ("subscribe", "ana@example.org")),
        (message("ana@example.org", "Hello there"), None),
        (message("ana@example.org", "unsubscribe", Auto_Submitted="auto-replied"), None),
        (message("not an address", "subscribe"), None),
    ],
)
def test_parse_request(msg: EmailMessage, expected: tuple[str, str] | None) -> None:
    request = parse_request(msg)
    assert (None if request is None else (request.command, request.address)) == expected


@pytest.fixture
def inbound(engine: Engine) -> Iterator[tuple[int, RecordingQueue]]:
    queue = RecordingQueue()
    handler = InboundHandler(OWN, engine, queue, MemoryRateLimiter(), VERP)
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, queue
    finally:
        controller.stop()


def send(port: int, msg: EmailMessage, to: str = OWN) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
        smtp.send_message(msg, to_addrs=[to])


def test_subscribe_by_email_starts_the_double_opt_in(
    inbound: tuple[int, RecordingQueue], engine: Engine
) -> None:
    port, queue = inbound
    send(port, message("Ana <Ana@Example.org>", "subscribe"))
    with session_scope(engine) as session:
        sub = store.find_subscriber(session, "ana@example.org")
        assert sub is not None and sub.status == "pending"
        assert queue.sent == [("brief.send_confirmation", (sub.id,))]


def test_unsubscribe_by_email_ends_the_subscription(
    inbound: tuple[int, RecordingQueue], engine: Engine
) -> None:
    port, queue = inbound
    with session_scope(engine) as session:
        store.add_subscriber(session, "ben@example.org", now=NOW)
    send(port, message("ben@example.org", "unsubscribe"))
    with session_scope(engine) as session:
        sub = store.find_subscriber(session, "ben@example.org")
        assert sub is not None and sub.status == "unsubscribed"
    assert queue.sent == []


def test_mail_for_other_addresses_is_refused(inbound: tuple[int, RecordingQueue]) -> None:
    port, _ = inbound
    with pytest.raises(smtplib.SMTPRecipientsRefused):
        send(port, message("eve@example.org", "subscribe"), to="someone@brief.test")


@pytest.mark.parametrize(
    "to", ["someone@brief.test", "bounces@brief.test", "bounces+1.abc@elsewhere.example"]
)
def test_other_bounce_addresses_are_refused(inbound: tuple[int, RecordingQueue], to: str) -> None:
    port, _ = inbound
    with pytest.raises(smtplib.SMTPRecipientsRefused):
        send(port, message("eve@example.org", "hello"), to=to)


# -- bounces and complaints ------------------------------------------------------------


def report(port: int, name: str, *to: str, raw: bytes | None = None) -> dict[str, object]:
    """Deliver a sample report as a mail server does: null sender, CRLF on the wire."""
    data = (DATA / name).read_bytes() if raw is None else raw
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
        return dict(smtp.sendmail("", list(to), data.replace(b"\n", b"\r\n")))


Event = tuple[str, str | None, int | None]


def status(engine: Engine, delivery_id: int) -> tuple[str, str | None, list[Event]]:
    with session_scope(engine) as session:
        sub = store.find_subscriber(session, RECIPIENTS[delivery_id])
        assert sub is not None
        events = [(e.kind, e.code, e.delivery_id) for e in store.mail_events_for(session, sub.id)]
        return sub.status, sub.status_reason, events


def test_a_dsn_to_the_verp_address_bounces_its_subscriber(
    inbound: tuple[int, RecordingQueue], engine: Engine
) -> None:
    port, queue = inbound
    send_samples_edition(engine)
    report(port, "gmail-no-such-user.eml", VERP.address(42))
    report(port, "outlook-recipient-not-found.eml", VERP.address(43))
    report(port, "postfix-delayed-mailbox-full.eml", VERP.address(45))
    assert status(engine, 42) == ("bounced", "hard-bounce", [("hard", "5.1.1", 42)])
    assert status(engine, 43) == ("bounced", "hard-bounce", [("hard", "5.1.10", 43)])
    assert status(engine, 45) == ("active", None, [("soft", "4.2.2", 45)])
    # The same DSN again (a relay that did not hear our 250) changes nothing.
    report(port, "gmail-no-such-user.eml", VERP.address(42))
    assert len(status(engine, 42)[2]) == 1
    assert queue.sent == []  # nobody is answered


def test_a_complaint_to_bounces_unsubscribes_its_reader(
    inbound: tuple[int, RecordingQueue], engine: Engine
) -> None:
    port, _ = inbound
    send_samples_edition(engine)
    report(port, "yahoo-complaint.eml", BOUNCES)
    report(port, "aol-complaint-redacted.eml", BOUNCES)
    assert status(engine, 49) == ("unsubscribed", "complaint", [("complaint", "abuse", 49)])
    assert status(engine, 50) == ("unsubscribed", "complaint", [("complaint", "abuse", 50)])


def test_auto_replies_and_forged_bounces_change_nothing(
    inbound: tuple[int, RecordingQueue], engine: Engine
) -> None:
    port, queue = inbound
    send_samples_edition(engine)
    report(port, "vacation-auto-reply.eml", VERP.address(51))
    report(port, "delivered-notification.eml", VERP.address(42))
    report(port, "dmarc-auth-failure.eml", BOUNCES)
    # A DSN naming delivery 44 by a wrongly signed address, for another recipient.
    forged = (
        (DATA / "postfix-user-unknown.eml")
        .read_bytes()
        .replace(b"Old.Reader@example.net", b"victim@example.net")
        .replace(b"5t4rn5kfom", b"aaaaaaaaaa")
    )
    report(port, "", "bounces+44.aaaaaaaaaa@brief.example.com", raw=forged)
    # Mail to the list address that is an auto-reply is not a command either.
    send(port, message("ana@example.org", "unsubscribe", Auto_Submitted="auto-replied"))
    with session_scope(engine) as session:
        assert {s.status for s in store.list_subscribers(session)} == {"active"}
        assert store.mail_events_by_kind(session) == {}
    assert queue.sent == []


def test_one_message_to_both_kinds_of_mailbox(
    inbound: tuple[int, RecordingQueue], engine: Engine
) -> None:
    port, _ = inbound
    send_samples_edition(engine)
    assert report(port, "postfix-user-unknown.eml", VERP.address(44), OWN) == {}
    assert status(engine, 44)[:2] == ("bounced", "hard-bounce")

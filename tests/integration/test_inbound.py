"""Subscribing and leaving by email, through a real SMTP conversation with `brief inbound`."""

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
from brief.ratelimit import MemoryRateLimiter
from tests.factories import NOW, RecordingQueue
from tests.smtpserver import free_port

OWN = "brief@brief.test"


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
    handler = InboundHandler(OWN, engine, queue, MemoryRateLimiter())
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

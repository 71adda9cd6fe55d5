"""A real SMTP server on loopback for tests (aiosmtpd in a background thread).

Usage::

    with SMTPServer(reject={"gone@example.com": 550, "busy@example.com": 451}) as smtp:
        SMTPSender("127.0.0.1", smtp.port).send(message)
        [received] = smtp.wait_for(1)
        received.message["Subject"], received.mail_from, received.rcpt_tos

or as a fixture: ``smtp_server`` below (import it into a conftest or test module).
"""

from __future__ import annotations

import email
import socket
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from tests.wait import wait_until

HOST = "127.0.0.1"

_REPLIES = {
    550: "550 5.1.1 No such user here",
    451: "451 4.3.0 Try again later",
    452: "452 4.2.2 Mailbox full",
    554: "554 5.7.1 Rejected",
}


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    message: EmailMessage
    raw: bytes


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


class _Handler:
    def __init__(self, server: SMTPServer) -> None:
        self.server = server

    async def handle_RCPT(
        self, smtp: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        code = self.server.reject.get(address.lower())
        if code is not None:
            return _REPLIES.get(code, f"{code} Refused by test server")
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, smtp: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        parsed = email.message_from_bytes(raw, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        received = Received(str(envelope.mail_from), tuple(envelope.rcpt_tos), parsed, raw)
        with self.server.lock:
            self.server.received.append(received)
        return "250 Message accepted for delivery"


class SMTPServer:
    """Collects every message it accepts; ``reject`` maps addresses to 4xx/5xx codes.

    ``credentials=(user, password)`` turns on AUTH (over plain text: loopback only).
    """

    def __init__(
        self,
        *,
        reject: Mapping[str, int] | None = None,
        credentials: tuple[str, str] | None = None,
    ) -> None:
        self.reject = {k.lower(): v for k, v in (reject or {}).items()}
        self.credentials = credentials
        self.port = free_port()
        self.host = HOST
        self.lock = threading.Lock()
        self.received: list[Received] = []
        kwargs: dict[str, Any] = {}
        if credentials:
            # AUTH without TLS is fine on loopback, and what the tests exercise.
            kwargs = {"authenticator": self._authenticate, "auth_require_tls": False}
        self._controller = Controller(_Handler(self), hostname=HOST, port=self.port, **kwargs)

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        ok = (
            isinstance(data, LoginPassword)
            and self.credentials is not None
            and (data.login.decode(), data.password.decode()) == self.credentials
        )
        # handled=False: let aiosmtpd send the 235 / 535 reply itself.
        return AuthResult(success=ok, handled=False)

    @property
    def messages(self) -> list[Received]:
        """A snapshot of what has been received so far."""
        with self.lock:
            return list(self.received)

    def wait_for(self, count: int, timeout: float = 5.0) -> list[Received]:
        """Block until ``count`` messages have arrived; fail the test on timeout."""

        def arrived() -> list[Received] | None:
            got = self.messages
            return got if len(got) >= count else None

        return wait_until(
            arrived, timeout, interval=0.02, what=lambda: f"{count} messages, got {self.messages}"
        )

    def start(self) -> SMTPServer:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    def __enter__(self) -> SMTPServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@pytest.fixture
def smtp_server() -> Iterator[SMTPServer]:
    with SMTPServer() as server:
        yield server

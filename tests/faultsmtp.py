"""SMTP servers that misbehave on purpose, for mail fault tests (aiosmtpd on loopback).

What a server does is a ``Faults`` value: at MAIL FROM, at RCPT TO and after the
end of DATA it may answer something else than 250, or hang up. A message counts as
*taken* once its DATA has ended, whatever the server answers afterwards (or not:
a server that hangs up or stalls after the final "." still has the message, as a
real relay would). ``copies()`` counts taken messages per recipient, to check that
every address got exactly one::

    faults = Faults(mail=every(50, HANG_UP), rcpt=greylist(0.2), after_data=at({7}, HANG_UP))
    with FaultSMTPServer(faults) as smtp:
        ...send to smtp.host, smtp.port...
        smtp.wait_for(100)
        assert set(smtp.copies().values()) == {1}

Replies starting with 421 close the connection after they are sent, as servers do.
"""

from __future__ import annotations

import asyncio
import email
import re
import threading
import zlib
from collections import Counter
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from tests.smtpserver import HOST, free_port
from tests.wait import wait_until

HANG_UP = "<hang up>"  # a "reply" that closes the connection without a word
GREYLISTED = "451 4.7.1 Greylisted, please try again later"
NO_SUCH_USER = "550 5.1.1 No such user here"
SHUTTING_DOWN = "421 4.3.2 Service shutting down, closing transmission channel"

Reply = str | None  # None: the normal answer


def _none(*args: Any) -> Reply:
    return None


def _no_delay(n: int) -> float:
    return 0.0


@dataclass
class Faults:
    """How a FaultSMTPServer misbehaves; every field defaults to behaving well.

    - ``mail(n)``: the reply to the n-th MAIL FROM the server gets (1-based, over
      all connections), instead of 250;
    - ``rcpt(address, attempt)``: the reply to RCPT TO, ``attempt`` counting the
      times this address was given (1 the first time);
    - ``after_data(n)``: the reply to the end of DATA of the n-th message taken;
    - ``data_reply_delay(n)``: seconds to wait before that reply (the message is
      taken before the wait);
    - ``reply_delay``: seconds to wait before every reply to MAIL, RCPT and DATA
      (a slow relay).
    """

    mail: Callable[[int], Reply] = _none
    rcpt: Callable[[str, int], Reply] = _none
    after_data: Callable[[int], Reply] = _none
    data_reply_delay: Callable[[int], float] = _no_delay
    reply_delay: float = 0.0


def every(n: int, reply: str) -> Callable[[int], Reply]:
    """``reply`` to the n-th, 2n-th, ... command."""
    return lambda count: reply if count % n == 0 else None


def at(counts: Collection[int], reply: str) -> Callable[[int], Reply]:
    """``reply`` to the commands of these numbers (1-based)."""
    return lambda count: reply if count in counts else None


def chosen(address: str, share: float) -> bool:
    """Whether ``address`` is in a stable ``share`` of all addresses (by CRC-32)."""
    return zlib.crc32(address.lower().encode()) % 10_000 < share * 10_000


def greylist(share: float, reply: str = GREYLISTED) -> Callable[[str, int], Reply]:
    """``reply`` (a 4xx) the first time each address of ``share`` of them is given."""
    return lambda address, attempt: reply if attempt == 1 and chosen(address, share) else None


def refuse(addresses: Collection[str], reply: str = NO_SUCH_USER) -> Callable[[str, int], Reply]:
    """``reply`` (a 5xx, say) every time one of ``addresses`` is given."""
    refused = {a.lower() for a in addresses}
    return lambda address, attempt: reply if address.lower() in refused else None


@dataclass(frozen=True)
class Taken:
    """A message whose DATA ended: the server has it, whatever it answered."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    raw: bytes
    connection: int  # which connection brought it (1-based)
    replied: bool  # False when the server hung up or the client left before the reply

    @property
    def message(self) -> EmailMessage:
        parsed = email.message_from_bytes(self.raw, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed

    @property
    def message_id(self) -> str | None:
        head = self.raw.partition(b"\r\n\r\n")[0]
        found = re.search(rb"^Message-ID:\s*(\S+)", head, re.IGNORECASE | re.MULTILINE)
        return found.group(1).decode() if found else None


@dataclass
class _State:
    lock: threading.Lock = field(default_factory=threading.Lock)
    mails: int = 0
    connections: int = 0
    attempts: Counter[str] = field(default_factory=Counter)
    taken: list[Taken] = field(default_factory=list)


class _CountingSMTP(SMTP):  # type: ignore[misc]
    def __init__(self, handler: _Handler, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self.number = 0

    def connection_made(self, transport: Any) -> None:
        with self.event_handler.state.lock:
            self.event_handler.state.connections += 1
            self.number = self.event_handler.state.connections
        super().connection_made(transport)


class _Controller(Controller):  # type: ignore[misc]
    def factory(self) -> SMTP:
        return _CountingSMTP(self.handler, **self.SMTP_kwargs)


async def _answer(smtp: SMTP, reply: str) -> str:
    """Send a 421 and close, or close without a word; else return the reply to send."""
    if reply == HANG_UP or reply.startswith("421"):
        if reply != HANG_UP:
            await smtp.push(reply)
        smtp.transport.close()
        await asyncio.sleep(3600)  # cancelled as soon as the connection is lost
    return reply


class _Handler:
    def __init__(self, faults: Faults, pipelining: bool) -> None:
        self.faults = faults
        self.pipelining = pipelining
        self.state = _State()

    async def handle_EHLO(
        self, smtp: SMTP, session: Session, envelope: Envelope, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname
        if self.pipelining:  # aiosmtpd reads commands one by one, so it copes; it just never says
            return [*responses[:-1], "250-PIPELINING", responses[-1]]
        return responses

    async def _slow(self) -> None:
        if self.faults.reply_delay:
            await asyncio.sleep(self.faults.reply_delay)

    async def handle_MAIL(
        self, smtp: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        with self.state.lock:
            self.state.mails += 1
            count = self.state.mails
        await self._slow()
        reply = self.faults.mail(count)
        if reply is not None:
            return await _answer(smtp, reply)
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 2.1.0 Ok"

    async def handle_RCPT(
        self, smtp: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        with self.state.lock:
            self.state.attempts[address.lower()] += 1
            attempt = self.state.attempts[address.lower()]
        await self._slow()
        reply = self.faults.rcpt(address, attempt)
        if reply is not None:
            return await _answer(smtp, reply)
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 Ok"

    async def handle_DATA(self, smtp: SMTP, session: Session, envelope: Envelope) -> str:
        with self.state.lock:
            count = len(self.state.taken) + 1
            index = len(self.state.taken)
            taken = Taken(
                str(envelope.mail_from),
                tuple(envelope.rcpt_tos),
                envelope.original_content or b"",
                connection=smtp.number,
                replied=False,
            )
            self.state.taken.append(taken)
        await self._slow()
        delay = self.faults.data_reply_delay(count)
        if delay:
            await asyncio.sleep(delay)
        reply = self.faults.after_data(count)
        if reply is not None:
            reply = await _answer(smtp, reply)
        if smtp.transport is None or smtp.transport.is_closing():
            return reply or "250 2.0.0 Ok: queued"  # nobody listens any more
        with self.state.lock:
            self.state.taken[index] = Taken(
                taken.mail_from, taken.rcpt_tos, taken.raw, taken.connection, replied=True
            )
        return reply or "250 2.0.0 Ok: queued"


class FaultSMTPServer:
    """An aiosmtpd server on loopback that misbehaves as ``faults`` says."""

    # Whether EHLO offers PIPELINING (RFC 2920) when the caller does not say.
    pipelining_default = False

    def __init__(
        self,
        faults: Faults | None = None,
        *,
        port: int | None = None,
        idle_timeout: float = 300.0,
        pipelining: bool | None = None,
    ) -> None:
        """``idle_timeout``: seconds without a command before the server hangs up."""
        self.faults = faults or Faults()
        self.host = HOST
        self.port = port or free_port()
        if pipelining is None:
            pipelining = self.pipelining_default
        self._handler = _Handler(self.faults, pipelining)
        self._controller = _Controller(
            self._handler, hostname=HOST, port=self.port, timeout=idle_timeout
        )

    @property
    def taken(self) -> list[Taken]:
        """A snapshot of the messages taken so far, in order."""
        with self._handler.state.lock:
            return list(self._handler.state.taken)

    @property
    def connections(self) -> int:
        with self._handler.state.lock:
            return self._handler.state.connections

    def copies(self) -> Counter[str]:
        """How many messages each recipient address got (lower-cased)."""
        return Counter(rcpt.lower() for taken in self.taken for rcpt in taken.rcpt_tos)

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Taken]:
        """Block until ``count`` messages were taken; fail the test on timeout."""

        def arrived() -> list[Taken] | None:
            got = self.taken
            return got if len(got) >= count else None

        return wait_until(
            arrived, timeout, interval=0.02, what=lambda: f"{count} messages, got {len(self.taken)}"
        )

    def start(self) -> FaultSMTPServer:
        self._controller.start()
        with self._handler.state.lock:  # the controller's own check that it is up
            self._handler.state.connections = 0
        return self

    def stop(self) -> None:
        self._controller.stop()

    def __enter__(self) -> FaultSMTPServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@pytest.fixture
def fault_smtp() -> Iterator[FaultSMTPServer]:
    """A well-behaved FaultSMTPServer; set ``fault_smtp.faults`` fields to break it."""
    with FaultSMTPServer() as server:
        yield server

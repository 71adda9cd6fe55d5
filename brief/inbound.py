"""Subscribing and leaving by email: a built-in SMTP listener (`brief inbound`).

Mail to the brief's own address with "subscribe" (subject or first line)
starts the same double opt-in as the web form; "unsubscribe" ends the
subscription, so the `mailto:` of List-Unsubscribe works. Nothing is sent to
an unconfirmed address except the one confirmation message.
"""

from __future__ import annotations

import email
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.utils import parseaddr
from typing import Any, Literal

from sqlalchemy import Engine

from brief import store
from brief.db import session_scope
from brief.errors import InputError, NotFoundError
from brief.ratelimit import RateLimiter
from brief.subscriptions import normalize_email, start_subscription
from brief.taskqueue import TaskQueue

log = logging.getLogger(__name__)

Command = Literal["subscribe", "unsubscribe"]
MAX_MESSAGE_BYTES = 256 * 1024
_WORDS: dict[str, Command] = {
    "subscribe": "subscribe",
    "join": "subscribe",
    "start": "subscribe",
    "unsubscribe": "unsubscribe",
    "stop": "unsubscribe",
    "leave": "unsubscribe",
    "remove": "unsubscribe",
}


@dataclass(frozen=True)
class Request:
    command: Command
    address: str


def _first_word(text: str) -> str:
    for line in text.splitlines():
        words = line.strip().lower().split()
        if words:
            return words[0].strip(".,:;!")
    return ""


def _is_automatic(message: EmailMessage) -> bool:
    """Auto-replies, bounces and list traffic: never answer them (mail loops)."""
    auto = str(message.get("Auto-Submitted", "no")).lower()
    precedence = str(message.get("Precedence", "")).lower()
    return auto != "no" or precedence in ("bulk", "list", "junk") or not message.get("From")


def parse_request(message: EmailMessage, envelope_from: str = "") -> Request | None:
    """What a message asks for, and for which address; None when it asks nothing we do."""
    if _is_automatic(message):
        return None
    subject = str(message.get("Subject", ""))
    command = _WORDS.get(_first_word(subject))
    if command is None:
        body = message.get_body(("plain",))
        text = body.get_content() if isinstance(body, EmailMessage) else ""
        command = _WORDS.get(_first_word(text if isinstance(text, str) else ""))
    if command is None:
        return None
    raw = parseaddr(str(message.get("From", "")))[1] or envelope_from
    try:
        return Request(command, normalize_email(raw))
    except InputError:
        return None


def act(
    request: Request,
    *,
    engine: Engine,
    queue: TaskQueue,
    limiter: RateLimiter,
    now: datetime | None = None,
) -> str:
    """Carry out a request; returns a word for the log."""
    now = now or datetime.now(UTC)
    with session_scope(engine) as session:
        if request.command == "unsubscribe":
            try:
                store.unsubscribe(session, request.address, now)
            except NotFoundError:
                return "unknown"
            return "unsubscribed"
        queued = start_subscription(session, request.address, queue=queue, limiter=limiter, now=now)
    return "confirmation queued" if queued else "nothing to do"


class InboundHandler:
    """aiosmtpd handler: accepts mail for our address only, acts on it, never bounces."""

    def __init__(
        self, own_address: str, engine: Engine, queue: TaskQueue, limiter: RateLimiter
    ) -> None:
        self.own = own_address.lower()
        self.engine, self.queue, self.limiter = engine, queue, limiter

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if address.lower() != self.own:
            return "550 5.1.1 No such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = envelope.original_content or envelope.content or b""
        parsed = email.message_from_bytes(raw, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        request = parse_request(parsed, str(envelope.mail_from or ""))
        if request is not None:
            try:
                result = act(request, engine=self.engine, queue=self.queue, limiter=self.limiter)
                log.info("inbound %s from %s: %s", request.command, request.address, result)
            except Exception:  # keep listening; the sender is not told about our trouble
                log.exception("inbound %s from %s failed", request.command, request.address)
                return "451 4.3.0 Try again later"
        return "250 OK"

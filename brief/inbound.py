"""Mail to the brief: a built-in SMTP listener (`brief inbound`).

Two kinds of mailbox:
- the brief's own address: "subscribe" (subject or first line) starts the same double
  opt-in as the web form; "unsubscribe" ends the subscription, so the `mailto:` of
  List-Unsubscribe works. Nothing is sent to an unconfirmed address except the one
  confirmation message.
- the bounce mailboxes, ``bounces+<delivery>.<sig>@`` (the VERP envelope sender of
  every edition) and ``bounces@`` the bounce domain (for feedback loops): delivery
  status notifications and complaint reports, applied by `brief.bounces`.

Auto-replies (vacation messages and the like) are never answered nor counted.
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
from brief.bounces import apply_report
from brief.db import session_scope
from brief.errors import InputError, NotFoundError
from brief.mail.bounces import parse_report
from brief.mail.verp import Verp
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
    """aiosmtpd handler: accepts mail for our address and the bounce mailboxes only,
    acts on it, never bounces (a reply to a bounce could loop)."""

    def __init__(
        self,
        own_address: str,
        engine: Engine,
        queue: TaskQueue,
        limiter: RateLimiter,
        verp: Verp,
    ) -> None:
        self.own = own_address.lower()
        self.engine, self.queue, self.limiter, self.verp = engine, queue, limiter, verp

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if address.lower() != self.own and not self.verp.is_bounce_mailbox(address):
            return "550 5.1.1 No such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = envelope.original_content or envelope.content or b""
        to_bounces = [a for a in envelope.rcpt_tos if self.verp.is_bounce_mailbox(a)]
        if to_bounces and not self._report(raw, to_bounces):
            return "451 4.3.0 Try again later"
        if any(a.lower() == self.own for a in envelope.rcpt_tos) and not self._command(
            raw, str(envelope.mail_from or "")
        ):
            return "451 4.3.0 Try again later"
        return "250 OK"

    def _report(self, raw: bytes, envelope_to: list[str]) -> bool:
        """Apply a bounce or complaint; False when the database failed (the sender
        retries). A message we cannot read is logged and dropped: retrying would not help."""
        where = ", ".join(envelope_to)
        try:
            report = parse_report(raw, verp=self.verp, envelope_to=envelope_to)
        except Exception:
            log.exception("inbound mail to %s: unreadable, dropped", where)
            return True
        if report is None:
            log.info("inbound mail to %s: not a bounce or complaint, ignored", where)
            return True
        try:
            with session_scope(self.engine) as session:
                applied = apply_report(session, report, datetime.now(UTC))
        except Exception:
            log.exception("inbound %s to %s failed", report.kind, where)
            return False
        log.info(
            "inbound %s %s for delivery %s: %s",
            report.kind,
            report.status or "",
            applied.delivery_id,
            applied.outcome,
        )
        return True

    def _command(self, raw: bytes, envelope_from: str) -> bool:
        parsed = email.message_from_bytes(raw, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        request = parse_request(parsed, envelope_from)
        if request is None:
            return True
        try:
            result = act(request, engine=self.engine, queue=self.queue, limiter=self.limiter)
        except Exception:  # keep listening; the sender is not told about our trouble
            log.exception("inbound %s from %s failed", request.command, request.address)
            return False
        log.info("inbound %s from %s: %s", request.command, request.address, result)
        return True

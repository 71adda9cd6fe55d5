"""Bounces and complaints: a raw report -> BounceReport, or None when it is neither. Pure.

Read:
- delivery status notifications (RFC 3464, ``multipart/report; report-type=
  delivery-status``), as Gmail, Outlook/Exchange, Postfix and others send them: the
  per-recipient Action and Status decide hard (failed, 5.x.x about the address) or soft
  (delayed, 4.x.x, or a 5.x.x that says nothing against the address: a full mailbox, a
  policy block);
- complaint reports (ARF, RFC 5965, ``report-type=feedback-report``) with Feedback-Type
  abuse or fraud: what Yahoo, AOL and other feedback loops send when a reader clicks
  "spam" (other types, such as DMARC auth-failure reports, are not complaints);
- Exim's plain-text bounce, which names the failed address in X-Failed-Recipients.

Anything else (a vacation reply, a success notification, a person writing back) is None.

Which delivery a report is about: the signed VERP address it was sent to (or the one in
the report's Original-Mail-From / X-Postfix-Sender, or the original's Return-Path) is
proof; our Message-ID (``<brief.digest.<date>.<delivery id>@domain>``) in the returned
headers is only a claim, marked ``verified=False``, for the caller to check against the
delivery's recipient.
"""

from __future__ import annotations

import email
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from email import policy
from email.message import Message
from email.parser import HeaderParser
from email.utils import getaddresses

from brief.mail.verp import Verp
from brief.types import MailEventKind

COMPLAINT_TYPES = frozenset({"abuse", "fraud"})  # a reader marked the message as spam/phishing
MAX_DIAGNOSTIC = 1000

_STATUS = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d.])")
_SMTP_CODE = re.compile(r"(?<!\d)([245]\d\d)(?:[ -]|$)")
_OUR_MESSAGE_ID = re.compile(r"<?brief\.digest\.\d{4}-\d{2}-\d{2}\.(\d{1,18})@", re.IGNORECASE)
_HEADERS = HeaderParser(policy=policy.default)


@dataclass(frozen=True)
class BounceReport:
    kind: MailEventKind  # HARD, SOFT or COMPLAINT
    recipient: str | None  # the address that failed or complained, when the report says
    status: str | None  # "5.1.1" for a bounce; the Feedback-Type ("abuse") for a complaint
    diagnostic: str  # the remote server's words, for the operator
    delivery_id: int | None  # which delivery it is about, when it can be told
    verified: bool = False  # delivery_id comes from a signed VERP address, not a Message-ID


# -- classifying status codes (RFC 3463) --------------------------------------


def _is_about_the_address(subject: int, detail: int) -> bool:
    """X.1.x (address), X.2.0/X.2.1 (mailbox gone or disabled), X.4.4 (no route to the
    domain), and the unspecific X.0.x / X.5.x many servers give for "user unknown"."""
    return subject in (0, 1, 5) or (subject, detail) in ((2, 0), (2, 1), (4, 4))


def classify_status(status: str) -> MailEventKind | None:
    """HARD, SOFT, or None for a success (2.x.x) or something that is not a status."""
    match = _STATUS.search(status)
    if match is None:
        return None
    klass, subject, detail = (int(g) for g in match.groups())
    if klass == 2:
        return None
    if klass == 5 and _is_about_the_address(subject, detail):
        return MailEventKind.HARD
    return MailEventKind.SOFT


def find_status(text: str) -> str | None:
    """The first enhanced status code ("5.1.1") in a reply or diagnostic."""
    match = _STATUS.search(text)
    return match.group(0) if match else None


def classify_refusal(code: int, text: str) -> MailEventKind:
    """A refusal at send time: HARD when it is about the address, else SOFT.

    The enhanced status decides when the reply has one (``550 5.7.1`` is a policy block,
    not a dead mailbox); without one, 550/551/553 are the "no such user" replies.
    """
    status = find_status(text)
    kind = classify_status(status) if status else None
    if kind is not None:
        return kind
    return MailEventKind.HARD if code in (550, 551, 553) else MailEventKind.SOFT


# -- reading reports ------------------------------------------------------------


@dataclass
class _Found:
    kind: MailEventKind
    recipient: str | None
    status: str | None
    diagnostic: str
    senders: list[str] = field(default_factory=list)  # envelope senders named in the report
    message_ids: list[str] = field(default_factory=list)  # of the original message


def _text(value: object) -> str:
    return " ".join(str(value or "").split())


def _address(value: object) -> str | None:
    """``rfc822; Ana@Example.org`` or ``<ana@example.org>`` -> ``Ana@Example.org``."""
    text = _text(value).rpartition(";")[2].strip().strip("<>").strip()
    return text if "@" in text else None


def _blocks(part: Message) -> list[Message]:
    """The field blocks of a message/delivery-status or message/feedback-report part."""
    payload = part.get_payload()
    if isinstance(payload, list) and all(isinstance(p, Message) for p in payload):
        return list(payload)
    raw = part.get_payload(decode=True)
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(payload)
    chunks = re.split(r"\r?\n\s*\r?\n", text.strip())
    return [_HEADERS.parsestr(chunk) for chunk in chunks if chunk.strip()]


def _original_headers(part: Message) -> Message | None:
    """The returned message (message/rfc822) or its headers (text/rfc822-headers)."""
    content_type = part.get_content_type()
    if content_type == "message/rfc822":
        payload = part.get_payload()
        if isinstance(payload, list) and payload and isinstance(payload[0], Message):
            return payload[0]
    if content_type.endswith("rfc822-headers"):
        raw = part.get_payload(decode=True)
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else ""
        return _HEADERS.parsestr(text)
    return None


def _ids(values: Iterable[object]) -> list[str]:
    return [m for v in values for m in re.findall(r"<[^<>\s]+>", str(v or ""))]


def _dsn(blocks: list[Message]) -> _Found | None:
    """The worst per-recipient outcome: the first hard failure, else the first soft one."""
    found: list[_Found] = []
    senders: list[str] = []
    message_ids: list[str] = []
    for block in blocks:
        if block.get("Action") is None and block.get("Final-Recipient") is None:
            # per-message fields: Postfix names the envelope sender, Gmail the Message-ID
            senders += filter(None, [_address(block.get("X-Postfix-Sender"))])
            message_ids += _ids([block.get("X-Original-Message-ID")])
            continue
        action = _text(block.get("Action")).lower()
        diagnostic = _text(block.get("Diagnostic-Code")).partition(";")[2].strip()
        status = find_status(_text(block.get("Status"))) or find_status(diagnostic)
        kind = classify_status(status) if status else None
        if action == "delayed":
            kind = MailEventKind.SOFT
        elif action == "failed" and kind is None:
            kind = MailEventKind.HARD
        elif action not in ("failed", ""):
            continue  # delivered, relayed, expanded: not a failure
        if kind is None:
            continue
        recipient = _address(block.get("Original-Recipient")) or _address(
            block.get("Final-Recipient")
        )
        found.append(_Found(kind, recipient, status, diagnostic or status or action))
    if not found:
        return None
    worst = next((f for f in found if f.kind == MailEventKind.HARD), found[0])
    worst.senders, worst.message_ids = senders, message_ids
    return worst


def _arf(blocks: list[Message]) -> _Found | None:
    fields = blocks[0] if blocks else Message()
    feedback_type = _text(fields.get("Feedback-Type")).lower()
    if feedback_type not in COMPLAINT_TYPES:
        return None
    recipient = _address(fields.get("Original-Rcpt-To")) or _address(
        fields.get("Removal-Recipient")
    )
    agent = _text(fields.get("User-Agent"))
    return _Found(
        MailEventKind.COMPLAINT,
        recipient,
        feedback_type,
        f"{feedback_type} report by {agent}" if agent else f"{feedback_type} report",
        senders=list(filter(None, [_address(fields.get("Original-Mail-From"))])),
    )


def _report(message: Message) -> _Found | None:
    payload = message.get_payload()
    parts = [p for p in payload if isinstance(p, Message)] if isinstance(payload, list) else []
    found: _Found | None = None
    original: Message | None = None
    for part in parts:
        content_type = part.get_content_type()
        if content_type == "message/delivery-status" and found is None:
            found = _dsn(_blocks(part))
        elif content_type == "message/feedback-report" and found is None:
            found = _arf(_blocks(part))
        elif original is None:
            original = _original_headers(part)
    if found is None:
        return None
    if original is not None:
        found.senders += filter(None, [_address(original.get("Return-Path"))])
        found.message_ids += _ids([original.get("Message-ID")])
        if found.recipient is None:
            to = getaddresses([str(original.get("To", ""))])
            found.recipient = next((a for _, a in to if "@" in a), None)
    return found


def _exim(message: Message) -> _Found | None:
    """Exim's default bounce: plain text, the failed addresses in X-Failed-Recipients."""
    failed = [a for _, a in getaddresses([str(message.get("X-Failed-Recipients", ""))]) if a]
    if not failed:
        return None
    body = message.get_payload(decode=True)
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else ""
    status = find_status(text)
    kind = (classify_status(status) if status else None) or MailEventKind.HARD
    lines = [line.strip() for line in text.splitlines()]
    after = lines.index(failed[0]) + 1 if failed[0] in lines else len(lines)
    diagnostic = next((line for line in lines[after:] if line), "permanent error")
    return _Found(kind, failed[0], status, diagnostic)


def parse_report(
    raw: bytes, *, verp: Verp | None = None, envelope_to: Sequence[str] = ()
) -> BounceReport | None:
    """A bounce or complaint in ``raw``, and which delivery it is about; None otherwise.

    ``envelope_to``: the addresses the report was delivered to (RCPT TO), where a VERP
    address says which delivery bounced; ``verp`` checks their signatures.
    """
    message = email.message_from_bytes(raw, policy=policy.default)
    if message.get_content_type() == "multipart/report":
        found = _report(message)
    elif message.get_content_maintype() == "multipart":
        found = None
    else:
        found = _exim(message)
    if found is None:
        return None
    found.message_ids += _ids([message.get("In-Reply-To"), message.get("References")])
    delivery_id, verified = _delivery(found, verp, envelope_to)
    return BounceReport(
        kind=found.kind,
        recipient=found.recipient,
        status=found.status,
        diagnostic=found.diagnostic[:MAX_DIAGNOSTIC],
        delivery_id=delivery_id,
        verified=verified,
    )


def _delivery(
    found: _Found, verp: Verp | None, envelope_to: Sequence[str]
) -> tuple[int | None, bool]:
    if verp is not None:
        for address in (*envelope_to, *found.senders):
            delivery_id = verp.delivery_id(address)
            if delivery_id is not None:
                return delivery_id, True
    for message_id in found.message_ids:
        match = _OUR_MESSAGE_ID.match(message_id)
        if match:
            return int(match.group(1)), False
    return None, False

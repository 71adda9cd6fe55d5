"""Where messages go: an SMTP server, or .eml files in an outbox folder."""

from __future__ import annotations

import hashlib
import os
import re
import smtplib
import ssl as ssl_module
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from email.policy import compat32
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Protocol

from brief.errors import MailError, MailPermanentError, MailTransientError
from brief.mail.smtp_session import SendOutcome, SendReply


class EmailSender(Protocol):
    def send(self, message: EmailMessage) -> str:
        """Deliver ``message``; return where it went ("smtp://host:port", a file path).

        Raises MailTransientError (try again later) or MailPermanentError.
        """
        ...


def _recipient(message: EmailMessage) -> str:
    return str(message.get("To", "")) or "unknown recipient"


def _reply_text(reply: bytes | str) -> str:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
    return " ".join(text.split())


def _smtp_error(recipient: str, code: int, reply: bytes | str, what: str) -> MailError:
    """5xx is final for this recipient; anything else (4xx, odd codes) is worth a retry."""
    message = f"SMTP {code} {_reply_text(reply)} ({what})"
    if 500 <= code < 600:
        return MailPermanentError(recipient, message)
    return MailTransientError(recipient, message)


class SMTPSender:
    """Send each message over its own SMTP connection (simple, and no stale sockets)."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        username: str | None = None,
        password: str | None = None,
        ssl: bool = False,
        starttls: bool = False,
        timeout: float = 30.0,
    ) -> None:
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.ssl = ssl
        self.starttls = starttls
        self.timeout = timeout

    def __repr__(self) -> str:  # no password in logs
        return f"SMTPSender({self.description!r})"

    @property
    def description(self) -> str:
        return f"{'smtps' if self.ssl else 'smtp'}://{self.host}:{self.port}"

    def _connect(self) -> smtplib.SMTP:
        if self.ssl:
            context = ssl_module.create_default_context()
            return smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
        return smtplib.SMTP(self.host, self.port, timeout=self.timeout)

    def _deliver(self, message: EmailMessage) -> dict[str, tuple[int, bytes]]:
        with self._connect() as smtp:
            if self.starttls:
                smtp.starttls(context=ssl_module.create_default_context())
            if self.username:
                smtp.login(self.username, self.password or "")
            return smtp.send_message(message)

    def send(self, message: EmailMessage) -> str:
        rcpt = _recipient(message)
        try:
            refused = self._deliver(message)
        except smtplib.SMTPRecipientsRefused as exc:
            # Every recipient refused: the worst reply decides.
            code, reply = max(exc.recipients.values(), key=lambda r: r[0])
            raise _smtp_error(rcpt, code, reply, "recipient refused") from exc
        except smtplib.SMTPAuthenticationError as exc:
            # Our credentials, not the recipient, are wrong: never fail the delivery
            # for good; retries succeed once the operator fixes BRIEF_SMTP_URL.
            raise MailTransientError(
                rcpt, f"SMTP {exc.smtp_code} authentication failed at {self.description}"
            ) from exc
        except smtplib.SMTPSenderRefused as exc:
            raise _smtp_error(rcpt, exc.smtp_code, exc.smtp_error, "sender refused") from exc
        except smtplib.SMTPResponseException as exc:  # DATA, HELO, STARTTLS replies
            raise _smtp_error(rcpt, exc.smtp_code, exc.smtp_error, "server reply") from exc
        except (smtplib.SMTPException, OSError) as exc:  # disconnects, refused, timeouts, TLS
            raise MailTransientError(
                rcpt, f"cannot deliver via {self.description}: {exc or type(exc).__name__}"
            ) from exc
        if refused:  # only some recipients refused: report the first
            code, reply = next(iter(refused.values()))
            raise _smtp_error(rcpt, code, reply, "recipient refused")
        return self.description


_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._@-]+")


def _file_key(message_id: str, data: bytes) -> str:
    """A file-name-safe key: the Message-ID, or a hash of the bytes when there is none."""
    key = _UNSAFE_NAME.sub("_", message_id.strip().strip("<>")).strip("._")[:150]
    return key or hashlib.sha256(data).hexdigest()[:32]


def _stamp(date: str | None) -> str:
    try:
        when = parsedate_to_datetime(str(date))
    except (TypeError, ValueError):
        when = datetime.now(UTC)
    if when.tzinfo is not None:
        when = when.astimezone(UTC)
    return when.strftime("%Y%m%dT%H%M%SZ")


class OutboxSender:
    """Write each message to ``directory`` as ``<UTC date>--<Message-ID>.eml``.

    Writes are atomic (temp file + os.replace), and a message whose Message-ID is
    already in the outbox replaces that file instead of adding a second one.
    ``session()`` is the batch sender's side of it: a "connection" that writes the
    bytes it is given, as an SMTP session sends them.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    def __repr__(self) -> str:
        return f"OutboxSender({str(self.directory)!r})"

    def write(self, data: bytes, *, message_id: str, date: str | None) -> Path:
        """Write one message's bytes; raises OSError."""
        self.directory.mkdir(parents=True, exist_ok=True)
        key = _file_key(message_id, data)
        existing = sorted(self.directory.glob(f"*--{key}.eml"))
        path = existing[0] if existing else self.directory / f"{_stamp(date)}--{key}.eml"
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".tmp-", suffix=".eml")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return path

    def send(self, message: EmailMessage) -> str:
        data = message.as_bytes()
        try:
            path = self.write(
                data, message_id=str(message.get("Message-ID", "")), date=message.get("Date")
            )
        except OSError as exc:  # full disk, permissions: may be fixed by the operator
            raise MailTransientError(
                _recipient(message), f"cannot write to outbox {self.directory}: {exc}"
            ) from exc
        return str(path)

    @contextmanager
    def session(self) -> Iterator[OutboxSession]:
        yield OutboxSession(self)


class OutboxSession:
    """The outbox as the batch sender's mail session: every message "accepted" on write."""

    def __init__(self, outbox: OutboxSender) -> None:
        self.outbox = outbox

    def send(
        self,
        envelope_from: str,
        recipient: str,
        data: bytes,
        *,
        before_end: Callable[[], None] | None = None,
    ) -> SendReply:
        headers = BytesHeaderParser(policy=compat32).parsebytes(data)
        if before_end is not None:
            before_end()  # as over SMTP: recorded `sending` before the message is final
        try:
            path = self.outbox.write(
                data, message_id=str(headers.get("Message-ID", "")), date=headers.get("Date")
            )
        except OSError as exc:
            text = f"cannot write to outbox {self.outbox.directory}: {exc}"
            return SendReply(SendOutcome.TRANSIENT, None, text)
        return SendReply(SendOutcome.SENT, 250, str(path))

"""Where messages go: an SMTP server, or .eml files in an outbox folder."""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from email.policy import compat32
from email.utils import parseaddr, parsedate_to_datetime
from functools import partial
from pathlib import Path
from typing import Protocol

from brief.errors import InputError, MailPermanentError, MailTransientError
from brief.mail.smtp_session import RelayError, SendOutcome, SendReply, SMTPSession


class EmailSender(Protocol):
    def send(self, message: EmailMessage) -> str:
        """Deliver ``message``; return where it went ("smtp://host:port", a file path).

        Raises MailTransientError (try again later) or MailPermanentError.
        """
        ...


def _recipient(message: EmailMessage) -> str:
    return str(message.get("To", "")) or "unknown recipient"


class SMTPSender:
    """One message at a time (confirmations, test sends), each over a session of its own.

    The same SMTP client as the batched mailer (SMTPSession), so both classify the
    server's replies alike; here an outcome becomes the EmailSender's answer: the
    place it went, MailTransientError (try again later) or MailPermanentError.
    """

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
        self._session = partial(
            SMTPSession,
            host,
            port,
            username=username,
            password=password,
            ssl=ssl,
            starttls=starttls,
            timeout=timeout,
        )
        self.description = f"{'smtps' if ssl else 'smtp'}://{host}:{port}"

    def __repr__(self) -> str:  # no password in logs
        return f"SMTPSender({self.description!r})"

    def send(self, message: EmailMessage) -> str:
        rcpt = _recipient(message)
        sender = parseaddr(str(message.get("Sender") or message.get("From", "")))[1]
        with self._session() as session:
            try:
                data = message.as_bytes(policy=message.policy.clone(linesep="\r\n"))
                reply = session.send(sender, parseaddr(rcpt)[1], data)
            except RelayError as exc:  # our credentials or TLS, not the recipient
                raise MailTransientError(rcpt, exc.message) from exc
            except InputError as exc:  # a From that cannot be an envelope sender
                raise MailPermanentError(rcpt, str(exc)) from exc
        match reply.outcome:
            case SendOutcome.SENT:
                return self.description
            case SendOutcome.PERMANENT:
                raise MailPermanentError(rcpt, _described(reply))
            case SendOutcome.UNSURE:  # may have arrived: a retry may make a second copy
                raise MailTransientError(rcpt, f"unsure it arrived: {reply.text}")
            case _:
                if reply.code is None:  # no server, or it went away
                    raise MailTransientError(
                        rcpt, f"cannot deliver via {self.description}: {reply.text}"
                    )
                raise MailTransientError(rcpt, _described(reply))


def _described(reply: SendReply) -> str:
    """ "SMTP 550 5.1.1 No such user (RCPT)", as the senders have always said it."""
    stage, _, said = reply.text.partition(": ")
    return f"SMTP {said} ({stage})" if said else f"SMTP {reply.code} {reply.text}"


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

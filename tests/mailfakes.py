"""A fake edge for the batch sender: mail sessions that keep what they are given.

mail = RecordingMail(replies={"gone@x.test": REFUSED})
send_edition(engine, edition_id, mail.mailer(), lambda: NOW)
mail.recipients(), mail.messages[0]["Subject"]
"""

from __future__ import annotations

import email
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from email import policy
from email.message import EmailMessage

from brief.batch import Mailer
from brief.mail.smtp_session import SendOutcome, SendReply
from brief.types import SiteContext
from tests.factories import CTX

REFUSED = SendReply(SendOutcome.PERMANENT, 550, "RCPT: 550 5.1.1 No such user here", "RCPT")
# This recipient only:
FULL = SendReply(SendOutcome.TRANSIENT, 452, "RCPT: 452 4.2.2 Mailbox full", "RCPT")
GREYLISTED = SendReply(SendOutcome.TRANSIENT, 451, "RCPT: 451 4.7.1 Greylisted", "RCPT")
# The whole domain:
BUSY = SendReply(SendOutcome.TRANSIENT, 451, "MAIL: 451 4.3.0 Try again later", "MAIL")
# No reply to the end of DATA: the message may well have arrived (it is kept here).
NO_REPLY = SendReply(SendOutcome.UNSURE, None, "no reply to the end of DATA: TimeoutError")


class RecordingMail:
    """Sessions that keep each message they accept; ``replies`` chooses other outcomes.

    A transient or permanent reply comes before DATA (nothing kept, no ``before_end``);
    an unsure one after the end of DATA (kept: it did arrive). ``broken`` addresses
    make the session raise after ``before_end``, as a bug in a sender would.
    """

    def __init__(
        self, replies: dict[str, SendReply] | None = None, broken: set[str] | None = None
    ) -> None:
        self.replies = replies or {}
        self.broken = broken or set()
        self.lock = threading.Lock()
        self.received: list[tuple[str, str, bytes]] = []  # envelope from, recipient, data
        self.sessions = 0

    def mailer(self, ctx: SiteContext = CTX, **kwargs: object) -> Mailer:
        return Mailer(open_session=self.open, ctx=ctx, where="memory", **kwargs)  # type: ignore[arg-type]

    @contextmanager
    def open(self) -> Iterator[_Session]:
        with self.lock:
            self.sessions += 1
        yield _Session(self)

    @property
    def messages(self) -> list[EmailMessage]:
        with self.lock:
            raw = [data for _, _, data in self.received]
        return [_parse(data) for data in raw]

    def recipients(self) -> list[str]:
        with self.lock:
            return [rcpt for _, rcpt, _ in self.received]


class _Session:
    def __init__(self, mail: RecordingMail) -> None:
        self.mail = mail

    def send(
        self,
        envelope_from: str,
        recipient: str,
        data: bytes,
        *,
        before_end: Callable[[], None] | None = None,
    ) -> SendReply:
        reply = self.mail.replies.get(recipient)
        if reply is not None and reply.outcome != SendOutcome.UNSURE:
            return reply
        if before_end is not None:
            before_end()
        if recipient in self.mail.broken:
            raise RuntimeError("bug in the sender")
        with self.mail.lock:
            self.mail.received.append((envelope_from, recipient, data))
        return reply or SendReply(SendOutcome.SENT, 250, "OK")


def _parse(data: bytes) -> EmailMessage:
    parsed = email.message_from_bytes(data, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed

"""SMTPSender against a real SMTP server on loopback; OutboxSender on a real folder."""

from __future__ import annotations

import email
from datetime import UTC, date, datetime
from email import policy
from email.message import EmailMessage
from pathlib import Path

import pytest

from brief.errors import MailPermanentError, MailTransientError
from brief.mail.message import build_message, make_message_id
from brief.mail.render import render_digest
from brief.mail.senders import EmailSender, OutboxSender, SMTPSender
from brief.mail.smtp_session import SendOutcome, SendReply
from brief.types import Digest, Recipient, RenderedEmail, Section, Source, Story
from tests.smtpserver import SMTPServer, free_port

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning:aiosmtpd.*")

DATE = datetime(2026, 11, 25, 6, 0, tzinfo=UTC)


def message(to: str = "reader@example.com", key: str = "2026-11-25.42") -> EmailMessage:
    rendered = RenderedEmail(
        subject="Daily Brief — Wednesday 25 November 2026: Élections",
        text="Élections\nhttps://example.com/a\n",
        html='<p><a href="https://example.com/a">Élections</a></p>',
    )
    return build_message(
        rendered,
        sender="Daily Brief <brief@example.com>",
        to=to,
        message_id=make_message_id("digest", key, "example.com"),
        date=DATE,
        unsubscribe_url="https://brief.test/unsubscribe/tok",
        unsubscribe_mailto="unsubscribe@example.com",
    )


def test_senders_satisfy_the_protocol(tmp_path: Path) -> None:
    senders: list[EmailSender] = [SMTPSender("127.0.0.1", 25), OutboxSender(tmp_path)]
    assert len(senders) == 2


def test_smtp_delivers_a_parseable_message() -> None:
    with SMTPServer() as smtp:
        where = SMTPSender("127.0.0.1", smtp.port, timeout=5).send(message())
        [received] = smtp.wait_for(1)
    assert where == f"smtp://127.0.0.1:{smtp.port}"
    assert received.mail_from == "brief@example.com"
    assert received.rcpt_tos == ("reader@example.com",)
    msg = received.message
    assert msg["Subject"] == "Daily Brief — Wednesday 25 November 2026: Élections"
    assert msg["Message-ID"] == "<brief.digest.2026-11-25.42@example.com>"
    assert msg["List-Unsubscribe"] == (
        "<https://brief.test/unsubscribe/tok>, <mailto:unsubscribe@example.com?subject=unsubscribe>"
    )
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    html = msg.get_body(("html",))
    assert html is not None
    assert '<a href="https://example.com/a">Élections</a>' in html.get_content()


def test_smtp_delivers_a_rendered_digest() -> None:
    source = Source("France 24", "https://www.france24.com/en/a", "t")
    story = Story("Pentagon says no plans to leave Iraq", "Summary.", "world", (source,), DATE)
    digest = Digest(date(2026, 11, 25), DATE, DATE, (Section("world", (story,)),))
    recipient = Recipient("reader@example.com", "https://brief.test/unsubscribe/tok")
    rendered = render_digest(
        digest, brief_name="Daily Brief", web_url="https://brief.test/e/1", recipient=recipient
    )
    msg = build_message(
        rendered,
        sender="brief@example.com",
        to=recipient.email,
        message_id=make_message_id("digest", "1.1", "brief.test"),
        date=DATE,
        unsubscribe_url=recipient.unsubscribe_url,
        unsubscribe_mailto=None,
    )
    with SMTPServer() as smtp:
        SMTPSender("127.0.0.1", smtp.port, timeout=5).send(msg)
        [received] = smtp.wait_for(1)
    text = received.message.get_body(("plain",))
    html = received.message.get_body(("html",))
    assert text is not None and html is not None
    assert "https://www.france24.com/en/a" in text.get_content().splitlines()
    assert 'href="https://www.france24.com/en/a"' in html.get_content()


def test_smtp_login() -> None:
    with SMTPServer(credentials=("brief", "s3cret")) as smtp:
        sender = SMTPSender("127.0.0.1", smtp.port, username="brief", password="s3cret")
        sender.send(message())
        assert len(smtp.wait_for(1)) == 1


def test_smtp_bad_login_is_transient_and_hides_the_password() -> None:
    with SMTPServer(credentials=("brief", "s3cret")) as smtp:
        sender = SMTPSender("127.0.0.1", smtp.port, username="brief", password="wrong", timeout=5)
        with pytest.raises(MailTransientError, match=r"SMTP 535 .* \(hello or login\)") as info:
            sender.send(message())
        assert smtp.messages == []
    assert "wrong" not in str(info.value) and "wrong" not in repr(sender)


def test_smtp_550_is_permanent() -> None:
    with SMTPServer(reject={"gone@example.com": 550}) as smtp:
        with pytest.raises(MailPermanentError, match="SMTP 550") as info:
            SMTPSender("127.0.0.1", smtp.port, timeout=5).send(message(to="gone@example.com"))
        assert smtp.messages == []
    assert info.value.recipient == "gone@example.com"


def test_smtp_451_is_transient() -> None:
    with SMTPServer(reject={"busy@example.com": 451}) as smtp:
        with pytest.raises(MailTransientError, match="SMTP 451") as info:
            SMTPSender("127.0.0.1", smtp.port, timeout=5).send(message(to="busy@example.com"))
        # The server still works for everyone else.
        SMTPSender("127.0.0.1", smtp.port, timeout=5).send(message())
        assert [r.rcpt_tos for r in smtp.wait_for(1)] == [("reader@example.com",)]
    assert info.value.recipient == "busy@example.com"


def test_nothing_listening_is_transient() -> None:
    sender = SMTPSender("127.0.0.1", free_port(), timeout=2)
    with pytest.raises(MailTransientError, match=r"cannot deliver via smtp://127\.0\.0\.1:"):
        sender.send(message())


def read_eml(path: Path) -> EmailMessage:
    parsed = email.message_from_bytes(path.read_bytes(), policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def test_outbox_writes_a_parseable_eml(tmp_path: Path) -> None:
    outbox = tmp_path / "outbox"
    where = OutboxSender(outbox).send(message())
    path = Path(where)
    assert path.parent == outbox
    assert path.name == "20261125T060000Z--brief.digest.2026-11-25.42@example.com.eml"
    msg = read_eml(path)
    assert msg["To"] == "reader@example.com"
    assert msg["Subject"] == "Daily Brief — Wednesday 25 November 2026: Élections"
    assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]


def test_outbox_is_idempotent_per_message_id(tmp_path: Path) -> None:
    outbox = OutboxSender(tmp_path)
    first = outbox.send(message())
    resent = message()
    resent.replace_header("Date", "Thu, 26 Nov 2026 09:00:00 +0000")  # a later retry
    second = outbox.send(resent)
    other = outbox.send(message(key="2026-11-25.43"))
    assert first == second != other
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [Path(first).name, Path(other).name]
    )  # no leftover temp files either
    assert read_eml(Path(first))["Date"] == "Thu, 26 Nov 2026 09:00:00 +0000"


def test_outbox_without_message_id_uses_a_content_hash(tmp_path: Path) -> None:
    msg = message()
    del msg["Message-ID"]
    assert OutboxSender(tmp_path).send(msg) == OutboxSender(tmp_path).send(msg)
    assert len(list(tmp_path.iterdir())) == 1


def test_outbox_that_cannot_be_written_is_transient(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(MailTransientError, match="cannot write to outbox"):
        OutboxSender(blocker / "outbox").send(message())


def test_the_outbox_session_writes_what_the_batch_sender_gives_it(tmp_path: Path) -> None:
    data = message().as_bytes(policy=message().policy.clone(linesep="\r\n"))
    calls: list[str] = []
    with OutboxSender(tmp_path).session() as session:
        reply = session.send(
            "brief@example.com", "reader@example.com", data, before_end=lambda: calls.append("x")
        )
        again = session.send("brief@example.com", "reader@example.com", data)
    assert reply == SendReply(SendOutcome.SENT, 250, reply.text) and calls == ["x"]
    path = Path(reply.text)
    # The same file name as OutboxSender.send gives the same message; once per Message-ID.
    assert path.name == "20261125T060000Z--brief.digest.2026-11-25.42@example.com.eml"
    assert again.text == reply.text and path.read_bytes() == data
    assert read_eml(path)["To"] == "reader@example.com"


def test_an_outbox_session_that_cannot_write_is_transient(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with OutboxSender(blocker / "outbox").session() as session:
        reply = session.send("brief@example.com", "reader@example.com", message().as_bytes())
    assert reply.outcome == SendOutcome.TRANSIENT and "cannot write to outbox" in reply.text

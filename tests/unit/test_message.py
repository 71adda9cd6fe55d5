"""build_message / make_message_id: MIME structure, list headers, header injection."""

from __future__ import annotations

import email
from datetime import UTC, datetime, timedelta, timezone
from email import policy
from email.message import EmailMessage
from typing import Any

import pytest

from brief.errors import InputError
from brief.mail.message import build_message, make_message_id
from brief.types import RenderedEmail

DATE = datetime(2026, 11, 25, 6, 0, tzinfo=UTC)
RENDERED = RenderedEmail(
    subject="Daily Brief — Wednesday 25 November 2026: Élections à Paris",
    text="Wednesday 25 November 2026\n\nÉlections à Paris\nhttps://example.com/a\n",
    html='<p style="color: red;">Élections à <a href="https://example.com/a">Paris</a></p>',
)
UNSUB_URL = "https://brief.test/unsubscribe/tok123"


def build(rendered: RenderedEmail = RENDERED, **kw: Any) -> EmailMessage:
    args: dict[str, Any] = {
        "sender": "Daily Brief <brief@example.com>",
        "to": "reader@example.com",
        "message_id": "<brief.digest.2026-11-25.42@example.com>",
        "date": DATE,
        "unsubscribe_url": UNSUB_URL,
        "unsubscribe_mailto": "unsubscribe@example.com",
    }
    args.update(kw)
    return build_message(rendered, **args)


def wire(msg: EmailMessage) -> bytes:
    """The bytes smtplib.send_message puts on the wire (the message's policy, CRLF)."""
    return msg.as_bytes(policy=msg.policy.clone(linesep="\r\n"))


def reparse(msg: EmailMessage) -> EmailMessage:
    """What a receiving server sees: the message serialized for SMTP and parsed back."""
    parsed = email.message_from_bytes(wire(msg), policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def test_multipart_alternative_text_then_html() -> None:
    msg = reparse(build())
    assert msg.get_content_type() == "multipart/alternative"
    plain, html = msg.iter_parts()
    assert plain.get_content_type() == "text/plain"
    assert html.get_content_type() == "text/html"
    assert plain.get_content_charset() == html.get_content_charset() == "utf-8"
    assert plain.get_content().replace("\r\n", "\n") == RENDERED.text
    assert html.get_content().rstrip("\r\n") == RENDERED.html
    assert msg.get_body(("html",)) is not None


def test_transport_headers() -> None:
    msg = reparse(build())
    assert msg["From"] == "Daily Brief <brief@example.com>"
    assert msg["To"] == "reader@example.com"
    assert msg["Subject"] == RENDERED.subject
    assert msg["Date"] == "Wed, 25 Nov 2026 06:00:00 +0000"
    assert msg["Message-ID"] == "<brief.digest.2026-11-25.42@example.com>"
    assert msg["MIME-Version"] == "1.0"
    assert msg["Precedence"] == "bulk"
    assert [p.get("MIME-Version") for p in msg.iter_parts()] == [None, None]


def test_date_keeps_its_offset() -> None:
    paris = timezone(timedelta(hours=1))
    msg = build(date=datetime(2026, 11, 25, 7, 0, tzinfo=paris))
    assert msg["Date"] == "Wed, 25 Nov 2026 07:00:00 +0100"


def test_naive_date_is_refused() -> None:
    with pytest.raises(InputError, match="timezone"):
        build(date=datetime(2026, 11, 25, 6, 0))


def test_list_unsubscribe_with_url_and_mailto() -> None:
    msg = reparse(build())
    assert msg["List-Unsubscribe"] == (
        "<https://brief.test/unsubscribe/tok123>, "
        "<mailto:unsubscribe@example.com?subject=unsubscribe>"
    )
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_list_unsubscribe_url_only() -> None:
    msg = reparse(build(unsubscribe_mailto=None))
    assert msg["List-Unsubscribe"] == "<https://brief.test/unsubscribe/tok123>"
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_list_unsubscribe_mailto_only_has_no_one_click() -> None:
    msg = reparse(build(unsubscribe_url=None, unsubscribe_mailto="mailto:u@example.com?subject=x"))
    assert msg["List-Unsubscribe"] == "<mailto:u@example.com?subject=x>"
    assert "List-Unsubscribe-Post" not in msg


def test_no_list_headers_without_unsubscribe() -> None:
    msg = reparse(build(unsubscribe_url=None, unsubscribe_mailto=None))
    for name in ("List-Unsubscribe", "List-Unsubscribe-Post", "Precedence"):
        assert name not in msg


def test_long_unsubscribe_url_is_not_encoded() -> None:
    url = "https://brief.test/unsubscribe/" + "A1b2C3d4" * 30
    raw = wire(build(unsubscribe_url=url))
    header = raw.split(b"\r\n\r\n", 1)[0]
    assert f"List-Unsubscribe: <{url}>,\r\n <mailto:".encode() in header
    assert b"=?utf-8?q?=3Chttps" not in header  # the stdlib's RFC 2047 refolding
    assert reparse(build(unsubscribe_url=url))["List-Unsubscribe"].startswith(f"<{url}>")


def test_unsubscribe_url_must_be_http() -> None:
    with pytest.raises(InputError, match="http"):
        build(unsubscribe_url="ftp://brief.test/u")


def test_lines_stay_short_on_the_wire() -> None:
    long_html = "<p>" + "mot " * 500 + "</p>"
    raw = wire(build(RenderedEmail("s", "t\n", long_html)))
    body = raw.split(b"\r\n\r\n", 1)[1]
    assert max(len(line) for line in body.split(b"\r\n")) <= 78


@pytest.mark.parametrize(
    "field",
    ["to", "sender", "subject", "message_id", "unsubscribe_url", "unsubscribe_mailto"],
)
@pytest.mark.parametrize("newline", ["\r\n", "\n", "\r"])
def test_header_injection_is_refused(field: str, newline: str) -> None:
    evil = f"x@example.com{newline}Bcc: victim@example.com"
    kw: dict[str, Any] = {}
    rendered = RENDERED
    if field == "subject":
        rendered = RenderedEmail(f"Hello{newline}Bcc: victim@example.com", "t", "h")
    elif field == "unsubscribe_url":
        kw[field] = f"https://brief.test/u{newline}Bcc: victim@example.com"
    else:
        kw[field] = evil
    with pytest.raises(InputError, match="single line"):
        build(rendered, **kw)


@pytest.mark.parametrize("address", ["not an address", "", "Daily Brief"])
def test_addresses_must_be_addresses(address: str) -> None:
    with pytest.raises(InputError, match="not an email address"):
        build(to=address)


def test_message_id_is_deterministic() -> None:
    first = make_message_id("digest", "2026-11-25.42", "example.com")
    assert first == "<brief.digest.2026-11-25.42@example.com>"
    assert make_message_id("digest", "2026-11-25.42", "example.com") == first
    assert make_message_id("digest", "2026-11-25.43", "example.com") != first


@pytest.mark.parametrize(
    ("kind", "key", "expected"),
    [
        ("confirm", "7", "<brief.confirm.7@example.com>"),
        ("digest", "2026-11-25/42 <x>", "<brief.digest.2026-11-25-42-x@example.com>"),
        ("digest", "a\r\nBcc: b", "<brief.digest.a-Bcc-b@example.com>"),
    ],
)
def test_message_id_is_sanitized(kind: str, key: str, expected: str) -> None:
    assert make_message_id(kind, key, "Example.COM") == expected


@pytest.mark.parametrize("domain", ["", "exa mple.com", "example.com>", "-example.com", "a\nb"])
def test_message_id_domain_is_checked(domain: str) -> None:
    with pytest.raises(InputError, match="domain"):
        make_message_id("digest", "1", domain)

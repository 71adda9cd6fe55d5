"""RenderedEmail -> a MIME message ready for any EmailSender. Pure."""

from __future__ import annotations

import re
from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from urllib.parse import urlsplit

from brief.errors import InputError
from brief.types import RenderedEmail

# Headers we set verbatim (set_raw) must never be re-encoded: the stdlib would turn
# a long List-Unsubscribe URL into RFC 2047 encoded-words that no client decodes.
POLICY = policy.default.clone(refold_source="none")

_ID_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_DOMAIN = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$")


def make_message_id(kind: str, key: str, domain: str) -> str:
    """A deterministic Message-ID, so a re-sent delivery carries the same one.

    ``make_message_id("digest", "2026-11-25.42", "example.com")``
    -> ``<brief.digest.2026-11-25.42@example.com>``.
    """
    if not _DOMAIN.match(domain):
        raise InputError(f"invalid Message-ID domain {domain!r}")
    left = ".".join(_ID_UNSAFE.sub("-", part).strip("-.") for part in ("brief", kind, key))
    return f"<{left}@{domain.lower()}>"


def single_line(value: str, what: str) -> str:
    """``value`` if it holds no CR/LF; shared with brief.mail.prepared."""
    if "\r" in value or "\n" in value:
        raise InputError(f"{what} must be a single line (CR/LF would inject headers): {value!r}")
    return value


def address(value: str, what: str) -> str:
    """``value`` if it is one line holding an address (``Name <a@b>`` or ``a@b``)."""
    single_line(value, what)
    if "@" not in parseaddr(value)[1]:
        raise InputError(f"{what} is not an email address: {value!r}")
    return value


def list_unsubscribe(url: str | None, mailto: str | None) -> tuple[str | None, bool]:
    """The List-Unsubscribe value and whether one-click POST (RFC 8058) applies.

    ``mailto`` is an address (``unsubscribe@example.com``) or a ``mailto:`` URI.
    """
    targets = []
    one_click = False
    if url:
        single_line(url, "unsubscribe URL")
        if urlsplit(url).scheme not in ("http", "https"):
            raise InputError(f"unsubscribe URL must be http(s): {url!r}")
        targets.append(f"<{url}>")
        one_click = True
    if mailto:
        single_line(mailto, "unsubscribe mailto")
        uri = mailto if mailto.startswith("mailto:") else f"mailto:{mailto}?subject=unsubscribe"
        targets.append(f"<{uri}>")
    # One target per line: folded by hand, so each long URL stays intact.
    return (",\n ".join(targets) or None), one_click


def build_message(
    rendered: RenderedEmail,
    *,
    sender: str,
    to: str,
    message_id: str,
    date: datetime,
    unsubscribe_url: str | None,
    unsubscribe_mailto: str | None,
) -> EmailMessage:
    """multipart/alternative (text/plain, then text/html) with list headers when given.

    A message with unsubscribe targets is a list mailing and also gets
    ``Precedence: bulk`` so vacation responders stay quiet.
    """
    if date.tzinfo is None:
        raise InputError("the Date of a message must be timezone-aware")
    msg = EmailMessage(policy=POLICY)
    msg["From"] = address(sender, "sender")
    msg["To"] = address(to, "recipient")
    msg["Subject"] = single_line(rendered.subject, "subject")
    msg["Date"] = format_datetime(date)
    msg["Message-ID"] = single_line(message_id, "Message-ID")
    unsubscribe, one_click = list_unsubscribe(unsubscribe_url, unsubscribe_mailto)
    if unsubscribe:
        msg.set_raw("List-Unsubscribe", unsubscribe)
        if one_click:
            msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        msg["Precedence"] = "bulk"
    # quoted-printable keeps both parts 7-bit with short lines whatever the text.
    msg.set_content(rendered.text, subtype="plain", charset="utf-8", cte="quoted-printable")
    msg.add_alternative(rendered.html, subtype="html", charset="utf-8", cte="quoted-printable")
    for part in msg.iter_parts():
        del part["MIME-Version"]  # add_alternative copies it into the part; once is enough
    return msg

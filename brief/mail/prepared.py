"""Render an edition variant once, personalize it per recipient in microseconds. Pure.

``render_digest`` (Jinja2 and CSS inlining) and ``EmailMessage.as_bytes`` cost
milliseconds, too much to pay per subscriber in a bulk send. ``prepare_digest``
renders one variant of an edition (the digest cut to one choice of sections) with
placeholders for the personal parts, and quoted-printable-encodes once every line
that holds none. ``personalize`` fills in one recipient's address, Message-ID and
links, encodes only the few lines that hold them, and joins bytes into the same
multipart/alternative message ``build_message`` makes (CRLF line ends, 7-bit,
lines of at most 76 characters). Dot-stuffing is the SMTP session's job.
"""

from __future__ import annotations

import binascii
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime

from brief.errors import InputError
from brief.mail.message import POLICY, address, list_unsubscribe, single_line
from brief.mail.render import one_line, render_digest
from brief.types import Digest, Recipient, RenderedEmail

CRLF = b"\r\n"
_SMTP = POLICY.clone(linesep="\r\n")

# The placeholders: valid links and an address, so render_digest takes them; plain
# ASCII without HTML specials, so Jinja's escaping and the CSS inliner leave them
# as they are; a random part, so no story can hold one.
_NONCE = secrets.token_hex(8)
_UNSUBSCRIBE = f"https://brief.invalid/p/unsubscribe-{_NONCE}"
_PREFERENCES = f"https://brief.invalid/p/preferences-{_NONCE}"
_EMAIL = f"r-{_NONCE}@brief.invalid"
# The text part wraps the address into a paragraph, so its line breaks depend on the
# address's length. Two more renderings, with an address shorter than any real one
# and one longer than a line, show which lines depend on it (see _text_segments).
_EMAIL_SHORT = "\ue000@\ue001"
_EMAIL_LONG = f"r-{_NONCE}-{'x' * 100}@brief.invalid"

# An address that needs no quoting or encoding in a header: written as it is.
_PLAIN_ADDRESS = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9.-]+")
_HEADER_WIDTH = 78  # beyond it, the policy folds the To header; we let it
# A link fit for a header and for render_digest: http(s) with a host, printable ASCII.
_LINK = re.compile(r"(?i:https?)://(?![/?#])[!-~]+")


@dataclass(frozen=True, slots=True)
class _Wrapped:
    """A paragraph of the text part that holds the address: wrapped per recipient."""

    words: str


# A part's body: bytes already encoded, lines (str, without their CRLF) holding
# placeholders, or a paragraph to wrap.
_Segment = bytes | str | _Wrapped


@dataclass(frozen=True)
class PreparedMessage:
    """One edition variant, rendered, with placeholders for the personal parts.

    ``text`` and ``html`` hold the placeholders; the other fields are the encoded
    pieces ``personalize`` joins.
    """

    subject: str
    text: str
    html: str
    has_preferences: bool
    from_line: bytes
    subject_line: bytes
    date_line: bytes
    head_tail: bytes  # the static headers after List-Unsubscribe, up to the text part
    between_parts: bytes
    end: bytes
    text_body: tuple[_Segment, ...]
    html_body: tuple[_Segment, ...]


def prepare_digest(
    digest: Digest,
    *,
    brief_name: str,
    web_url: str,
    sender: str,
    date: datetime,
    postal_address: str = "",
    preferences: bool = True,
    preheader: str | None = None,
) -> PreparedMessage:
    """``digest`` rendered for any recipient (the arguments are render_digest's).

    ``preferences``: whether the message carries a preferences link (then every
    ``personalize`` call must give one). ``date`` is the default Date header.
    """

    def render(email: str) -> RenderedEmail:
        recipient = Recipient(
            email=email,
            unsubscribe_url=_UNSUBSCRIBE,
            preferences_url=_PREFERENCES if preferences else None,
        )
        return render_digest(
            digest,
            brief_name=brief_name,
            web_url=web_url,
            recipient=recipient,
            postal_address=postal_address,
            preheader=preheader,
        )

    main, short, long = render(_EMAIL), render(_EMAIL_SHORT), render(_EMAIL_LONG)
    _check_rendering(main, short, long)
    boundary = f"=_brief_{secrets.token_hex(12)}"  # "=_" never occurs in quoted-printable
    part = 'Content-Type: text/{}; charset="utf-8"\r\nContent-Transfer-Encoding: quoted-printable'
    head_tail = (
        "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
        "Precedence: bulk\r\n"
        "MIME-Version: 1.0\r\n"
        f'Content-Type: multipart/alternative;\r\n boundary="{boundary}"\r\n'
        "\r\n"
        f"--{boundary}\r\n{part.format('plain')}\r\n\r\n"
    )
    return PreparedMessage(
        subject=main.subject,
        text=main.text,
        html=main.html,
        has_preferences=preferences,
        from_line=_fold("From", address(sender, "sender")),
        subject_line=_fold("Subject", single_line(main.subject, "subject")),
        date_line=_date_line(date),
        head_tail=head_tail.encode("ascii"),
        between_parts=f"\r\n--{boundary}\r\n{part.format('html')}\r\n\r\n".encode("ascii"),
        end=f"\r\n--{boundary}--\r\n".encode("ascii"),
        text_body=_text_segments(main.text, short.text, long.text),
        html_body=_segments(_lines(main.html)),
    )


def personalize(
    prepared: PreparedMessage,
    *,
    to: str,
    message_id: str,
    unsubscribe_url: str,
    preferences_url: str | None,
    unsubscribe_mailto: str | None,
    date: datetime | None = None,
) -> bytes:
    """The whole message for one recipient, CRLF line ends, ready for DATA.

    ``date`` replaces the Date of the preparation. Raises InputError for a value
    that is not one line, an address that is none, a link that is not http(s).
    """
    unsubscribe = _link(unsubscribe_url, "unsubscribe URL")
    preferences = None
    if prepared.has_preferences:
        if preferences_url is None:
            raise InputError("this message was prepared with a preferences link: give one")
        preferences = _link(preferences_url, "preferences URL")
    elif preferences_url is not None:
        raise InputError("this message was prepared without a preferences link")
    try:
        list_header, _ = list_unsubscribe(unsubscribe, unsubscribe_mailto)
    except ValueError as exc:  # urlsplit: a malformed host
        raise InputError(f"unsubscribe URL is malformed: {unsubscribe!r}") from exc
    assert list_header is not None  # there is always the URL
    if not list_header.isascii():
        raise InputError(f"List-Unsubscribe must be ASCII: {list_header!r}")

    shown = one_line(to)  # as render_digest shows it
    text_values = [(_UNSUBSCRIBE, unsubscribe), (_EMAIL, shown)]
    html_values = [
        (f'"{_UNSUBSCRIBE}"', f'"{_attribute(unsubscribe)}"'),
        (_UNSUBSCRIBE, _html_text(unsubscribe)),
        (_EMAIL, _html_text(shown)),
    ]
    if preferences is not None:
        text_values.append((_PREFERENCES, preferences))
        html_values.append((f'"{_PREFERENCES}"', f'"{_attribute(preferences)}"'))
        html_values.append((_PREFERENCES, _html_text(preferences)))

    return b"".join(
        (
            prepared.from_line,
            _to_line(to),
            prepared.subject_line,
            prepared.date_line if date is None else _date_line(date),
            b"Message-ID: ",
            _message_id(message_id),
            b"\r\nList-Unsubscribe: ",
            list_header.replace("\n", "\r\n").encode("ascii"),
            CRLF,
            prepared.head_tail,
            *_fill(prepared.text_body, text_values, shown),
            prepared.between_parts,
            *_fill(prepared.html_body, html_values, shown),
            prepared.end,
        )
    )


def _fill(body: tuple[_Segment, ...], values: list[tuple[str, str]], email: str) -> list[bytes]:
    out = []
    for segment in body:
        if isinstance(segment, bytes):
            out.append(segment)
            continue
        if isinstance(segment, _Wrapped):
            segment = "\r\n".join(_wrap(segment.words.replace(_EMAIL, email)))
        for placeholder, value in values:
            if placeholder in segment:
                segment = segment.replace(placeholder, value)
        out.append(_qp(segment))
    return out


def _qp(lines: str) -> bytes:
    """Quoted-printable lines ending with CRLF (b2a_qp keeps the CRLF it is given)."""
    return binascii.b2a_qp(lines.encode("utf-8") + CRLF, istext=True)


def _lines(body: str) -> list[str]:
    """The lines build_message encodes: CR, LF and CRLF all end one; a last empty one is not."""
    body = body.replace("\r\n", "\n").replace("\r", "\n")
    return body.removesuffix("\n").split("\n")


def _segments(
    lines: list[str], wrapped: tuple[int, int, _Wrapped] | None = None
) -> tuple[_Segment, ...]:
    """Encode the runs of lines without placeholders now; keep the others as text."""
    out: list[_Segment] = []
    run: list[str] = []

    def flush() -> None:
        if run:
            out.append(_qp("\r\n".join(run)))
            run.clear()

    n = 0
    while n < len(lines):
        if wrapped is not None and n == wrapped[0]:
            flush()
            out.append(wrapped[2])
            n = wrapped[1]
            continue
        line = lines[n]
        if _NONCE in line:
            flush()
            out.append(line)
        else:
            run.append(line)
        n += 1
    flush()
    return tuple(out)


def _text_segments(main: str, short: str, long: str) -> tuple[_Segment, ...]:
    """The text part's segments; the paragraph holding the address is wrapped per recipient.

    The three renderings differ only in the address, so the lines they do not share
    are the ones that depend on it. Text wrapping is greedy, so the lines before that
    region stay the same for any address at least as long as the short one, and the
    region itself is the wrap of its words. Checked, with the other two renderings,
    rather than assumed: a template that shows the address unwrapped gets plain
    replacement, and one that does something else is refused.
    """
    renderings = [
        (_lines(text), email)
        for text, email in ((main, _EMAIL), (short, _EMAIL_SHORT), (long, _EMAIL_LONG))
    ]
    all_lines = [lines for lines, _ in renderings]
    head = 0
    while (
        all(head < len(lines) for lines in all_lines)
        and len({lines[head] for lines in all_lines}) == 1
    ):
        head += 1
    tail = 0
    while (
        all(tail < len(lines) - head for lines in all_lines)
        and len({lines[-1 - tail] for lines in all_lines}) == 1
    ):
        tail += 1
    lines = all_lines[0]
    region = lines[head : len(lines) - tail]
    if not region:
        return _segments(lines)
    if _UNSUBSCRIBE in "".join(region) or _PREFERENCES in "".join(region):
        raise RuntimeError(
            "the text part wraps a link with the recipient's address; cannot prepare it"
        )
    regions = [(lines[head : len(lines) - tail], email) for lines, email in renderings]
    words = " ".join(" ".join(region).split())
    if all(_wrap(words.replace(_EMAIL, email)) == found for found, email in regions):
        return _segments(lines, (head, len(lines) - tail, _Wrapped(words)))
    if all([ln.replace(_EMAIL, email) for ln in region] == found for found, email in regions):
        return _segments(lines)  # the address is on lines of its own making: replaced as is
    raise RuntimeError(
        "the text part shows the recipient's address in a way that cannot be filled in"
    )


def _wrap(text: str, width: int = 72) -> list[str]:
    """brief.templating.wrap's lines (textwrap.fill without indent), ten times faster.

    Greedy: a word joins the line when it fits; a word longer than a line stands
    alone on its own (long words, URLs, are never split).
    """
    lines = []
    line = ""
    for word in text.split():
        if not line:
            line = word
        elif len(line) + 1 + len(word) <= width:
            line = f"{line} {word}"
        else:
            lines.append(line)
            line = word
    if line:
        lines.append(line)
    return lines


def _check_rendering(main: RenderedEmail, short: RenderedEmail, long: RenderedEmail) -> None:
    """Only the text part may differ beyond the address itself: the subject is shared."""
    if _NONCE in main.subject:
        raise RuntimeError("the subject holds a personal part; cannot prepare it once for all")
    for other, email in ((short, _EMAIL_SHORT), (long, _EMAIL_LONG)):
        if other.subject != main.subject or other.html != main.html.replace(_EMAIL, email):
            raise RuntimeError("the HTML part changes with the address beyond the address itself")


def _fold(name: str, value: str) -> bytes:
    """A header as build_message's policy writes it (encoded words, folded), CRLF."""
    folded: str = POLICY.header_factory(name, value).fold(policy=_SMTP)
    return folded.encode("ascii")


def _date_line(date: datetime) -> bytes:
    if date.tzinfo is None:
        raise InputError("the Date of a message must be timezone-aware")
    return f"Date: {format_datetime(date)}\r\n".encode("ascii")


def _to_line(to: str) -> bytes:
    if len(to) <= _HEADER_WIDTH - len("To: ") and _PLAIN_ADDRESS.fullmatch(to):
        return b"To: " + to.encode("ascii") + CRLF  # what the policy writes, without its cost
    return _fold("To", address(to, "recipient"))


def _message_id(message_id: str) -> bytes:
    single_line(message_id, "Message-ID")
    if not message_id.isascii():
        raise InputError(f"a Message-ID must be ASCII: {message_id!r}")
    return message_id.encode("ascii")


def _link(url: str, what: str) -> str:
    """``url`` if render_digest would take it and a header can carry it as it is."""
    if _LINK.fullmatch(url) is None:
        raise InputError(f"{what} must be an absolute http(s) URL in printable ASCII: {url!r}")
    return url


# How the CSS inliner's HTML serializer writes text and double-quoted attribute
# values, so a filled-in message is byte for byte what render_digest gives.
def _html_text(value: str) -> str:
    return (
        value.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace("\xa0", "&nbsp;")
    )


def _attribute(value: str) -> str:
    return value.replace("&", "&amp;").replace('"', "&quot;").replace("\xa0", "&nbsp;")

"""prepare_digest + personalize: the same message build_message makes, without its cost."""

from __future__ import annotations

import email
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from email import policy
from email.message import EmailMessage
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from brief.errors import InputError
from brief.mail import prepared as prepared_module
from brief.mail.message import build_message
from brief.mail.prepared import PreparedMessage, personalize, prepare_digest
from brief.mail.render import render_digest
from brief.types import Digest, Recipient
from tests.unit.test_render import WEB_URL, empty_digest, realistic_digest, sample_digest

DATE = datetime(2026, 11, 25, 6, 0, tzinfo=UTC)
SENDER = "Daily Brief <brief@example.com>"


@dataclass(frozen=True)
class Person:
    to: str = "reader@example.com"
    message_id: str = "<brief.digest.2026-11-25.42@example.com>"
    unsubscribe_url: str = "https://brief.test/unsubscribe/tok123"
    preferences_url: str | None = "https://brief.test/preferences/tok123"
    unsubscribe_mailto: str | None = "unsubscribe@example.com"


LONG_URL = "https://brief.test/unsubscribe/" + "t0K-_" * 60 + "?utm_source=email&x=y"
PEOPLE = {
    "plain": Person(),
    "query with = and &": Person(
        unsubscribe_url="https://brief.test/u?token=a=b&c=d%3D&e",
        preferences_url="https://brief.test/p?x=1&y=2",
    ),
    "quote and angle brackets in links": Person(
        unsubscribe_url='https://brief.test/u?q="x"&a=<b>', preferences_url="https://brief.test/p?'"
    ),
    "long URL": Person(unsubscribe_url=LONG_URL, preferences_url=LONG_URL + "&p"),
    "non-ASCII name": Person(to="Zoë Dupont-Étienne <zoe@example.com>"),
    "apostrophe and ampersand in the address": Person(to="o'brien&co@example.com"),
    "address longer than a line": Person(to="a." * 40 + "reader@sub.example.com"),
    "address that pulls a word up": Person(to="r@x.io"),
    "mailto URI, no preferences-less edge": Person(
        unsubscribe_mailto="mailto:leave@example.com?subject=unsubscribe%20me"
    ),
    "no mailto": Person(unsubscribe_mailto=None),
    "upper-case scheme": Person(unsubscribe_url="HTTPS://brief.test/u/1"),
}
DIGESTS = {"25 stories": realistic_digest, "sample": sample_digest, "empty": empty_digest}


def prepare(digest: Digest, **kw: Any) -> PreparedMessage:
    args: dict[str, Any] = {
        "brief_name": "Daily Brief",
        "web_url": WEB_URL,
        "sender": SENDER,
        "date": DATE,
        "postal_address": "1 Rue de la Paix\n75002 Paris",
    }
    args.update(kw)
    return prepare_digest(digest, **args)


def fill(prepared: PreparedMessage, person: Person, **kw: Any) -> bytes:
    return personalize(
        prepared,
        to=person.to,
        message_id=person.message_id,
        unsubscribe_url=person.unsubscribe_url,
        preferences_url=person.preferences_url,
        unsubscribe_mailto=person.unsubscribe_mailto,
        **kw,
    )


def reference(digest: Digest, person: Person, *, brief_name: str = "Daily Brief") -> bytes:
    """The slow path: render for this recipient, build the message, serialize for SMTP."""
    rendered = render_digest(
        digest,
        brief_name=brief_name,
        web_url=WEB_URL,
        recipient=Recipient(person.to, person.unsubscribe_url, person.preferences_url),
        postal_address="1 Rue de la Paix\n75002 Paris",
    )
    msg = build_message(
        rendered,
        sender=SENDER,
        to=person.to,
        message_id=person.message_id,
        date=DATE,
        unsubscribe_url=person.unsubscribe_url,
        unsubscribe_mailto=person.unsubscribe_mailto,
    )
    return msg.as_bytes(policy=msg.policy.clone(linesep="\r\n"))


def parse(data: bytes) -> EmailMessage:
    msg = email.message_from_bytes(data, policy=policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def summary(data: bytes) -> dict[str, Any]:
    """Everything a reader's client sees: headers, structure, decoded parts (not the boundary)."""
    msg = parse(data)
    headers = [(k, str(v)) for k, v in msg.items() if k != "Content-Type"]
    parts = [(part.items(), part.get_content()) for part in msg.iter_parts()]
    return {
        "headers": headers,
        "type": msg.get_content_type(),
        "params": [p for p in msg["Content-Type"].params.items() if p[0] != "boundary"],
        "parts": parts,
        "defects": [msg.defects, *(p.defects for p in msg.iter_parts())],
    }


@pytest.mark.parametrize("digest", DIGESTS.values(), ids=DIGESTS.keys())
@pytest.mark.parametrize("person", PEOPLE.values(), ids=PEOPLE.keys())
def test_same_message_as_build_message(digest: Any, person: Person) -> None:
    made = digest()
    assert summary(fill(prepare(made), person)) == summary(reference(made, person))


def test_same_message_for_many_recipients_of_one_preparation() -> None:
    digest = realistic_digest()
    prepared = prepare(digest)
    for person in PEOPLE.values():
        assert summary(fill(prepared, person)) == summary(reference(digest, person))


def test_the_address_paragraph_wraps_as_rendered_for_every_address_length() -> None:
    digest = sample_digest()
    prepared = prepare(digest)
    for length in range(1, 90):
        person = Person(to=f"{'r' * length}@example.com")
        rendered = render_digest(
            digest,
            brief_name="Daily Brief",
            web_url=WEB_URL,
            recipient=Recipient(person.to, person.unsubscribe_url, person.preferences_url),
            postal_address="1 Rue de la Paix\n75002 Paris",
        )
        text = parse(fill(prepared, person)).get_body(("plain",))
        assert text is not None
        assert text.get_content().replace("\r\n", "\n") == rendered.text, length


def test_non_ascii_brief_name_in_subject_and_body() -> None:
    digest = sample_digest()
    prepared = prepare(digest, brief_name="Brèves — le matin")
    data = fill(prepared, PEOPLE["non-ASCII name"])
    expected = reference(digest, PEOPLE["non-ASCII name"], brief_name="Brèves — le matin")
    assert summary(data) == summary(expected)
    assert parse(data)["Subject"].startswith("Brèves — le matin — Wednesday")


def test_without_preferences_link() -> None:
    digest = sample_digest()
    person = Person(preferences_url=None)
    data = fill(prepare(digest, preferences=False), person)
    assert summary(data) == summary(reference(digest, person))
    assert "Preferences" not in parse(data).get_body(("html",)).get_content()  # type: ignore[union-attr]


def test_preferences_must_match_the_preparation() -> None:
    with pytest.raises(InputError, match="preferences"):
        fill(prepare(sample_digest()), Person(preferences_url=None))
    with pytest.raises(InputError, match="preferences"):
        fill(prepare(sample_digest(), preferences=False), Person())


def test_bytes_are_7bit_crlf_and_short_lines() -> None:
    data = fill(prepare(realistic_digest()), PEOPLE["non-ASCII name"])
    assert data.isascii()
    assert b"\r\n" in data and b"\n" not in data.replace(b"\r\n", b"")
    assert b"\r" not in data.replace(b"\r\n", b"")
    assert data.endswith(b"\r\n")
    _, _, body = data.partition(b"\r\n\r\n")
    assert max(len(line) for line in body.split(b"\r\n")) <= 76


def test_no_placeholder_left() -> None:
    data = fill(prepare(realistic_digest()), Person())
    assert prepared_module._NONCE.encode() not in data
    assert b"brief.invalid" not in data


def test_date_of_the_preparation_or_given() -> None:
    prepared = prepare(sample_digest())
    assert parse(fill(prepared, Person()))["Date"] == "Wed, 25 Nov 2026 06:00:00 +0000"
    later = datetime(2026, 11, 25, 7, 30, tzinfo=timezone(timedelta(hours=1)))
    assert parse(fill(prepared, Person(), date=later))["Date"] == "Wed, 25 Nov 2026 07:30:00 +0100"
    with pytest.raises(InputError, match="timezone"):
        fill(prepared, Person(), date=datetime(2026, 11, 25, 7, 30))


def test_list_headers() -> None:
    msg = parse(fill(prepare(sample_digest()), PEOPLE["long URL"]))
    assert msg["List-Unsubscribe"] == (
        f"<{LONG_URL}>, <mailto:unsubscribe@example.com?subject=unsubscribe>"
    )
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert msg["Precedence"] == "bulk"


INJECTIONS = {
    "to": {"to": "reader@example.com\r\nBcc: victim@example.com"},
    "to, LF only": {"to": "reader@example.com\nBcc: victim@example.com"},
    "message_id": {"message_id": "<a@b>\r\nBcc: victim@example.com"},
    "unsubscribe_url": {"unsubscribe_url": "https://brief.test/u\r\nBcc: victim@example.com"},
    "preferences_url": {"preferences_url": "https://brief.test/p\nBcc: victim@example.com"},
    "unsubscribe_mailto": {"unsubscribe_mailto": "a@example.com\r\nBcc: victim@example.com"},
}


@pytest.mark.parametrize("change", INJECTIONS.values(), ids=INJECTIONS.keys())
def test_header_injection_is_refused(change: dict[str, str]) -> None:
    person = Person(**change)  # type: ignore[arg-type]
    with pytest.raises(InputError):
        fill(prepare(sample_digest()), person)


@pytest.mark.parametrize(
    "change",
    [
        {"to": "not an address"},
        {"unsubscribe_url": "javascript:alert(1)"},
        {"unsubscribe_url": "/relative/unsubscribe"},
        {"unsubscribe_url": "https:///no-host"},
        {"unsubscribe_url": "https://brief.test/with space"},
        {"unsubscribe_url": "https://brief.test/é"},
        {"unsubscribe_url": "http://[::1/broken"},
        {"preferences_url": "ftp://brief.test/p"},
        {"message_id": "<é@example.com>"},
        {"unsubscribe_mailto": "désinscription@example.com"},
    ],
)
def test_bad_values_are_refused(change: dict[str, str]) -> None:
    with pytest.raises(InputError):
        fill(prepare(sample_digest()), Person(**change))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "text",
    [
        "",
        "one",
        "You are receiving this because reader@example.com subscribed to Daily Brief, a"
        " morning summary of the news.",
        "word " * 40,
        "short " + "x" * 100 + " after the long one and more words to fill a line or two",
        "  spaced\tout\u00a0words \n with  newlines ",
        "a" * 72 + " b",
        "a" * 70 + " b c",  # exactly 72 columns, then a break
        "a" * 71 + " b" + " c" * 40,
    ],
)
def test_fast_wrap_is_templating_wrap(text: str) -> None:
    from brief.templating import wrap

    assert prepared_module._wrap(text) == (wrap(text).split("\n") if wrap(text) else [])


@given(st.text(alphabet="ab xé\t\n\u00a0-", max_size=300), st.integers(1, 80))
def test_fast_wrap_is_templating_wrap_for_any_text(text: str, width: int) -> None:
    from brief.templating import wrap

    wrapped = wrap(text, width=width)
    assert prepared_module._wrap(text, width) == (wrapped.split("\n") if wrapped else [])


def test_a_template_that_shows_the_address_oddly_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The address paragraph is re-wrapped only when that reproduces the renderings."""
    real = render_digest

    def odd(*args: Any, **kw: Any) -> Any:
        rendered = real(*args, **kw)
        address = kw["recipient"].email
        # right-aligned at 80 columns: neither plain replacement nor wrapping
        text = rendered.text.replace(address, address.rjust(80), 1)
        return type(rendered)(rendered.subject, text, rendered.html)

    monkeypatch.setattr(prepared_module, "render_digest", odd)
    with pytest.raises(RuntimeError, match="address"):
        prepare(sample_digest())


def test_a_subject_with_personal_parts_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    real = render_digest

    def personal(*args: Any, **kw: Any) -> Any:
        rendered = real(*args, **kw)
        subject = f"For {kw['recipient'].email}"
        return type(rendered)(subject, rendered.text, rendered.html)

    monkeypatch.setattr(prepared_module, "render_digest", personal)
    with pytest.raises(RuntimeError, match="subject"):
        prepare(sample_digest())


def test_the_boundary_cannot_occur_in_the_parts() -> None:
    """Quoted-printable never writes "=_", which every boundary starts with."""
    data = fill(prepare(realistic_digest()), Person())
    boundary = parse(data).get_boundary()
    assert boundary is not None and boundary.startswith("=_")
    assert len(re.findall(re.escape(b"--" + boundary.encode()), data)) == 3

from __future__ import annotations

import pytest

from brief.errors import InputError, InvalidEmailError, TokenError
from brief.subscriptions import normalize_email, parse_sections, parse_subscriber_csv
from brief.tokens import make_token, read_token


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("me@Example.COM", "me@example.com"), ("  Bob.Smith@x.org ", "Bob.Smith@x.org")],
)
def test_good_addresses(raw: str, expected: str) -> None:
    assert normalize_email(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "not-an-address",
        "a@b",
        "a@b.c\r\nBcc: x@evil.org",
        "a@@b.org",
        "x" * 300 + "@b.org",
        "a b@c.org",
        "<a@b.org>",
    ],
)
def test_bad_addresses_are_refused_clearly(raw: str) -> None:
    with pytest.raises(InvalidEmailError) as info:
        normalize_email(raw)
    assert "invalid email address" in str(info.value)


def test_sections() -> None:
    assert parse_sections("World, tech,") == ["world", "tech"]
    assert parse_sections("") is None
    with pytest.raises(InputError, match="unknown section"):
        parse_sections("world,nope", known=["world"])


def test_csv_import_keeps_good_rows_and_reports_bad_ones() -> None:
    rows, rejected = parse_subscriber_csv(
        "email,timezone,sections\na@x.org,Europe/Paris,world;sport\nbad-address\nb@x.org\n"
        "c@x.org,Mars/Base\n"
    )
    assert [(r.email, r.timezone, r.sections) for r in rows] == [
        ("a@x.org", "Europe/Paris", ["world", "sport"]),
        ("b@x.org", None, None),
    ]
    assert [(r.line, r.value) for r in rejected] == [(3, "bad-address"), (5, "c@x.org")]


def test_tokens_are_bound_to_purpose_and_secret() -> None:
    token = make_token("s3cret", "unsubscribe", 42)
    assert read_token("s3cret", "unsubscribe", token, max_age=60) == 42
    with pytest.raises(TokenError):
        read_token("s3cret", "confirm", token, max_age=60)
    with pytest.raises(TokenError):
        read_token("other", "unsubscribe", token, max_age=60)
    with pytest.raises(TokenError):
        read_token("s3cret", "unsubscribe", token[:-2] + "xx", max_age=60)


def test_csv_with_bare_carriage_returns_is_read_line_by_line() -> None:
    # Old Mac line ends: csv alone raises "new-line character seen in unquoted field".
    rows, rejected = parse_subscriber_csv("a@example.com\rb@example.com\r")
    assert [r.email for r in rows] == ["a@example.com", "b@example.com"]
    assert rejected == []

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from brief.feeds.normalize import (
    aware_utc,
    canonical_url,
    clamp_published,
    clean_title,
    is_tracking_param,
    short_text,
    title_key,
)

BASE = "https://news.example.com/world/story.html"


@pytest.mark.parametrize(
    ("url", "base", "expected"),
    [
        ("https://news.example.com/a", None, "https://news.example.com/a"),
        (
            "HTTPS://News.Example.COM/Path/Keeps/Case",
            None,
            "https://news.example.com/Path/Keeps/Case",
        ),
        ("http://example.com:80/a", None, "http://example.com/a"),
        ("https://example.com:443/a", None, "https://example.com/a"),
        ("https://example.com:8443/a", None, "https://example.com:8443/a"),
        ("http://example.com", None, "http://example.com/"),
        ("https://example.com./a", None, "https://example.com/a"),
        ("https://example.com/a#section-2", None, "https://example.com/a"),
        ("https://example.com/a?utm_source=rss&utm_medium=feed", None, "https://example.com/a"),
        (
            "https://example.com/a?id=3&UTM_Campaign=x&fbclid=1&gclid=2&mc_cid=3&mc_eid=4&page=2",
            None,
            "https://example.com/a?id=3&page=2",
        ),
        ("https://example.com/a?b=2&a=1", None, "https://example.com/a?b=2&a=1"),  # order kept
        ("https://example.com/a?q=caf%C3%A9", None, "https://example.com/a?q=caf%C3%A9"),
        ("https://example.com/a b", None, "https://example.com/a%20b"),
        ("https://example.com/café", None, "https://example.com/caf%C3%A9"),
        ("  https://example.com/a  ", None, "https://example.com/a"),
        ("/b/c", BASE, "https://news.example.com/b/c"),
        ("other.html", BASE, "https://news.example.com/world/other.html"),
        ("//cdn.example.com/x.jpg", BASE, "https://cdn.example.com/x.jpg"),
        ("?utm_source=x", BASE, "https://news.example.com/world/story.html"),
        ("http://[::1]:8080/a", None, "http://[::1]:8080/a"),
        ("https://user:pw@Example.com/a", None, "https://user:pw@example.com/a"),
        ("javascript:alert(1)", BASE, None),
        ("mailto:desk@example.com", None, None),
        ("ftp://example.com/file", None, None),
        ("/relative/without/base", None, None),
        ("https://example.com:99999/a", None, None),
        ("", BASE, None),
        (None, BASE, None),
    ],
)
def test_canonical_url(url: str | None, base: str | None, expected: str | None) -> None:
    assert canonical_url(url, base) == expected


def test_canonical_url_is_idempotent() -> None:
    once = canonical_url("HTTP://Ex.com:80/a b?utm_x=1&k=v#f")
    assert once == "http://ex.com/a%20b?k=v"
    assert canonical_url(once) == once


@pytest.mark.parametrize(
    ("name", "tracking"),
    [("utm_source", True), ("UTM_MEDIUM", True), ("fbclid", True), ("gclid", True),
     ("mc_cid", True), ("mc_eid", True), ("_hsenc", True), ("id", False), ("page", False),
     ("q", False), ("utmost", False)],
)  # fmt: skip
def test_is_tracking_param(name: str, tracking: bool) -> None:
    assert is_tracking_param(name) is tracking


@pytest.mark.parametrize(
    ("raw", "is_html", "title"),
    [
        ("  Markets &amp;  money\n", False, "Markets & money"),
        ("It&#8217;s here", False, "It’s here"),
        ("<b>Bold</b> &amp; <i>italic</i>", True, "Bold & italic"),
        ("5 < 6", False, "5 < 6"),
    ],
)
def test_clean_title(raw: str, is_html: bool, title: str) -> None:
    assert clean_title(raw, is_html=is_html) == title


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Iraq: ‘No plans’ to leave", "IRAQ — no plans to leave!"),
        ("Café  society", "café society"),
        ("Ｆｕｌｌ width", "full width"),
        ("A &amp; B", "A & B"),
    ],
)
def test_title_key_equal(a: str, b: str) -> None:
    assert title_key(a) == title_key(b)


def test_title_key_shape() -> None:
    assert title_key("Iraq: ‘No plans’ to leave") == "iraq no plans to leave"
    assert title_key("Prices up 3.5%") != title_key("Prices up 35%")  # digits kept apart
    assert title_key("") == ""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Lorem  ipsum\n", "Lorem ipsum"),
        ("Lorem ipsum dolor sit amet", "Lorem ipsum…"),
        ("Lorem ipsum, dolor sit amet", "Lorem ipsum…"),
        ("Loremipsumdolorsitamet", "Loremipsumdolo…"),
    ],
)
def test_short_text_is_one_line_cut_at_a_word(text: str, expected: str) -> None:
    assert short_text(text, 14) == expected


def test_aware_utc() -> None:
    plus2 = timezone(timedelta(hours=2))
    assert aware_utc(datetime(2024, 5, 14, 8, 30, tzinfo=plus2)) == datetime(
        2024, 5, 14, 6, 30, tzinfo=UTC
    )
    assert aware_utc(datetime(2024, 5, 14, 8, 30)) == datetime(2024, 5, 14, 8, 30, tzinfo=UTC)
    assert aware_utc(None) is None


def test_clamp_published() -> None:
    now = datetime(2025, 1, 31, 6, 0, tzinfo=UTC)
    assert clamp_published(None, now) == now
    assert clamp_published(now - timedelta(days=1), now) == now - timedelta(days=1)
    assert clamp_published(now + timedelta(minutes=30), now) == now + timedelta(minutes=30)
    assert clamp_published(now + timedelta(days=300), now) == now

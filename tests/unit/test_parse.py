"""parse_feed: golden files in tests/data/feeds, a few real documents, and the not-a-feed cases.

Regenerate the golden ``*.expected.json`` files with
``BRIEF_REGEN=1 pytest tests/unit/test_parse.py`` and review the diff.
"""

from __future__ import annotations

import dataclasses
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from brief.errors import FeedParseError
from brief.feeds.parse import parse_feed
from brief.types import ParsedFeed
from tests.conftest import corpus

DATA = Path(__file__).resolve().parents[1] / "data" / "feeds"
GOLDEN = sorted(DATA.glob("*.xml"))
FEED_URL = "https://feeds.example.com/feed.xml"


def as_json(feed: ParsedFeed) -> dict[str, Any]:
    def default(value: object) -> str:
        assert isinstance(value, datetime)
        return value.isoformat()

    return json.loads(json.dumps(dataclasses.asdict(feed), default=default))  # type: ignore[no-any-return]


@pytest.mark.parametrize("path", GOLDEN, ids=[p.stem for p in GOLDEN])
def test_golden(path: Path) -> None:
    got = as_json(parse_feed(FEED_URL, path.read_bytes()))
    expected_path = path.with_suffix(".expected.json")
    if os.environ.get("BRIEF_REGEN") == "1":
        expected_path.write_text(json.dumps(got, indent=2, ensure_ascii=False) + "\n")
    assert got == json.loads(expected_path.read_text())


def edge_cases() -> ParsedFeed:
    return parse_feed(FEED_URL, (DATA / "rss2-edge-cases.xml").read_bytes())


def test_feed_title_is_folded_and_decoded() -> None:
    feed = edge_cases()
    assert feed.title == "Edge Cases & Co"
    assert feed.link == "https://news.example.com/"


def test_entries_without_title_and_link_are_skipped() -> None:
    titles = [a.title for a in edge_cases().articles]
    assert len(titles) == 5
    assert not any("skipped" in t for t in titles)


def test_title_entities_are_decoded_once_more_and_whitespace_folded() -> None:
    assert edge_cases().articles[0].title == "Markets & money: a “quiet” week"


def test_relative_link_is_resolved_against_the_site_link() -> None:
    assert edge_cases().articles[0].link == "https://news.example.com/2024/05/markets"


@pytest.mark.parametrize(
    ("index", "guid"),
    [
        (0, "markets-2024-05"),  # the feed's own id
        (1, "https://news.example.com/2024/05/no-guid"),  # else the link
    ],
)
def test_guid_falls_back_to_link(index: int, guid: str) -> None:
    assert edge_cases().articles[index].guid == guid


def test_guid_of_an_entry_without_id_or_link_is_a_stable_hash() -> None:
    first, second = edge_cases().articles[3], edge_cases().articles[3]
    assert first.link is None
    assert first.guid.startswith("sha1:")
    assert first.guid == second.guid


def test_untitled_entry_is_named_by_its_opening_words() -> None:
    article = edge_cases().articles[2]
    assert article.title.startswith("A post without a title is named after its opening words")
    assert article.title.endswith("…")
    assert len(article.title) <= 81


def test_summary_html_is_sanitized() -> None:
    html = edge_cases().articles[0].summary_html
    assert "<script" not in html
    assert "onclick" not in html
    assert "style=" not in html
    assert "javascript:" not in html
    assert 'href="https://news.example.com/markets/live"' in html
    assert 'rel="noopener noreferrer nofollow"' in html


def test_summary_text_is_plain() -> None:
    assert edge_cases().articles[0].summary_text == "Stocks rose and bonds fell. click"


@pytest.mark.parametrize(
    ("index", "image"),
    [
        (0, "https://img.example.com/markets.jpg"),  # media:content medium=image
        (1, "https://cdn.example.com/thumb.png"),  # media:thumbnail, protocol-relative
        (2, "https://news.example.com/photo.webp"),  # image enclosure
        (3, "https://news.example.com/img/inline.jpg"),  # first <img>, relative to the site
        (4, None),  # a video is not an image
    ],
)
def test_image_url(index: int, image: str | None) -> None:
    assert edge_cases().articles[index].image_url == image


def test_dates_are_aware_utc() -> None:
    articles = edge_cases().articles
    assert articles[0].published_at == datetime(2024, 5, 14, 6, 30, tzinfo=UTC)
    assert articles[2].published_at is None


def test_atom_published_wins_over_updated_and_summary_over_content() -> None:
    feed = parse_feed(FEED_URL, (DATA / "atom-basic.xml").read_bytes())
    launch, updated = feed.articles
    assert launch.title == "Launch day & beyond"
    assert launch.link == "https://blog.example.net/posts/launch"
    assert launch.published_at == datetime(2024, 5, 13, 22, 30, tzinfo=UTC)
    assert "iframe" not in launch.summary_html
    assert launch.author == "Jo Park"
    assert updated.published_at == datetime(2024, 5, 12, 7, 15, tzinfo=UTC)
    assert updated.summary_text == "Summary text wins over content."


def test_bozo_feed_with_entries_is_kept() -> None:
    feed = parse_feed(FEED_URL, (DATA / "bozo-with-entries.xml").read_bytes())
    assert [a.title for a in feed.articles] == ["Unescaped ampersand & still readable"]
    assert feed.articles[0].published_at is None


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "not a feed: the response is empty"),
        (b"  \n ", "not a feed: the response is empty"),
        (
            b"<!DOCTYPE html><html><head><title>Home</title></head><body><p>Hi</p></body></html>",
            "not a feed: looks like an HTML page",
        ),
        (
            b"<html><body>Moved <a href='/x'>here</a></body></html>",
            "not a feed: looks like an HTML page",
        ),
        (
            b'{"version": "https://jsonfeed.org/version/1.1", "items": []}',
            "not a feed: no RSS or Atom",
        ),
        (b"just some text", "not a feed: no RSS or Atom"),
        (b"<?xml version='1.0'?><note><to>x</to></note>", "not a feed: no RSS or Atom"),
    ],
)
def test_not_a_feed(content: bytes, message: str) -> None:
    with pytest.raises(FeedParseError) as info:
        parse_feed(FEED_URL, content)
    assert info.value.message.startswith(message)
    assert info.value.url == FEED_URL


def test_html_content_type_names_the_problem() -> None:
    with pytest.raises(FeedParseError, match="looks like an HTML page"):
        parse_feed(FEED_URL, b"<div>not a feed</div>", {"Content-Type": "text/html; charset=utf-8"})


def test_empty_but_valid_feed_has_no_articles() -> None:
    doc = b'<rss version="2.0"><channel><title>Quiet</title><link>https://q.example/</link></channel></rss>'
    assert parse_feed(FEED_URL, doc) == ParsedFeed(FEED_URL, "Quiet", "https://q.example/", ())


def test_charset_comes_from_the_content_type_header() -> None:
    doc = (
        '<rss version="2.0"><channel><title>Café</title>'
        "<item><title>Crème brûlée</title><link>https://c.example/1</link></item></channel></rss>"
    )
    feed = parse_feed(
        FEED_URL,
        doc.encode("cp1252"),
        {"Content-Type": "application/rss+xml; charset=windows-1252"},
    )
    assert feed.title == "Café"
    assert feed.articles[0].title == "Crème brûlée"


# A few real documents, read in place from ../shared/corpora (skipped when absent).


def test_corpus_rss2_sample() -> None:
    feed = parse_feed(
        FEED_URL, (corpus("feeds", "node-feedparser") / "rss2sample.xml").read_bytes()
    )
    assert feed.title == "Liftoff News"
    assert len(feed.articles) == 4
    assert feed.articles[0].published_at == datetime(2003, 6, 3, 9, 39, 21, tzinfo=UTC)


def test_corpus_not_a_feed() -> None:
    with pytest.raises(FeedParseError, match="looks like an HTML page"):
        parse_feed(FEED_URL, (corpus("feeds", "node-feedparser") / "notafeed.html").read_bytes())


def test_corpus_media_content_types() -> None:
    path = corpus("feeds", "prof18-rssparser") / "feed-media-content-type.xml"
    images = [a.image_url for a in parse_feed(FEED_URL, path.read_bytes()).articles]
    assert images == [
        None,  # application/java-archive
        "https://example.com/images/photo.jpg",
        None,  # video
        None,  # audio
        "https://example.com/images/untyped.jpg",  # no type, but an image file name
        None,  # medium=document
    ]


@pytest.mark.parametrize(
    ("name", "title", "first"),
    [
        ("parser__encoding_ISO-8859-1.xml", "Golem.de", None),
        ("parser__encoding_WINDOWS-1251.xml", "iBash.Org.Ru", "Цитата #17703"),
        ("encoding__koi8r.xml", "Пример RSS ленты", "Первая новость"),
        (
            "parser__rdf_UTF8.xml",
            "heise online News",
            "OLED-TVs: Vorsichtsmaßnahmen gegen Einbrennen",
        ),
    ],
)
def test_corpus_encodings(name: str, title: str, first: str | None) -> None:
    feed = parse_feed(FEED_URL, (corpus("feeds", "miniflux") / name).read_bytes())
    assert feed.title == title
    assert feed.articles
    if first:
        assert feed.articles[0].title == first
    assert not any("\ufffd" in a.title or "Ã" in a.title for a in feed.articles)

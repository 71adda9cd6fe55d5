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
    # One block a line: the paragraph and the link after it.
    assert edge_cases().articles[0].summary_text == "Stocks rose and bonds fell.\nclick"


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
        (b'{"name": "not a feed"}', "not a feed: JSON, but not a JSON Feed"),
        (b'{"version": "https://jsonfeed.org/version/1.1"}', "not a feed: JSON Feed without"),
        (b'{"version": ', "not a feed: malformed JSON"),
        (b"just some text", "not a feed: no RSS, Atom or JSON Feed"),
        (b"<?xml version='1.0'?><note><to>x</to></note>", "not a feed: no RSS, Atom or JSON Feed"),
        (b"\x1f\x8b\x08\x00garbage", "not a feed: broken gzip data"),
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


# -- Feed hints: ttl, sy:updatePeriod/updateFrequency, skipHours -----------------------------


def hints_feed(extra: str) -> ParsedFeed:
    doc = (
        '<rss version="2.0" xmlns:sy="http://purl.org/rss/1.0/modules/syndication/"><channel>'
        f"<title>Hints</title>{extra}<item><title>a</title><link>https://h.example/a</link>"
        "</item></channel></rss>"
    )
    return parse_feed(FEED_URL, doc.encode())


@pytest.mark.parametrize(
    ("extra", "ttl", "period", "skip"),
    [
        ("", None, None, ()),
        ("<ttl>45</ttl>", 45, None, ()),
        ("<ttl>soon</ttl><ttl>-3</ttl>", None, None, ()),
        ("<sy:updatePeriod>hourly</sy:updatePeriod><sy:updateFrequency>4</sy:updateFrequency>",
         None, 15, ()),
        ("<sy:updatePeriod> Daily </sy:updatePeriod>", None, 1440, ()),
        ("<sy:updateFrequency>2</sy:updateFrequency>", None, 720, ()),  # period defaults to daily
        ("<sy:updatePeriod>fortnightly</sy:updatePeriod>", None, None, ()),
        ("<skipHours><hour>23</hour><hour>0</hour><hour>1</hour><hour>99</hour></skipHours>",
         None, None, (0, 1, 23)),
    ],
)  # fmt: skip
def test_polling_hints(
    extra: str, ttl: int | None, period: int | None, skip: tuple[int, ...]
) -> None:
    feed = hints_feed(extra)
    assert (feed.ttl_minutes, feed.update_period_minutes, feed.skip_hours) == (ttl, period, skip)


# -- Entry normalisation ----------------------------------------------------------------


def test_links_are_canonical_and_resolved_against_xml_base() -> None:
    doc = b"""<?xml version="1.0"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:base="https://Blog.Example.NET:443/posts/">
  <title>Base</title><link href="https://blog.example.net/"/>
  <entry><title>One</title><id>1</id>
    <link href="one?utm_source=rss&amp;utm_medium=feed&amp;id=7&amp;fbclid=x#comments"/></entry>
  <entry xml:base="/other/"><title>Two</title><id>2</id><link href="two"/></entry>
</feed>"""
    links = [a.link for a in parse_feed(FEED_URL, doc).articles]
    assert links == [
        "https://blog.example.net/posts/one?id=7",
        "https://blog.example.net/other/two",
    ]


def test_categories_author_and_updated() -> None:
    doc = b"""<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel><title>C</title>
<item><title>T</title><link>https://c.example/t</link>
<category>World</category><category domain="x">Middle  East</category><category>world</category>
<category></category><author>desk@c.example (Desk Editor)</author>
<pubDate>Tue, 14 May 2024 08:30:00 +0200</pubDate></item></channel></rss>"""
    article = parse_feed(FEED_URL, doc).articles[0]
    assert article.categories == ("World", "Middle East")
    assert article.author == "Desk Editor"
    assert article.updated_at is None
    assert article.published_at == datetime(2024, 5, 14, 6, 30, tzinfo=UTC)


def test_atom_updated_is_kept_apart_from_published() -> None:
    launch = parse_feed(FEED_URL, (DATA / "atom-basic.xml").read_bytes()).articles[0]
    assert launch.published_at == datetime(2024, 5, 13, 22, 30, tzinfo=UTC)
    assert launch.updated_at is not None and launch.updated_at > launch.published_at
    assert launch.updated_at.tzinfo == UTC


def test_lead_image_alt_comes_from_the_content_img() -> None:
    doc = b"""<rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/"><channel><title>I</title>
<item><title>T</title><link>https://i.example/t</link>
<media:content url="https://i.example/a.jpg" medium="image"/>
<description><![CDATA[<p><img alt="Protesters in &quot;Tahrir&quot; square" src='https://i.example/a.jpg'></p>]]></description>
</item></channel></rss>"""
    article = parse_feed(FEED_URL, doc).articles[0]
    assert article.image_url == "https://i.example/a.jpg"
    assert article.image_alt == 'Protesters in "Tahrir" square'


# -- Bytes: charsets, gzip, UTF-16 ------------------------------------------------------------


def cyrillic_rss(encoding: str) -> bytes:
    doc = (
        f'<?xml version="1.0" encoding="{encoding}"?><rss version="2.0"><channel>'
        "<title>Новости</title><item><title>Первая новость</title>"
        "<link>https://ru.example/1</link></item></channel></rss>"
    )
    return doc.encode(encoding)


@pytest.mark.parametrize(
    ("encoding", "content_type"),
    [
        ("windows-1251", None),
        ("koi8-r", None),
        ("windows-1251", "application/xml"),
        ("koi8-r", "text/xml; charset=koi8-r"),
        # The header lies (says UTF-8); the bytes are not UTF-8, so the prolog wins.
        ("windows-1251", "application/rss+xml; charset=utf-8"),
        ("utf-16", None),
        ("utf-16", "application/xml"),
    ],
)
def test_charsets(encoding: str, content_type: str | None) -> None:
    headers = {"Content-Type": content_type} if content_type else None
    feed = parse_feed(FEED_URL, cyrillic_rss(encoding), headers)
    assert feed.title == "Новости"
    assert feed.articles[0].title == "Первая новость"


def test_gzip_bytes_are_unpacked() -> None:
    import gzip

    feed = parse_feed(FEED_URL, gzip.compress(cyrillic_rss("utf-8")))
    assert feed.articles[0].title == "Первая новость"


def test_undeclared_rss_prefix_is_read() -> None:
    doc = b"""<?xml version="1.0"?><rss rss:version="2.0"><rss:channel><rss:title>P</rss:title>
<rss:item><rss:title>Entry</rss:title><rss:link>https://p.example/1</rss:link></rss:item>
</rss:channel></rss>"""
    assert [a.link for a in parse_feed(FEED_URL, doc).articles] == ["https://p.example/1"]


# -- JSON Feed ------------------------------------------------------------------------------


JSON_FEED = {
    "version": "https://jsonfeed.org/version/1.1",
    "title": "JSON &amp; Co",
    "home_page_url": "https://j.example/",
    "authors": [{"name": "Feed Author"}],
    "items": [
        {
            "id": "1",
            "url": "/posts/1?utm_campaign=x",
            "title": "  First   post ",
            "content_html": '<p>Hello <img src="/i.png" alt="Wave"><script>x()</script></p>',
            "date_published": "2024-05-14T08:30:00+02:00",
            "date_modified": "2024-05-14T09:00:00Z",
            "tags": ["news", "News", "tech"],
            "authors": [{"name": "Ana"}],
        },
        {"id": 2, "content_text": "An untitled note\nwith two lines.", "image": "/cover.jpg"},
        {"id": "3"},  # nothing to show: skipped
        "not an item",
    ],
}


def test_json_feed() -> None:
    feed = parse_feed(
        FEED_URL, json.dumps(JSON_FEED).encode(), {"Content-Type": "application/feed+json"}
    )
    assert (feed.title, feed.link) == ("JSON & Co", "https://j.example/")
    first, second = feed.articles
    assert first.guid == "1"
    assert first.link == "https://j.example/posts/1"
    assert first.title == "First post"
    assert first.summary_html == '<p>Hello <img src="https://j.example/i.png" alt="Wave"></p>'
    assert first.summary_text == "Hello"
    assert first.published_at == datetime(2024, 5, 14, 6, 30, tzinfo=UTC)
    assert first.updated_at == datetime(2024, 5, 14, 9, 0, tzinfo=UTC)
    assert first.categories == ("news", "tech")
    assert first.author == "Ana"
    assert (first.image_url, first.image_alt) == ("https://j.example/i.png", "Wave")
    assert second.guid == "2"
    assert second.title == "An untitled note with two lines."
    assert second.author == "Feed Author"
    assert second.image_url == "https://j.example/cover.jpg"
    assert second.published_at is None


def test_json_feed_is_recognised_without_a_content_type() -> None:
    feed = parse_feed(FEED_URL, b"\xef\xbb\xbf  " + json.dumps(JSON_FEED).encode())
    assert len(feed.articles) == 2


def test_xml_served_as_json_is_read_as_xml() -> None:
    doc = (
        b'<rss version="2.0"><channel><title>X</title><item><title>a</title></item></channel></rss>'
    )
    feed = parse_feed(FEED_URL, doc, {"Content-Type": "application/json"})
    assert [a.title for a in feed.articles] == ["a"]


# -- Hostile XML: entity expansion and external entities --------------------------------------


def _lol_entities() -> str:
    decls = ['<!ENTITY lol "lol">']
    for i in range(1, 10):
        ref = "&lol;" if i == 1 else f"&lol{i - 1};"
        decls.append(f'<!ENTITY lol{i} "{ref * 10}">')
    return "".join(decls)


BILLION_LAUGHS = (
    f'<?xml version="1.0"?><!DOCTYPE rss [{_lol_entities()}]><rss version="2.0"><channel>'
    "<title>Laughs &lol9;</title><item><title>Entry &lol9;</title>"
    "<link>https://x.example/a</link><description>&lol9;&lol9;</description></item>"
    "</channel></rss>"
).encode()
XXE = (
    b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY xxe SYSTEM "file:///etc/passwd">'
    b'<!ENTITY % remote SYSTEM "http://127.0.0.1:9/evil.dtd"> %remote;]>'
    b'<rss version="2.0"><channel><title>T &xxe;</title><item><title>Entry &xxe;</title>'
    b"<link>https://x.example/a</link><description>&xxe;</description></item></channel></rss>"
)
QUADRATIC = (
    '<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "'
    + "x" * 100_000
    + '">]><rss version="2.0"><channel><title>T</title><item><title>'
    + "&a;" * 50_000
    + "</title><link>https://x.example/a</link></item></channel></rss>"
).encode()


def _peak_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


@pytest.mark.parametrize("doc", [BILLION_LAUGHS, XXE, QUADRATIC], ids=["laughs", "xxe", "quad"])
@pytest.mark.parametrize("encoding", ["utf-8", "utf-16"])
def test_hostile_xml_is_defused(doc: bytes, encoding: str) -> None:
    if encoding != "utf-8":
        doc = doc.decode().replace('<?xml version="1.0"?>', "").encode(encoding)
    before = _peak_mb()
    feed = parse_feed(FEED_URL, doc)
    # No timing here (bench/hostile.py measures it): an expansion would take gigabytes.
    assert _peak_mb() - before < 100
    text = json.dumps(as_json(feed))
    assert "root:" not in text and "/bin/" not in text  # nothing of /etc/passwd
    assert "lollollol" not in text and "x" * 1000 not in text
    assert [a.link for a in feed.articles] == ["https://x.example/a"]


def test_small_entities_of_a_doctype_still_work() -> None:
    doc = b"""<?xml version="1.0"?>
<!DOCTYPE rss [<!ENTITY nbsp "&#160;"> <!ENTITY mdash '&#8212;'> <!ENTITY co "ACME">]>
<rss version="2.0"><channel><title>&co;</title>
<item><title>A&mdash;B&nbsp;C</title><link>https://e.example/1</link></item></channel></rss>"""
    feed = parse_feed(FEED_URL, doc)
    assert feed.title == "ACME"
    assert feed.articles[0].title == "A—B C"


def test_a_gt_inside_the_internal_subset_does_not_end_it_early() -> None:
    doc = (
        b'<?xml version="1.0"?><!DOCTYPE rss [<!-- ]> --><!ENTITY q "]>"><!ENTITY x SYSTEM '
        b'"file:///etc/passwd">]><rss version="2.0"><channel><title>T</title><item>'
        b"<title>&x;</title><link>https://e.example/1</link></item></channel></rss>"
    )
    feed = parse_feed(FEED_URL, doc)
    assert "root" not in feed.articles[0].title

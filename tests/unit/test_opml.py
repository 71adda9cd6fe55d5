from __future__ import annotations

import pytest

from brief.config import DEFAULT_SECTIONS
from brief.errors import InputError
from brief.feeds.defaults import DEFAULT_FEEDS
from brief.feeds.opml import OPMLFeed, parse_opml, to_opml

NESTED = b"""<?xml version="1.0" encoding="UTF-8"?>
<opml version="2.0">
  <head><title>My subscriptions</title></head>
  <body>
    <outline text="News">
      <outline text="Middle East">
        <outline type="rss" text="Al Example" xmlUrl="https://aj.example/rss"/>
      </outline>
      <outline type="rss" text="Wire" title="The Wire" xmlUrl="https://wire.example/feed"/>
      <outline text="Lab" xmlurl="https://lab.example/rss" category="/Science/Space,tech"/>
    </outline>
    <outline type="rss" text="Loose" xmlUrl="http://loose.example/feed"/>
    <outline type="rss" text="Duplicate" xmlUrl="https://wire.example/feed"/>
    <outline type="rss" text="Not http" xmlUrl="javascript:alert(1)"/>
    <outline text="Empty folder"/>
  </body>
</opml>
"""


def test_parse_nested_folders_and_categories() -> None:
    assert parse_opml(NESTED) == [
        OPMLFeed("https://aj.example/rss", "Al Example", "middle-east"),
        OPMLFeed("https://wire.example/feed", "The Wire", "news"),
        OPMLFeed("https://lab.example/rss", "Lab", "space"),
        OPMLFeed("http://loose.example/feed", "Loose", None),
    ]


def test_round_trip() -> None:
    feeds = parse_opml(NESTED)
    assert parse_opml(to_opml(feeds, "Export").encode()) == feeds


def test_to_opml_groups_sections_as_folders() -> None:
    text = to_opml(
        [
            OPMLFeed("https://a.example/rss", "A", "world"),
            OPMLFeed("https://b.example/rss", None, None),
            OPMLFeed("https://c.example/rss", "C & D", "world"),
        ],
        "Brief <feeds>",
    )
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<opml version="2.0">')
    assert "<title>Brief &lt;feeds&gt;</title>" in text
    assert text.count('<outline text="world" title="world">') == 1
    assert 'text="C &amp; D"' in text
    assert 'text="https://b.example/rss"' in text  # a title-less feed is named by its URL


def test_utf16_document() -> None:
    doc = '<opml version="1.0"><body><outline text="Café" xmlUrl="https://c.example/é"/></body></opml>'
    assert parse_opml(doc.encode("utf-16")) == [OPMLFeed("https://c.example/é", "Café", None)]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "the OPML file is empty"),
        (b"<opml><body>", "malformed OPML: no element found"),
        (b"<opml><body></opml>", "malformed OPML: mismatched tag"),
        (
            b'<?xml version="1.0"?><rss version="2.0"/>',
            "not an OPML file: the root element is <rss>",
        ),
        (
            b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]>'
            b"<opml><body><outline text='&lol2;'/></body></opml>",
            "refusing OPML with a DOCTYPE or ENTITY declaration",
        ),
        (
            b'<!DOCTYPE opml SYSTEM "http://evil.example/opml.dtd"><opml/>',
            "refusing OPML with a DOCTYPE or ENTITY declaration",
        ),
    ],
)
def test_bad_opml(data: bytes, message: str) -> None:
    with pytest.raises(InputError) as info:
        parse_opml(data)
    assert str(info.value).startswith(message)


def test_default_feeds_are_sane() -> None:
    urls = [f.url for f in DEFAULT_FEEDS]
    assert 12 <= len(DEFAULT_FEEDS) <= 16
    assert len(set(urls)) == len(urls)
    assert all(u.startswith("https://") for u in urls)
    assert all(f.title for f in DEFAULT_FEEDS)
    assert {f.section for f in DEFAULT_FEEDS} <= set(DEFAULT_SECTIONS)
    assert {f.section for f in DEFAULT_FEEDS} == set(DEFAULT_SECTIONS)  # every section covered


def test_default_feeds_round_trip_through_opml() -> None:
    assert parse_opml(to_opml(DEFAULT_FEEDS, "Defaults").encode()) == list(DEFAULT_FEEDS)


def test_export_survives_control_characters_and_keeps_titles_and_sections() -> None:
    feeds = [
        OPMLFeed("https://a.example/rss?x=1&y=2", "Bad\x0btitle\x00 — é <b>", "middle-east"),
        OPMLFeed("https://b.example/feed", "Café & Co", "world"),
        OPMLFeed("https://c.example/feed", None, "middle-east"),
    ]
    back = parse_opml(to_opml(feeds, "Mine\x01").encode())
    assert back == [
        OPMLFeed("https://a.example/rss?x=1&y=2", "Badtitle — é <b>", "middle-east"),
        OPMLFeed("https://c.example/feed", "https://c.example/feed", "middle-east"),
        OPMLFeed("https://b.example/feed", "Café & Co", "world"),  # grouped by section
    ]


def test_attribute_whitespace_is_folded() -> None:
    doc = b"""<opml version="2.0"><body><outline text="  World
    news "><outline text=" The\tWire " xmlUrl=" https://w.example/rss "/></outline></body></opml>"""
    assert parse_opml(doc) == [OPMLFeed("https://w.example/rss", "The Wire", "world-news")]

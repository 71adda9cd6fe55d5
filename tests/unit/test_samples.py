from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

import pytest

from brief.config import DEFAULT_SECTIONS
from brief.feeds.parse import parse_feed
from brief.feeds.samples import render_sample, sample_feeds

NOW = datetime(2025, 1, 31, 6, 0, tzinfo=UTC)


def test_render_rfc822_and_iso_placeholders() -> None:
    text = render_sample("<a>{{hours_ago:3}}</a><b>{{hours_ago_iso:1.5}}</b>", NOW)
    assert text == "<a>Fri, 31 Jan 2025 03:00:00 +0000</a><b>2025-01-31T04:30:00+00:00</b>"
    assert parsedate_to_datetime("Fri, 31 Jan 2025 03:00:00 +0000") == NOW - timedelta(hours=3)


def test_render_converts_other_zones_to_utc() -> None:
    from zoneinfo import ZoneInfo

    paris = NOW.astimezone(ZoneInfo("Europe/Paris"))
    assert render_sample("{{hours_ago:0}}", paris) == "Fri, 31 Jan 2025 06:00:00 +0000"


def test_samples_cover_several_sections() -> None:
    feeds = sample_feeds(NOW)
    assert 3 <= len(feeds) <= 4
    assert len({section for _, section, _ in feeds}) >= 3
    assert {section for _, section, _ in feeds} <= set(DEFAULT_SECTIONS)
    assert len({name for name, _, _ in feeds}) == len(feeds)


@pytest.mark.parametrize("index", range(4))
def test_each_sample_parses_into_recent_items(index: int) -> None:
    name, _section, body = sample_feeds(NOW)[index]
    assert b"{{" not in body
    feed = parse_feed(f"http://127.0.0.1/{name}.xml", body)
    assert feed.title
    assert 4 <= len(feed.articles) <= 6
    for article in feed.articles:
        assert article.published_at is not None
        assert NOW - timedelta(hours=24) < article.published_at <= NOW, article.title
        assert article.link and article.link.startswith("https://example.org/")
        assert article.title and article.summary_text
        assert 2 <= article.summary_text.count(". ") + 1 <= 5, article.summary_text
    assert len({a.guid for a in feed.articles}) == len(feed.articles)


def test_some_samples_have_images() -> None:
    images = [
        a.image_url
        for name, _, body in sample_feeds(NOW)
        for a in parse_feed(f"http://127.0.0.1/{name}.xml", body).articles
        if a.image_url
    ]
    assert len(images) >= 4
    assert all(i.startswith("https://") for i in images)

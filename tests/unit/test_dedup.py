"""Is an entry new, an edit, or nothing to do: pure decisions on plain data."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from brief.feeds.dedup import Decision, article_data, decide
from brief.feeds.normalize import canonical_url
from brief.types import (
    GUID_LENGTH,
    NAME_LENGTH,
    URL_LENGTH,
    ArticleData,
    ArticleForUpdate,
    ArticleUpdate,
    ParsedArticle,
)

NOW = datetime(2025, 1, 31, 6, 0, tzinfo=UTC)
FEED = 7
TITLE = "Parliament votes on the budget today"


def entry(
    guid: str = "g1",
    title: str = TITLE,
    link: str | None = "https://wire.example/1",
    *,
    summary: str = "About it.",
    published: datetime | None = NOW - timedelta(hours=2),
    updated: datetime | None = None,
) -> ArticleData:
    article = ParsedArticle(
        guid=guid,
        title=title,
        link=link,
        summary_text=summary,
        published_at=published,
        updated_at=updated,
    )
    return article_data(FEED, article, NOW)


def stored(data: ArticleData, article_id: int = 1) -> ArticleForUpdate:
    """``data`` as the store reads it back once inserted."""
    return ArticleForUpdate(
        id=article_id,
        guid=data.guid,
        link=data.link,
        title_key=data.title_key,
        published_at=data.published_at,
        updated_at=data.updated_at,
        content_hash=data.content_hash,
    )


def test_nothing_stored_everything_is_new() -> None:
    a, b = entry("a", link="https://wire.example/a"), entry("b", "Storm closes schools today")
    assert decide([a, b], []) == Decision(new=(a, b))


def test_same_guid_same_content_is_nothing_to_do() -> None:
    a = entry()
    assert decide([a], [stored(a)]) == Decision()


def test_same_guid_changed_content_updates_the_stored_article() -> None:
    old = entry(summary="First version.")
    new = entry(summary="Corrected version.")
    assert decide([new], [stored(old, 5)]) == Decision(updates=(ArticleUpdate(5, new),))


def test_same_canonical_link_is_the_same_article() -> None:
    # parse gives canonical links: tracking parameters and fragments are gone.
    link = canonical_url("https://Wire.example/b?utm_source=rss#top")
    assert link == "https://wire.example/b"
    old = entry("b", "Storm closes schools across the north", link)
    new = entry("b-edited", "Storm closes schools across the north!", link)
    assert decide([new], [stored(old, 3)]) == Decision(updates=(ArticleUpdate(3, new),))


def test_a_link_is_added_to_a_stored_article_without_one() -> None:
    old = entry(link=None, summary="Short.")
    new = entry(summary="Longer, with a link.")
    assert decide([new], [stored(old, 4)]) == Decision(
        updates=(ArticleUpdate(4, new, set_link=True),)
    )


@pytest.mark.parametrize(
    ("apart", "same"),
    [
        (timedelta(hours=5), True),
        (timedelta(days=3), True),
        (timedelta(days=3, minutes=1), False),
        (timedelta(days=7), False),
    ],
)
def test_same_title_is_the_same_article_within_three_days(apart: timedelta, same: bool) -> None:
    old = entry("w1", link=None, published=NOW - apart)
    new = entry("w2", link="https://wire.example/moved", published=NOW)
    decision = decide([new], [stored(old)])
    assert (decision.new == ()) is same


def test_a_short_title_is_too_generic_to_merge_on() -> None:
    old = entry("p1", "Podcast", link=None)
    new = entry("p2", "Podcast", link=None)
    assert old.title_key is None
    assert decide([new], [stored(old)]) == Decision(new=(new,))


def test_an_entry_listed_twice_by_the_feed_counts_once() -> None:
    first = entry("d", link="https://wire.example/d")
    same_guid = entry("d", "D twice", "https://wire.example/d2")
    same_link = entry("c", "C again", "https://wire.example/d")
    assert decide([first, same_guid, same_link], []) == Decision(new=(first,))


def test_an_older_copy_does_not_undo_an_update() -> None:
    newer = entry(summary="Corrected.", updated=NOW - timedelta(hours=1))
    stale = entry(summary="First.", updated=NOW - timedelta(hours=2))
    assert decide([stale], [stored(newer)]) == Decision()
    # The same date is not newer either; a later one, or none on either side, is.
    assert decide([replace(stale, updated_at=newer.updated_at)], [stored(newer)]) == Decision()
    later = replace(stale, updated_at=NOW)
    assert decide([later], [stored(newer)]).updates == (ArticleUpdate(1, later),)
    undated = replace(stale, updated_at=None)
    assert decide([undated], [stored(newer)]).updates == (ArticleUpdate(1, undated),)


def test_long_guid_is_replaced_by_its_digest() -> None:
    long = "x" * (GUID_LENGTH + 1)
    data = entry(long)
    assert data.guid.startswith("sha256:") and len(data.guid) == 7 + 64
    assert entry(long).guid == data.guid  # stable: the next poll finds it again
    assert entry("x" * GUID_LENGTH).guid == "x" * GUID_LENGTH


def test_values_too_long_for_their_columns() -> None:
    article = ParsedArticle(
        guid="g",
        title="T",
        link="https://l.example/" + "y" * URL_LENGTH,
        image_url="https://i.example/" + "y" * URL_LENGTH,
        author="a" * (NAME_LENGTH + 5),
        image_alt="b" * (NAME_LENGTH + 5),
    )
    data = article_data(FEED, article, NOW)
    assert (data.link, data.image_url) == (None, None)  # a cut URL would be a wrong one
    assert data.author == "a" * NAME_LENGTH
    assert data.image_alt == "b" * NAME_LENGTH


@pytest.mark.parametrize(
    ("published", "expected"),
    [
        (None, NOW),  # undated: first seen now
        (NOW + timedelta(days=1), NOW),  # far future: a feed bug, first seen now
        (NOW + timedelta(minutes=5), NOW + timedelta(minutes=5)),  # clock skew: kept
        (NOW - timedelta(days=2), NOW - timedelta(days=2)),
    ],
)
def test_future_date_is_clamped_to_now(published: datetime | None, expected: datetime) -> None:
    data = entry(published=published)
    assert (data.published_at, data.fetched_at) == (expected, NOW)


def test_content_hash_follows_what_readers_see() -> None:
    base = entry()
    assert entry().content_hash == base.content_hash
    assert entry(summary="Other.").content_hash != base.content_hash
    assert entry(title=TITLE + "!").content_hash != base.content_hash
    assert entry(updated=NOW).content_hash == base.content_hash  # a date alone is no edit


def test_newest_keeps_the_newest_entries_in_the_feeds_order() -> None:
    from brief.feeds.dedup import newest

    at = datetime(2026, 12, 1, tzinfo=UTC)
    old, new, mid = (
        ParsedArticle(guid=g, title=g, published_at=at - timedelta(hours=h))
        for g, h in (("old", 9), ("new", 1), ("mid", 5))
    )
    undated = ParsedArticle(guid="undated", title="undated")  # stamped now: the newest
    assert newest([old, new, mid], 2) == (new, mid)
    assert newest([old, undated, new, mid], 2) == (undated, new)
    assert newest([old, new], 5) == (old, new)
    # Equal dates keep the feed's order.
    same = [ParsedArticle(guid=str(i), title=str(i), published_at=at) for i in range(4)]
    assert newest(same, 2) == tuple(same[:2])

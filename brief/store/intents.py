"""What callers hand the store to write, and the stored state they decide from.

Like reader's ``FeedUpdateIntent``/``EntryUpdateIntent``/``EntryForUpdate``: the
decisions (brief.feeds.dedup, brief.feeds.writer, brief.editions) are made on these
plain values, and the store turns them into SQL. Values are already fitted to the
columns (see the lengths in brief.models).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

# -- feeds -------------------------------------------------------------------


@dataclass(frozen=True)
class FeedForUpdate:
    """The Feed columns a refresh needs, read once per batch."""

    id: int
    url: str
    etag: str | None
    last_modified: str | None
    disabled_at: datetime | None
    title: str | None
    hints: dict[str, Any] | None  # schedule.FeedHints as JSON
    last_new_article_at: datetime | None
    error_count: int | None


@dataclass(frozen=True)
class FeedContent:
    """What a fetched feed body (a 200) says about the feed itself."""

    etag: str | None
    last_modified: str | None
    hints: dict[str, Any]  # schedule.FeedHints as JSON
    site_url: str | None  # None keeps the stored one
    title: str | None  # None keeps the stored one


@dataclass(frozen=True)
class FeedUpdate:
    """A successful fetch (200 or 304): the error streak ends, the next poll is set."""

    feed_id: int
    fetched_at: datetime
    status: int  # HTTP
    next_poll_at: datetime
    poll_interval_minutes: int
    content: FeedContent | None = None  # None for a 304
    new_article_at: datetime | None = None  # when the fetch brought new articles
    url: str | None = None  # the new URL after a permanent redirect


@dataclass(frozen=True)
class FeedFailure:
    """A failed fetch: one more error in the streak, or the feed disabled for good."""

    feed_id: int
    fetched_at: datetime
    status: int | None  # HTTP, when there was an answer
    error: str
    error_count: int
    next_poll_at: datetime | None  # None when disabled
    poll_interval_minutes: int | None = None  # None keeps the stored interval
    disabled: bool = False  # a 410 Gone: not polled any more


# -- articles ----------------------------------------------------------------


@dataclass(frozen=True)
class ArticleData:
    """A feed entry as the values of an article row."""

    feed_id: int
    guid: str
    link: str | None
    title: str
    summary_text: str
    summary_html: str
    author: str | None
    image_url: str | None
    image_alt: str | None
    categories: tuple[str, ...]
    published_at: datetime
    updated_at: datetime | None  # the entry's own "updated"
    fetched_at: datetime
    content_hash: str
    title_key: str | None


@dataclass(frozen=True)
class ArticleUpdate:
    """New content for a stored article that its feed has edited."""

    article_id: int
    data: ArticleData  # its feed, guid, dates of publication and fetch are kept
    set_link: bool = False  # the stored row has no link and ``data`` has one


@dataclass(frozen=True)
class ArticleForUpdate:
    """A stored article, as much of it as deciding "same entry? changed?" needs."""

    id: int
    guid: str
    link: str | None
    title_key: str | None
    published_at: datetime
    updated_at: datetime | None
    content_hash: str | None


# -- editions ----------------------------------------------------------------


@dataclass(frozen=True)
class NewEdition:
    """A built edition, stored once per date."""

    date: date
    window_start: datetime
    window_end: datetime
    subject: str
    stories: list[dict[str, Any]]  # Digest.stories_json()
    html: str
    text: str
    created_at: datetime
    status: str = "built"

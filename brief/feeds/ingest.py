"""The I/O edge of the feeds stage: fetch -> parse -> store, one Feed row at a time.

A feed problem never raises out of here: it is recorded on the Feed row
(``error_count``, ``last_error``) and reported in the IngestResult, so one broken
feed cannot stop the others.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from hashlib import sha256
from typing import Any, Literal

import httpx
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from brief import store
from brief.errors import FeedError, FeedParseError
from brief.feeds.fetch import fetch_feed, make_client
from brief.feeds.parse import parse_feed
from brief.models import Article, Feed
from brief.types import FetchResult, ParsedArticle, ParsedFeed

log = logging.getLogger(__name__)

Status = Literal["ok", "not_modified", "error"]

# A published date further ahead than this is a feed bug (bad time zone, scheduled post);
# such an entry is dated when we first saw it, so it cannot sit atop every digest.
FUTURE_TOLERANCE = timedelta(hours=1)


@dataclass(frozen=True)
class IngestResult:
    feed_id: int
    url: str
    status: Status
    new_articles: int = 0
    error: str | None = None


def refresh_feed(
    session: Session, client: httpx.Client, feed_id: int, now: datetime
) -> IngestResult:
    """Fetch, parse and store one feed, then commit. Never raises for a feed problem."""
    feed = session.get(Feed, feed_id)
    if feed is None:  # deleted since it was scheduled
        return IngestResult(feed_id, "", "error", error=f"no feed with id {feed_id}")
    url = feed.url
    status: int | None = None
    try:
        result = fetch_feed(client, url, etag=feed.etag, last_modified=feed.last_modified)
        status = result.status
        new = 0 if result.content is None else _store_fetched(session, feed, result, now)
    except FeedError as exc:
        session.rollback()  # nothing half-stored; the error is recorded on a clean slate
        return _record_error(session, feed_id, url, status or _status_of(exc.message), exc, now)
    # A 304 is a healthy answer too, so it also ends an error streak.
    feed.last_fetched_at = now
    feed.last_status = status
    feed.last_success_at = now
    feed.error_count = 0
    feed.last_error = None
    session.commit()
    if result.not_modified:
        return IngestResult(feed_id, url, "not_modified")
    return IngestResult(feed_id, url, "ok", new_articles=new)


def store_articles(session: Session, feed: Feed, parsed: ParsedFeed, now: datetime) -> int:
    """Insert the entries not stored yet; return how many rows were added.

    An entry is old when its guid, or failing that its link, is already stored for this
    feed (some feeds change guids on every edit). Does not commit.
    """
    rows: list[dict[str, Any]] = []
    seen_guids, seen_links = _stored_keys(session, feed.id, parsed.articles)
    for article in parsed.articles:
        row = _row(feed.id, article, now)
        if row["guid"] in seen_guids or (row["link"] and row["link"] in seen_links):
            continue
        seen_guids.add(row["guid"])
        if row["link"]:
            seen_links.add(row["link"])
        rows.append(row)
    if not rows:
        return 0
    # ON CONFLICT DO NOTHING: a concurrent refresh of the same feed may have won the race.
    return store.insert_ignoring_conflicts(session, Article, rows)


def refresh_feeds(
    session_factory: Callable[[], Session],
    feed_ids: Iterable[int],
    *,
    timeout: float,
    user_agent: str,
    now: datetime,
    max_workers: int = 8,
) -> list[IngestResult]:
    """Refresh many feeds in a thread pool; results are in the order of ``feed_ids``."""
    ids = list(feed_ids)
    if not ids:
        return []

    def one(client: httpx.Client, feed_id: int) -> IngestResult:
        try:
            with session_factory() as session:
                return refresh_feed(session, client, feed_id, now)
        except Exception as exc:  # a database problem: report it, let the other feeds run
            log.exception("refreshing feed %s failed", feed_id)
            return IngestResult(feed_id, "", "error", error=f"{type(exc).__name__}: {exc}")

    with (
        make_client(timeout, user_agent) as client,
        ThreadPoolExecutor(max_workers=max(1, min(max_workers, len(ids)))) as pool,
    ):
        return list(pool.map(lambda feed_id: one(client, feed_id), ids))


def _store_fetched(session: Session, feed: Feed, result: FetchResult, now: datetime) -> int:
    """Parse a 200 response, store its new entries and keep the feed's validators."""
    parsed = _parse(feed.url, result.content or b"", result.headers)
    new = store_articles(session, feed, parsed, now)
    feed.etag, feed.last_modified = result.etag, result.last_modified
    feed.title = feed.title or _truncate(parsed.title, 500)
    feed.site_url = _truncate(parsed.link, 2048) or feed.site_url
    return new


def _parse(url: str, content: bytes, headers: dict[str, str]) -> ParsedFeed:
    try:
        return parse_feed(url, content, headers)
    except FeedError:
        raise
    except Exception as exc:  # a parser bug must look like a bad feed, not crash the run
        log.exception("parsing %s crashed", url)
        raise FeedParseError(url, f"could not parse feed: {type(exc).__name__}: {exc}") from exc


def _record_error(
    session: Session, feed_id: int, url: str, status: int | None, exc: FeedError, now: datetime
) -> IngestResult:
    feed = session.get(Feed, feed_id)
    if feed is not None:
        feed.error_count = (feed.error_count or 0) + 1
        feed.last_error = exc.message
        feed.last_fetched_at = now
        feed.last_status = status
        session.commit()
    log.warning("feed %s: %s", feed_id, exc)
    return IngestResult(feed_id, url, "error", error=exc.message)


def _status_of(message: str) -> int | None:
    """The HTTP status in a message like "HTTP 503 Service Unavailable", if there is one."""
    parts = message.split()
    if len(parts) >= 2 and parts[0] == "HTTP" and parts[1].isdigit():
        return int(parts[1])
    return None


def _stored_keys(
    session: Session, feed_id: int, articles: Iterable[ParsedArticle]
) -> tuple[set[str], set[str]]:
    """Guids and links of this batch that the feed already has, in one query."""
    guids = {_fit_guid(a.guid) for a in articles}
    links = {a.link for a in articles if a.link}
    if not guids and not links:
        return set(), set()
    found = session.execute(
        select(Article.guid, Article.link).where(
            Article.feed_id == feed_id, or_(Article.guid.in_(guids), Article.link.in_(links))
        )
    ).all()
    return {g for g, _ in found}, {link for _, link in found if link}


def _row(feed_id: int, article: ParsedArticle, now: datetime) -> dict[str, Any]:
    published = article.published_at
    if published is None or published > now + FUTURE_TOLERANCE:
        published = now
    return {
        "feed_id": feed_id,
        "guid": _fit_guid(article.guid),
        "link": article.link if article.link and len(article.link) <= 2048 else None,
        "title": article.title,
        "summary_text": article.summary_text,
        "summary_html": article.summary_html,
        "author": _truncate(article.author, 500),
        "image_url": article.image_url
        if article.image_url and len(article.image_url) <= 2048
        else None,
        "published_at": published,
        "fetched_at": now,
    }


def _fit_guid(guid: str) -> str:
    # The column holds 1024 characters; a longer guid is replaced by its stable digest.
    return guid if len(guid) <= 1024 else "sha256:" + sha256(guid.encode()).hexdigest()


def _truncate(value: str | None, limit: int) -> str | None:
    return value[:limit] if value else None

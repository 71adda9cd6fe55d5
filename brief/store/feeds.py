"""Feeds: adding, listing, removing, claiming the ones due a poll, recording each fetch."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from brief.errors import InputError, NotFoundError
from brief.models import Feed
from brief.types import FeedFailure, FeedForUpdate, FeedQuarantine, FeedUpdate
from brief.types import PoisonMarker as Marker


def check_feed_url(url: str) -> str:
    from urllib.parse import urlsplit

    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InputError(f"not a feed URL: {url!r} (expected http:// or https://)")
    return url


def get_feed_by_url(session: Session, url: str) -> Feed | None:
    return session.scalar(select(Feed).where(Feed.url == url))


def add_feed(
    session: Session,
    url: str,
    section: str,
    title: str | None = None,
    weight: float | None = None,
) -> tuple[Feed, bool]:
    """Add a feed, or update the section/title/weight of one already there.

    Adding a disabled feed again (e.g. after a 410 Gone) enables it and polls it soon.
    Returns (feed, created).
    """
    url = check_feed_url(url)
    section = section.strip().lower() or "world"
    if weight is not None and not weight > 0:
        raise InputError(f"weight must be a positive number, not {weight}")
    feed = get_feed_by_url(session, url)
    if feed is not None:
        feed.section = section
        if title:
            feed.title = title
        if weight is not None:
            feed.weight = weight
        if feed.disabled_at is not None:
            feed.disabled_at = feed.disabled_reason = feed.next_poll_at = None
            feed.error_count = 0
        return feed, False
    feed = Feed(url=url, section=section, title=title or None, error_count=0, weight=weight or 1.0)
    session.add(feed)
    session.flush()
    return feed, True


def list_feeds(session: Session) -> list[Feed]:
    return list(session.scalars(select(Feed).order_by(Feed.section, Feed.id)))


def feed_ids(
    session: Session, *, include_disabled: bool = False, include_quarantined: bool = True
) -> list[int]:
    query = select(Feed.id).order_by(Feed.id)
    if not include_disabled:
        query = query.where(Feed.disabled_at.is_(None))
    if not include_quarantined:  # poison feeds wait for their back-off (brief.feeds.quarantine)
        query = query.where(Feed.quarantined_at.is_(None))
    return list(session.scalars(query))


def claim_due_feeds(session: Session, now: datetime, lease: timedelta) -> list[int]:
    """Ids of the enabled feeds due a poll (``next_poll_at`` unset or past), claimed.

    Claiming moves their ``next_poll_at`` to ``now + lease`` in the same UPDATE, so a
    second beat (or an overlapping run) does not pick them again; the refresh then sets
    the real next poll time, and a feed whose worker died is retried after the lease.
    """
    due = Feed.disabled_at.is_(None) & (Feed.next_poll_at.is_(None) | (Feed.next_poll_at <= now))
    stmt = (
        update(Feed)
        .where(due)
        .values(next_poll_at=now + lease)
        .returning(Feed.id)
        .execution_options(synchronize_session=False)
    )
    return sorted(session.scalars(stmt))


def remove_feed(session: Session, url: str) -> None:
    feed = get_feed_by_url(session, url.strip())
    if feed is None:
        raise NotFoundError(f"no feed with URL {url!r} (see `brief feeds list`)")
    session.delete(feed)


def feeds_for_update(session: Session, ids: Iterable[int]) -> dict[int, FeedForUpdate]:
    """What a refresh needs of each feed in ``ids`` (missing ids are left out)."""
    rows = session.execute(
        select(
            Feed.id,
            Feed.url,
            Feed.etag,
            Feed.last_modified,
            Feed.disabled_at,
            Feed.title,
            Feed.hints,
            Feed.last_new_article_at,
            Feed.error_count,
        ).where(Feed.id.in_(list(ids)))
    ).all()
    return {row.id: FeedForUpdate(*row) for row in rows}


# A feed whose outcome is recorded was not lost: its poison-feed marks are cleared.
_LANDED: dict[str, Any] = {
    "fetch_started_at": None,
    "lost_count": 0,
    "quarantined_at": None,
    "quarantine_reason": None,
}


def record_fetch(session: Session, fetched: FeedUpdate) -> None:
    """Record a successful fetch: errors reset, validators and hints of a 200 kept."""
    values: dict[str, Any] = {
        **_LANDED,
        "last_fetched_at": fetched.fetched_at,
        "last_status": fetched.status,
        "last_success_at": fetched.fetched_at,
        "error_count": 0,
        "last_error": None,
        "next_poll_at": fetched.next_poll_at,
        "poll_interval_minutes": fetched.poll_interval_minutes,
    }
    content = fetched.content
    if content is not None:
        values.update(
            etag=content.etag,
            last_modified=content.last_modified,
            hints=content.hints,
            site_url=content.site_url or Feed.site_url,
        )
        if content.title:
            values["title"] = content.title
    if fetched.new_article_at is not None:
        values["last_new_article_at"] = fetched.new_article_at
    if fetched.url:
        values["url"] = fetched.url
    session.execute(update(Feed).where(Feed.id == fetched.feed_id).values(**values))


def record_failure(session: Session, failure: FeedFailure) -> None:
    """Record a failed fetch; a disabled feed keeps its interval but has no next poll."""
    values: dict[str, Any] = {
        **_LANDED,
        "error_count": failure.error_count,
        "last_error": failure.error,
        "last_fetched_at": failure.fetched_at,
        "last_status": failure.status,
        "next_poll_at": failure.next_poll_at,
    }
    if failure.disabled:
        values.update(disabled_at=failure.fetched_at, disabled_reason=failure.error)
    if failure.poll_interval_minutes is not None:
        values["poll_interval_minutes"] = failure.poll_interval_minutes
    session.execute(update(Feed).where(Feed.id == failure.feed_id).values(**values))


def fetch_markers(session: Session, ids: Iterable[int]) -> list[tuple[Marker, int]]:
    """The poison-feed marks of the feeds in ``ids``, with each one's ``error_count``."""
    rows = session.execute(
        select(
            Feed.id, Feed.fetch_started_at, Feed.lost_count, Feed.quarantined_at, Feed.error_count
        )
        .where(Feed.id.in_(list(ids)))
        .order_by(Feed.id)
    ).all()
    return [
        (Marker(row.id, row.fetch_started_at, row.lost_count or 0, row.quarantined_at is not None),
         row.error_count or 0)
        for row in rows
    ]  # fmt: skip


def set_in_flight(session: Session, lost: dict[int, int], started_at: datetime | None) -> None:
    """Each feed's ``lost_count``, and in flight since ``started_at`` (None: not in flight)."""
    for feed_id, count in lost.items():
        session.execute(
            update(Feed)
            .where(Feed.id == feed_id)
            .values(fetch_started_at=started_at, lost_count=count)
        )


def quarantine_feed(session: Session, q: FeedQuarantine) -> None:
    """Not fetched now: polled again at ``q.next_poll_at``, alone."""
    session.execute(
        update(Feed)
        .where(Feed.id == q.feed_id)
        .values(
            fetch_started_at=None,
            lost_count=q.lost_count,
            quarantined_at=q.at,
            quarantine_reason=q.reason,
            error_count=q.error_count,
            last_error=q.reason,
            next_poll_at=q.next_poll_at,
        )
    )


def clear_in_flight(session: Session, ids: Iterable[int]) -> None:
    """The feeds of a batch that ended (its process lived) are not in flight any more."""
    session.execute(
        update(Feed)
        .where(Feed.id.in_(list(ids)), Feed.fetch_started_at.is_not(None))
        .values(fetch_started_at=None, lost_count=0)
    )


def feed_counts(session: Session) -> tuple[int, int]:
    """Feeds still polled, and how many of them failed at their last fetch."""
    total, failing = session.execute(
        select(func.count(), func.count().filter(Feed.error_count > 0)).where(
            Feed.disabled_at.is_(None)
        )
    ).one()
    return int(total), int(failing)

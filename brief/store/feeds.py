"""Feeds: adding, listing, removing, and claiming the ones due a poll."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from brief.errors import InputError, NotFoundError
from brief.models import Feed


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


def feed_ids(session: Session, *, include_disabled: bool = False) -> list[int]:
    query = select(Feed.id).order_by(Feed.id)
    if not include_disabled:
        query = query.where(Feed.disabled_at.is_(None))
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

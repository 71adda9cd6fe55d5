"""Every query brief makes. Functions take a Session and plain values.

Writes that tasks may repeat are made safe by unique keys (edition date,
delivery edition x subscriber) and by claiming rows with a conditional UPDATE.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from brief.errors import InputError, NotFoundError
from brief.models import Article, Delivery, Edition, Feed, Subscriber
from brief.types import ArticleRecord

# -- feeds -----------------------------------------------------------------


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


def insert_articles(session: Session, rows: Sequence[dict[str, Any]]) -> dict[str, int]:
    """Insert article rows, skipping (feed_id, guid) conflicts; returns {guid: new id}.

    A concurrent refresh of the same feed may have won the race for some rows; those
    are left out of the answer.
    """
    if not rows:
        return {}
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    # One cached statement run with many parameter sets (SQLAlchemy's "insertmanyvalues"
    # batches them, RETURNING included), not one huge VALUES clause compiled per call.
    stmt = insert(Article).on_conflict_do_nothing().returning(Article.id, Article.guid)
    result = session.connection().execute(stmt, [_article_columns(row) for row in rows])
    return {guid: article_id for article_id, guid in result.all()}


_ARTICLE_DEFAULTS = {"summary_text": "", "summary_html": "", "full_text": ""}


def _article_columns(row: dict[str, Any]) -> dict[str, Any]:
    # executemany needs the same keys in every parameter set.
    return {**_ARTICLE_DEFAULTS, **row}


def remove_feed(session: Session, url: str) -> None:
    feed = get_feed_by_url(session, url.strip())
    if feed is None:
        raise NotFoundError(f"no feed with URL {url!r} (see `brief feeds list`)")
    session.delete(feed)


# -- subscribers -----------------------------------------------------------


def find_subscriber(session: Session, email: str) -> Subscriber | None:
    return session.scalar(select(Subscriber).where(func.lower(Subscriber.email) == email.lower()))


def add_subscriber(
    session: Session,
    email: str,
    *,
    now: datetime,
    timezone: str | None = None,
    sections: list[str] | None = None,
    delivery_hour: int | None = None,
    status: str = "active",
) -> tuple[Subscriber, bool]:
    """Add (or re-activate) a subscriber; `email` must already be validated."""
    sub = find_subscriber(session, email)
    created = sub is None
    if sub is None:
        sub = Subscriber(email=email, created_at=now, status=status)
        session.add(sub)
    elif status == "active" and sub.status != "active":
        sub.status = "active"
        sub.unsubscribed_at = None
    if status == "active" and sub.confirmed_at is None:
        sub.confirmed_at = now
    if timezone is not None or created:
        sub.timezone = timezone or "UTC"
    if sections is not None or created:
        sub.sections = sections
    if delivery_hour is not None or created:
        sub.delivery_hour = delivery_hour
    session.flush()
    return sub, created


def list_subscribers(session: Session, status: str | None = None) -> list[Subscriber]:
    query = select(Subscriber).order_by(Subscriber.id)
    if status:
        query = query.where(Subscriber.status == status)
    return list(session.scalars(query))


def unsubscribe(session: Session, email: str, now: datetime) -> Subscriber:
    sub = find_subscriber(session, email)
    if sub is None:
        raise NotFoundError(f"no subscriber {email!r}")
    if sub.status != "unsubscribed":
        sub.status = "unsubscribed"
        sub.unsubscribed_at = now
    return sub


# -- articles --------------------------------------------------------------


def articles_in_window(session: Session, start: datetime, end: datetime) -> list[ArticleRecord]:
    rows = session.execute(
        select(Article, Feed)
        .join(Feed, Article.feed_id == Feed.id)
        .where(Article.published_at >= start, Article.published_at < end)
        .order_by(Article.published_at.desc(), Article.id.desc())
    )
    return [
        ArticleRecord(
            id=article.id,
            feed_id=feed.id,
            source=feed.display_name,
            section=feed.section,
            title=article.title,
            link=article.link,
            summary_text=article.summary_text,
            image_url=article.image_url,
            published_at=article.published_at,
            full_text=article.full_text,
            weight=feed.weight,
            image_alt=article.image_alt,
        )
        for article, feed in rows
    ]


# -- editions --------------------------------------------------------------


def get_edition(session: Session, edition_id: int) -> Edition:
    edition = session.get(Edition, edition_id)
    if edition is None:
        raise NotFoundError(f"no edition {edition_id} (see `brief editions list`)")
    return edition


def edition_for_date(session: Session, day: date) -> Edition | None:
    return session.scalar(select(Edition).where(Edition.date == day))


def latest_edition(session: Session) -> Edition | None:
    return session.scalar(select(Edition).order_by(Edition.date.desc()).limit(1))


def list_editions(session: Session) -> list[Edition]:
    return list(session.scalars(select(Edition).order_by(Edition.date.desc())))


def insert_ignoring_conflicts(session: Session, model: Any, rows: Sequence[dict[str, Any]]) -> int:
    """INSERT ... ON CONFLICT DO NOTHING on SQLite and PostgreSQL; returns rows inserted."""
    if not rows:
        return 0
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    # RETURNING counts reliably where rowcount does not (psycopg reports -1 here).
    stmt = insert(model).values(list(rows)).on_conflict_do_nothing().returning(model.id)
    return len(session.execute(stmt).all())


def save_edition(session: Session, values: dict[str, Any]) -> tuple[Edition, bool]:
    """Store an edition unless one exists for its date (then that one wins)."""
    created = insert_ignoring_conflicts(session, Edition, [values]) == 1
    edition = edition_for_date(session, values["date"])
    assert edition is not None
    return edition, created


def delete_unsent_edition(session: Session, edition: Edition) -> None:
    """Drop an edition to rebuild it, which is only allowed before anything was sent."""
    started = session.scalar(
        select(func.count())
        .select_from(Delivery)
        .where(Delivery.edition_id == edition.id, Delivery.status != "pending")
    )
    if started:
        raise InputError(
            f"edition {edition.date} has already been sent to {started} subscriber(s); "
            "it cannot be rebuilt"
        )
    session.delete(edition)
    session.flush()


# -- deliveries ------------------------------------------------------------


def add_pending_deliveries(
    session: Session, edition_id: int, recipients: Iterable[tuple[int, str]], now: datetime
) -> int:
    """Pending deliveries of an edition to (subscriber id, address) pairs; existing ones kept."""
    rows = [
        {
            "edition_id": edition_id,
            "subscriber_id": subscriber_id,
            "recipient": email,
            "status": "pending",
            "attempts": 0,
            "created_at": now,
        }
        for subscriber_id, email in recipients
    ]
    return insert_ignoring_conflicts(session, Delivery, rows)


def create_deliveries(session: Session, edition_id: int, now: datetime) -> int:
    """One pending Delivery per active subscriber who has none for this edition."""
    active = session.execute(
        select(Subscriber.id, Subscriber.email).where(Subscriber.status == "active")
    ).all()
    return add_pending_deliveries(session, edition_id, active, now)


def pending_delivery_ids(session: Session, edition_id: int) -> list[int]:
    return list(
        session.scalars(
            select(Delivery.id)
            .where(Delivery.edition_id == edition_id, Delivery.status == "pending")
            .order_by(Delivery.id)
        )
    )


def claim_delivery(session: Session, delivery_id: int, now: datetime) -> bool:
    """Move one delivery from pending to sending; False if someone else has it or it is done.

    The conditional UPDATE is the lock: of two workers racing, one gets rowcount 1.
    """
    result = session.execute(
        update(Delivery)
        .where(Delivery.id == delivery_id, Delivery.status == "pending")
        .values(status="sending", attempts=Delivery.attempts + 1, claimed_at=now)
    )
    return int(getattr(result, "rowcount", 0) or 0) == 1


def finish_delivery(session: Session, delivery_id: int, now: datetime, message_id: str) -> None:
    session.execute(
        update(Delivery)
        .where(Delivery.id == delivery_id, Delivery.status == "sending")
        .values(status="sent", sent_at=now, message_id=message_id, last_error=None)
    )


def fail_delivery(session: Session, delivery_id: int, error: str, *, retry: bool) -> None:
    """Record an error: back to pending when worth retrying, failed otherwise."""
    session.execute(
        update(Delivery)
        .where(Delivery.id == delivery_id, Delivery.status == "sending")
        .values(status="pending" if retry else "failed", last_error=error[:2000])
    )


def delivery_counts(session: Session, edition_id: int) -> dict[str, int]:
    rows = session.execute(
        select(Delivery.status, func.count())
        .where(Delivery.edition_id == edition_id)
        .group_by(Delivery.status)
    ).all()
    return {status: count for status, count in rows}


def create_due_deliveries(session: Session, edition: Edition, now: datetime) -> int:
    """Pending deliveries of `edition` for the active subscribers whose morning it now is."""
    from zoneinfo import ZoneInfo

    from brief.sendtime import is_due

    have = select(Delivery.subscriber_id).where(Delivery.edition_id == edition.id)
    waiting = session.execute(
        select(
            Subscriber.id, Subscriber.email, Subscriber.timezone, Subscriber.delivery_hour
        ).where(Subscriber.status == "active", Subscriber.id.not_in(have))
    ).all()
    due = [
        (sid, email)
        for sid, email, zone, hour in waiting
        if is_due(now, edition.created_at, ZoneInfo(zone), hour)
    ]
    return add_pending_deliveries(session, edition.id, due, now)

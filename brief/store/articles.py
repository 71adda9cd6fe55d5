"""Articles: a feed's new and edited entries, their full text, and an edition's window."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select, update
from sqlalchemy.orm import Session

from brief.models import Article, Feed, display_name
from brief.store._sql import dialect_insert
from brief.types import ArticleData, ArticleForUpdate, ArticleRecord, ArticleUpdate


def insert_articles(session: Session, articles: Sequence[ArticleData]) -> dict[str, int]:
    """Insert articles, skipping (feed_id, guid) conflicts; returns {guid: new id}.

    A concurrent refresh of the same feed may have won the race for some rows; those
    are left out of the answer.
    """
    if not articles:
        return {}
    insert = dialect_insert(session)
    # One cached statement run with many parameter sets (SQLAlchemy's "insertmanyvalues"
    # batches them, RETURNING included), not one huge VALUES clause compiled per call.
    stmt = insert(Article).on_conflict_do_nothing().returning(Article.id, Article.guid)
    result = session.connection().execute(stmt, [_columns(a) for a in articles])
    return {guid: article_id for article_id, guid in result.all()}


def _columns(article: ArticleData) -> dict[str, Any]:
    # executemany needs the same keys in every parameter set: full_text is always "".
    return {**vars(article), "categories": list(article.categories) or None, "full_text": ""}


# The columns an edit of the entry replaces; its feed, guid and dates of publication
# and first fetch stay.
_EDITED = (
    "title",
    "summary_text",
    "summary_html",
    "author",
    "image_url",
    "image_alt",
    "updated_at",
    "content_hash",
    "title_key",
)


def update_article(session: Session, edit: ArticleUpdate) -> None:
    data = edit.data
    values: dict[str, Any] = {name: getattr(data, name) for name in _EDITED}
    values["categories"] = list(data.categories) or None
    if edit.set_link:
        values["link"] = data.link
    session.execute(update(Article).where(Article.id == edit.article_id).values(**values))


def articles_for_update(
    session: Session, feed_id: int, entries: Sequence[ArticleData], title_window: timedelta
) -> list[ArticleForUpdate]:
    """The stored articles of this feed that may be one of ``entries``.

    Those sharing a guid, a link, or a title key (published at most ``title_window``
    before the earliest entry): the candidates brief.feeds.dedup decides among.
    """
    if not entries:
        return []
    guids = {e.guid for e in entries}
    links = {e.link for e in entries if e.link}
    keys = {e.title_key for e in entries if e.title_key}
    earliest = min(e.published_at for e in entries) - title_window
    conditions: list[ColumnElement[bool]] = [Article.guid.in_(guids)]
    if links:
        conditions.append(Article.link.in_(links))
    if keys:
        conditions.append(and_(Article.title_key.in_(keys), Article.published_at >= earliest))
    query = select(
        Article.id,
        Article.guid,
        Article.link,
        Article.title_key,
        Article.published_at,
        Article.updated_at,
        Article.content_hash,
    ).where(Article.feed_id == feed_id, or_(*conditions))
    return [ArticleForUpdate(*row) for row in session.execute(query)]


def set_full_text(session: Session, article_id: int, text: str) -> None:
    """Store the main text of the article's page."""
    session.execute(update(Article).where(Article.id == article_id).values(full_text=text))


def articles_in_window(
    session: Session,
    start: datetime,
    end: datetime,
    *,
    limit: int | None = None,
    per_feed: int | None = None,
) -> list[ArticleRecord]:
    """The articles published in [start, end), newest first: at most ``per_feed`` of
    each feed and ``limit`` in all, so that one feed cannot flood an edition."""
    newest = (Article.published_at.desc(), Article.id.desc())
    in_window = (Article.published_at >= start, Article.published_at < end)
    # Columns, not entities: an edition reads thousands of rows once, and ORM objects
    # cost most of that time.
    query = select(
        Article.id,
        Article.feed_id,
        Feed.title.label("feed_title"),
        Feed.url.label("feed_url"),
        Feed.section,
        Feed.weight,
        Article.title,
        Article.link,
        Article.summary_text,
        Article.image_url,
        Article.image_alt,
        Article.published_at,
        Article.full_text,
        Article.categories,
    ).join(Feed, Article.feed_id == Feed.id)
    if per_feed is None:
        query = query.where(*in_window)
    else:
        # Ranked by a window function over the index's columns: only the kept rows are read.
        rank = func.row_number().over(partition_by=Article.feed_id, order_by=newest)
        ranked = select(Article.id, rank.label("rank")).where(*in_window).subquery()
        query = query.join(ranked, ranked.c.id == Article.id).where(ranked.c.rank <= per_feed)
    rows = session.execute(query.order_by(*newest).limit(limit))
    return [_record(**row._asdict()) for row in rows]


def _record(
    feed_title: str | None, feed_url: str, categories: list[str] | None, **columns: Any
) -> ArticleRecord:
    return ArticleRecord(
        source=display_name(feed_title, feed_url), categories=tuple(categories or ()), **columns
    )


def newest_article_time(session: Session) -> datetime | None:
    """When the newest stored article was published; None when there is none."""
    newest: datetime | None = session.scalar(select(func.max(Article.published_at)))
    return newest

"""Articles: inserting a feed's new entries and reading an edition's window."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from brief.models import Article, Feed
from brief.store._sql import dialect_insert
from brief.types import ArticleRecord


def insert_articles(session: Session, rows: Sequence[dict[str, Any]]) -> dict[str, int]:
    """Insert article rows, skipping (feed_id, guid) conflicts; returns {guid: new id}.

    A concurrent refresh of the same feed may have won the race for some rows; those
    are left out of the answer.
    """
    if not rows:
        return {}
    insert = dialect_insert(session)
    # One cached statement run with many parameter sets (SQLAlchemy's "insertmanyvalues"
    # batches them, RETURNING included), not one huge VALUES clause compiled per call.
    stmt = insert(Article).on_conflict_do_nothing().returning(Article.id, Article.guid)
    result = session.connection().execute(stmt, [_article_columns(row) for row in rows])
    return {guid: article_id for article_id, guid in result.all()}


_ARTICLE_DEFAULTS = {"summary_text": "", "summary_html": "", "full_text": ""}


def _article_columns(row: dict[str, Any]) -> dict[str, Any]:
    # executemany needs the same keys in every parameter set.
    return {**_ARTICLE_DEFAULTS, **row}


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

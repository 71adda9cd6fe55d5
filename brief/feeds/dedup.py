"""Is a feed entry new, an edit of a stored article, or nothing to do? Pure decisions.

No database and no I/O (like reader's ``Decider``, and brief.feeds.schedule): the
writer turns each parsed entry into article values (``article_data``), the store
reads the feed's articles that may be the same ones (``store.articles_for_update``),
and ``decide`` says which entries to insert and which stored articles to update.

An entry is one already stored for its feed when it has the same guid, the same link
(canonical: brief.feeds.parse made it so), or the same title within TITLE_WINDOW of
it: feeds change guids on edits, and republish with new links. Such an entry updates
the stored article when its content changed (``content_hash``), unless the stored
copy says it is newer (``updated_at``). An entry listed twice by the feed counts
once: the first copy wins.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from hashlib import sha256
from typing import Generic, Protocol, TypeVar

from brief.feeds.normalize import clamp_published, title_key
from brief.types import (
    GUID_LENGTH,
    NAME_LENGTH,
    TITLE_KEY_LENGTH,
    URL_LENGTH,
    ArticleData,
    ArticleForUpdate,
    ArticleUpdate,
    ParsedArticle,
)


def newest(articles: Sequence[ParsedArticle], limit: int) -> tuple[ParsedArticle, ...]:
    """The ``limit`` newest entries, in the feed's order: one fetch cannot flood a day.

    An undated entry counts as newest (it is stamped with the time it is first seen).
    """
    if len(articles) <= limit:
        return tuple(articles)
    undated = datetime.max.replace(tzinfo=UTC)
    by_age = sorted(
        range(len(articles)),
        key=lambda i: articles[i].published_at or undated,
        reverse=True,  # stable: equal dates keep the feed's order
    )
    return tuple(articles[i] for i in sorted(by_age[:limit]))


# The same title from the same feed within this window is the same article.
TITLE_WINDOW = timedelta(days=3)
# Shorter title keys ("live", "podcast", "morning briefing") are too generic to merge on.
MIN_TITLE_KEY = 16


@dataclass(frozen=True)
class Decision:
    new: tuple[ArticleData, ...] = ()  # to insert, in feed order
    updates: tuple[ArticleUpdate, ...] = ()


def article_data(feed_id: int, article: ParsedArticle, now: datetime) -> ArticleData:
    """The values of ``article``'s row, fitted to the columns.

    A URL too long for its column is dropped, an author or alt text cut, a guid
    replaced by its digest; a date absent or in the future is ``now`` (first seen).
    """
    link = _fitting_url(article.link)
    image = _fitting_url(article.image_url)
    key = title_key(article.title)[:TITLE_KEY_LENGTH]
    # The text folded to one line: a hash made before blocks were kept apart still matches.
    text = " ".join(article.summary_text.split())
    content = "\x1f".join([article.title, link or "", text, image or "", *article.categories])
    return ArticleData(
        feed_id=feed_id,
        guid=_fit_guid(article.guid),
        link=link,
        title=article.title,
        summary_text=article.summary_text,
        summary_html=article.summary_html,
        author=_cut(article.author, NAME_LENGTH),
        image_url=image,
        image_alt=_cut(article.image_alt, NAME_LENGTH),
        categories=article.categories,
        published_at=clamp_published(article.published_at, now),
        updated_at=article.updated_at,
        fetched_at=now,
        content_hash=sha256(content.encode()).hexdigest(),
        title_key=key if len(key) >= MIN_TITLE_KEY else None,
    )


def decide(entries: Iterable[ArticleData], stored: Iterable[ArticleForUpdate]) -> Decision:
    """Which of a feed's ``entries`` are new, and which ``stored`` articles they edit."""
    existing = _Index(stored)
    seen: _Index[ArticleData] = _Index(())
    new: list[ArticleData] = []
    updates: list[ArticleUpdate] = []
    for entry in entries:
        if seen.match(entry) is not None:
            continue  # the feed lists this entry twice: the first copy wins
        seen.add(entry)
        match = existing.match(entry)
        if match is None:
            new.append(entry)
        elif is_edit(match, entry):
            set_link = bool(entry.link) and not match.link
            updates.append(ArticleUpdate(match.id, entry, set_link=set_link))
    return Decision(tuple(new), tuple(updates))


def is_edit(stored: ArticleForUpdate, entry: ArticleData) -> bool:
    """The entry's content changed, and the stored copy does not say it is newer."""
    if stored.content_hash == entry.content_hash:
        return False
    newer, older = entry.updated_at, stored.updated_at
    return not (newer is not None and older is not None and newer <= older)


class _Keyed(Protocol):
    @property
    def guid(self) -> str: ...
    @property
    def link(self) -> str | None: ...
    @property
    def title_key(self) -> str | None: ...
    @property
    def published_at(self) -> datetime: ...


K = TypeVar("K", bound=_Keyed)


class _Index(Generic[K]):
    """Articles (stored, or seen earlier in the feed) by guid, link and title key."""

    def __init__(self, items: Iterable[K]) -> None:
        self.by_guid: dict[str, K] = {}
        self.by_link: dict[str, K] = {}
        self.by_title: dict[str, list[K]] = {}
        for item in items:
            self.add(item)

    def add(self, item: K) -> None:
        self.by_guid.setdefault(item.guid, item)
        if item.link:
            self.by_link.setdefault(item.link, item)
        if item.title_key:
            self.by_title.setdefault(item.title_key, []).append(item)

    def match(self, entry: ArticleData) -> K | None:
        found = self.by_guid.get(entry.guid)
        if found is None and entry.link:
            found = self.by_link.get(entry.link)
        if found is None and entry.title_key:
            for candidate in self.by_title.get(entry.title_key, ()):
                if abs(candidate.published_at - entry.published_at) <= TITLE_WINDOW:
                    return candidate
        return found


def _fitting_url(url: str | None) -> str | None:
    return url if url and len(url) <= URL_LENGTH else None


def _fit_guid(guid: str) -> str:
    # A guid too long for its column is replaced by its stable digest.
    return guid if len(guid) <= GUID_LENGTH else "sha256:" + sha256(guid.encode()).hexdigest()


def _cut(value: str | None, limit: int) -> str | None:
    return value[:limit] if value else None

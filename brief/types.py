"""Plain data passed between the pure parts of brief (frozen, no I/O, no ORM)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from brief.tokens import Links

# Column lengths: brief.models declares its columns with these, and the pure code that
# fits feed values into them (brief.feeds.dedup, brief.feeds.writer) reads them here:
# a longer URL is dropped, a longer name cut, a longer guid digested.
URL_LENGTH = 2048
GUID_LENGTH = 1024
NAME_LENGTH = 500  # titles, authors, alt texts
TITLE_KEY_LENGTH = 300


class SubscriberStatus(StrEnum):
    PENDING = "pending"  # waiting for its owner to confirm (double opt-in)
    ACTIVE = "active"
    PAUSED = "paused"  # by the subscriber, from the preferences page
    UNSUBSCRIBED = "unsubscribed"  # by the reader, or by a complaint (status_reason)
    BOUNCED = "bounced"  # a hard bounce, or a 5xx at send time
    SUSPENDED = "suspended"  # too many soft bounces in a row of days


class MailEventKind(StrEnum):
    HARD = "hard"  # a permanent bounce (DSN action failed, 5.x.x)
    SOFT = "soft"  # a transient bounce (delayed, 4.x.x)
    COMPLAINT = "complaint"  # an ARF abuse report
    REFUSED = "refused"  # a 5xx from our own relay at send time


class DeliveryStatus(StrEnum):
    """What is known of one delivery; the database is the record of what is left to send.

    pending -> claimed (a batch took it, with a lease; no byte sent)
            -> sending (committed just before the end of DATA goes out)
            -> sent | failed (5xx) | pending again (4xx, drop before the end of DATA)
            | unsure (a timeout or drop after the end of DATA: it may have arrived)
    A sweep gives expired claims back to pending and marks expired sending rows unsure.
    """

    PENDING = "pending"
    CLAIMED = "claimed"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    UNSURE = "unsure"


class EditionStatus(StrEnum):
    BUILT = "built"


class RefreshStatus(StrEnum):
    """What one feed's refresh came to."""

    OK = "ok"
    NOT_MODIFIED = "not_modified"
    ERROR = "error"
    DISABLED = "disabled"


class SendStatus(StrEnum):
    """What one attempt to send a delivery came to."""

    SENT = "sent"
    FAILED = "failed"  # for good (a permanent refusal)
    RETRY = "retry"  # a transient failure: pending again
    UNSURE = "unsure"  # no reply after the end of DATA: it may have arrived; not resent


@dataclass(frozen=True)
class FetchResult:
    """What came back from one HTTP fetch of a feed."""

    url: str  # the URL finally fetched (after redirects)
    status: int
    content: bytes | None  # None for 304 Not Modified
    etag: str | None = None
    last_modified: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    # Where the feed now lives when every redirect on the way was permanent (301/308).
    moved_to: str | None = None

    @property
    def not_modified(self) -> bool:
        return self.status == 304


@dataclass(frozen=True)
class ParsedArticle:
    guid: str
    title: str
    link: str | None = None
    summary_html: str = ""  # sanitized
    summary_text: str = ""  # plain text, one block (paragraph, item) a line, whitespace folded
    author: str | None = None
    image_url: str | None = None
    published_at: datetime | None = None  # aware, UTC
    updated_at: datetime | None = None  # aware, UTC; the entry's own "updated"
    categories: tuple[str, ...] = ()
    image_alt: str | None = None


@dataclass(frozen=True)
class ParsedFeed:
    url: str
    title: str | None
    link: str | None
    articles: tuple[ParsedArticle, ...]
    # The feed's own hints about how often to poll it.
    ttl_minutes: int | None = None  # RSS <ttl>
    update_period_minutes: int | None = None  # sy:updatePeriod / sy:updateFrequency
    skip_hours: tuple[int, ...] = ()  # RSS <skipHours>, UTC hours


@dataclass(frozen=True)
class ArticleRecord:
    """A stored article as the digest builder sees it (no ORM object)."""

    id: int
    feed_id: int
    source: str  # the feed's title, or its host
    section: str
    title: str
    link: str | None
    summary_text: str
    image_url: str | None
    published_at: datetime  # aware UTC; first-seen time when the feed gave none
    full_text: str = ""  # the article page's main text, when it was fetched
    weight: float = 1.0  # the feed's weight in ranking
    image_alt: str | None = None
    categories: tuple[str, ...] = ()  # the entry's own categories (tags), as the feed gave them

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "feed_id": self.feed_id,
            "source": self.source,
            "section": self.section,
            "title": self.title,
            "link": self.link,
            "summary_text": self.summary_text,
            "image_url": self.image_url,
            "published_at": self.published_at.isoformat(),
            "full_text": self.full_text,
            "weight": self.weight,
            "image_alt": self.image_alt,
            "categories": list(self.categories),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ArticleRecord:
        return cls(
            id=int(data["id"]),
            feed_id=int(data["feed_id"]),
            source=data["source"],
            section=data["section"],
            title=data["title"],
            link=data.get("link"),
            summary_text=data.get("summary_text", ""),
            image_url=data.get("image_url"),
            published_at=datetime.fromisoformat(data["published_at"]),
            full_text=data.get("full_text", ""),
            weight=float(data.get("weight", 1.0)),
            image_alt=data.get("image_alt"),
            categories=tuple(data.get("categories") or ()),
        )


@dataclass(frozen=True)
class StoryDraft:
    """One story before its summary: its articles (lead article first), section and score."""

    key: str  # stable id: "a<lowest article id>"
    section: str
    score: float
    published_at: datetime  # the newest article's time
    articles: tuple[ArticleRecord, ...]

    @property
    def outlets(self) -> tuple[str, ...]:
        """Distinct outlets, in the articles' order."""
        return tuple(dict.fromkeys(a.source for a in self.articles))

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "section": self.section,
            "score": self.score,
            "published_at": self.published_at.isoformat(),
            "articles": [a.to_json() for a in self.articles],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StoryDraft:
        return cls(
            key=data["key"],
            section=data["section"],
            score=float(data["score"]),
            published_at=datetime.fromisoformat(data["published_at"]),
            articles=tuple(ArticleRecord.from_json(a) for a in data["articles"]),
        )


@dataclass(frozen=True)
class Doc:
    """One article of a story, as a summarizer sees it."""

    title: str
    text: str
    url: str | None = None
    source: str | None = None


@dataclass(frozen=True)
class Summary:
    headline: str
    summary: str

    def to_json(self) -> dict[str, str]:
        return {"headline": self.headline, "summary": self.summary}


# What turns a story's articles into a headline and a summary: the extractive
# `summarize_story` by default, or an `AbstractiveSummarizer` (which falls back to it).
Summarizer = Callable[[Sequence[Doc]], Summary]


@dataclass(frozen=True)
class Source:
    name: str
    url: str | None
    title: str

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "url": self.url, "title": self.title}


@dataclass(frozen=True)
class Story:
    title: str
    summary: str
    section: str
    sources: tuple[Source, ...]
    published_at: datetime
    image_url: str | None = None
    image_alt: str | None = None
    score: float = 0.0  # importance; the edition leads with the highest

    @property
    def url(self) -> str | None:
        return self.sources[0].url if self.sources else None

    def to_json(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "summary": self.summary,
            "section": self.section,
            "url": self.url,
            "published_at": self.published_at.isoformat(),
            "image_url": self.image_url,
            "image_alt": self.image_alt,
            "score": self.score,
            "sources": [s.to_json() for s in self.sources],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Story:
        return cls(
            title=data["title"],
            summary=data["summary"],
            section=data["section"],
            sources=tuple(
                Source(name=s["name"], url=s.get("url"), title=s.get("title", data["title"]))
                for s in data.get("sources", [])
            ),
            published_at=datetime.fromisoformat(data["published_at"]),
            image_url=data.get("image_url"),
            image_alt=data.get("image_alt"),
            score=float(data.get("score", 0.0)),
        )


@dataclass(frozen=True)
class Section:
    name: str
    stories: tuple[Story, ...]

    @property
    def title(self) -> str:
        return self.name.replace("-", " ").title()


@dataclass(frozen=True)
class Digest:
    """One edition's content: what every subscriber's email is made from."""

    edition_date: date
    window_start: datetime
    window_end: datetime
    sections: tuple[Section, ...]

    @property
    def stories(self) -> tuple[Story, ...]:
        return tuple(s for sec in self.sections for s in sec.stories)

    @property
    def source_names(self) -> tuple[str, ...]:
        return tuple(sorted({src.name for st in self.stories for src in st.sources}))

    def stories_json(self) -> list[dict[str, Any]]:
        return [s.to_json() for s in self.stories]

    @classmethod
    def from_stories(
        cls, edition_date: date, window: tuple[datetime, datetime], stories: Iterable[Story]
    ) -> Digest:
        """A Digest from an edition's stored stories (their order is the section order)."""
        sections: dict[str, list[Story]] = {}
        for story in stories:
            sections.setdefault(story.section, []).append(story)
        return cls(
            edition_date=edition_date,
            window_start=window[0],
            window_end=window[1],
            sections=tuple(Section(name, tuple(items)) for name, items in sections.items()),
        )

    def for_sections(self, wanted: list[str] | None) -> Digest:
        """The same digest narrowed to a subscriber's sections (None or [] = all)."""
        if not wanted:
            return self
        keep = tuple(sec for sec in self.sections if sec.name in set(wanted))
        return Digest(self.edition_date, self.window_start, self.window_end, keep)


@dataclass(frozen=True)
class Recipient:
    """Who an email is for, with the personal links it must carry."""

    email: str
    unsubscribe_url: str
    preferences_url: str | None = None


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


@dataclass(frozen=True)
class SiteContext:
    """The site as emails and pages name it: links, sender, signing key (plain values)."""

    brief_name: str
    base_url: str
    mail_from: str
    mail_from_address: str
    secret_key: str
    postal_address: str = ""

    @property
    def domain(self) -> str:
        return self.mail_from_address.rpartition("@")[2] or "localhost"

    @property
    def links(self) -> Links:
        from brief.tokens import Links  # types stays importable without itsdangerous

        return Links(self.base_url, self.secret_key)

    def web_url(self, edition_date: date) -> str:
        return f"{self.base_url}/editions/{edition_date.isoformat()}"

    def unsubscribe_mailto(self) -> str:
        return f"mailto:{self.mail_from_address}?subject=unsubscribe"


# Store write intents. Like reader's FeedUpdateIntent/EntryUpdateIntent/EntryForUpdate:
# the decisions (brief.feeds.dedup, brief.feeds.writer, brief.editions) are made on these
# plain values, and the store turns them into SQL. Values are already fitted to the
# column lengths above.

# -- store write intents: feeds -------------------------------------------------------------------


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
class PoisonMarker:
    """A feed's poison-feed columns, as a batch task finds them (brief.feeds.quarantine)."""

    feed_id: int
    started_at: datetime | None  # in flight since: set means the last run died with it
    lost: int = 0  # deaths in a row before this one
    quarantined: bool = False


@dataclass(frozen=True)
class FeedQuarantine:
    """A poison feed set aside (brief.feeds.quarantine): polled again later, alone."""

    feed_id: int
    at: datetime
    reason: str
    lost_count: int
    error_count: int
    next_poll_at: datetime


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


# -- store write intents: articles ----------------------------------------------------------------


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


# -- store write intents: editions ----------------------------------------------------------------


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
    status: EditionStatus = EditionStatus.BUILT

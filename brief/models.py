"""Database tables. Unique keys are what make tasks safe to run twice."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from brief.types import (
    GUID_LENGTH,
    NAME_LENGTH,
    TITLE_KEY_LENGTH,
    URL_LENGTH,
    DeliveryStatus,
    EditionStatus,
    SubscriberStatus,
)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, on SQLite and PostgreSQL alike."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime()}


class Feed(Base):
    __tablename__ = "feed"

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(String(URL_LENGTH), unique=True)
    title: Mapped[str | None] = mapped_column(String(NAME_LENGTH))
    site_url: Mapped[str | None] = mapped_column(String(URL_LENGTH))
    section: Mapped[str] = mapped_column(String(64), default="world")
    etag: Mapped[str | None] = mapped_column(String(500))
    last_modified: Mapped[str | None] = mapped_column(String(100))
    last_fetched_at: Mapped[datetime | None]
    last_status: Mapped[int | None] = mapped_column(Integer)  # HTTP status of the last fetch
    last_success_at: Mapped[datetime | None]
    error_count: Mapped[int] = mapped_column(Integer, default=0)  # consecutive failures
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Scheduling: when to poll next, and what the feed itself says about it.
    next_poll_at: Mapped[datetime | None]
    poll_interval_minutes: Mapped[int | None] = mapped_column(Integer)
    last_new_article_at: Mapped[datetime | None]
    hints: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # ttl, updatePeriod, skipHours
    disabled_at: Mapped[datetime | None]  # 410 Gone, or the operator: not polled any more
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    weight: Mapped[float] = mapped_column(Float, default=1.0)  # importance in ranking
    # Poison feeds (brief.feeds.quarantine): set while a task fetches and parses the feed;
    # still set at the next pick-up means the process died with it (lost_count in a row).
    fetch_started_at: Mapped[datetime | None]
    lost_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    quarantined_at: Mapped[datetime | None]  # lost twice: polled later, alone
    quarantine_reason: Mapped[str | None] = mapped_column(Text)

    articles: Mapped[list[Article]] = relationship(
        back_populates="feed", cascade="all, delete-orphan", passive_deletes=True
    )

    @property
    def display_name(self) -> str:
        return display_name(self.title, self.url)


def display_name(title: str | None, url: str) -> str:
    """What a feed is called in an edition: its title, else its host."""
    if title:
        return title
    from urllib.parse import urlsplit

    return urlsplit(url).hostname or url


class Article(Base):
    __tablename__ = "article"
    __table_args__ = (
        UniqueConstraint("feed_id", "guid", name="uq_article_feed_guid"),
        Index("ix_article_feed_link", "feed_id", "link"),
        Index("ix_article_published_at", "published_at"),
        Index("ix_article_feed_title_key", "feed_id", "title_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    feed_id: Mapped[int] = mapped_column(ForeignKey("feed.id", ondelete="CASCADE"))
    guid: Mapped[str] = mapped_column(String(GUID_LENGTH))
    link: Mapped[str | None] = mapped_column(String(URL_LENGTH))
    title: Mapped[str] = mapped_column(Text)
    summary_text: Mapped[str] = mapped_column(Text, default="")
    summary_html: Mapped[str] = mapped_column(Text, default="")
    author: Mapped[str | None] = mapped_column(String(NAME_LENGTH))
    image_url: Mapped[str | None] = mapped_column(String(URL_LENGTH))
    published_at: Mapped[datetime]  # first-seen time when the feed gives none
    fetched_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime | None]  # the entry's own "updated", when it gives one
    categories: Mapped[list[str] | None] = mapped_column(JSON)
    image_alt: Mapped[str | None] = mapped_column(String(NAME_LENGTH))
    full_text: Mapped[str] = mapped_column(Text, default="")  # main text of the article page
    content_hash: Mapped[str | None] = mapped_column(String(64))  # to notice edited entries
    # The normalised title, for dedup (brief.feeds.dedup).
    title_key: Mapped[str | None] = mapped_column(String(TITLE_KEY_LENGTH))

    feed: Mapped[Feed] = relationship(back_populates="articles")


class Subscriber(Base):
    __tablename__ = "subscriber"
    __table_args__ = (Index("uq_subscriber_email_lower", func.lower("email"), unique=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320))
    status: Mapped[str] = mapped_column(String(16), default=SubscriberStatus.PENDING)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    # Local hour (in `timezone`) to get each edition; None: as soon as it is made.
    delivery_hour: Mapped[int | None] = mapped_column(Integer)
    sections: Mapped[list[str] | None] = mapped_column(JSON)  # None: every section
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    confirmed_at: Mapped[datetime | None]
    unsubscribed_at: Mapped[datetime | None]
    # Why the status last changed when the reader did not choose it: "hard-bounce",
    # "soft-bounces", "complaint", "send-refused" (a 5xx at send time), "operator".
    status_reason: Mapped[str | None] = mapped_column(String(32))


class Edition(Base):
    __tablename__ = "edition"

    id: Mapped[int] = mapped_column(primary_key=True)
    date: Mapped[date] = mapped_column(Date, unique=True)
    window_start: Mapped[datetime]
    window_end: Mapped[datetime]
    subject: Mapped[str] = mapped_column(String(500), default="")
    stories: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    html: Mapped[str] = mapped_column(Text, default="")  # the web view
    text: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default=EditionStatus.BUILT)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]

    deliveries: Mapped[list[Delivery]] = relationship(back_populates="edition")


class Delivery(Base):
    __tablename__ = "delivery"
    __table_args__ = (
        UniqueConstraint("edition_id", "subscriber_id", name="uq_delivery_edition_subscriber"),
        # The claim: the pending rows in id order (migration 0005 says why).
        Index(
            "ix_delivery_pending",
            "id",
            postgresql_where=text("status = 'pending'"),
            sqlite_where=text("status = 'pending'"),
        ),
        Index("ix_delivery_due", "status", "not_before"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    edition_id: Mapped[int] = mapped_column(ForeignKey("edition.id", ondelete="CASCADE"))
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscriber.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16), default=DeliveryStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    message_id: Mapped[str | None] = mapped_column(String(255))
    recipient: Mapped[str] = mapped_column(String(320))  # the address it went to
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    # A batch's claim on the row (claimed or sending) holds until then; a sweep after it
    # gives claimed rows back (nothing was sent) and marks sending rows unsure.
    lease_until: Mapped[datetime | None]
    not_before: Mapped[datetime | None]  # a transient failure's back-off: not sent before
    smtp_code: Mapped[int | None] = mapped_column(Integer)  # the server's last reply code

    edition: Mapped[Edition] = relationship(back_populates="deliveries")
    subscriber: Mapped[Subscriber] = relationship()


class MailEvent(Base):
    """A bounce, a complaint or a refusal at send time, about one address."""

    __tablename__ = "mail_event"
    __table_args__ = (Index("ix_mail_event_subscriber", "subscriber_id", "kind", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    subscriber_id: Mapped[int | None] = mapped_column(
        ForeignKey("subscriber.id", ondelete="CASCADE")
    )
    delivery_id: Mapped[int | None] = mapped_column(ForeignKey("delivery.id", ondelete="SET NULL"))
    email: Mapped[str] = mapped_column(String(320))
    kind: Mapped[str] = mapped_column(String(16))  # MailEventKind
    code: Mapped[str | None] = mapped_column(String(32))  # "5.1.1", "550", "abuse"
    detail: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

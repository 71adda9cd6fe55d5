"""Small factories and fakes shared by tests (no mocks: real objects, fake edges)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

from sqlalchemy.orm import Session

from brief import store
from brief.editions import EditionPlan
from brief.errors import MailPermanentError, MailTransientError
from brief.models import Article, Feed
from brief.types import SiteContext

NOW = datetime(2026, 11, 25, 9, 30, tzinfo=UTC)

CTX = SiteContext(
    brief_name="Daily Brief",
    base_url="https://brief.test",
    mail_from="Daily Brief <brief@brief.test>",
    mail_from_address="brief@brief.test",
    secret_key="test-secret",
    postal_address="1 Test Street, Testville",
)


def plan(sections: list[str] | None = None, hour: int = 23) -> EditionPlan:
    from zoneinfo import ZoneInfo

    return EditionPlan(
        sections=sections or ["world", "business"],
        per_section=5,
        edition_hour=hour,
        zone=ZoneInfo("UTC"),
    )


def add_feed_with_articles(
    session: Session,
    url: str,
    section: str,
    titles: list[str],
    *,
    hours_ago: float = 2,
    now: datetime = NOW,
) -> Feed:
    feed, _ = store.add_feed(session, url, section, title=f"Source {section}")
    for i, title in enumerate(titles):
        session.add(
            Article(
                feed_id=feed.id,
                guid=f"{url}#{i}",
                link=f"{url}/story/{i}",
                title=title,
                # Little shared filler: two stories must not look alike by their template.
                summary_text=f"{title}: the latest. {title}, as it happened. What {title} means.",
                summary_html="",
                published_at=now - timedelta(hours=hours_ago + i),
                fetched_at=now,
            )
        )
    session.flush()
    return feed


class RecordingSender:
    """Keeps messages instead of sending them; can fail for chosen addresses."""

    def __init__(self, refuse: set[str] | None = None, busy: set[str] | None = None) -> None:
        self.messages: list[EmailMessage] = []
        self.refuse = refuse or set()
        self.busy = busy or set()

    def send(self, message: EmailMessage) -> str:
        to = str(message["To"])
        if to in self.refuse:
            raise MailPermanentError(to, "SMTP 550 mailbox unavailable")
        if to in self.busy:
            raise MailTransientError(to, "SMTP 451 try again later")
        self.messages.append(message)
        return "memory"

    def recipients(self) -> list[str]:
        return [str(m["To"]) for m in self.messages]


class RecordingQueue:
    def __init__(self) -> None:
        self.sent: list[tuple[str, tuple[Any, ...]]] = []

    def send(self, name: str, *args: Any) -> str:
        self.sent.append((name, args))
        return f"task-{len(self.sent)}"

    def ping(self) -> None:
        return None

    def names(self) -> list[str]:
        return [n for n, _ in self.sent]

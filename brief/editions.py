"""Making an edition: load the window's articles, group and summarize (pure), render, store.

Two ways through the same steps:
- `build_edition` does it all in this process (CLI, API, `brief run`);
- the Celery canvas (tasks/digest.py) calls `draft_edition`, summarizes the drafts
  in parallel on the workers, then `store_edition` with the stories that came back.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from brief import store
from brief.digest.build import (
    compose_digest,
    edition_time,
    edition_window,
    group_stories,
    select_drafts,
    summarize_draft,
)
from brief.errors import EmptyEditionError, InputError
from brief.mail.render import render_digest
from brief.models import Edition
from brief.types import NewEdition, SiteContext, Story, StoryDraft, Summarizer

MIN_DAY, MAX_DAY = date(1971, 1, 1), date(9998, 12, 31)  # windows stay in datetime's range

Window = tuple[datetime, datetime]


@dataclass(frozen=True)
class EditionPlan:
    """Which edition to make, and from which sections, as plain values."""

    sections: list[str]
    per_section: int
    edition_hour: int
    zone: ZoneInfo
    edition_minute: int = 0
    total: int | None = None  # stories in the whole edition
    # The window's articles considered, the newest: per feed, and in all.
    max_articles: int | None = None
    max_per_feed: int | None = None

    def today(self, now: datetime) -> date:
        return now.astimezone(self.zone).date()

    def window_end(self, day: date, now: datetime) -> datetime:
        """The edition's time: its date at the edition hour, or now when that is still ahead.

        A scheduled build at the edition hour gets exactly the 24 hours before it;
        a manual run earlier in the day gets the 24 hours before now.
        """
        return min(edition_time(day, self.edition_hour, self.zone, self.edition_minute), now)


def _check_day(day: date) -> None:
    if not MIN_DAY <= day <= MAX_DAY:
        raise InputError(f"no edition can be made for {day.isoformat()}")


def existing_edition(session: Session, day: date, *, rebuild: bool) -> Edition | None:
    """The edition of `day` if there is one to keep; with `rebuild`, drop an unsent one."""
    _check_day(day)
    found = store.edition_for_date(session, day)
    if found is not None and rebuild:
        store.delete_unsent_edition(session, found)
        return None
    return found


def draft_edition(
    session: Session, plan: EditionPlan, *, day: date, now: datetime
) -> tuple[Window, list[StoryDraft]]:
    """The window of `day`'s edition and the stories chosen for it, not yet summarized."""
    _check_day(day)
    window = edition_window(plan.window_end(day, now))
    articles = store.articles_in_window(
        session, *window, limit=plan.max_articles, per_feed=plan.max_per_feed
    )
    drafts = group_stories(articles, window=window, sections=plan.sections)
    return window, select_drafts(drafts, per_section=plan.per_section, total=plan.total)


@dataclass(frozen=True)
class Supply:
    """What the feeds have given: to tell a reader why an edition would be empty."""

    feeds: int  # still polled
    failing: int  # of those, failed at their last fetch
    newest: datetime | None  # the newest article's publication time, of all stored


def _supply(session: Session) -> Supply:
    feeds, failing = store.feed_counts(session)
    return Supply(feeds, failing, store.newest_article_time(session))


def why_empty(supply: Supply, window: Window) -> str:
    """One line on why no story fell in `window`, and what to do about it."""
    span = f"{window[0]:%Y-%m-%d %H:%M} to {window[1]:%Y-%m-%d %H:%M} UTC"
    if supply.feeds == 0:
        return (
            "no edition made: there are no feeds (brief feeds add URL, or brief feeds add-defaults)"
        )
    if supply.failing == supply.feeds:
        return (
            f"no edition made: all {supply.feeds} feed(s) failed at their last fetch "
            "(brief feeds list shows why)"
        )
    if supply.newest is None:
        return "no edition made: no new articles yet; the feeds have given none (run brief ingest)"
    if supply.newest < window[0]:
        return (
            f"no edition made: no new articles; the newest is from {supply.newest:%Y-%m-%d %H:%M} "
            f"UTC, before this edition's window ({span})"
        )
    if supply.newest >= window[1]:
        return (
            f"no edition made: no article in this edition's window ({span}); the newest, "
            f"from {supply.newest:%Y-%m-%d %H:%M} UTC, is for the next edition"
        )
    return f"no edition made: no article in the window ({span}) made a story"


def store_edition(
    session: Session,
    plan: EditionPlan,
    ctx: SiteContext,
    *,
    day: date,
    window: Window,
    stories: Iterable[Story],
    now: datetime,
) -> tuple[Edition, bool]:
    """Compose, render the web copy and store; if another run stored `day` first, that wins.

    An edition with no story is not made: nobody wants an empty email, and the
    date stays free for a later run once the feeds answer.
    """
    digest = compose_digest(
        stories,
        edition_date=day,
        window=window,
        sections=plan.sections,
        per_section=plan.per_section,
        total=plan.total,
    )
    if not digest.stories:
        raise EmptyEditionError(why_empty(_supply(session), window))
    web_url = ctx.web_url(day)
    rendered = render_digest(
        digest, brief_name=ctx.brief_name, web_url=web_url, postal_address=ctx.postal_address
    )
    return store.save_edition(
        session,
        NewEdition(
            date=day,
            window_start=window[0],
            window_end=window[1],
            subject=rendered.subject,
            stories=digest.stories_json(),
            html=rendered.html,
            text=rendered.text,
            created_at=now,
        ),
    )


def build_edition(
    session: Session,
    plan: EditionPlan,
    ctx: SiteContext,
    *,
    day: date,
    now: datetime,
    rebuild: bool = False,
    summarizer: Summarizer | None = None,
) -> tuple[Edition, bool]:
    """Build the edition of `day` here and now, unless it exists. Returns (edition, created)."""
    found = existing_edition(session, day, rebuild=rebuild)
    if found is not None:
        return found, False
    window, drafts = draft_edition(session, plan, day=day, now=now)
    stories = [summarize_draft(d, summarizer=summarizer) for d in drafts]
    return store_edition(session, plan, ctx, day=day, window=window, stories=stories, now=now)

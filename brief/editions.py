"""Making an edition: load the window's articles, build (pure), render, store."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from brief import store
from brief.delivery import MailContext
from brief.digest.build import build_digest, edition_time, edition_window
from brief.errors import InputError
from brief.mail.render import render_digest
from brief.models import Edition

MIN_DAY, MAX_DAY = date(1971, 1, 1), date(9998, 12, 31)  # windows stay in datetime's range


@dataclass(frozen=True)
class EditionPlan:
    """Which edition to make, and from which sections, as plain values."""

    sections: list[str]
    per_section: int
    edition_hour: int
    zone: ZoneInfo
    edition_minute: int = 0

    def today(self, now: datetime) -> date:
        return now.astimezone(self.zone).date()

    def window_end(self, day: date, now: datetime) -> datetime:
        """The edition's time: its date at the edition hour, or now when that is still ahead.

        A scheduled build at the edition hour gets exactly the 24 hours before it;
        a manual run earlier in the day gets the 24 hours before now.
        """
        return min(edition_time(day, self.edition_hour, self.zone, self.edition_minute), now)


def build_edition(
    session: Session,
    plan: EditionPlan,
    ctx: MailContext,
    *,
    day: date,
    now: datetime,
    rebuild: bool = False,
) -> tuple[Edition, bool]:
    """Build the edition of `day` unless it exists. Returns (edition, created)."""
    if not MIN_DAY <= day <= MAX_DAY:
        raise InputError(f"no edition can be made for {day.isoformat()}")
    existing = store.edition_for_date(session, day)
    if existing is not None:
        if not rebuild:
            return existing, False
        store.delete_unsent_edition(session, existing)

    window = edition_window(plan.window_end(day, now))
    articles = store.articles_in_window(session, *window)
    digest = build_digest(
        articles,
        edition_date=day,
        window=window,
        sections=plan.sections,
        per_section=plan.per_section,
    )
    web_url = f"{ctx.base_url}/editions/{day.isoformat()}"
    rendered = render_digest(
        digest, brief_name=ctx.brief_name, web_url=web_url, postal_address=ctx.postal_address
    )
    return store.save_edition(
        session,
        {
            "date": day,
            "window_start": window[0],
            "window_end": window[1],
            "subject": rendered.subject,
            "stories": digest.stories_json(),
            "html": rendered.html,
            "text": rendered.text,
            "status": "built",
            "created_at": now,
        },
    )

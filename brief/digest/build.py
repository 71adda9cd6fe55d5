"""Pure: the window's stored articles -> one edition's Digest.

The pipeline, in pieces the task canvas can run apart:

    drafts = group_stories(articles, window=..., sections=...)   # cluster + rank
    chosen = select_drafts(drafts, per_section=..., total=...)    # news only, the caps
    stories = [summarize_draft(d) for d in chosen]                # one task each
    digest = compose_digest(stories, edition_date=..., window=..., ...)

`brief.editions` runs them in one process or as a Celery canvas. Every step is
deterministic. What is not news (job ads, listings, sponsored posts, a live blog
with no standfirst) stays out: `left_out` says why.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from brief.digest.cluster import DEFAULT_THRESHOLD, cluster_articles
from brief.digest.kinds import is_live_blog, live_standfirst, not_news, not_news_by_title
from brief.digest.rank import rank_groups, select
from brief.digest.summarize import summarize_story
from brief.digest.text import clean_text
from brief.types import (
    ArticleRecord,
    Digest,
    Doc,
    Section,
    Source,
    Story,
    StoryDraft,
    Summarizer,
)

__all__ = [
    "WINDOW",
    "compose_digest",
    "edition_time",
    "edition_window",
    "group_stories",
    "left_out",
    "order_sections",
    "select_drafts",
    "summarize_draft",
]

WINDOW = timedelta(hours=24)
MAX_SOURCES = 6  # sources shown per story (lead first)
# Articles a summary draws on (lead first): a wire story carried by a hundred feeds says
# the same thing a hundred times, and reading every copy took a second an edition.
SUMMARY_DOCS = 12


def edition_time(edition_date: date, hour: int, zone: ZoneInfo, minute: int = 0) -> datetime:
    """The moment an edition is made: its date at the edition hour in the home zone, in UTC."""
    return datetime.combine(edition_date, time(hour, minute), zone).astimezone(UTC)


def edition_window(end: datetime) -> tuple[datetime, datetime]:
    """The 24 hours before an edition's time."""
    return end - WINDOW, end


def order_sections(present: Iterable[str], configured: Sequence[str]) -> list[str]:
    """Configured sections first, in their order; others after, alphabetically."""
    present = set(present)
    known = [s for s in configured if s in present]
    return known + sorted(present - set(configured))


def group_stories(
    articles: Iterable[ArticleRecord],
    *,
    window: tuple[datetime, datetime] | None = None,
    now: datetime | None = None,
    sections: Sequence[str] = (),
    threshold: float = DEFAULT_THRESHOLD,
) -> list[StoryDraft]:
    """Every story of the window (articles grouped, then ranked), highest score first.

    `now` (for recency) defaults to the window's end, else to the newest article.
    """
    kept = [a for a in articles if window is None or window[0] <= a.published_at < window[1]]
    kept.sort(key=lambda a: (a.published_at, a.id))
    kept = one_copy_per_link(kept)
    if not kept:
        return []
    reference = now or (window[1] if window else max(a.published_at for a in kept))
    groups = _news_apart(cluster_articles(kept, threshold=threshold))
    return rank_groups(groups, now=reference, sections=sections)


def one_copy_per_link(articles: Sequence[ArticleRecord]) -> list[ArticleRecord]:
    """One article per link, in the given order: a site's article that two of its feeds
    carry (World and Politics) is one article, not two outlets telling a story. The copy
    from the heaviest feed stays, else the first."""
    best: dict[str, ArticleRecord] = {}
    for a in articles:
        if a.link and (a.link not in best or a.weight > best[a.link].weight):
            best[a.link] = a
    return [a for a in articles if not a.link or best[a.link] is a]


def _news_apart(groups: Iterable[Sequence[ArticleRecord]]) -> list[Sequence[ArticleRecord]]:
    """Groups with an article that is plainly not news by its title or link (a gallery,
    a job ad) split: that article stands alone (and is left out), so it never lends a
    story an outlet, a rank or a wrong "also reported by"."""
    out: list[Sequence[ArticleRecord]] = []
    for group in groups:
        if len({a.source for a in group}) < 2:
            out.append(group)
            continue
        news = [a for a in group if not not_news_by_title(a.title, a.link)]
        kept = {a.id for a in news}
        out.extend([news] if news else [])
        out.extend([a] for a in group if a.id not in kept)
    return out


def _article_left_out(article: ArticleRecord) -> str | None:
    text = article.full_text or article.summary_text
    reason = not_news(article.title, text, article.link)
    live = reason is None and is_live_blog(article.title, text, article.link)
    if live and not live_standfirst(clean_text(text)):
        return "live blog without a standfirst"
    return reason


def left_out(draft: StoryDraft) -> str | None:
    """Why a story stays out of the edition (none of its articles is news: the lead's
    reason), or None when it is news to show."""
    reasons = [_article_left_out(a) for a in draft.articles]
    return reasons[0] if all(reasons) else None


def select_drafts(
    drafts: Iterable[StoryDraft], *, per_section: int, total: int | None = None
) -> list[StoryDraft]:
    """The drafts that make the edition: the best news within the caps (summarize only
    these). Only the drafts the caps reach are judged news or not (`left_out`)."""
    pool = list(drafts)
    out: set[str] = set()
    while True:
        chosen = select(pool, per_section=per_section, total=total)
        rejected = {d.key for d in chosen if left_out(d)}
        if not rejected:
            return chosen
        out |= rejected
        pool = [d for d in pool if d.key not in out]


def _docs(draft: StoryDraft) -> list[Doc]:
    articles = [a for a in draft.articles if not _article_left_out(a)] or list(draft.articles)
    return [
        Doc(title=a.title, text=a.full_text or a.summary_text, url=a.link, source=a.source)
        for a in articles[:SUMMARY_DOCS]
    ]


def summarize_draft(draft: StoryDraft, *, summarizer: Summarizer | None = None) -> Story:
    """One story, headline and summary made: sources (one per outlet, lead first), image."""
    summary = (summarizer or summarize_story)(_docs(draft))
    lead = draft.articles[0]
    headline = summary.headline or lead.title
    sources: dict[str, Source] = {}
    for a in draft.articles:
        if len(sources) == MAX_SOURCES:  # an email line, not a wire-service index
            break
        sources.setdefault(a.source, Source(name=a.source, url=a.link, title=a.title))
    pictured = [a for a in draft.articles if a.image_url]
    pictured.sort(key=lambda a: a.image_alt is None)  # stable: prefer an image with alt text
    image = pictured[0] if pictured else None
    return Story(
        title=headline,
        summary=summary.summary,
        section=draft.section,
        sources=tuple(sources.values()),
        published_at=draft.published_at,
        image_url=image.image_url if image else None,
        image_alt=(image.image_alt or headline) if image else None,
        score=draft.score,
    )


def compose_digest(
    stories: Iterable[Story],
    *,
    edition_date: date,
    window: tuple[datetime, datetime],
    sections: Sequence[str],
    per_section: int,
    total: int | None = None,
) -> Digest:
    """The edition from summarized stories: caps applied, sections in configured order,
    each section best first. The top story (max score) is the first of its section."""
    ranked = sorted(stories, key=lambda s: (-s.score, -s.published_at.timestamp(), s.title))
    taken: dict[str, list[Story]] = {}
    count = 0
    for story in ranked:
        if total is not None and count >= total:
            break
        bucket = taken.setdefault(story.section, [])
        if len(bucket) >= per_section:
            continue
        bucket.append(story)
        count += 1
    built = [
        Section(name=name, stories=tuple(taken[name]))
        for name in order_sections([n for n, items in taken.items() if items], sections)
    ]
    return Digest(
        edition_date=edition_date,
        window_start=window[0],
        window_end=window[1],
        sections=tuple(built),
    )

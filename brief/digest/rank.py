"""Pure: groups of articles -> ranked story drafts, and which of them make an edition.

A story's score is first the distinct outlets that carry it (each counted
once, at its feed's weight); recency (the newest article's age, halving every
`half_life`) and updates only order stories of equal coverage, since together
they add less than one outlet:

    score = coverage + 0.5 x 0.5 ** (age / half_life) + 0.25 x (1 - 1 / articles)
    coverage = sum over distinct outlets of the outlet's feed weight

So the story the most outlets carry leads, unless the operator weighted a feed
(a feed of weight 2 counts as two outlets), and a single-source story leads
only on a day with no shared story. Ties go to the newer story, then to the
lower article id, so the order is deterministic.

A story's section: each article says what it is about where it can (its URL
path, then its categories: "/sport/", "Football", "Science"; a topic such as
sport outranks a region), else it keeps its feed's section. The story goes
where most of its articles' weight points: a match report from a world feed is
sport, and an article that says nothing stays with its feed's section.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from brief.types import ArticleRecord, StoryDraft

HALF_LIFE = timedelta(hours=12)
RECENCY = 0.5  # at most, for a story of this minute
UPDATES = 0.25  # at most, for a story of many articles; RECENCY + UPDATES < one outlet


# What a URL path segment or a category names -> the section it means. Topics first:
# a football report filed in a world feed is sport. Only sections the operator
# configured are used; an unknown word says nothing.
def _naming(section: str, words: str) -> dict[str, str]:
    return dict.fromkeys(words.split(), section)


TOPICS: Mapping[str, str] = {
    **_naming(
        "sport",
        "sport sports football soccer tennis cricket rugby rugby-union rugby-league golf "
        "cycling boxing athletics olympics formula1 formula-one f1 motorsport nfl nba mlb "
        "nhl premier-league champions-league transfer-window us-sports basketball baseball "
        "ice-hockey gymnastics european-club-football",
    ),
    **_naming("business", "business money markets economy finance companies personal-finance"),
    **_naming("technology", "technology tech gadgets startups"),
    **_naming(
        "science",
        "science space environment climate climate-change astronomy science-environment",
    ),
    **_naming("health", "health wellbeing health-wellbeing medicine"),
    **_naming(
        "culture",
        "culture arts artanddesign art-and-design books music film films movies tv-and-radio "
        "television stage entertainment",
    ),
}
REGIONS: Mapping[str, str] = {
    "world": "world",
    "world-news": "world",
    "international": "world",
    "europe": "europe",
    "world-europe": "europe",
    "americas": "americas",
    "us-news": "americas",
    "us": "americas",
    "canada": "americas",
    "latin-america": "americas",
    "world-us-canada": "americas",
    "world-latin-america": "americas",
    "asia": "asia",
    "asia-pacific": "asia",
    "world-asia": "asia",
    "africa": "africa",
    "world-africa": "africa",
    "middle-east": "middle-east",
    "middleeast": "middle-east",
    "world-middle-east": "middle-east",
}
_ID_SUFFIX = re.compile(r"-\d+$")  # BBC's "/news/business-12345678"


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _path_slugs(link: str | None) -> list[str]:
    """The URL path's segments that can name a section: every one but the last (usually
    the headline's slug), and the last only when it is a word with a numeric id."""
    if not link:
        return []
    segments = [s for s in urlsplit(link).path.lower().split("/") if s]
    slugs = segments[:-1]
    if segments and _ID_SUFFIX.search(segments[-1]):
        slugs.append(_ID_SUFFIX.sub("", segments[-1]))
    return [_ID_SUFFIX.sub("", s) for s in slugs]


def _category_slugs(categories: Sequence[str]) -> list[str]:
    """Each category whole ("World news" -> "world-news"): never its words alone, since
    "modern science" on a wellness calendar is not science."""
    return [_slug(c) for c in categories]


def _first(slugs: Iterable[str], table: Mapping[str, str], allowed: set[str]) -> str | None:
    for slug in slugs:
        section = table.get(slug)
        if section is not None and (not allowed or section in allowed):
            return section
    return None


def article_section(article: ArticleRecord, configured: Sequence[str] = ()) -> str | None:
    """The section an article's own URL path or categories name (a topic before a region;
    the path before the categories), or None when they name none of `configured`
    (any known section when `configured` is empty)."""
    allowed = set(configured)
    path = _path_slugs(article.link)
    tags = _category_slugs(article.categories)
    for table in (TOPICS, REGIONS):
        for slugs in (path, tags):
            section = _first(slugs, table, allowed)
            if section is not None:
                return section
    return None


def story_score(
    articles: Sequence[ArticleRecord], now: datetime, *, half_life: timedelta = HALF_LIFE
) -> float:
    """Importance: outlets (at their feed weight) first, then recency, then updates."""
    weights: dict[str, float] = {}
    for a in articles:
        weights[a.source] = max(weights.get(a.source, 0.0), a.weight)
    coverage = sum(weights.values())
    newest = max(a.published_at for a in articles)
    age = max((now - newest).total_seconds(), 0.0)
    recency = 0.5 ** (age / half_life.total_seconds())
    updates = 1.0 - 1.0 / len(articles)
    return round(float(coverage + RECENCY * recency + UPDATES * updates), 6)


def story_section(articles: Sequence[ArticleRecord], configured: Sequence[str]) -> str:
    """Where the story goes: each article votes, at its feed's weight, for the section its
    own URL path or categories name, else for its feed's section; the heaviest wins (ties:
    the section more articles name themselves, then configured order, then name)."""
    votes: dict[str, float] = {}
    said: dict[str, float] = {}
    for a in articles:
        own = article_section(a, configured)
        if own is not None:
            said[own] = said.get(own, 0.0) + a.weight
        section = own or a.section
        votes[section] = votes.get(section, 0.0) + a.weight
    order = {name: i for i, name in enumerate(configured)}
    return min(votes, key=lambda s: (-votes[s], -said.get(s, 0.0), order.get(s, len(order)), s))


def _lead_first(articles: Iterable[ArticleRecord]) -> tuple[ArticleRecord, ...]:
    # The lead article: heaviest feed, then the one with the most text, then the earliest.
    return tuple(
        sorted(
            articles,
            key=lambda a: (
                -a.weight,
                -min(len(a.full_text or a.summary_text), 2000),
                a.published_at,
                a.id,
            ),
        )
    )


def rank_groups(
    groups: Iterable[Sequence[ArticleRecord]],
    *,
    now: datetime,
    sections: Sequence[str] = (),
    half_life: timedelta = HALF_LIFE,
) -> list[StoryDraft]:
    """Drafts for groups of articles, highest score first."""
    drafts = [
        StoryDraft(
            key=f"a{min(a.id for a in group)}",
            section=story_section(group, sections),
            score=story_score(group, now, half_life=half_life),
            published_at=max(a.published_at for a in group),
            articles=_lead_first(group),
        )
        for group in groups
        if group
    ]
    drafts.sort(key=lambda d: (-d.score, -d.published_at.timestamp(), d.key))
    return drafts


def select(
    ranked: Iterable[StoryDraft], *, per_section: int, total: int | None = None
) -> list[StoryDraft]:
    """The highest-scoring drafts within the caps (at most per_section each, total overall)."""
    taken: Counter[str] = Counter()
    chosen: list[StoryDraft] = []
    for draft in sorted(ranked, key=lambda d: (-d.score, -d.published_at.timestamp(), d.key)):
        if total is not None and len(chosen) >= total:
            break
        if taken[draft.section] >= per_section:
            continue
        taken[draft.section] += 1
        chosen.append(draft)
    return chosen

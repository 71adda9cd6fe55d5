"""Pure: groups of articles -> ranked story drafts, and which of them make an edition.

A story's score grows with the distinct outlets that carry it (each counted
once, at its feed's weight), with its recency (the newest article's age,
halving every `half_life`) and a little with how often it was updated:

    score = coverage x (0.5 + 0.5 x 0.5 ** (age / half_life)) + 0.1 x ln(articles)
    coverage = sum over distinct outlets of the outlet's feed weight

Ties go to the newer story, then to the lower article id, so the order is
deterministic.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from brief.types import ArticleRecord, StoryDraft

HALF_LIFE = timedelta(hours=12)


def story_score(
    articles: Sequence[ArticleRecord], now: datetime, *, half_life: timedelta = HALF_LIFE
) -> float:
    """Importance: outlets (at their feed weight), recency, and a little for updates."""
    weights: dict[str, float] = {}
    for a in articles:
        weights[a.source] = max(weights.get(a.source, 0.0), a.weight)
    coverage = sum(weights.values())
    newest = max(a.published_at for a in articles)
    age = max((now - newest).total_seconds(), 0.0)
    recency = 0.5 ** (age / half_life.total_seconds())
    return round(float(coverage * (0.5 + 0.5 * recency) + 0.1 * math.log(len(articles))), 6)


def story_section(articles: Sequence[ArticleRecord], configured: Sequence[str]) -> str:
    """The section most of the story's weight is in (ties: configured order, then name)."""
    votes: dict[str, float] = {}
    for a in articles:
        votes[a.section] = votes.get(a.section, 0.0) + a.weight
    order = {name: i for i, name in enumerate(configured)}
    return min(votes, key=lambda s: (-votes[s], order.get(s, len(order)), s))


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

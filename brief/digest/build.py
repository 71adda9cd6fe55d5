"""Pure: the window's stored articles -> one edition's Digest.

This is the skeleton's builder: newest first per section, one story per
article. Clustering and real summaries replace the story step later; the
window and section rules stay here.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from brief.types import ArticleRecord, Digest, Section, Source, Story

WINDOW = timedelta(hours=24)

# A sentence ends at . ! or ? (optionally followed by a closing quote or bracket)
# and is followed by whitespace and an upper-case letter, digit or opening quote.
_SENTENCE_END = re.compile(r"(?:(?<=[.!?])|(?<=[.!?][\"'”’)\]]))\s+(?=[\"“‘(]?[A-Z0-9])")
_ABBREVIATIONS = (
    "Mr.",
    "Mrs.",
    "Ms.",
    "Dr.",
    "St.",
    "U.S.",
    "U.K.",
    "U.N.",
    "No.",
    "Gen.",
    "Sen.",
    "Rep.",
    "Gov.",
    "Lt.",
    "Col.",
    "Jan.",
    "Feb.",
    "Aug.",
    "Sept.",
    "Oct.",
    "Nov.",
    "Dec.",
    "vs.",
    "e.g.",
    "i.e.",
)


def edition_time(edition_date: date, hour: int, zone: ZoneInfo, minute: int = 0) -> datetime:
    """The moment an edition is made: its date at the edition hour in the home zone, in UTC."""
    return datetime.combine(edition_date, time(hour, minute), zone).astimezone(UTC)


def edition_window(end: datetime) -> tuple[datetime, datetime]:
    """The 24 hours before an edition's time."""
    return end - WINDOW, end


def split_sentences(text: str) -> list[str]:
    pieces = _SENTENCE_END.split(text.strip())
    sentences: list[str] = []
    for piece in pieces:
        # Re-join splits made after an abbreviation or an initial ("J. Smith").
        if sentences and (
            sentences[-1].endswith(_ABBREVIATIONS) or re.search(r"\b[A-Z]\.$", sentences[-1])
        ):
            sentences[-1] = f"{sentences[-1]} {piece}"
        elif piece:
            sentences.append(piece)
    return sentences


def lead_summary(text: str, *, max_sentences: int = 2, max_chars: int = 320) -> str:
    """The first sentences of a feed's text, cut at a word boundary if still too long."""
    text = " ".join(text.split())
    if not text:
        return ""
    chosen: list[str] = []
    for sentence in split_sentences(text)[:max_sentences]:
        if chosen and len(" ".join([*chosen, sentence])) > max_chars:
            break
        chosen.append(sentence)
    summary = " ".join(chosen)
    if len(summary) > max_chars:
        summary = summary[:max_chars].rsplit(" ", 1)[0].rstrip(",;:") + "…"
    return summary


def order_sections(present: Iterable[str], configured: Sequence[str]) -> list[str]:
    """Configured sections first, in their order; others after, alphabetically."""
    present = set(present)
    known = [s for s in configured if s in present]
    return known + sorted(present - set(configured))


def _story(article: ArticleRecord) -> Story:
    return Story(
        title=article.title,
        summary=lead_summary(article.summary_text),
        section=article.section,
        sources=(Source(name=article.source, url=article.link, title=article.title),),
        published_at=article.published_at,
        image_url=article.image_url,
        image_alt=article.title if article.image_url else None,
    )


def _title_key(title: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", "", title.lower()).split())


def build_digest(
    articles: Iterable[ArticleRecord],
    *,
    edition_date: date,
    window: tuple[datetime, datetime],
    sections: Sequence[str],
    per_section: int,
) -> Digest:
    start, end = window
    by_section: dict[str, list[ArticleRecord]] = defaultdict(list)
    for article in articles:
        if start <= article.published_at < end:
            by_section[article.section].append(article)

    built: list[Section] = []
    for name in order_sections(by_section, sections):
        newest_first = sorted(by_section[name], key=lambda a: (a.published_at, a.id), reverse=True)
        seen: set[str] = set()
        stories: list[Story] = []
        for article in newest_first:
            key = _title_key(article.title)
            if key in seen:  # the same headline from two feeds of one section
                continue
            seen.add(key)
            stories.append(_story(article))
            if len(stories) == per_section:
                break
        built.append(Section(name=name, stories=tuple(stories)))
    return Digest(
        edition_date=edition_date, window_start=start, window_end=end, sections=tuple(built)
    )


def digest_from_stories(
    edition_date: date,
    window: tuple[datetime, datetime],
    stories: Iterable[Story],
) -> Digest:
    """Rebuild a Digest from an edition's stored stories (their order is the section order)."""
    sections: dict[str, list[Story]] = {}
    for story in stories:
        sections.setdefault(story.section, []).append(story)
    return Digest(
        edition_date=edition_date,
        window_start=window[0],
        window_end=window[1],
        sections=tuple(Section(name, tuple(items)) for name, items in sections.items()),
    )

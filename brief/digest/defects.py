"""Pure: reader-visible defects of an edition, by explicit rules.

Each rule looks at what a subscriber sees (a story's headline and summary) and,
where it needs to, at the articles behind it; it returns an example of the
defect (the offending words) or None. `bench/edition_quality.py` counts them on
an edition built from real feeds; tests/unit/test_defects.py holds each rule to
the real snippets that showed it. The aim is 0 of each.

- glued blocks: a summary runs the end of one block (a standfirst, a paragraph,
  a list item) into the start of the next with no full stop between them.
- live-blog clutter: clock stamps ("8.13pm GMT", "13 min:") and live-blog
  phrases ("– live!", "email Scott here") in a headline or summary.
- non-news: a job ad, house notice, sponsored post, calendar, listing or stub.
- duplicate stories: two stories of the edition that tell the same news.
- repeated sentences: a summary saying the same thing twice, in other words too,
  or an article's standfirst and the body sentence that restates it.
- summary length: over 80 or under 12 words.
- page furniture: "Continue reading...", "Related: …", an outlet or "- video"
  suffix on a headline.
- text artefacts: "April.Previously," (no space after a full stop), doubled
  spaces, stray entities ("&amp;", "&#8217;").
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from brief.digest.boilerplate import is_furniture, is_standfirst
from brief.digest.kinds import CLOCK_STAMP, LIVE_PHRASE, not_news
from brief.digest.text import (
    content_overlap,
    content_words,
    restates,
    says_again,
    split_sentences,
)

RULES = (
    "glued blocks",
    "live-blog clutter",
    "non-news",
    "duplicate stories",
    "repeated sentences",
    "summary length",
    "page furniture",
    "text artefacts",
)
MIN_WORDS = 12
MAX_WORDS = 80

_TERMINAL = re.compile(r"[.!?…:;][\"'”’)\]]*$")


@dataclass(frozen=True)
class Article:
    """An article behind a story: its title, its text as blocks (paragraphs), its link."""

    title: str
    blocks: tuple[str, ...] = ()
    link: str | None = None


@dataclass(frozen=True)
class ShownStory:
    """A story as the edition shows it, with the articles it was made from."""

    headline: str
    summary: str
    articles: tuple[Article, ...] = field(default=())


def _fold(text: str) -> str:
    return " ".join(text.split())


# -- glued blocks ------------------------------------------------------------


def glued_blocks(summary: str, blocks: Sequence[str]) -> str | None:
    """Where the summary runs a block without end punctuation into the next one."""
    said = _fold(summary)
    for before, after in itertools.pairwise(blocks):
        tail, head = before.split()[-3:], after.split()[:3]
        if not tail or not head or _TERMINAL.search(tail[-1]) or len(tail) + len(head) < 4:
            continue
        seam = r"\s+".join(re.escape(w) for w in tail + head)
        if re.search(seam, said):
            return f"…{' '.join(before.split()[-6:])} {' '.join(after.split()[:6])}…"
    return None


# -- live blogs --------------------------------------------------------------


def live_blog_clutter(headline: str, summary: str) -> str | None:
    """A clock stamp or a live-blog phrase in the headline or summary."""
    for text in (headline, summary):
        match = CLOCK_STAMP.search(text) or LIVE_PHRASE.search(text)
        if match:
            return _around(text, match.start(), match.end())
    return None


def _around(text: str, start: int, end: int, width: int = 40) -> str:
    left = "…" if start > width else ""
    right = "…" if end + width < len(text) else ""
    return f"{left}{text[max(0, start - width) : end + width].strip()}{right}"


# -- non-news ----------------------------------------------------------------


def non_news(story: ShownStory) -> str | None:
    """Why the story is not news (its reason and headline), judged on its lead article."""
    lead = story.articles[0] if story.articles else Article(story.headline)
    reason = not_news(lead.title or story.headline, "\n".join(lead.blocks), lead.link)
    return f"{reason}: {story.headline}" if reason else None


# -- duplicates and repeats --------------------------------------------------


def repeated_sentences(summary: str, standfirsts: Sequence[str] = ()) -> str | None:
    """Two sentences of one summary that say the same thing; more readily when one is an
    article's standfirst (`standfirst`), which the body's opening restates by design."""
    sentences = split_sentences(summary)
    decks = {_deck_key(s) for s in standfirsts}
    for i, first in enumerate(sentences):
        for second in sentences[i + 1 :]:
            if says_again(first, second):
                return f"{first} | {second}"
            if decks & {_deck_key(first), _deck_key(second)} and restates(
                content_words(first), content_words(second)
            ):
                return f"{first} | {second}"
    return None


def standfirst(blocks: Sequence[str]) -> str | None:
    """An article's standfirst: an opening block without end punctuation that reads as
    a sentence, before the body (see brief.digest.boilerplate.is_standfirst)."""
    if len(blocks) > 1 and not _TERMINAL.search(blocks[0]) and is_standfirst(blocks[0]):
        return blocks[0]
    return None


def _deck_key(sentence: str) -> str:
    return _fold(sentence).rstrip(".").lower()


def duplicate_stories(stories: Sequence[ShownStory]) -> list[str]:
    """Pairs of stories of the edition that tell the same news (or share an article)."""
    found: list[str] = []
    links = [{a.link for a in s.articles if a.link} for s in stories]
    for i, one in enumerate(stories):
        for j in range(i + 1, len(stories)):
            other = stories[j]
            same_link = bool(links[i] & links[j])
            heads, head_share = content_overlap(one.headline, other.headline)
            lead_one = " ".join(split_sentences(one.summary)[:1])
            lead_other = " ".join(split_sentences(other.summary)[:1])
            leads, lead_share = content_overlap(
                f"{one.headline} {lead_one}", f"{other.headline} {lead_other}"
            )
            if (
                same_link
                or (heads >= 3 and head_share >= 0.6)
                or (leads >= 6 and lead_share >= 0.5)
            ):
                found.append(f"{one.headline} | {other.headline}")
    return found


# -- length, furniture, artefacts -------------------------------------------


def summary_length(summary: str) -> str | None:
    words = len(summary.split())
    if words > MAX_WORDS or words < MIN_WORDS:
        return f"{words} words: {summary[:80]}"
    return None


_HEADLINE_SUFFIX = re.compile(
    r"\s[|]\s\S.*$|\s[-–—]\s(?:live|video|audio|in pictures|podcast|as it happened|"
    r"opinion|analysis|interview)!?\s*$",
    re.IGNORECASE,
)
_STUB_FURNITURE = re.compile(
    r"continue reading|read (?:the )?full (?:article|story)|read more\b|>>|\bRelated:|More:",
    re.IGNORECASE,
)


def page_furniture(headline: str, summary: str) -> str | None:
    """A headline suffix ("| Outlet", "- video") or furniture in the summary."""
    match = _HEADLINE_SUFFIX.search(headline)
    if match:
        return headline
    match = _STUB_FURNITURE.search(summary)
    if match:
        return _around(summary, match.start(), match.end())
    for sentence in split_sentences(summary):
        if is_furniture(sentence):
            return sentence
    return None


_ARTEFACT = re.compile(
    r"[a-z]{2}[.!?][A-Z][a-z]|\S {2,}\S|&(?:#\d+|#x[\da-fA-F]+|[a-zA-Z]{2,8});|\ufffd|"
    r"\s[,.;:](?=\s|$)"
)


def text_artefacts(headline: str, summary: str) -> str | None:
    """No space after a full stop, doubled spaces, stray entities, a space before a comma."""
    for text in (headline, summary):
        match = _ARTEFACT.search(text)
        if match:
            return _around(text, match.start(), match.end(), width=25)
    return None


# -- the edition -------------------------------------------------------------


def edition_defects(stories: Sequence[ShownStory]) -> dict[str, list[str]]:
    """Every rule's examples over an edition's stories (an empty list: no defect)."""
    found: dict[str, list[str]] = {rule: [] for rule in RULES}

    def note(rule: str, example: str | None) -> None:
        if example:
            found[rule].append(example)

    for story in stories:
        glued = None
        for article in story.articles:
            glued = glued or glued_blocks(story.summary, article.blocks)
        note("glued blocks", glued)
        note("live-blog clutter", live_blog_clutter(story.headline, story.summary))
        note("non-news", non_news(story))
        decks = [d for d in (standfirst(a.blocks) for a in story.articles) if d]
        note("repeated sentences", repeated_sentences(story.summary, decks))
        note("summary length", summary_length(story.summary))
        note("page furniture", page_furniture(story.headline, story.summary))
        note("text artefacts", text_artefacts(story.headline, story.summary))
    found["duplicate stories"] = duplicate_stories(stories)
    return found

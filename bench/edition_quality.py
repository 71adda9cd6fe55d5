"""Reader-visible defects of an edition built from real news feeds, counted by explicit rules.

The feeds are the real news feeds among the parser fixtures of
../shared/corpora/feeds/ (The Guardian, TPM, HuffPost Canada, TechCrunch,
Livemint, The Washington Post's wellness feed, Macworld). Each goes through
brief's own parser (`parse_feed`); its entries' dates are moved into the 24 h
window before the edition (the newest 5 minutes before it, the others keeping
their spacing, squeezed into the window when they span more). The edition is
built as `brief.editions` builds it (group -> select -> summarize -> compose,
8 stories a section, 30 in all), then every story is checked by the rules of
`brief.digest.defects` (glued blocks, live-blog clutter, non-news, duplicate
stories, repeated sentences, summaries over 80 or under 12 words, page
furniture, text artefacts). The blocks a glued-block check needs are read from
each entry's sanitized HTML here, by a plain split on block tags, not by the
product's own text conversion. Aim: 0 of each.

    python bench/edition_quality.py [--show] [--html edition.html] [--examples 3]
"""

from __future__ import annotations

import argparse
import html
import re
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from brief.digest.build import (
    compose_digest,
    edition_window,
    group_stories,
    select_drafts,
    summarize_draft,
)
from brief.digest.defects import RULES, Article, ShownStory, edition_defects
from brief.feeds.parse import parse_feed
from brief.types import ArticleRecord, Digest, ParsedArticle, StoryDraft

FEEDS_DIR = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "feeds"
# (fixture, outlet, section): the real news feeds of the corpus.
FEEDS = (
    ("rss-parser/input/guardian.rss", "The Guardian", "world"),
    ("node-feedparser/tpm.atom", "TPM", "politics"),
    ("feedjira/HuffPostCanada.xml", "HuffPost Canada", "world"),
    ("feedjira/TechCrunch.xml", "TechCrunch", "technology"),
    ("rsparser/livemint.xml", "Livemint", "business"),
    ("node-feedparser/wapowellness.xml", "The Washington Post", "health"),
    ("rsparser/macworld.rss", "Macworld", "technology"),
)
SECTIONS = ["world", "politics", "business", "technology", "science", "sport", "health"]
END = datetime(2026, 11, 25, 6, 0, tzinfo=UTC)
_BLOCK = re.compile(
    r"<\s*(?:/?(?:p|li|ul|ol|h[1-6]|blockquote|figcaption|div|pre)|br\s*/?)\b[^>]*>"
)
_TAG = re.compile(r"<[^>]+>")


def blocks_of(summary_html: str) -> tuple[str, ...]:
    """An entry's blocks (paragraphs, list items, <br> lines), read from its HTML."""
    parts = (_TAG.sub("", p) for p in _BLOCK.split(summary_html))
    return tuple(b for b in (" ".join(html.unescape(p).split()) for p in parts) if b)


def into_window(entries: list[ParsedArticle]) -> list[datetime]:
    """Dates for a feed's entries inside the window, newest 5 min before its end."""
    dated = [e.published_at or END for e in entries]
    newest, oldest = max(dated), min(dated)
    span = (newest - oldest).total_seconds() or 1.0
    room = timedelta(hours=23.5).total_seconds()
    squeeze = min(1.0, room / span)
    return [END - timedelta(minutes=5) - (newest - d) * squeeze for d in dated]


def load() -> tuple[list[ArticleRecord], dict[int, tuple[str, ...]]]:
    records: list[ArticleRecord] = []
    blocks: dict[int, tuple[str, ...]] = {}
    for feed_id, (name, outlet, section) in enumerate(FEEDS, start=1):
        path = FEEDS_DIR / name
        parsed = parse_feed(f"https://feeds.example/{path.name}", path.read_bytes())
        for entry, when in zip(parsed.articles, into_window(list(parsed.articles)), strict=True):
            record = ArticleRecord(
                id=len(records) + 1,
                feed_id=feed_id,
                source=outlet,
                section=section,
                title=entry.title,
                link=entry.link,
                summary_text=entry.summary_text,
                image_url=entry.image_url,
                image_alt=entry.image_alt,
                published_at=when,
            )
            records.append(record)
            blocks[record.id] = blocks_of(entry.summary_html)
    return records, blocks


def build(records: list[ArticleRecord]) -> tuple[Digest, list[StoryDraft]]:
    window = edition_window(END)
    drafts = group_stories(records, window=window, sections=SECTIONS)
    chosen = select_drafts(drafts, per_section=8, total=30)
    digest = compose_digest(
        [summarize_draft(d) for d in chosen],
        edition_date=END.date(),
        window=window,
        sections=SECTIONS,
        per_section=8,
        total=30,
    )
    return digest, chosen


def shown(
    digest: Digest, chosen: list[StoryDraft], blocks: dict[int, tuple[str, ...]]
) -> list[ShownStory]:
    by_title = {}
    for draft in chosen:
        links = {a.link for a in draft.articles}
        by_title[frozenset(links)] = draft
    out: list[ShownStory] = []
    for story in digest.stories:
        links = {s.url for s in story.sources}
        draft = next(d for key, d in by_title.items() if links <= key)
        articles = tuple(Article(a.title, blocks[a.id], a.link) for a in draft.articles)
        out.append(ShownStory(story.title, story.summary, articles))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--show", action="store_true", help="print the edition's stories")
    parser.add_argument("--html", type=Path, help="write the rendered email (HTML) here")
    parser.add_argument("--examples", type=int, default=3)
    args = parser.parse_args()
    if not FEEDS_DIR.exists():
        sys.exit(f"{FEEDS_DIR} is absent: clone ../shared beside the repo")

    records, blocks = load()
    digest, chosen = build(records)
    stories = shown(digest, chosen, blocks)
    print(
        f"Edition quality: {len(records)} entries of {len(FEEDS)} real news feeds, "
        f"{len(digest.stories)} stories in {len(digest.sections)} sections"
    )
    if args.show:
        for section in digest.sections:
            print(f"\n[{section.name}]")
            for story in section.stories:
                print(f"  * {story.title}  ({', '.join(s.name for s in story.sources)})")
                print(f"    {story.summary}")
        print()
    defects = edition_defects(stories)
    total = 0
    for rule in RULES:
        found = defects[rule]
        total += len(found)
        print(f"  {rule:<20} {len(found):3d}")
        for example in found[: args.examples]:
            print(f"      e.g. {example[:160]}")
    print(f"  {'total':<20} {total:3d}   (aim: 0 of each)")
    if args.html:
        from brief.mail.render import render_digest

        email = render_digest(digest, brief_name="Daily Brief", web_url="https://brief.example")
        args.html.write_text(email.html, encoding="utf-8")
        print(f"  email written to {args.html}")


if __name__ == "__main__":
    main()

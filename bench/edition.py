"""Build one edition from 10,000 articles (the pure path) and print time and peak memory.

The articles are synthetic but realistic: the NeuS headlines and leads
(../shared/corpora/clusters/neus/, 9,198 articles in 3,066 stories), each
story given a section, each article one of 40 outlets (with feed weights
0.5-2), a time in the 24 h window, and ~8% extra articles that are one
outlet's update of its own story (same text, retitled, later), up to N.

Timed: the whole build, as brief.editions makes it: group_stories (cluster +
rank every story of the window) -> select_drafts (caps) -> summarize_draft for
each chosen story -> compose_digest. Aim on the 2-core machine: <= 10 s and <= 500 MB.

    python bench/edition.py [--articles 10000] [--per-section 8] [--total 30] [--all]
"""

from __future__ import annotations

import argparse
import csv
import random
import resource
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from brief.digest.build import (
    compose_digest,
    edition_window,
    group_stories,
    select_drafts,
    summarize_draft,
)
from brief.types import ArticleRecord, Digest

TSV = (
    Path(__file__).resolve().parents[2]
    / "shared"
    / "corpora"
    / "clusters"
    / "neus"
    / "neus_titles_by_story.tsv"
)
SECTIONS = ["world", "politics", "business", "technology", "science", "sport"]
END = datetime(2026, 11, 25, 6, 0, tzinfo=UTC)


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def articles(n: int, seed: int = 0) -> list[ArticleRecord]:
    rng = random.Random(seed)
    outlets = [(f"Outlet {k}", rng.choice([0.5, 1.0, 1.0, 1.0, 1.5, 2.0])) for k in range(40)]
    stories: dict[str, list[tuple[str, str]]] = {}
    with TSV.open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE):
            stories.setdefault(row["story_id"], []).append((row["title"], row["lead"] or ""))
    out: list[ArticleRecord] = []
    for story_id, docs in stories.items():
        section = rng.choice(SECTIONS)
        start = END - timedelta(hours=rng.uniform(1, 23.5))
        for title, lead in docs:
            k = rng.randrange(len(outlets))
            out.append(
                ArticleRecord(
                    id=len(out) + 1,
                    feed_id=k + 1,
                    source=outlets[k][0],
                    section=section,
                    title=title,
                    link=f"https://outlet{k}.example/{story_id}/{len(out)}",
                    summary_text=lead,
                    image_url=(
                        f"https://outlet{k}.example/{len(out)}.jpg" if rng.random() < 0.5 else None
                    ),
                    image_alt=title if rng.random() < 0.5 else None,
                    published_at=min(start + timedelta(minutes=rng.uniform(0, 180)), END),
                    weight=outlets[k][1],
                )
            )
    while len(out) < n:  # an outlet's update of its own article
        base = out[rng.randrange(len(out))]
        out.append(
            ArticleRecord(
                id=len(out) + 1,
                feed_id=base.feed_id,
                source=base.source,
                section=base.section,
                title=f"{base.title.rstrip('.')} (updated)",
                link=f"{base.link}?update",
                summary_text=base.summary_text,
                image_url=base.image_url,
                image_alt=base.image_alt,
                published_at=min(base.published_at + timedelta(minutes=45), END - timedelta(1)),
                weight=base.weight,
            )
        )
    return out[:n]


def build(items: list[ArticleRecord], per_section: int, total: int) -> Digest:
    """group -> select -> summarize -> compose, as brief.editions.build_edition does."""
    window = edition_window(END)
    drafts = group_stories(items, window=window, sections=SECTIONS)
    chosen = select_drafts(drafts, per_section=per_section, total=total)
    return compose_digest(
        [summarize_draft(d) for d in chosen],
        edition_date=date(2026, 11, 25),
        window=window,
        sections=SECTIONS,
        per_section=per_section,
        total=total,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--articles", type=int, default=10_000)
    parser.add_argument("--per-section", type=int, default=8)
    parser.add_argument("--total", type=int, default=30)
    parser.add_argument("--all", action="store_true", help="also summarize every story")
    args = parser.parse_args()
    if not TSV.exists():
        sys.exit(f"{TSV} is absent: clone ../shared beside the repo")

    items = articles(args.articles)
    before = peak_mb()
    window = edition_window(END)
    started = time.perf_counter()
    digest = build(items, args.per_section, args.total)
    took = time.perf_counter() - started
    peak = peak_mb()

    started = time.perf_counter()
    drafts = group_stories(items, window=window, sections=SECTIONS)
    grouping = time.perf_counter() - started
    chosen = select_drafts(drafts, per_section=args.per_section, total=args.total)
    started = time.perf_counter()
    for draft in chosen:
        summarize_draft(draft)
    summarizing = time.perf_counter() - started

    print(f"Edition build (pure path) from {len(items):,} articles")
    multi = sum(len(d.outlets) > 1 for d in drafts)
    print(f"  stories found        {len(drafts):,} (multi-outlet: {multi:,})")
    print(f"  stories in edition   {len(digest.stories)} in {len(digest.sections)} sections")
    top = max(digest.stories, key=lambda s: s.score)
    print(f"  top story            {top.title!r} ({len(top.sources)} outlets)")
    print(f"  whole build          {took:.2f} s (aim <= 10 s)")
    print(f"    group_stories      {grouping:.2f} s (cluster + rank)")
    print(f"    summarize chosen   {summarizing:.2f} s ({len(chosen)} stories)")
    print(f"  peak memory (RSS)    {peak:.0f} MB (aim <= 500 MB; {before:.0f} MB before building)")
    if args.all:
        started = time.perf_counter()
        for draft in drafts:
            summarize_draft(draft)
        took_all = time.perf_counter() - started
        print(f"  summarize all        {took_all:.2f} s ({len(drafts):,} stories)")


if __name__ == "__main__":
    main()

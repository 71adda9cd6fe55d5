"""Summaries scored with ROUGE-1/2/L F1 against human references, next to Lead-3.

Corpora (from ../shared/corpora/summaries/):

- NeuS (allsides-neus/neus_multidoc.jsonl): 614 stories, three outlets'
  articles each, and an editor's neutral summary (about 55 words).
- BBC News Summary (bbc-news-summary-100): 100 articles; the references are
  extractive and long (sentences copied from the article, ~40% of it).

Lead-3: the first three sentences of the first article (split with brief's
own splitter). brief: `summarize_story`, the code the edition uses, on all
the story's articles. It runs at the product default (2-3 sentences, about
60 words: a third sentence may take it to 66, two to 75) on both corpora,
and also, printed as such, with Lead-3's budget
(exactly 3 sentences, no word cap), since ROUGE F1 rewards matching the
reference's length and BBC's references are much longer than a brief's. A last row
per corpus gives the lead at brief's own mean length there (its first N words), so
that brief and the lead are compared at equal length as well.

    python bench/summaries.py
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from rouge_score import rouge_scorer

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from brief.digest.summarize import summarize_story
from brief.digest.text import split_sentences
from brief.types import Doc

CORPORA = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "summaries"
Story = tuple[list[Doc], str]


def load_neus() -> list[Story]:
    stories: list[Story] = []
    with (CORPORA / "allsides-neus" / "neus_multidoc.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            data = json.loads(line)
            docs = [Doc(title=d["title"], text=d["text"]) for d in data["docs"]]
            stories.append((docs, data["reference"]["text"]))
    return stories


def load_bbc() -> list[Story]:
    folder = CORPORA / "bbc-news-summary-100"
    stories: list[Story] = []
    for path in sorted((folder / "article").glob("*/*.txt")):
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
        title, body = lines[0], "\n".join(lines[1:])
        # One sentence a line, paragraphs split by blank lines: fold lines into paragraphs.
        paragraphs = [" ".join(p.split()) for p in body.split("\n\n") if p.strip()]
        reference = (folder / "summary" / path.parent.name / path.name).read_text(
            encoding="utf-8", errors="replace"
        )
        stories.append(
            ([Doc(title=title, text="\n\n".join(paragraphs))], " ".join(reference.split()))
        )
    return stories


def lead3(docs: Sequence[Doc]) -> str:
    return " ".join(split_sentences(" ".join(docs[0].text.split()))[:3])


def lead_words(docs: Sequence[Doc], n: int) -> str:
    """The first n words of the first article (Lead-3 at another length)."""
    return " ".join(docs[0].text.split()[:n])


def score(
    stories: Sequence[Story], summarize: Callable[[Sequence[Doc]], str]
) -> tuple[list[float], float, float]:
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=True)
    totals = [0.0, 0.0, 0.0]
    words = 0
    started = time.perf_counter()
    for docs, reference in stories:
        summary = summarize(docs)
        words += len(summary.split())
        result = scorer.score(reference, summary)
        for k, key in enumerate(("rouge1", "rouge2", "rougeL")):
            totals[k] += result[key].fmeasure
    took = time.perf_counter() - started
    n = len(stories)
    return [100 * t / n for t in totals], words / n, took


def main() -> None:
    if not CORPORA.exists():
        sys.exit(f"{CORPORA} is absent: clone ../shared beside the repo")
    print("Summaries: ROUGE F1 x100 (rouge-score, Porter stemmer), mean over stories")
    methods: list[tuple[str, Callable[[Sequence[Doc]], str]]] = [
        ("Lead-3 (first 3 sentences of doc 1)", lead3),
        ("brief, product default (2-3 sent., ~60 w)", lambda d: summarize_story(d).summary),
        (
            "brief, Lead-3's budget (3 sent., no cap)",
            lambda d: summarize_story(d, max_words=10_000, min_sentences=3).summary,
        ),
    ]
    for name, loader in (
        ("NeuS multi-doc (614 stories)", load_neus),
        ("BBC (100 articles)", load_bbc),
    ):
        stories = loader()
        ref_words = sum(len(r.split()) for _, r in stories) / len(stories)
        print(f"\n{name}: reference mean {ref_words:.0f} words")
        print(f"  {'method':<44} {'R-1':>6} {'R-2':>6} {'R-L':>6} {'words':>6} {'ms/st':>6}")
        product_words = 0.0
        rows = list(methods)
        for k, (label, fn) in enumerate(rows):
            (r1, r2, rl), words, took = score(stories, fn)
            if k == 1:
                product_words = words
            print(
                f"  {label:<44} {r1:6.2f} {r2:6.2f} {rl:6.2f} {words:6.0f}"
                f" {1000 * took / len(stories):6.1f}"
            )
        # Lead-3 at brief's own mean length on this corpus: ROUGE F1 moves with length,
        # so this row compares the two at equal length.
        n = round(product_words)
        (r1, r2, rl), words, took = score(stories, lambda d, n=n: lead_words(d, n))
        label = f"Lead, first {n} words (brief's mean length)"
        ms = 1000 * took / len(stories)
        print(f"  {label:<44} {r1:6.2f} {r2:6.2f} {rl:6.2f} {words:6.0f} {ms:6.1f}")


if __name__ == "__main__":
    main()

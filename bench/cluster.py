"""Story grouping scored against labelled corpora, next to a plain TF-IDF baseline.

Corpora (from ../shared/corpora/clusters/):

- NeuS: 9,198 headlines (title + lead) in 3,066 stories of three outlets each,
  taken as one pile.
- WikiRef220: 220 full articles in 16 topics (first 60 words stand as the lead,
  the first line as the title).

Scores: B-cubed precision / recall / F1 against the story labels.

Baseline: TF-IDF of title + lead (lower-cased words of 2+ characters, raw
counts, smoothed IDF, L2), average-link clustering cut at one cosine
threshold; the baseline's threshold is swept and its best shown.

brief: title-weighted TF-IDF (stop words, light stemmer, sublinear counts),
sparse average-link at 0.3; two articles of one outlet must be twice as
similar to group. The corpora name no outlet, so brief runs without that
signal; for NeuS it also runs with the doc_idx slot (each story has one
article from each of three outlets) standing for the outlet, labelled so.

Dates: neither corpus has them, so the grouping runs with no time decay here
(every article "unknown time"). In the product, similarity is kept in full
within 12 h, halves every 24 h after that, and is zero past 72 h (see
brief/digest/cluster.py; unit tests cover it on synthetic data).

    python bench/cluster.py [--threshold 0.2] [--sweep]
"""

from __future__ import annotations

import argparse
import csv
import re
import sys
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from scipy.sparse import csr_matrix

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from brief.digest.cluster import DEFAULT_THRESHOLD, Item, cluster_matrix, group_items, lead_of

CORPORA = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "clusters"


def bcubed(groups: Sequence[Sequence[int]], labels: Sequence[str]) -> tuple[float, float, float]:
    """B-cubed precision, recall and F1 of a grouping against gold labels."""
    gold_size = Counter(labels)
    precision = recall = 0.0
    for group in groups:
        inside = Counter(labels[i] for i in group)
        for i in group:
            same = inside[labels[i]]
            precision += same / len(group)
            recall += same / gold_size[labels[i]]
    n = len(labels)
    p, r = precision / n, recall / n
    return p, r, 2 * p * r / (p + r) if p + r else 0.0


def load_neus() -> tuple[list[Item], list[str]]:
    items: list[Item] = []
    labels: list[str] = []
    with (CORPORA / "neus" / "neus_titles_by_story.tsv").open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE):
            # doc_idx is the outlet's slot in the story (three outlets each): used
            # as the "source" only in the run labelled so.
            items.append(Item(row["title"], row["lead"] or "", source=f"slot{row['doc_idx']}"))
            labels.append(row["story_id"])
    return items, labels


def load_wikiref() -> tuple[list[Item], list[str]]:
    folder = CORPORA / "wikiref220"
    items: list[Item] = []
    labels: list[str] = []
    with (folder / "labels.tsv").open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            text = (folder / "docs" / row["file"]).read_text(encoding="utf-8", errors="replace")
            lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
            title = lines[0] if lines else ""
            items.append(Item(title, lead_of(" ".join(lines[1:]))))
            labels.append(row["topic_label"])
    return items, labels


def baseline_matrix(items: Sequence[Item]) -> csr_matrix:
    """Plain TF-IDF of title + lead."""
    vocab: dict[str, int] = {}
    rows: list[int] = []
    cols: list[int] = []
    vals: list[float] = []
    for i, item in enumerate(items):
        counts = Counter(re.findall(r"\b\w\w+\b", f"{item.title} {item.lead}".lower()))
        for word, count in counts.items():
            rows.append(i)
            cols.append(vocab.setdefault(word, len(vocab)))
            vals.append(float(count))
    n = len(items)
    matrix = csr_matrix((vals, (rows, cols)), shape=(n, len(vocab)))
    df = np.bincount(matrix.indices, minlength=matrix.shape[1])
    matrix.data *= (np.log((1.0 + n) / (1.0 + df)) + 1.0)[matrix.indices]
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    matrix.data *= np.repeat(1.0 / norms, np.diff(matrix.indptr))
    return matrix


def score_baseline(items: Sequence[Item], labels: Sequence[str], threshold: float) -> list[float]:
    matrix = baseline_matrix(items)
    groups = cluster_matrix(matrix, np.full(len(items), np.nan), threshold=threshold)
    return list(bcubed(groups, labels))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD)
    parser.add_argument("--sweep", action="store_true", help="also sweep brief's threshold")
    args = parser.parse_args()
    if not CORPORA.exists():
        sys.exit(f"{CORPORA} is absent: clone ../shared beside the repo")

    print("Story grouping: B-cubed precision / recall / F1 against story labels")
    print("Dates: these corpora have none, so no time decay applies here (see the docstring).")
    for name, loader in (
        ("NeuS (9,198 headlines, one pile)", load_neus),
        ("WikiRef220", load_wikiref),
    ):
        items, labels = loader()
        best: tuple[float, list[float]] | None = None
        for t in (0.2, 0.25, 0.3, 0.35, 0.4, 0.5):
            score = score_baseline(items, labels, t)
            if best is None or score[2] > best[1][2]:
                best = (t, score)
        assert best is not None
        anonymous = [Item(it.title, it.lead) for it in items]
        started = time.perf_counter()
        groups = group_items(anonymous, threshold=args.threshold)
        took = time.perf_counter() - started
        mine = list(bcubed(groups, labels))
        with_sources = None
        if any(it.source for it in items):
            with_sources = list(bcubed(group_items(items, threshold=args.threshold), labels))
        print(f"\n{name}: {len(items)} items, {len(set(labels))} labels")
        print(f"  {'method':<44} {'P':>6} {'R':>6} {'F1':>6}")
        print(
            f"  {f'baseline TF-IDF avg-link (best t={best[0]})':<44}"
            + "".join(f" {x:6.3f}" for x in best[1])
        )
        print(
            f"  {f'brief (t={args.threshold}), {took:.2f} s, {len(groups)} groups':<44}"
            + "".join(f" {x:6.3f}" for x in mine)
        )
        if with_sources is not None:
            print(
                f"  {'brief, outlet known (doc_idx slot as outlet)':<44}"
                + "".join(f" {x:6.3f}" for x in with_sources)
            )
        if name.startswith("NeuS"):
            verdict = "met" if mine[2] >= 0.88 else "NOT met"
            print(f"  aim: B-cubed F1 >= 0.88 on this pile: {verdict} (brief {mine[2]:.3f})")
        if args.sweep:
            for t in (0.2, 0.25, 0.3, 0.35, 0.4):
                score = bcubed(group_items(anonymous, threshold=t), labels)
                print(f"  {f'  brief t={t}':<44}" + "".join(f" {x:6.3f}" for x in score))


if __name__ == "__main__":
    main()

"""Main-text extraction quality on ../shared/corpora/articles.

    python bench/extraction.py [--corpus ../shared/corpora/articles] [-v]

Scores ``brief.feeds.fulltext.extract_main_text`` (trafilatura tuned for precision,
then brief's boilerplate filter) and, for comparison, the same trafilatura call
without the filter (``plain_extract``):

- readability-testpages/<page>/: source.html against the text of expected.html
  (Mozilla Readability's output, tags stripped). Tokens are lower-cased words
  (``\\w+``); precision, recall and F1 are computed on the multiset of tokens per page,
  then averaged over pages (macro). A page we return None for scores 0/0/0.
- trafilatura-eval/: for each page of evaldata-news-subset.json, whether each
  "with" snippet (must be in the main text) is present and each "without" snippet
  (boilerplate) is absent, after whitespace folding. Shares over all snippets.

Also prints the milliseconds per page.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from brief.feeds.clean import html_to_text
from brief.feeds.fulltext import extract_main_text, plain_extract

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "articles"
Extractor = Callable[[str, str], str | None]
EXTRACTORS: dict[str, Extractor] = {"brief": extract_main_text, "trafilatura": plain_extract}
_TOKEN = re.compile(r"\w+")


@dataclass
class Scores:
    pages: int = 0
    empty: int = 0
    precision: float = 0.0
    recall: float = 0.0
    f1: float = 0.0
    seconds: float = 0.0
    worst: list[tuple[float, str]] = field(default_factory=list)


def tokens(text: str) -> Counter[str]:
    return Counter(t.lower() for t in _TOKEN.findall(text))


def prf(got: str, want: str) -> tuple[float, float, float]:
    g, w = tokens(got), tokens(want)
    overlap = sum((g & w).values())
    p = overlap / sum(g.values()) if g else 0.0
    r = overlap / sum(w.values()) if w else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def readability(root: Path, extract: Extractor) -> Scores:
    scores = Scores()
    for page in sorted(p for p in (root / "readability-testpages").iterdir() if p.is_dir()):
        source, expected = page / "source.html", page / "expected.html"
        if not source.exists() or not expected.exists():
            continue
        html = source.read_text(encoding="utf-8", errors="replace")
        want = html_to_text(expected.read_text(encoding="utf-8", errors="replace"))
        started = time.perf_counter()
        got = extract(html, f"http://fakehost/{page.name}/")
        scores.seconds += time.perf_counter() - started
        scores.pages += 1
        if not got:
            scores.empty += 1
        p, r, f = prf(got or "", want)
        scores.precision += p
        scores.recall += r
        scores.f1 += f
        scores.worst.append((f, page.name))
    n = scores.pages or 1
    scores.precision, scores.recall, scores.f1 = (
        scores.precision / n,
        scores.recall / n,
        scores.f1 / n,
    )
    scores.worst.sort()
    return scores


@dataclass
class Snippets:
    pages: int = 0
    empty: int = 0
    with_total: int = 0
    with_found: int = 0
    without_total: int = 0
    without_absent: int = 0
    seconds: float = 0.0
    misses: list[str] = field(default_factory=list)


def _fold(text: str) -> str:
    return " ".join(text.split())


def snippets(root: Path, extract: Extractor) -> Snippets:
    folder = root / "trafilatura-eval"
    spec = json.loads((folder / "evaldata-news-subset.json").read_text(encoding="utf-8"))
    result = Snippets()
    for url, item in sorted(spec.items()):
        path = folder / "html" / item["file"]
        if not path.exists():
            continue
        html = path.read_bytes().decode("utf-8", errors="replace")
        started = time.perf_counter()
        got = _fold(extract(html, url) or "")
        result.seconds += time.perf_counter() - started
        result.pages += 1
        result.empty += not got
        for snippet in item.get("with", []):
            result.with_total += 1
            if _fold(snippet) in got:
                result.with_found += 1
            else:
                result.misses.append(f"{item['file']}: missing {snippet!r}")
        for snippet in item.get("without", []):
            result.without_total += 1
            if _fold(snippet) not in got:
                result.without_absent += 1
            else:
                result.misses.append(f"{item['file']}: kept {snippet!r}")
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("-v", "--verbose", action="store_true", help="list the misses")
    args = parser.parse_args()
    if not args.corpus.exists():
        print(f"corpus {args.corpus} is absent (clone ../shared beside the repo)")
        return 2
    print("readability-testpages (token P/R/F1 against expected.html, macro over pages)")
    print(f"{'extractor':<13}{'pages':>6}{'None':>6}{'P':>8}{'R':>8}{'F1':>8}{'ms/page':>9}")
    for name, extract in EXTRACTORS.items():
        s = readability(args.corpus, extract)
        print(
            f"{name:<13}{s.pages:>6}{s.empty:>6}{s.precision:>8.3f}{s.recall:>8.3f}{s.f1:>8.3f}"
            f"{1000 * s.seconds / max(1, s.pages):>9.1f}"
        )
        if args.verbose:
            print("   lowest F1:", ", ".join(f"{n} {f:.2f}" for f, n in s.worst[:8]))
    print()
    print("trafilatura-eval news subset (share of snippets)")
    print(
        f"{'extractor':<13}{'pages':>6}{'None':>6}{'with found':>14}"
        f"{'without absent':>17}{'ms/page':>9}"
    )
    for name, extract in EXTRACTORS.items():
        t = snippets(args.corpus, extract)
        found = f"{t.with_found}/{t.with_total} {t.with_found / max(1, t.with_total):.1%}"
        absent = (
            f"{t.without_absent}/{t.without_total} {t.without_absent / max(1, t.without_total):.1%}"
        )
        print(
            f"{name:<13}{t.pages:>6}{t.empty:>6}{found:>14}{absent:>17}"
            f"{1000 * t.seconds / max(1, t.pages):>9.1f}"
        )
        if args.verbose:
            for miss in t.misses:
                print("   ", miss)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Every real feed document of ../shared/corpora/feeds through brief's parser.

    python bench/feeds_corpus.py [--corpus ../shared/corpora/feeds] [--header MODE] [-v]

For each document it records one outcome: parsed (with N entries), refused
(FeedParseError: not a feed, e.g. an HTML page) or crashed (any other exception,
which must never happen). Where another parser's output for the same document is
in the corpus, it compares our entries with it:

- fastfeedparser/X.json beside X.xml (and json_feed_sample.expected.json for
  json_feed_sample.json): that parser's ``entries[].title`` / ``link``;
- rss-parser/output/X.json for input/X.*: ``feed.items[].title`` / ``link``.

Agreement, per entry of the reference:

- entries are paired by position when both sides have the same number of entries
  (both parsers keep document order), else by canonical link, else by title;
- a reference entry with neither title nor link is not counted (brief drops such
  entries: there is nothing to read or follow);
- *title* agrees when both are equal after HTML entities are decoded (twice: feeds
  double-escape), tags are stripped, Unicode is NFC-normalised and whitespace is
  folded. A reference entry without a title agrees with any of ours: brief names
  untitled entries by their opening words on purpose. Where the reference has
  U+FFFD (it decoded the document with the wrong charset, as rss-parser did for
  uolNoticias), each U+FFFD matches any one character;
- *link* agrees when ``canonical_url`` of both sides is equal, the reference's
  link being resolved against our feed's site link first (some parsers leave it
  relative). A reference without a link agrees when ours has none, or when ours
  is the entry's permalink guid (brief uses it as the link on purpose).
- an entry agrees when its title and link both agree. A reference entry we do not
  return at all disagrees.

``--header`` picks the Content-Type the documents are parsed with: ``none`` (no
header), ``xml`` (``application/xml`` with no charset: the default, what most servers
send) or ``utf8`` (``...; charset=utf-8`` for every document, a server that lies for
the non-UTF-8 ones).

Prints a line per folder and the total; exits 1 if anything crashed or the total
agreement is under 95%.
"""

from __future__ import annotations

import argparse
import html
import json
import re
import sys
import time
import traceback
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from brief.errors import FeedParseError
from brief.feeds.clean import html_to_text
from brief.feeds.normalize import canonical_url
from brief.feeds.parse import parse_feed
from brief.types import ParsedArticle, ParsedFeed

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "feeds"
DOC_URL = "https://feeds.example.org/{name}"
HEADERS: dict[str, dict[str, str]] = {
    "none": {},
    "xml": {"Content-Type": "application/xml"},
    "utf8": {"Content-Type": "application/rss+xml; charset=utf-8"},
}
THRESHOLD = 0.95


@dataclass(frozen=True)
class Document:
    folder: str
    path: Path
    expected: Path | None  # another parser's output for it, if the corpus has one


@dataclass
class Expected:
    title: str | None
    link: str | None


@dataclass
class Tally:
    documents: int = 0
    parsed: int = 0
    refused: int = 0
    crashed: int = 0
    entries: int = 0
    compared: int = 0  # reference entries
    agreed: int = 0
    titles_agreed: int = 0
    links_agreed: int = 0
    crashes: list[str] = field(default_factory=list)
    disagreements: list[str] = field(default_factory=list)

    def add(self, other: Tally) -> None:
        for name in ("documents", "parsed", "refused", "crashed", "entries", "compared"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.agreed += other.agreed
        self.titles_agreed += other.titles_agreed
        self.links_agreed += other.links_agreed
        self.crashes += other.crashes
        self.disagreements += other.disagreements

    @property
    def agreement(self) -> float:
        return self.agreed / self.compared if self.compared else 1.0


def documents(root: Path) -> Iterator[Document]:
    """Every feed document under ``root`` (expected outputs excluded), sorted."""
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        folder = path.relative_to(root).parts[0]
        if path.name.endswith(".md") or path.name.startswith("."):
            continue
        if folder == "fastfeedparser":
            if path.name.endswith(".expected.json"):
                continue
            if path.suffix == ".json" and path.with_suffix(".xml").exists():
                continue  # the reference output for X.xml
            ref = path.with_suffix(".xml" if path.suffix == ".json" else ".json")
            if path.suffix == ".json":
                ref = path.with_name(path.stem + ".expected.json")
            yield Document(folder, path, ref if ref.exists() else None)
        elif folder == "rss-parser":
            if "output" in path.parts:
                continue
            ref = root / "rss-parser" / "output" / (path.stem + ".json")
            yield Document(folder, path, ref if ref.exists() else None)
        else:
            yield Document(folder, path, None)


def expected_entries(doc: Document) -> list[Expected]:
    assert doc.expected is not None
    raw = doc.expected.read_bytes()
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:  # one reference (uolNoticias) was saved as ISO-8859-1
        data = json.loads(raw.decode("latin-1"))
    items: list[dict[str, Any]] = (
        data.get("entries", []) if doc.folder == "fastfeedparser" else data["feed"]["items"]
    )
    return [Expected(_str(i.get("title")), _str(i.get("link"))) for i in items]


def norm_title(title: str | None) -> str:
    text = html.unescape(title or "")
    return unicodedata.normalize("NFC", html_to_text(text))


def compare(doc: Document, feed: ParsedFeed) -> tuple[int, int, int, int, list[str]]:
    """(reference entries, agreed, titles agreed, links agreed, disagreement notes)."""
    refs = expected_entries(doc)
    ours = list(feed.articles)
    base = feed.link or feed.url
    by_link = {a.link: a for a in ours if a.link}
    by_title = {norm_title(a.title): a for a in ours}
    agreed = titles = links = compared = 0
    notes: list[str] = []
    for i, ref in enumerate(refs):
        if not ref.title and not ref.link:
            continue  # nothing to read or follow: brief drops such entries on purpose
        compared += 1
        ref_link = canonical_url(ref.link, base) if ref.link else None
        mine: ParsedArticle | None
        if len(refs) == len(ours):
            mine = ours[i]
        else:
            mine = by_link.get(ref_link or "") or by_title.get(norm_title(ref.title))
        if mine is None:
            notes.append(f"{doc.path.name}[{i}]: missing {ref.title!r} {ref.link!r}")
            continue
        title_ok = _same_title(ref.title, mine.title)
        link_ok = (ref_link == mine.link) or (
            ref_link is None and (not mine.link or _is_guid(mine))
        )
        titles += title_ok
        links += link_ok
        if title_ok and link_ok:
            agreed += 1
        else:
            notes.append(
                f"{doc.path.name}[{i}]: ours {mine.title!r} {mine.link!r}"
                f" / ref {ref.title!r} {ref_link!r}"
            )
    return compared, agreed, titles, links, notes


def _same_title(ref: str | None, ours: str) -> bool:
    expected = norm_title(ref)
    if not expected:
        return True
    if "\ufffd" in expected:  # the reference lost characters to a wrong charset: wildcards
        pattern = ".".join(re.escape(part) for part in expected.split("\ufffd"))
        return re.fullmatch(pattern, norm_title(ours)) is not None
    return expected == norm_title(ours)


def _is_guid(article: ParsedArticle) -> bool:
    return bool(article.link) and canonical_url(article.guid) == article.link


def check(doc: Document, feed: ParsedFeed | None, error: BaseException | None) -> Tally:
    """The tally of one document's outcome: ``feed`` parsed, or ``error`` raised."""
    tally = Tally(documents=1)
    name = f"{doc.folder}/{doc.path.relative_to(doc.path.parents[0]).as_posix()}"
    if error is not None:
        if isinstance(error, FeedParseError):
            tally.refused = 1
        else:
            tally.crashed = 1
            tally.crashes.append(f"{name}: {type(error).__name__}: {error}")
        if doc.expected is not None:  # the reference read entries we did not
            tally.compared = len(expected_entries(doc))
            tally.disagreements.append(f"{name}: refused: {error}")
        return tally
    assert feed is not None
    tally.parsed = 1
    tally.entries = len(feed.articles)
    if doc.expected is not None:
        n, agreed, titles, links, notes = compare(doc, feed)
        tally.compared, tally.agreed = n, agreed
        tally.titles_agreed, tally.links_agreed = titles, links
        tally.disagreements += notes
    return tally


def parse_document(doc: Document, headers: dict[str, str]) -> Tally:
    content = doc.path.read_bytes()
    if doc.path.suffix == ".json":
        headers = {"Content-Type": "application/feed+json"} if headers else {}
    try:
        feed = parse_feed(DOC_URL.format(name=doc.path.name), content, headers)
    except Exception as exc:
        if not isinstance(exc, FeedParseError):
            traceback.print_exc()
        return check(doc, None, exc)
    return check(doc, feed, None)


def run(root: Path, header_mode: str = "xml") -> dict[str, Tally]:
    per_folder: dict[str, Tally] = {}
    for doc in documents(root):
        per_folder.setdefault(doc.folder, Tally()).add(parse_document(doc, HEADERS[header_mode]))
    return per_folder


def report(per_folder: dict[str, Tally], verbose: bool = False) -> Tally:
    total = Tally()
    print(
        f"{'folder':<18}{'docs':>6}{'parsed':>8}{'refused':>9}{'crashed':>9}{'entries':>9}"
        f"{'compared':>10}{'agree':>8}{'title':>8}{'link':>8}"
    )
    for folder, tally in [*sorted(per_folder.items()), ("TOTAL", total)]:
        if folder != "TOTAL":
            total.add(tally)
        pct = f"{tally.agreement:.1%}" if tally.compared else "-"
        title = f"{tally.titles_agreed / tally.compared:.1%}" if tally.compared else "-"
        link = f"{tally.links_agreed / tally.compared:.1%}" if tally.compared else "-"
        print(
            f"{folder:<18}{tally.documents:>6}{tally.parsed:>8}{tally.refused:>9}"
            f"{tally.crashed:>9}{tally.entries:>9}{tally.compared:>10}{pct:>8}{title:>8}{link:>8}"
        )
    for line in total.crashes:
        print("CRASH", line)
    if verbose:
        for line in total.disagreements:
            print("DIFF ", line)
    return total


def _str(value: Any) -> str | None:
    if isinstance(value, list):  # xml2js-style outputs: ["text"] or [{"_": "text"}]
        value = value[0] if value else None
    if isinstance(value, dict):
        value = value.get("_") or value.get("href")
    return value if isinstance(value, str) else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--header", choices=sorted(HEADERS), default="xml")
    parser.add_argument("-v", "--verbose", action="store_true", help="list disagreements")
    args = parser.parse_args()
    if not args.corpus.exists():
        print(f"corpus {args.corpus} is absent (clone ../shared beside the repo)")
        return 2
    started = time.perf_counter()
    total = report(run(args.corpus, args.header), args.verbose)
    print(f"{time.perf_counter() - started:.2f} s; Content-Type mode: {args.header}")
    return 0 if not total.crashed and total.agreement >= THRESHOLD else 1


if __name__ == "__main__":
    sys.exit(main())

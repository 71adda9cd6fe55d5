"""Pure: one story's articles -> a headline and a short summary (extractive).

- Headline: the clearest title among the articles: the most central one (the
  closest to what all the articles say), with penalties for clickbait, ALL
  CAPS, questions, labels ("LIVE:", "Opinion:") and very long or very short
  titles; outlet suffixes (" - Reuters", " | CNN") and format suffixes
  (" – live!", " - video") are cut.
- Summary: two or three sentences, about 60 words, drawn from all
  the articles. Each text is cleaned of page furniture (`boilerplate`), split
  into sentences (abbreviations, initials, decimals and quotations kept
  whole), and each sentence is scored by its similarity to what the articles
  open with, to everything they say and to their titles, plus a lead bias
  (news puts the point first). Sentences are picked greedily, skipping those
  that repeat one already picked (near-copies, or most of its content words
  in other words), and are given in reading order. A block's last sentence
  ends with a full stop even when its block had none (a standfirst never runs
  into the body); a standfirst that the body's opening restates gives way to it.
- Text is cleaned first (stray entities, "April.Previously,"); a live blog
  is read from its standfirst only, and no sentence with a clock stamp or a
  live-blog phrase is ever chosen.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from brief.digest.boilerplate import (
    clean_blocks,
    clean_paragraphs,
    first_heading,
    is_furniture,
    strip_dateline,
)
from brief.digest.kinds import has_live_clutter, is_live_blog, live_standfirst
from brief.digest.text import (
    clean_text,
    content_words,
    repeats,
    restates,
    split_sentences,
    tokens,
    truncate,
)
from brief.types import Doc, Summary

MAX_WORDS = 60
MAX_SENTENCES = 3
MIN_SENTENCES = 2
_SENTENCES_PER_DOC = 12  # only an article's opening matters for a brief
_DUPLICATE = 0.5  # cosine above which two sentences say the same thing
_CUT_TRIM = ",;:—–-"  # a summary cut short ends on no dangling comma or dash
_END = re.compile(r"[.!?…][\"'”’)\]]*$")
# A sentence's score: how close it is to what the articles open with (the centre), to
# everything their sentences say (the whole, as MEAD's centroid), to their titles, and how
# early it comes (news puts the point first). The whole's weight, 1.0, raised ROUGE-1 on
# both corpora of bench/summaries.py and on each half of each (0.4-2.0 tried; NeuS peaks
# at 1.0, BBC's extractive references keep rising with it).
CENTRE_WEIGHT = 0.5
WHOLE_WEIGHT = 1.0
TITLE_WEIGHT = 0.3
LEAD_WEIGHT = 0.35
CENTRE_SENTENCES = 5  # the opening sentences that make up the story's centre

_PRONOUN_START = re.compile(
    r"^(?:He|She|It|They|This|That|These|Those|His|Her|Its|Their|But|And|Also|However|"
    r"Meanwhile|Still|Instead|Yet|So)\b"
)
_CLICKBAIT = re.compile(
    r"you won'?t believe|here'?s (?:what|why|how)|this is (?:what|why|how)|what (?:we|you) "
    r"(?:know|need to know)|\bthings to know\b|\bwatch\b|\bvideo\b|\bphotos?\b|\bquiz\b|"
    r"^\d+ (?:things|ways|reasons)|\bexplained\b|\bshocking\b|\bslams?\b|\bepic\b",
    re.IGNORECASE,
)
_LABEL = re.compile(
    r"^(?:live|breaking|opinion|analysis|watch|video|update[d]?|exclusive|editorial|"
    r"comment|in pictures|explainer)\s*[:|–—-]\s*",
    re.IGNORECASE,
)
_SUFFIX = re.compile(r"\s+[-|–—:]\s+([^-|–—:]{2,60})$")
# Format suffixes: "– live!", "- video", "– in pictures", "– as it happened".
_FORMAT_SUFFIX = re.compile(
    r"\s*[-–—:|]\s*(?:live(?: updates| blog)?|video|audio|in pictures|as it happened|podcast|"
    r"interactive|quiz)!?\s*$",
    re.IGNORECASE,
)
# "... | Cas Mudde": a bar is never part of a headline's sentence; what follows is a byline
# or an outlet.
_BAR_SUFFIX = re.compile(r"\s+\|\s+[^|]{2,60}$")


# -- headline ----------------------------------------------------------------


def clean_title(title: str, sources: Sequence[str] = ()) -> str:
    """A title without its outlet suffix, label prefix or final full stop."""
    title = " ".join(clean_text(title).split())
    title = _LABEL.sub("", title)
    for pattern in (_FORMAT_SUFFIX, _BAR_SUFFIX, _FORMAT_SUFFIX):
        cut = pattern.sub("", title)
        if len(cut.split()) >= 3:  # a headline left, not a stub
            title = cut
    match = _SUFFIX.search(title)
    if match:
        suffix = match.group(1).strip()
        known = {s.lower() for s in sources if s}
        looks_like_outlet = (
            suffix.lower() in known
            or re.search(r"\.(?:com|org|net|co\.uk|news)\b", suffix, re.IGNORECASE) is not None
            or (
                len(suffix.split()) <= 4
                and all(w[:1].isupper() or not w[:1].isalpha() for w in suffix.split())
                and len(title) - len(match.group(0)) > 20
            )
        )
        if looks_like_outlet:
            title = title[: match.start()]
    if title.endswith(".") and not title.endswith(("..", "etc.")):
        title = title[:-1]
    return title.strip()


def _title_penalty(title: str) -> float:
    penalty = 0.0
    letters = [c for c in title if c.isalpha()]
    if letters and sum(c.isupper() for c in letters) / len(letters) > 0.6:
        penalty += 1.0
    if _CLICKBAIT.search(title):
        penalty += 0.5
    if title.endswith("?") or "!" in title:
        penalty += 0.3
    words = len(title.split())
    if words < 4:
        penalty += 0.4
    elif words > 16:
        penalty += 0.05 * (words - 16)
    if re.search(r"['‘’\"“”]", title[:1] + title[-1:]):
        penalty += 0.2  # a title that is only a quotation says who said nothing
    return penalty


# -- vectors -----------------------------------------------------------------

Vector = dict[str, float]


def _vector(words: Sequence[str], idf: dict[str, float]) -> Vector:
    vec = {w: (1.0 + math.log(c)) * idf.get(w, 1.0) for w, c in Counter(words).items()}
    norm = math.sqrt(sum(v * v for v in vec.values())) or 1.0
    return {w: v / norm for w, v in vec.items()}


def _cosine(a: Vector, b: Vector) -> float:
    if len(a) > len(b):
        a, b = b, a
    return sum(v * b.get(w, 0.0) for w, v in a.items())


@dataclass(frozen=True)
class _Candidate:
    text: str
    doc: int
    position: int
    words: int
    standfirst: bool = False  # from the doc's standfirst (see clean_blocks)


def _unit_sum(vectors: Sequence[Vector]) -> Vector:
    """The sum of some vectors, L2-normalised."""
    total: Counter[str] = Counter()
    for vec in vectors:
        total.update(vec)
    norm = math.sqrt(sum(v * v for v in total.values())) or 1.0
    return {w: v / norm for w, v in total.items()}


def _candidates(docs: Sequence[Doc]) -> list[_Candidate]:
    found: list[_Candidate] = []
    for d, doc in enumerate(docs):
        position = 0
        paragraphs, standfirst = clean_blocks(doc.text, doc.title)
        for p, paragraph in enumerate(paragraphs):
            for raw in split_sentences(paragraph):
                if position >= _SENTENCES_PER_DOC:
                    break
                sentence = strip_dateline(raw)
                words = len(sentence.split())
                if is_furniture(sentence) or words < 5 or not re.search(r"[a-z]", sentence):
                    continue
                if has_live_clutter(sentence):
                    continue
                if not _END.search(sentence):  # a block's end is a sentence's end
                    sentence = sentence.rstrip(_CUT_TRIM + " ") + "."
                if words > 55 or sentence.endswith(("?", ":")):
                    position += 1
                    continue
                found.append(_Candidate(sentence, d, position, words, standfirst and p == 0))
                position += 1
    return found


def _without_restated_standfirsts(candidates: Sequence[_Candidate]) -> list[_Candidate]:
    """The candidates less each standfirst that the body's opening sentence says again:
    a standfirst is the deck, terse and often without names ("Police decided not to
    prosecute abuse allegation ..."); the body's opening tells the same in full ("Police
    dropped an investigation into ... Larry Nassar in 2004 ..."). A standfirst that
    adds to it stays (a later sentence that restates a chosen one is skipped)."""
    at = {(c.doc, c.position): c for c in candidates}
    kept: list[_Candidate] = []
    for c in candidates:
        opening = at.get((c.doc, c.position + 1))
        if (
            c.standfirst
            and opening is not None
            and not opening.standfirst
            and restates(content_words(c.text), content_words(opening.text))
        ):
            continue
        kept.append(c)
    return kept


def _select_sentences(
    candidates: Sequence[_Candidate],
    scores: Sequence[float],
    vecs: Sequence[Vector],
    max_words: int,
    max_sentences: int,
    min_sentences: int,
) -> list[int]:
    """Best-scored sentences first, skipping near-duplicates, within the word budget."""
    order = sorted(range(len(candidates)), key=lambda i: (-scores[i], i))
    chosen: list[int] = []
    words: dict[int, set[str]] = {}  # content words, for paraphrase-level repeats
    total = 0
    for i in order:
        if len(chosen) >= max_sentences:
            break
        if any(_cosine(vecs[i], vecs[j]) > _DUPLICATE for j in chosen):
            continue
        words[i] = content_words(candidates[i].text)
        if any(_says_again(candidates[i], candidates[j], words[i], words[j]) for j in chosen):
            continue
        # "About" max_words: a tenth more for a further sentence, a quarter more
        # when it takes that to reach min_sentences.
        limit = max_words * 11 // 10 if len(chosen) >= min_sentences else max_words * 5 // 4
        if chosen and total + candidates[i].words > limit:
            continue
        chosen.append(i)
        total += candidates[i].words
    return chosen


def _says_again(a: _Candidate, b: _Candidate, a_words: set[str], b_words: set[str]) -> bool:
    """Whether b says what a says: in other words too, and more readily against its own
    doc's standfirst, which the body's opening restates by design."""
    if a.doc == b.doc and (a.standfirst or b.standfirst):
        return restates(a_words, b_words)
    return repeats(a_words, b_words)


def _prepared(doc: Doc) -> Doc:
    """A doc's text cleaned (entities, missing spaces); a live blog's cut to its standfirst."""
    text = clean_text(doc.text)
    title = doc.title if doc.title.strip() else first_heading(text)
    if is_live_blog(title, text, doc.url):
        text = live_standfirst(text)
    return Doc(title, text, doc.url, doc.source)


def summarize_story(
    docs: Sequence[Doc],
    *,
    max_words: int = MAX_WORDS,
    max_sentences: int = MAX_SENTENCES,
    min_sentences: int = MIN_SENTENCES,
) -> Summary:
    """A headline and a summary drawn from all of a story's articles (first: the lead doc)."""
    if not docs:
        return Summary("", "")
    docs = [_prepared(d) for d in docs]
    sources = [d.source or "" for d in docs]
    titles = [clean_title(d.title, sources) for d in docs]
    candidates = _without_restated_standfirsts(_candidates(docs))

    # IDF over this story's sentences and titles: words every sentence uses say little.
    units = [tokens(c.text) for c in candidates] + [tokens(t) for t in titles]
    df = Counter(w for unit in units for w in set(unit))
    n = len(units)
    idf = {w: math.log((1 + n) / (1 + f)) + 1.0 for w, f in df.items()}

    title_vecs = [_vector(tokens(t), idf) for t in titles]
    sentence_vecs = [_vector(u, idf) for u in units[: len(candidates)]]
    centroid: Counter[str] = Counter()
    for d in range(len(docs)):
        centroid.update(title_vecs[d])
        for c, vec in zip(candidates, sentence_vecs, strict=True):
            if c.doc == d and c.position < CENTRE_SENTENCES:
                centroid.update({w: v / (1 + c.position) for w, v in vec.items()})
    norm = math.sqrt(sum(v * v for v in centroid.values())) or 1.0
    centre: Vector = {w: v / norm for w, v in centroid.items()}
    titles_vec = _unit_sum(title_vecs)
    whole = _unit_sum(sentence_vecs)

    # Headline: central titles win, unclear ones lose.
    best_title = max(
        range(len(titles)),
        key=lambda i: (_cosine(title_vecs[i], centre) - _title_penalty(titles[i]), -i),
    )
    headline = titles[best_title] or titles[0]

    scores: list[float] = []
    for c, vec in zip(candidates, sentence_vecs, strict=True):
        score = CENTRE_WEIGHT * _cosine(vec, centre) + TITLE_WEIGHT * _cosine(vec, titles_vec)
        score += WHOLE_WEIGHT * _cosine(vec, whole)
        score += LEAD_WEIGHT / math.sqrt(1 + c.position) + (0.05 if c.doc == 0 else 0.0)
        if c.position > 0 and _PRONOUN_START.match(c.text):
            score -= 0.15
        if c.words < 8:
            score -= 0.1
        scores.append(score)

    chosen = _select_sentences(
        candidates, scores, sentence_vecs, max_words, max_sentences, min_sentences
    )
    if not chosen:  # no sentence to choose: the opening paragraph, cut, if it is news
        paragraphs = clean_paragraphs(docs[0].text, docs[0].title)
        lead = paragraphs[0] if paragraphs and not has_live_clutter(paragraphs[0]) else ""
        return Summary(headline, truncate(lead, max_words, unit="words", trim=_CUT_TRIM))
    # Reading order: the lead sentence first, then by position in the articles.
    chosen.sort(key=lambda i: (candidates[i].position, candidates[i].doc))
    summary = " ".join(candidates[i].text for i in chosen)
    return Summary(headline, truncate(summary, max_words * 5 // 4, unit="words", trim=_CUT_TRIM))

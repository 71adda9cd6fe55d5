"""Pure: the text toolkit that grouping, summaries, feeds and mail share.

- Words: lower-cased word tokens, Snowball stems (PyStemmer), English stop words.
- Sentences: a splitter that keeps abbreviations, initials, decimals and
  quotations whole.
- Truncation: one cut at a word boundary, with an ellipsis, for subjects,
  titles, prompts and summaries alike.
"""

from __future__ import annotations

import functools
import html
import re
from typing import Literal

import Stemmer

# -- words -------------------------------------------------------------------

# Function words, and words every news text uses ("said", "new", "mr"), which say
# nothing about which story a text tells. Listed once (tests/unit/test_text.py checks).
STOP_WORD_LIST: tuple[str, ...] = (
    "a", "about", "above", "after", "again", "against", "all", "also", "am", "an", "and",
    "any", "are", "aren", "as", "at", "be", "because", "been", "before", "being", "below",
    "between", "both", "but", "by", "can", "could", "did", "do", "does", "doing", "down",
    "during", "each", "few", "for", "from", "further", "had", "has", "have", "having", "he",
    "her", "here", "hers", "herself", "him", "himself", "his", "how", "i", "if", "in", "into",
    "is", "it", "its", "itself", "just", "me", "more", "most", "my", "myself", "no", "nor",
    "not", "now", "of", "off", "on", "once", "only", "or", "other", "our", "ours", "ourselves",
    "out", "over", "own", "same", "she", "should", "so", "some", "such", "than", "that", "the",
    "their", "theirs", "them", "themselves", "then", "there", "these", "they", "this", "those",
    "through", "to", "too", "under", "until", "up", "very", "was", "we", "were", "what", "when",
    "where", "which", "while", "who", "whom", "why", "will", "with", "would", "you", "your",
    "yours", "yourself", "yourselves",
    # news wording
    "says", "said", "say", "new", "one", "two", "amid", "via", "per", "may", "might", "must",
    "shall", "us", "mr", "mrs", "ms",
    # the pieces of contractions ("it's", "don't") and possessives
    "s", "t", "re", "ve", "ll", "d", "m", "don", "didn", "doesn", "isn", "wasn", "weren",
    "won", "wouldn",
)  # fmt: skip
STOP_WORDS = frozenset(STOP_WORD_LIST)

_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")
_STEMMER = Stemmer.Stemmer("english")


def stem(word: str) -> str:
    """A lower-cased word's Snowball (Porter 2) stem, possessive dropped: "slammed" and
    "slams" -> "slam", "hiring" and "hired" -> "hire"."""
    if word.endswith(("'s", "’s")):
        word = word[:-2]
    return str(_STEMMER.stemWord(word.replace("’", "'")))


@functools.lru_cache(maxsize=1 << 17)
def _content_word(word: str) -> str | None:
    """A lower-cased word's stem, or None for a stop word (cached: a day repeats its words)."""
    if word in STOP_WORDS:  # before stemming too: "during" would become "dure"
        return None
    stemmed = stem(word)
    return stemmed if len(stemmed) > 1 and stemmed not in STOP_WORDS else None


def tokens(text: str) -> list[str]:
    """Lower-cased, stemmed content words of a text."""
    return [w for w in map(_content_word, _WORD.findall(text.lower())) if w is not None]


# -- sentences ---------------------------------------------------------------

# A sentence ends at . ! ? or … (optionally followed by closing quotes or brackets),
# then whitespace, then an upper-case letter, a digit or an opening quote/bracket.
_SENTENCE_END = re.compile(
    r"(?:(?<=[.!?…])|(?<=[.!?…][\"'”’)\]])|(?<=[.!?…][\"'”’)\]][\"'”’)\]]))"
    r"\s+(?=[\"“‘'(\[]?[A-Z0-9])"
)
_ABBREVIATION_WORDS = (
    "mr mrs ms dr st jr sr prof rev gen sen rep gov lt col capt cmdr sgt maj adm pres supt "
    "insp det no nos vs etc inc ltd co corp bros jan feb mar apr jun jul aug sep sept oct nov "
    "dec mon tue tues wed thu thur thurs fri sat sun ft mt ave blvd rd approx dept est fig min "
    "max e.g i.e u.s u.k u.n a.m p.m d.c u.s.a e.u"
)
ABBREVIATIONS = frozenset(_ABBREVIATION_WORDS.split())
_LAST_WORD = re.compile(r"(\S+)$")
_INITIAL = re.compile(r"(?:^|[\s(“\"])(?:[A-Z]\.)+$")
_OPEN_QUOTES = ("“", "”")


def _ends_with_abbreviation(sentence: str) -> bool:
    match = _LAST_WORD.search(sentence)
    if not match:
        return False
    word = match.group(1).lstrip("(“\"'‘")
    if not word.endswith("."):
        return False
    if _INITIAL.search(sentence):  # "J." "J.K." "U.S." — an initial, never a full stop
        # ... unless it is a known upper-case abbreviation that ends sentences
        # often ("in the U.S."): keep those joined only when short.
        return True
    return word[:-1].lower() in ABBREVIATIONS


def _open_quote(sentence: str) -> bool:
    curly = sentence.count(_OPEN_QUOTES[0]) > sentence.count(_OPEN_QUOTES[1])
    return curly or sentence.count('"') % 2 == 1


def split_sentences(text: str) -> list[str]:
    """Sentences of a text, keeping abbreviations, initials and quotations whole."""
    pieces = [p for p in _SENTENCE_END.split(" ".join(text.split())) if p]
    sentences: list[str] = []
    for piece in pieces:
        if sentences and (
            _ends_with_abbreviation(sentences[-1])
            or (_open_quote(sentences[-1]) and len(sentences[-1].split()) < 60)
        ):
            sentences[-1] = f"{sentences[-1]} {piece}"
        else:
            sentences.append(piece)
    return sentences


# -- truncation --------------------------------------------------------------


def truncate(
    text: str,
    limit: int,
    *,
    unit: Literal["chars", "words"] = "chars",
    ellipsis: str = "…",
    trim: str = " ,;:.-—·",
    ellipsis_in_limit: bool = True,
) -> str:
    """`text` cut at a word boundary to `limit` characters (or words), `ellipsis` added.

    Text within the limit comes back as it is. By characters, the cut is at the last
    space within the limit (a first word longer than that is cut inside it), and the
    ellipsis counts within `limit` unless `ellipsis_in_limit` is False. By words, the
    first `limit` words are kept, one space apart. Then the trailing `trim`
    characters go (a dangling comma or dash). The defaults are an email's subject or
    preview line. Whitespace is not folded: fold it first to cut by characters.
    """
    if unit == "words":
        words = text.split()
        if len(words) <= limit:
            return text
        kept = " ".join(words[:limit])
    else:
        if len(text) <= limit:
            return text
        room = limit - len(ellipsis) if ellipsis_in_limit else limit
        kept = text[:room].rsplit(" ", 1)[0]
    return kept.rstrip(trim) + ellipsis


# -- cleaning ----------------------------------------------------------------

_ENTITY = re.compile(r"&(?:#\d{1,7}|#[xX][0-9a-fA-F]{1,6}|[a-zA-Z]{2,8});")
# "April.Previously," — two sentences joined without a space (feeds that concatenate
# fields); a lower-case word, then . ! or ?, then a capitalised word. "U.S.", "e.g.",
# "Booking.com" and "11.2" do not match.
_NO_SPACE = re.compile(r"(?<=[a-z]{2})([.!?]['’”\"]?)(?=[A-Z][a-z])")
_SPACE_BEFORE = re.compile(r"(?<=\w) +([,;:](?=\s|$)|\.(?=\s|$))")
_SPACES = re.compile(r"[^\S\n]{2,}")


def clean_text(text: str) -> str:
    """Text with stray entities decoded ("&amp;#8217;" too), a space put after a full
    stop that lacks one, doubled spaces folded and spaces before commas dropped.
    Line breaks (block ends) are kept."""
    for _ in range(2):  # double-escaped entities come in twice
        if "&" not in text or not _ENTITY.search(text):
            break
        text = html.unescape(text)
    text = text.replace("\u00a0", " ")
    text = _NO_SPACE.sub(r"\1 ", text)
    text = _SPACE_BEFORE.sub(r"\1", text)
    return _SPACES.sub(" ", text)


# -- redundancy ----------------------------------------------------------------


# Words news uses for one another ("waiting offshore" / "queuing offshore"), inflections
# written out: each group's words count as one word when sentences are compared.
_NEAR_SYNONYMS = (
    "wait waits waited waiting queue queued queuing queueing",
    "shut shuts shutting closed closes closing closure",
    "kill kills killed killing dead death deaths die dies died dying slain",
    "rise rises rose risen rising climb climbed jump jumped surge surged soar soared",
    "fall falls fell falling drop dropped decline declined plunge plunged slump slumped",
    "arrest arrested arresting detain detained",
    "attack attacked attacking strike struck assault assaulted",
    "sack sacked dismiss dismissed ousted",
    "quit quits resign resigned resigning resignation",
    "buy buys bought purchase purchased acquire acquired acquisition",
    "ban banned bans prohibit prohibited",
    "probe probes investigation investigating inquiry",
    "injured injuries wounded hurt",
    "boat boats ship ships vessel vessels",
    "deal deals agreement accord",
    "child children kid kids",
    "big large huge major",
)
_SYNONYM = {stem(w)[:5]: group.split()[0] for group in _NEAR_SYNONYMS for w in group.split()}


def content_words(text: str) -> set[str]:
    """A text's content words as sentences are compared: 5-letter prefixes, so
    "queues"/"queued" and "attack"/"attacked" meet; near-synonyms are one word."""
    prefixes = (w[:5] for w in tokens(text) if len(w) > 2 or w.isdigit())
    return {_SYNONYM.get(p, p) for p in prefixes}


def content_overlap(a: str, b: str) -> tuple[int, float]:
    """Content words two texts share, and their share of the shorter text's."""
    return _overlap(content_words(a), content_words(b))


def _overlap(x: set[str], y: set[str]) -> tuple[int, float]:
    shared = len(x & y)
    return shared, shared / (min(len(x), len(y)) or 1)


def repeats(x: set[str], y: set[str]) -> bool:
    """`says_again` on two sentences' `content_words`."""
    shared, share = _overlap(x, y)
    return shared >= 4 and share >= 0.6


def restates(x: set[str], y: set[str]) -> bool:
    """`repeats` against a standfirst, at a lower bar: a standfirst sums the article up,
    so the body's opening says it again by design ("Police decided not to prosecute
    abuse allegation after disgraced doctor said ..." / "Police dropped an investigation
    into disgraced former gymnastics doctor Larry Nassar ... after he told them ...")."""
    shared, share = _overlap(x, y)
    return shared >= 3 and share >= 0.4


def says_again(a: str, b: str) -> bool:
    """Whether one sentence repeats what the other says: most of the shorter one's
    content words, at least four of them, in other words or order."""
    return repeats(content_words(a), content_words(b))

"""The text toolkit: word tokens, stop words, stemming, sentences, truncation."""

from __future__ import annotations

import pytest

from brief.digest.text import STOP_WORD_LIST, split_sentences, stem, tokens, truncate


def test_stop_words_are_listed_once() -> None:
    assert len(set(STOP_WORD_LIST)) == len(STOP_WORD_LIST)


def test_tokens_drop_stop_words_and_stem() -> None:
    assert tokens("The Earthquakes hit Chile's cities") == ["earthquak", "hit", "chile", "citi"]
    # one stem for a word's forms: "slams" and "slammed" are one story's word
    assert stem("slams") == stem("slammed") == "slam"
    assert stem("hiring") == stem("hired") == "hire"


def test_stop_words_are_dropped_before_stemming() -> None:
    # Snowball makes "during" "dure" and "only" "onli": no longer stop words as stems.
    assert tokens("only during the war") == ["war"]


def test_news_is_not_the_plural_of_new() -> None:
    # One answer: "news" stays "news". Cut to "new" (a stop word) it was dropped from
    # every text, so "news" never counted when grouping or summarizing.
    assert stem("news") == "news" and stem("news's") == "news"
    assert tokens("Fox News reports new news") == ["fox", "news", "report", "news"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("One. Two. Three.", ["One.", "Two.", "Three."]),
        ("Mr. Smith went to Washington. He spoke.", ["Mr. Smith went to Washington.", "He spoke."]),
        ("The U.S. Army moved. Then it stopped.", ["The U.S. Army moved.", "Then it stopped."]),
        ('He said "No." Then left.', ['He said "No."', "Then left."]),
        ("J. K. Rowling wrote it. Fans cheered!", ["J. K. Rowling wrote it.", "Fans cheered!"]),
        ("Prices rose 2.5 per cent. Markets fell.", ["Prices rose 2.5 per cent.", "Markets fell."]),
        (
            "Gen. Frank McKenzie wrote. Sen. Ron Wyden, D-Ore., replied.",
            ["Gen. Frank McKenzie wrote.", "Sen. Ron Wyden, D-Ore., replied."],
        ),
        (
            "“There is no decision... There has been no decision. Period,” Esper said. "
            "Then he left.",
            [
                "“There is no decision... There has been no decision. Period,” Esper said.",
                "Then he left.",
            ],
        ),
        (
            "It happened on Jan. 5 in Paris. Police came.",
            ["It happened on Jan. 5 in Paris.", "Police came."],
        ),
    ],
)
def test_split_sentences(text: str, expected: list[str]) -> None:
    assert split_sentences(text) == expected


# -- truncation: the defaults are an email's subject and preview line (mail/render.py)


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("short", 10, "short"),
        ("one two three four", 12, "one two…"),
        ("unbreakablewordhere", 10, "unbreakab…"),
        ("one two, three", 10, "one two…"),  # no dangling comma
        ("one two three", 13, "one two three"),  # within the limit: as it is
    ],
)
def test_truncate_keeps_the_ellipsis_within_the_limit(text: str, limit: int, expected: str) -> None:
    assert truncate(text, limit) == expected
    assert len(truncate(text, limit)) <= limit


def test_truncate_can_put_the_ellipsis_past_the_limit() -> None:
    # A feed title made from its text (feeds/normalize.py: short_text).
    assert truncate("Lorem ipsum, dolor sit", 13, trim=",;:.", ellipsis_in_limit=False) == (
        "Lorem ipsum…"
    )
    # An article's text in a prompt (digest/abstractive.py): nothing trimmed, " …".
    cut = truncate("alpha beta, gamma", 12, ellipsis=" …", trim="", ellipsis_in_limit=False)
    assert cut == "alpha beta, …"


@pytest.mark.parametrize(
    ("text", "limit", "trim", "expected"),
    [
        ("a b c d", 3, "", "a b c…"),
        ("a b, c d", 2, ",", "a b…"),
        ("a b, c d", 2, "", "a b,…"),
        ("a  b\nc", 3, "", "a  b\nc"),  # within the limit: not even folded
    ],
)
def test_truncate_by_words(text: str, limit: int, trim: str, expected: str) -> None:
    assert truncate(text, limit, unit="words", trim=trim) == expected

"""The text toolkit: word tokens, stop words, stemming, sentences, truncation."""

from __future__ import annotations

import pytest

from brief.digest.text import STOP_WORD_LIST, split_sentences, stem, tokens


def test_stop_words_are_listed_once() -> None:
    assert len(set(STOP_WORD_LIST)) == len(STOP_WORD_LIST)


def test_tokens_drop_stop_words_and_stem_plurals() -> None:
    assert tokens("The Earthquakes hit Chile's cities") == ["earthquake", "hit", "chile", "city"]
    assert stem("news") == "new" or stem("news") == "news"  # short words stay readable
    assert stem("crisis") == "crisis"


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

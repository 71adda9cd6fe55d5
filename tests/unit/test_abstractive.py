"""The abstractive summarizer's pure parts: its endpoint URL and reading the model's reply.

tests/integration/test_abstractive_server.py runs it against a loopback server.
"""

from __future__ import annotations

import pytest

from brief.digest.abstractive import endpoint, parse_reply


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://h:1", "http://h:1/v1/chat/completions"),
        ("http://h:1/v1/", "http://h:1/v1/chat/completions"),
        ("https://h/api/v1/chat/completions", "https://h/api/v1/chat/completions"),
    ],
)
def test_endpoint(url: str, expected: str) -> None:
    assert endpoint(url) == expected


def test_parse_reply_plain_text_and_fences() -> None:
    assert parse_reply("Five died in a quake.") == ("", "Five died in a quake.")
    fenced = '```json\n{"headline": "H", "summary": "S s."}\n```'
    assert parse_reply(fenced) == ("H", "S s.")
    long = parse_reply("word " * 300)[1]
    assert long.endswith("…") and len(long.split()) <= 76

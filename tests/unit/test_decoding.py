"""Content-Encoding decoded under a cap, counted as it is produced."""

from __future__ import annotations

import gzip
import zlib

import pytest

from brief.feeds.decoding import CappedDecoder, DecodingError, TooLarge

MB = 1024 * 1024


def _decode(body: bytes, encoding: str | None, cap: int, chunk: int = 4096) -> bytes:
    decoder = CappedDecoder(encoding, cap)
    out = []
    for i in range(0, len(body), chunk):
        piece = decoder.feed(body[i : i + chunk])
        assert decoder.size <= cap and len(piece) <= cap
        out.append(piece)
    out.append(decoder.flush())
    return b"".join(out)


@pytest.mark.parametrize("encoding", [None, "", "identity", "gzip", "x-gzip", "GZIP", "deflate"])
def test_what_fits_is_decoded_whole(encoding: str | None) -> None:
    text = b"<rss>" + b"news " * 20_000 + b"</rss>"
    if encoding and encoding.lower() in ("gzip", "x-gzip"):
        body = gzip.compress(text)
    elif encoding == "deflate":
        body = zlib.compress(text)
    else:
        body = text
    assert _decode(body, encoding, MB) == text


def test_raw_deflate_is_read_too() -> None:
    packer = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    body = packer.compress(b"hello " * 1000) + packer.flush()
    assert _decode(body, "deflate", MB) == b"hello " * 1000


def test_a_bomb_stops_at_the_cap_without_inflating_the_rest() -> None:
    bomb = gzip.compress(b"\0" * (64 * MB), compresslevel=9)  # ~64 KB
    decoder = CappedDecoder("gzip", MB)
    with pytest.raises(TooLarge):
        decoder.feed(bomb)  # one chunk: would be 64 MB at once without the cap
    assert decoder.size <= MB


def test_exactly_the_cap_fits() -> None:
    assert len(_decode(gzip.compress(b"x" * MB), "gzip", MB)) == MB
    with pytest.raises(TooLarge):
        _decode(gzip.compress(b"x" * (MB + 1)), "gzip", MB)
    with pytest.raises(TooLarge):
        _decode(b"x" * (MB + 1), None, MB)


@pytest.mark.parametrize(
    ("encoding", "message"),
    [
        ("gzip, gzip", "stacked content encodings (gzip, gzip) are refused"),
        ("deflate, gzip", "stacked content encodings"),
        ("br", "unsupported content encoding 'br'"),
        ("compress", "unsupported content encoding"),
    ],
)
def test_stacked_or_unknown_encodings_are_refused(encoding: str, message: str) -> None:
    with pytest.raises(DecodingError, match=message.replace("(", r"\(").replace(")", r"\)")):
        CappedDecoder(encoding, MB)


def test_broken_data_is_a_decoding_error() -> None:
    with pytest.raises(DecodingError, match="broken compressed data"):
        _decode(b"\x1f\x8b\x08\x00garbage" * 10, "gzip", MB)

"""Content-Encoding decoded under a cap on the decoded size, counted as it is produced.

httpx decodes a response with no limit: each chunk of a gzip bomb becomes however
many bytes it holds before anyone can count them, and "gzip, gzip" multiplies that
again (3.5 KB became 2 GiB). Here each call inflates at most the room left under the
cap, so a bomb stops at the cap, whatever it would have become; and a response may
carry one encoding, not a stack of them (no server needs that; only bombs do).
"""

from __future__ import annotations

import zlib

ACCEPT_ENCODING = "gzip, deflate"  # what we can decode under the cap
_GZIP = 16 + zlib.MAX_WBITS
_ZLIB = zlib.MAX_WBITS
_RAW_DEFLATE = -zlib.MAX_WBITS


class DecodingError(ValueError):
    """The body cannot be decoded: an encoding we did not ask for, or broken data."""


class TooLarge(ValueError):
    """The decoded body would pass the cap."""


class CappedDecoder:
    """Feed it the raw body in chunks; it returns the decoded bytes, never more than
    ``max_bytes`` in all (TooLarge when the body holds more)."""

    def __init__(self, content_encoding: str | None, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.size = 0
        self._mode = _mode(content_encoding)
        self._inflate = zlib.decompressobj(self._mode) if self._mode is not None else None
        self._started = False

    def feed(self, data: bytes) -> bytes:
        if self._inflate is None:
            return self._count(data)
        room = self.max_bytes - self.size + 1  # one byte more than fits: the sign of overflow
        try:
            out = self._inflate.decompress(data, room)
        except zlib.error as exc:
            if self._mode == _ZLIB and not self._started:
                # "deflate" is zlib-wrapped by the standard, raw by some servers.
                self._mode = _RAW_DEFLATE
                self._inflate = zlib.decompressobj(self._mode)
                return self.feed(data)
            raise DecodingError(f"broken compressed data: {exc}") from None
        self._started = True
        if self._inflate.unconsumed_tail:  # output stopped at `room`: there is more
            raise TooLarge
        return self._count(out)

    def flush(self) -> bytes:
        if self._inflate is None:
            return b""
        return self._count(self._inflate.flush(self.max_bytes - self.size + 1))

    def _count(self, data: bytes) -> bytes:
        self.size += len(data)
        if self.size > self.max_bytes:
            raise TooLarge
        return data


def _mode(content_encoding: str | None) -> int | None:
    """The zlib window bits for the response's encoding; None for none."""
    codings = [c.strip().lower() for c in (content_encoding or "").split(",") if c.strip()]
    codings = [c for c in codings if c != "identity"]
    if not codings:
        return None
    if len(codings) > 1:
        raise DecodingError(f"stacked content encodings ({', '.join(codings)}) are refused")
    coding = codings[0]
    if coding in ("gzip", "x-gzip"):
        return _GZIP
    if coding == "deflate":
        return _ZLIB
    raise DecodingError(f"unsupported content encoding {coding!r}")

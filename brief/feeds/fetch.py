"""HTTP for feeds and article pages: polite, bounded, and refused where it must be.

- One ``httpx.AsyncClient`` per batch (``make_client``), on a transport whose every
  connection is checked by ``netguard`` (no loopback/private/link-local/... address,
  after DNS and on every redirect hop, unless ``allow_private``).
- ``Limiter``: at most ``concurrency`` fetches at once, and ``per_host`` to one host.
- ``fetch_feed``: a conditional GET (ETag / If-Modified-Since), compressed responses,
  redirects (``moved_to`` when every hop was permanent), a total time limit on top of
  httpx's connect/read limits (a server dripping one byte a second cannot hold a slot
  forever), and a body cap enforced while streaming.
- Failures become brief errors: ``FetchError`` (worth retrying; ``retry_after`` from
  429/503), ``FeedGoneError`` (4xx; ``status`` 410 means gone for good),
  ``FetchRefusedError`` (the guard), ``FeedParseError`` (body over the cap).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import httpx

from brief.errors import FeedError, FeedGoneError, FeedParseError, FetchError, FetchRefusedError
from brief.feeds.decoding import ACCEPT_ENCODING, CappedDecoder, DecodingError, TooLarge
from brief.feeds.netguard import AddressPolicy, AddressRefused, Resolver, UnknownHost
from brief.feeds.netguard import guarded_transport as _guarded_transport
from brief.types import FetchResult

MAX_REDIRECTS = 5
DEFAULT_MAX_BYTES = 10 * 1024 * 1024
ACCEPT = (
    "application/rss+xml, application/atom+xml, application/rdf+xml, "
    "application/feed+json;q=0.9, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.8"
)
ACCEPT_HTML = "text/html, application/xhtml+xml;q=0.9, */*;q=0.5"
# Statuses a later try may fix; every other 4xx says the feed is not there for us.
TRANSIENT_4XX = frozenset({408, 425, 429})
PERMANENT_REDIRECTS = frozenset({301, 308})
KEEPALIVE = 8  # idle connections kept per client


@dataclass(frozen=True)
class FetchConfig:
    """Everything a fetch needs, as plain (picklable) values; built by brief.runtime."""

    user_agent: str
    timeout: float = 20.0  # total seconds for one fetch, body included
    connect_timeout: float = 10.0
    max_bytes: int = DEFAULT_MAX_BYTES
    concurrency: int = 32  # fetches at once, per batch
    per_host: int = 4  # fetches at once to one host
    allow_private: bool = False
    allow_networks: tuple[str, ...] = ()  # let these through even when not public
    resolver: Resolver | None = None  # None: the system's

    @property
    def policy(self) -> AddressPolicy:
        return AddressPolicy(self.allow_private, self.allow_networks)


def make_client(config: FetchConfig, *, extra_connections: int = 0) -> httpx.AsyncClient:
    """One client per batch: it pools connections; ``Limiter`` bounds how many are busy."""
    limits = httpx.Limits(
        max_connections=config.concurrency + extra_connections,
        # Feeds are mostly on distinct hosts, so idle connections are seldom reused, and
        # httpcore checks every idle one each time it assigns a request: keep few.
        max_keepalive_connections=min(config.concurrency, KEEPALIVE),
        keepalive_expiry=30,
    )
    return httpx.AsyncClient(
        transport=_guarded_transport(config.policy, config.resolver, limits=limits),
        timeout=httpx.Timeout(config.timeout, connect=config.connect_timeout),
        follow_redirects=True,
        max_redirects=MAX_REDIRECTS,
        # Only what brief.feeds.decoding decodes under its cap (httpx would add br and
        # zstd when their packages are installed, and decode them with no limit).
        headers={
            "User-Agent": config.user_agent,
            "Accept": ACCEPT,
            "Accept-Encoding": ACCEPT_ENCODING,
        },
    )


class Limiter:
    """A global limit and a per-host limit on fetches in flight (one event loop).

    Take ``host(url)`` first, then ``total()``: a fetch waiting for its busy host must
    not hold one of the global slots. ``slot(url)`` takes both, in that order (article
    pages); a feed fetch takes them apart, to wait for its backlog slot in between.
    """

    def __init__(
        self, total: int, per_host: int, hosts: dict[str, asyncio.Semaphore] | None = None
    ) -> None:
        self._total = asyncio.Semaphore(total)
        self._per_host = per_host
        self._hosts: dict[str, asyncio.Semaphore] = {} if hosts is None else hosts

    def sharing_hosts(self, total: int) -> Limiter:
        """Another limiter with its own global limit and the same per-host slots."""
        return Limiter(total, self._per_host, self._hosts)

    def host(self, url: str) -> asyncio.Semaphore:
        name = (urlsplit(url).hostname or "").lower()
        sem = self._hosts.get(name)
        if sem is None:
            sem = self._hosts[name] = asyncio.Semaphore(self._per_host)
        return sem

    def total(self) -> asyncio.Semaphore:
        return self._total

    @asynccontextmanager
    async def slot(self, url: str) -> AsyncIterator[None]:
        async with self.host(url), self._total:
            yield


async def fetch_feed(
    client: httpx.AsyncClient,
    url: str,
    *,
    etag: str | None = None,
    last_modified: str | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    timeout: float = 20.0,
) -> FetchResult:
    """GET ``url``, sending the validators of the last fetch; a 304 has ``content=None``."""
    headers = {}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    async with (
        _errors_mapped(url, timeout),
        client.stream("GET", url, headers=headers) as response,
    ):
        _raise_for_status(url, response)
        not_modified = response.status_code == 304
        content = None if not_modified else await _read_capped(url, response, max_bytes)
        return FetchResult(
            url=str(response.url),
            status=response.status_code,
            content=content,
            # A 304 may omit the validators; the ones we sent are still good.
            etag=response.headers.get("etag") or etag,
            last_modified=response.headers.get("last-modified") or last_modified,
            headers=dict(response.headers.items()),
            moved_to=_moved_to(url, response),
        )
    raise AssertionError("unreachable")  # pragma: no cover  (mypy: the block always returns)


async def fetch_page(
    client: httpx.AsyncClient, url: str, *, max_bytes: int, timeout: float
) -> tuple[str, str]:
    """GET an article page under the same rules; returns (final URL, HTML text).

    Raises FeedParseError when the answer is not HTML.
    """
    async with _errors_mapped(url, timeout):
        headers = {"Accept": ACCEPT_HTML}
        async with client.stream("GET", url, headers=headers) as response:
            _raise_for_status(url, response)
            kind = response.headers.get("content-type", "text/html").lower()
            if "html" not in kind:
                raise FeedParseError(url, f"not an HTML page ({kind.split(';')[0]})")
            content = await _read_capped(url, response, max_bytes)
            encoding = response.charset_encoding or "utf-8"
            try:
                text = content.decode(encoding, errors="replace")
            except LookupError:  # an unknown charset name
                text = content.decode("utf-8", errors="replace")
            return str(response.url), text
    raise AssertionError("unreachable")  # pragma: no cover


@asynccontextmanager
async def _errors_mapped(url: str, timeout: float) -> AsyncIterator[None]:
    """Run a fetch under a total time limit, mapping every failure to a FeedError."""
    try:
        async with asyncio.timeout(timeout):
            yield
    except FeedError:
        raise
    except AddressRefused as exc:
        raise FetchRefusedError(url, exc.message) from exc
    except UnknownHost as exc:
        raise FetchError(url, "unknown host name") from exc
    except (TimeoutError, httpx.TimeoutException) as exc:
        raise FetchError(url, f"timed out after {timeout:g}s") from exc
    except httpx.TooManyRedirects as exc:
        raise FetchError(url, f"more than {MAX_REDIRECTS} redirects") from exc
    except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
        raise FeedGoneError(url, f"invalid URL: {exc}") from exc
    except httpx.ConnectError as exc:
        raise FetchError(url, _connect_message(exc)) from exc
    except httpx.HTTPError as exc:  # ReadError, RemoteProtocolError, DecodingError, ...
        raise FetchError(url, f"{type(exc).__name__}: {exc}".rstrip(": ")) from exc


def _moved_to(url: str, response: httpx.Response) -> str | None:
    """The final URL when every redirect was permanent (301/308), else None."""
    history = response.history
    if not history or any(r.status_code not in PERMANENT_REDIRECTS for r in history):
        return None
    final = str(response.url)
    return final if final != url else None


def _raise_for_status(url: str, response: httpx.Response) -> None:
    status = response.status_code
    if 200 <= status < 300 or status == 304:
        return
    message = f"HTTP {status} {response.reason_phrase or httpx.codes.get_reason_phrase(status)}"
    message = message.strip()
    if 400 <= status < 500 and status not in TRANSIENT_4XX:
        raise FeedGoneError(url, message, status=status)
    retry_after = None
    if status == 429 or status >= 500:
        retry_after = parse_retry_after(response.headers.get("retry-after"), datetime.now(UTC))
        if retry_after is not None:
            message += f" (retry after {retry_after:g}s)"
    raise FetchError(url, message, status=status, retry_after=retry_after)


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Retry-After as seconds from ``now``: delta-seconds or an HTTP date; None if absent/bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(int(value))
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


async def _read_capped(url: str, response: httpx.Response, max_bytes: int) -> bytes:
    """The body, decoded, at most `max_bytes` of it (FeedParseError past that).

    Content-Length can lie or be absent, so the decoded bytes are counted as they are
    produced: the raw stream is decoded here, a bounded step at a time
    (brief.feeds.decoding), never by httpx, which would inflate a bomb whole first.
    """
    too_big = FeedParseError(url, f"response larger than {_size(max_bytes)}")
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise too_big
    try:
        decoder = CappedDecoder(response.headers.get("content-encoding"), max_bytes)
        chunks = [decoder.feed(raw) async for raw in response.aiter_raw()]
        chunks.append(decoder.flush())
    except TooLarge:
        raise too_big from None
    except DecodingError as exc:
        raise FeedParseError(url, str(exc)) from None
    return b"".join(chunks)


def _connect_message(exc: httpx.ConnectError) -> str:
    text = str(exc)
    lowered = text.lower()
    if "refused" in lowered:
        return "connection refused"
    if "name or service not known" in lowered or "nodename nor servname" in lowered:
        return "unknown host name"
    if "certificate" in lowered or "ssl" in lowered:
        return f"TLS error: {text}"
    return f"connection failed: {text}" if text else "connection failed"


def _size(n: int) -> str:
    mb = 1024 * 1024
    return f"{n // mb} MB" if n % mb == 0 else f"{n} bytes"

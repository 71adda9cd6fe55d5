"""HTTP for feeds: a conditional GET with a size cap, failures mapped to brief errors."""

from __future__ import annotations

import httpx

from brief.errors import FeedError, FeedGoneError, FeedParseError, FetchError
from brief.types import FetchResult

MAX_REDIRECTS = 5
DEFAULT_MAX_BYTES = 10 * 1024 * 1024
ACCEPT = (
    "application/rss+xml, application/atom+xml, application/rdf+xml, "
    "application/xml;q=0.9, text/xml;q=0.9, */*;q=0.8"
)
# Statuses a later try may fix; every other 4xx says the feed is not there for us.
TRANSIENT_4XX = frozenset({408, 425, 429})


def make_client(timeout: float, user_agent: str) -> httpx.Client:
    """One client per process or run; it is thread-safe and pools connections."""
    return httpx.Client(
        timeout=timeout,
        follow_redirects=True,
        max_redirects=MAX_REDIRECTS,
        headers={"User-Agent": user_agent, "Accept": ACCEPT},
    )


def fetch_feed(
    client: httpx.Client,
    url: str,
    *,
    etag: str | None = None,
    last_modified: str | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> FetchResult:
    """GET ``url``, sending the validators of the last fetch; a 304 has ``content=None``.

    Raises FetchError (worth retrying), FeedGoneError (4xx) or FeedParseError (too big).
    """
    headers = {}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    try:
        with client.stream("GET", url, headers=headers) as response:
            _raise_for_status(url, response)
            content = (
                None if response.status_code == 304 else _read_capped(url, response, max_bytes)
            )
            return FetchResult(
                url=str(response.url),
                status=response.status_code,
                content=content,
                # A 304 may omit the validators; the ones we sent are still good.
                etag=response.headers.get("etag") or etag,
                last_modified=response.headers.get("last-modified") or last_modified,
                headers=dict(response.headers.items()),
            )
    except FeedError:
        raise
    except httpx.TimeoutException as exc:
        raise FetchError(url, f"timed out after {_seconds(client.timeout)}") from exc
    except httpx.TooManyRedirects as exc:
        raise FetchError(url, f"more than {MAX_REDIRECTS} redirects") from exc
    except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
        raise FeedGoneError(url, f"invalid URL: {exc}") from exc
    except httpx.ConnectError as exc:
        raise FetchError(url, _connect_message(exc)) from exc
    except httpx.HTTPError as exc:  # ReadError, RemoteProtocolError, DecodingError, ...
        raise FetchError(url, f"{type(exc).__name__}: {exc}".rstrip(": ")) from exc


def _raise_for_status(url: str, response: httpx.Response) -> None:
    status = response.status_code
    if 200 <= status < 300 or status == 304:
        return
    message = f"HTTP {status} {response.reason_phrase or httpx.codes.get_reason_phrase(status)}"
    retry_after = response.headers.get("retry-after")
    if retry_after and (status == 429 or status >= 500):
        message += f" (retry after {retry_after})"
    if 400 <= status < 500 and status not in TRANSIENT_4XX:
        raise FeedGoneError(url, message.strip())
    raise FetchError(url, message.strip())  # 5xx, 429, and odd 1xx/3xx answers


def _read_capped(url: str, response: httpx.Response, max_bytes: int) -> bytes:
    # Content-Length can lie or be absent, so count while streaming too. The count is
    # of decoded bytes, which also stops a small gzip bomb from expanding without end.
    too_big = FeedParseError(url, f"response larger than {_size(max_bytes)}")
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise too_big
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > max_bytes:
            raise too_big
        chunks.append(chunk)
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


def _seconds(timeout: httpx.Timeout) -> str:
    values = [t for t in (timeout.connect, timeout.read, timeout.write, timeout.pool) if t]
    return f"{max(values):g}s" if values else "the time limit"


def _size(n: int) -> str:
    mb = 1024 * 1024
    return f"{n // mb} MB" if n % mb == 0 else f"{n} bytes"

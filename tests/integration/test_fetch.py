"""fetch_feed against a loopback server that misbehaves on purpose."""

from __future__ import annotations

import asyncio
import gzip
import multiprocessing
import time
import zlib
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any, TypeVar

import httpx
import pytest

from brief.errors import FeedGoneError, FeedParseError, FetchError, FetchRefusedError
from brief.feeds.fetch import FetchConfig, Limiter, fetch_feed, make_client, parse_retry_after
from brief.feeds.netguard import StaticResolver
from brief.types import FetchResult
from tests.feedserver import FeedServer
from tests.memory import peak_rss
from tests.wait import wait_until

T = TypeVar("T")
UA = "brief-tests/1.0"
LOOPBACK_ONLY = FetchConfig(user_agent=UA, timeout=5, allow_networks=("127.0.0.1/32",))
MB = 1024 * 1024


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer() as s:
        yield s


def run(
    work: Callable[[httpx.AsyncClient], Awaitable[T]], config: FetchConfig = LOOPBACK_ONLY
) -> T:
    async def main() -> T:
        async with make_client(config) as client:
            return await work(client)

    return asyncio.run(main())


def get(url: str, config: FetchConfig = LOOPBACK_ONLY, **kwargs: object) -> FetchResult:
    timeout = float(kwargs.pop("timeout", config.timeout))  # type: ignore[arg-type]
    max_bytes = int(kwargs.pop("max_bytes", config.max_bytes))  # type: ignore[call-overload]
    return run(lambda c: fetch_feed(c, url, timeout=timeout, max_bytes=max_bytes), config)


# -- time ------------------------------------------------------------------


def test_slow_drip_is_cut_at_the_total_time_limit(server: FeedServer) -> None:
    # One byte every 0.1 s never trips the read timeout; only the total limit stops it.
    url = server.add("/drip.xml", b"<rss>" + b" " * 200 + b"</rss>", drip=(1, 0.1))
    started = time.monotonic()
    with pytest.raises(FetchError) as info:
        get(url, timeout=1)
    assert info.value.message == "timed out after 1s"
    assert time.monotonic() - started < 1.8
    assert 0 < server.sent["/drip.xml"] < 211


def test_slow_answer_times_out(server: FeedServer) -> None:
    url = server.add("/slow.xml", b"<rss/>", delay=2)
    with pytest.raises(FetchError, match=r"timed out after 0\.5s"):
        get(url, timeout=0.5)


# -- size ------------------------------------------------------------------


def test_huge_body_is_stopped_while_streaming(server: FeedServer) -> None:
    # 1 GB, with no Content-Length to refuse it early: reading stops at the cap.
    url = server.add("/huge.xml", b"<item>x</item>", size=1024 * MB, declare=False)
    with pytest.raises(FeedParseError, match="response larger than 1 MB"):
        get(url, max_bytes=1 * MB)
    # The handler stops once its writes fail on the closed connection.
    wait_until(lambda: server.in_flight == 0, 5, what="the server to notice the closed connection")
    assert server.sent["/huge.xml"] < 64 * MB  # nowhere near the whole body was sent


def test_declared_length_over_the_cap_is_refused_before_reading(server: FeedServer) -> None:
    url = server.add("/big.xml", b"x", size=50 * MB)
    with pytest.raises(FeedParseError, match="response larger than 2 MB"):
        get(url, max_bytes=2 * MB)
    assert server.sent["/big.xml"] < 50 * MB


def test_body_under_the_cap_is_read(server: FeedServer) -> None:
    url = server.add("/ok.xml", b"x" * (2 * MB))
    assert len(get(url, max_bytes=3 * MB).content or b"") == 2 * MB


def test_compressed_response_is_decoded(server: FeedServer) -> None:
    body = b"<rss>" + b"<item>news</item>" * 1000 + b"</rss>"
    url = server.add("/gz.xml", gzip.compress(body), headers={"Content-Encoding": "gzip"})
    result = get(url)
    assert result.content == body


def test_gzip_bomb_is_stopped_at_the_cap(server: FeedServer) -> None:
    bomb = gzip.compress(b"\0" * (20 * MB))  # ~20 KB on the wire
    url = server.add("/bomb.xml", bomb, headers={"Content-Encoding": "gzip"})
    with pytest.raises(FeedParseError, match="response larger than 1 MB"):
        get(url, max_bytes=1 * MB)


# -- redirects and addresses -------------------------------------------------


def test_redirect_loop(server: FeedServer) -> None:
    loop = server.add("/loop.xml", b"", status=302, headers={"Location": "/loop.xml"})
    with pytest.raises(FetchError, match="more than 5 redirects"):
        get(loop)


def test_redirects_report_the_final_url_and_permanence(server: FeedServer) -> None:
    final = server.add("/new.xml", b"<rss/>")
    hop = server.add("/hop.xml", b"", status=308, headers={"Location": final})
    old = server.add("/old.xml", b"", status=301, headers={"Location": hop})
    mixed = server.add("/mixed.xml", b"", status=302, headers={"Location": hop})
    assert (get(old).url, get(old).moved_to) == (final, final)
    assert (get(mixed).url, get(mixed).moved_to) == (final, None)


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is a link-local address"),
        ("http://10.0.0.1/feed.xml", "10.0.0.1 is a private address"),
        ("http://[::1]:1/feed.xml", "::1 is a loopback address"),
        ("http://0.0.0.0:1/feed.xml", "0.0.0.0 is an unspecified address"),
        ("http://224.0.0.1/feed.xml", "224.0.0.1 is a multicast address"),
    ],
)
def test_redirect_to_a_private_address_is_refused(
    server: FeedServer, target: str, message: str
) -> None:
    # The guard lets 127.0.0.1 through (the test server) and nothing else that is private.
    url = server.add("/r.xml", b"", status=302, headers={"Location": target})
    with pytest.raises(FetchRefusedError) as info:
        get(url)
    assert info.value.message == f"refused: {message}"
    assert server.hits["/r.xml"] == 1


def test_loopback_is_refused_by_default(server: FeedServer) -> None:
    url = server.add("/f.xml", b"<rss/>")
    with pytest.raises(FetchRefusedError) as info:
        get(url, FetchConfig(user_agent=UA))
    assert info.value.message == "refused: 127.0.0.1 is a loopback address"
    assert server.hits["/f.xml"] == 0  # no connection was made
    assert get(url, FetchConfig(user_agent=UA, allow_private=True)).status == 200


def test_dns_answers_are_checked(server: FeedServer) -> None:
    port = server.url("").rsplit(":", 1)[1]
    server.add("/f.xml", b"<rss/>")
    resolver = StaticResolver(
        {
            "inside.test": ["127.0.0.1"],
            "mixed.test": ["10.9.8.7", "127.0.0.1"],
            "*.cloud.test": ["169.254.169.254"],
        }
    )
    strict = FetchConfig(user_agent=UA, resolver=resolver)
    with pytest.raises(FetchRefusedError) as info:
        get(f"http://inside.test:{port}/f.xml", strict)
    assert info.value.message == (
        "refused: inside.test resolves to 127.0.0.1, which is a loopback address"
    )
    with pytest.raises(FetchRefusedError, match=r"169\.254\.169\.254, which is a link-local"):
        get(f"http://metadata.cloud.test:{port}/f.xml", strict)
    with pytest.raises(FetchError, match="unknown host name"):
        get(f"http://elsewhere.test:{port}/f.xml", strict)
    # An allowed answer among refused ones is used; the refused ones never are.
    allowing = FetchConfig(user_agent=UA, resolver=resolver, allow_networks=("127.0.0.1/32",))
    assert get(f"http://mixed.test:{port}/f.xml", allowing).status == 200
    assert server.requests["/f.xml"][-1]["Host"] == f"mixed.test:{port}"


# -- status codes ------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "error", "message", "retry_after"),
    [
        (404, FeedGoneError, "HTTP 404 Not Found", None),
        (410, FeedGoneError, "HTTP 410 Gone", None),
        (403, FeedGoneError, "HTTP 403 Forbidden", None),
        (429, FetchError, "HTTP 429 Too Many Requests (retry after 120s)", 120),
        (503, FetchError, "HTTP 503 Service Unavailable (retry after 120s)", 120),
        (502, FetchError, "HTTP 502 Bad Gateway (retry after 120s)", 120),
    ],
)
def test_status_errors(
    server: FeedServer,
    status: int,
    error: type[FetchError | FeedGoneError],
    message: str,
    retry_after: float | None,
) -> None:
    url = server.add("/x.xml", b"no", status=status, headers={"Retry-After": "120"})
    with pytest.raises(error) as info:
        get(url)
    assert (info.value.message, info.value.url, info.value.status) == (message, url, status)
    assert getattr(info.value, "retry_after", None) == retry_after


def test_retry_after_forms() -> None:
    now = datetime(2025, 1, 31, 6, 0, tzinfo=UTC)
    assert parse_retry_after("120", now) == 120
    assert parse_retry_after(format_datetime(now + timedelta(minutes=5), usegmt=True), now) == 300
    assert parse_retry_after(format_datetime(now - timedelta(minutes=5), usegmt=True), now) == 0
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after(None, now) is None


def test_connection_refused() -> None:
    with FeedServer() as s:
        url = s.url("/feed.xml")  # the port is free again once the server stops
    with pytest.raises(FetchError) as info:
        get(url)
    assert info.value.message == "connection refused"


# -- limits ------------------------------------------------------------------


def test_per_host_and_global_limits(server: FeedServer) -> None:
    urls = [server.add(f"/f{i}.xml", b"<rss/>", delay=0.2) for i in range(6)]

    async def fetch_all(limiter: Limiter, client: httpx.AsyncClient) -> float:
        async def one(url: str) -> None:
            async with limiter.slot(url):
                await fetch_feed(client, url)

        started = time.monotonic()
        await asyncio.gather(*(one(u) for u in urls))
        return time.monotonic() - started

    elapsed = run(lambda c: fetch_all(Limiter(total=10, per_host=2), c))
    assert server.max_in_flight == 2
    assert elapsed >= 0.55  # three rounds of two

    server.max_in_flight = 0
    run(lambda c: fetch_all(Limiter(total=3, per_host=10), c))
    assert server.max_in_flight == 3


# -- decompression bombs, peak memory measured in a child process -------------


def _stacked_bomb(decoded: int) -> bytes:
    """gzip(gzip(`decoded` zero bytes)): a few KB that httpx would inflate whole."""
    inner = zlib.compressobj(9, zlib.DEFLATED, 31)
    zeros = b"\0" * MB
    layer = b"".join(inner.compress(zeros) for _ in range(decoded // MB)) + inner.flush()
    return gzip.compress(layer, compresslevel=9)


def _fetch_in_child(url: str, queue: Any) -> None:
    try:
        get(url, max_bytes=10 * MB)
        outcome = "fetched"
    except FeedParseError as exc:
        outcome = exc.message
    queue.put((outcome, peak_rss()))


def _peak_of_fetch(url: str) -> tuple[str, int]:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    child = context.Process(target=_fetch_in_child, args=(url, queue))
    child.start()
    try:
        result: tuple[str, int] = queue.get(timeout=120)
    finally:
        child.join(30)
    return result


@pytest.mark.parametrize(
    ("name", "encoding", "expected"),
    [
        ("stacked", "gzip, gzip", "stacked content encodings (gzip, gzip) are refused"),
        ("single", "gzip", "response larger than 10 MB"),
    ],
)
def test_a_bomb_is_refused_within_bounded_memory(
    server: FeedServer, name: str, encoding: str, expected: str
) -> None:
    decoded = 1024 * MB
    if name == "stacked":
        body = _stacked_bomb(decoded)  # ~3 KB
    else:
        packer = zlib.compressobj(9, zlib.DEFLATED, 31)
        body = b"".join(packer.compress(b"\0" * MB) for _ in range(decoded // MB))
        body += packer.flush()  # ~1 MB
    url = server.add(f"/{name}.xml", body, headers={"Content-Encoding": encoding})
    outcome, peak = _peak_of_fetch(url)
    assert outcome == expected
    assert peak < 300 * MB, f"peak {peak / MB:.0f} MB for a {len(body):,}-byte {name} bomb"

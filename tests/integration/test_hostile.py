"""Hostile input that brief already bounds, kept bounded: the forms of a loopback address an
attacker may give as a feed URL, and paths that try to leave the web's routes. (Bombs,
floods, poison feeds, proxies, tokens and bodies have tests of their own: test_fetch,
test_parse, test_proxies, test_web, test_ingest_tasks.)"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from brief.errors import FeedGoneError, FetchRefusedError
from brief.feeds.fetch import FetchConfig, fetch_feed, make_client
from tests.feedserver import FeedServer

DEFAULT = FetchConfig(user_agent="brief-hostile-tests", timeout=5)  # private addresses refused


@pytest.fixture(scope="module")
def server() -> Iterator[FeedServer]:
    with FeedServer() as s:
        yield s


def _fetch(url: str) -> None:
    async def main() -> None:
        async with make_client(DEFAULT) as client:
            await fetch_feed(client, url, timeout=DEFAULT.timeout)

    asyncio.run(main())


@pytest.mark.parametrize(
    "host",
    [
        "2130706433",  # 127.0.0.1 as one decimal number
        "0x7f000001",  # ... in hex
        "0177.0.0.1",  # ... with an octal first part
        "127.1",  # ... shortened
        "[::ffff:127.0.0.1]",  # IPv4-mapped IPv6
        "[::1]",
        "0.0.0.0",
        "localhost",
        "user:secret@127.0.0.1",  # userinfo in front of a loopback host
        "example.com@127.0.0.1",  # a public-looking name that is only userinfo
    ],
)
def test_every_form_of_a_loopback_address_is_refused(server: FeedServer, host: str) -> None:
    path = "/secret.xml"
    server.add(path, b"<rss><channel><title>internal</title></channel></rss>")
    port = urlsplit(server.base_url).port
    url = f"http://{host}:{port}{path}"
    with pytest.raises((FetchRefusedError, FeedGoneError)):
        _fetch(url)
    assert server.hits.get(path, 0) == 0


def test_the_cloud_metadata_address_is_refused() -> None:
    with pytest.raises(FetchRefusedError, match="link-local"):
        _fetch("http://169.254.169.254/latest/meta-data/")

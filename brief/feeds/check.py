"""Fetching a feed once, before it is added, with the fetcher and parser ingest uses."""

from __future__ import annotations

import asyncio

from brief.feeds.fetch import FetchConfig, fetch_feed, make_client
from brief.feeds.parse import parse_feed
from brief.types import ParsedFeed


def check_feed(url: str, config: FetchConfig) -> ParsedFeed:
    """The feed at `url`, fetched and parsed as ingest would.

    Raises what ingest would record: FetchRefusedError (a private address),
    FeedGoneError (4xx), FetchError (5xx, network trouble), FeedParseError (not a feed).
    """
    return asyncio.run(_check(url, config))


async def _check(url: str, config: FetchConfig) -> ParsedFeed:
    async with make_client(config) as client:
        result = await fetch_feed(client, url, max_bytes=config.max_bytes, timeout=config.timeout)
    assert result.content is not None  # no validators were sent, so no 304
    return parse_feed(result.url, result.content, result.headers)

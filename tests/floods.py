"""Hostile feeds made on the fly: RSS with as many items as asked (newest first)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime


def rss(site: str, count: int, *, title: str = "Flood", now: datetime | None = None) -> bytes:
    """``count`` items from ``site``, one a second back from ``now``; ~150 bytes an item."""
    now = now or datetime.now(UTC)
    items = "".join(
        f"<item><title>Story {i}</title><link>{site}/{i}</link><guid>{site}/{i}</guid>"
        f"<pubDate>{format_datetime(now - timedelta(seconds=i))}</pubDate></item>"
        for i in range(count)
    )
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>{title}</title>'
        f"<link>{site}</link><description>x</description>{items}</channel></rss>"
    ).encode()

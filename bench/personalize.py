"""Messages per second of personalize for a 25-story edition, against the old path.

Pure, no I/O: the messages are made and thrown away.

- prepared: ``prepare_digest`` once (timed apart), then ``personalize`` per recipient;
- old path: per recipient, ``render_digest`` (Jinja2 + CSS inlining), ``build_message``
  and ``as_bytes`` (what smtplib puts on the wire), as brief.delivery did.

    python bench/personalize.py [--messages 20000] [--old 300]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from brief.mail.message import build_message
from brief.mail.prepared import personalize, prepare_digest
from brief.mail.render import render_digest
from brief.types import Digest, Recipient, Section, Story

ROOT = Path(__file__).resolve().parents[1]
EDITION = ROOT / "tests" / "data" / "email" / "edition-25.json"
WEB_URL = "https://brief.example.com/editions/2026-11-25"
SENDER = "Daily Brief <brief@example.com>"
NOW = datetime(2026, 11, 25, 6, 0, tzinfo=UTC)


def edition() -> Digest:
    """The 25-story edition of the render tests (5 sections, 3 sources a story)."""
    data = json.loads(EDITION.read_text(encoding="utf-8"))
    sections: dict[str, list[Story]] = {}
    for item in data["stories"]:
        sections.setdefault(item["section"], []).append(Story.from_json(item))
    return Digest(
        edition_date=date.fromisoformat(data["edition_date"]),
        window_start=datetime.fromisoformat(data["window_start"]),
        window_end=datetime.fromisoformat(data["window_end"]),
        sections=tuple(Section(name, tuple(stories)) for name, stories in sections.items()),
    )


def links(n: int) -> tuple[str, str, str, str]:
    token = f"{n:08d}.AbCdEfGhIjKlMnOpQrStUvWxYz-0123456789"  # a signed token's length
    return (
        f"reader.{n}@example.com",
        f"<brief.digest.2026-11-25.{n}@example.com>",
        f"https://brief.example.com/unsubscribe/{token}",
        f"https://brief.example.com/preferences/{token}",
    )


def bench_prepared(digest: Digest, count: int) -> tuple[float, float, int]:
    started = time.perf_counter()
    prepared = prepare_digest(
        digest, brief_name="Daily Brief", web_url=WEB_URL, sender=SENDER, date=NOW
    )
    prepare_s = time.perf_counter() - started
    size = 0
    started = time.perf_counter()
    for n in range(count):
        to, message_id, unsubscribe, preferences = links(n)
        size = len(
            personalize(
                prepared,
                to=to,
                message_id=message_id,
                unsubscribe_url=unsubscribe,
                preferences_url=preferences,
                unsubscribe_mailto="unsubscribe@example.com",
            )
        )
    return prepare_s, count / (time.perf_counter() - started), size


def bench_old(digest: Digest, count: int) -> tuple[float, int]:
    size = 0
    started = time.perf_counter()
    for n in range(count):
        to, message_id, unsubscribe, preferences = links(n)
        rendered = render_digest(
            digest,
            brief_name="Daily Brief",
            web_url=WEB_URL,
            recipient=Recipient(to, unsubscribe, preferences),
        )
        message = build_message(
            rendered,
            sender=SENDER,
            to=to,
            message_id=message_id,
            date=NOW,
            unsubscribe_url=unsubscribe,
            unsubscribe_mailto="unsubscribe@example.com",
        )
        size = len(message.as_bytes(policy=message.policy.clone(linesep="\r\n")))
    return count / (time.perf_counter() - started), size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=20_000, help="personalize calls")
    parser.add_argument("--old", type=int, default=300, help="messages made the old way")
    args = parser.parse_args()
    digest = edition()
    prepare_s, rate, size = bench_prepared(digest, args.messages)
    old_rate, old_size = bench_old(digest, args.old)
    print(f"edition: {len(digest.stories)} stories; message {size:,} bytes (old path {old_size:,})")
    print(f"prepare_digest (once per variant): {prepare_s * 1000:.1f} ms")
    print(f"personalize: {rate:9,.0f} messages/s ({1e6 / rate:.0f} µs each, n={args.messages:,})")
    print(
        f"old path:    {old_rate:9,.0f} messages/s ({1e3 / old_rate:.1f} ms each, n={args.old:,})"
    )
    print(f"speed-up:    {rate / old_rate:9,.0f}x")


if __name__ == "__main__":
    main()

"""End-to-end figures for the skeleton pipeline, on this machine.

Serves N synthetic feeds from a loopback HTTP server (with a per-response
delay like a remote server's), then times, in one run:

- cold ingest (every feed 200, every entry new), warm re-poll (every feed 304),
- building the edition from the stored articles,
- sending it to S subscribers into an outbox (render + write one .eml each),

and prints the figures and the process's peak memory.

    python bench/pipeline.py [--feeds 200] [--entries 30] [--subscribers 500] [--delay 0.05]
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from brief import store
from brief.batch import Mailer
from brief.db import make_engine, migrate, session_scope
from brief.editions import EditionPlan, build_edition
from brief.feeds.fetch import FetchConfig
from brief.feeds.ingest import IngestConfig
from brief.mail.senders import OutboxSender
from brief.pipeline import ingest_all, send_edition
from brief.types import SiteContext
from tests.feedserver import FeedServer

SECTIONS = ["world", "business", "technology", "science", "sport"]
PARAGRAPH = (
    "Officials confirmed the figures on Tuesday after a week of talks. "
    "The agreement covers trade, energy and transport, and takes effect next month. "
    "Critics said the deal left important questions open. "
)


def feed(n: int, entries: int, now: datetime) -> bytes:
    items = "".join(
        f"<item><title>Story {n}-{i}: talks continue in city {i}</title>"
        f"<link>https://news{n}.example/{i}</link><guid>https://news{n}.example/{i}</guid>"
        f"<description><![CDATA[<p>{PARAGRAPH * 3}</p>]]></description>"
        f"<pubDate>{format_datetime(now - timedelta(minutes=7 * i + n % 60))}</pubDate></item>"
        for i in range(entries)
    )
    return (
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>Outlet {n}</title><link>https://news{n}.example/</link>"
        f"<description>d</description>{items}</channel></rss>"
    ).encode()


def timed(label: str, fn, results: dict[str, float]):  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    value = fn()
    results[label] = time.perf_counter() - start
    return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--feeds", type=int, default=200)
    parser.add_argument("--entries", type=int, default=30)
    parser.add_argument("--subscribers", type=int, default=500)
    parser.add_argument("--delay", type=float, default=0.05, help="seconds per response")
    parser.add_argument("--database-url", default=None, help="default: a temporary SQLite file")
    args = parser.parse_args()

    now = datetime.now(UTC)
    ctx = SiteContext(
        "Daily Brief",
        "https://brief.example",
        "Daily Brief <b@brief.example>",
        "b@brief.example",
        "bench-secret",
    )
    plan = EditionPlan(sections=SECTIONS, per_section=5, edition_hour=23, zone=ZoneInfo("UTC"))
    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp, FeedServer() as server:
        engine = make_engine(args.database_url or f"sqlite:///{tmp}/bench.sqlite")
        migrate(engine)
        with session_scope(engine) as session:
            for n in range(args.feeds):
                url = server.add(
                    f"/{n}.xml",
                    feed(n, args.entries, now),
                    delay=args.delay,
                    etag=f'"v{n}"',
                    headers={"Content-Type": "application/rss+xml"},
                )
                store.add_feed(session, url, SECTIONS[n % len(SECTIONS)])
            for i in range(args.subscribers):
                store.add_subscriber(session, f"reader{i}@example.org", now=now)

        def ingest():  # type: ignore[no-untyped-def]
            # The feeds are served on 127.0.0.1, which fetches refuse by default.
            fetch = FetchConfig(user_agent="brief-bench", timeout=30, allow_private=True)
            return ingest_all(engine, IngestConfig(fetch=fetch, fulltext=False), now=now)

        cold = timed("ingest cold", ingest, figures)
        warm = timed("ingest warm (304)", ingest, figures)

        def build():  # type: ignore[no-untyped-def]
            with session_scope(engine) as session:
                return build_edition(session, plan, ctx, day=now.date(), now=now)[0].id

        edition_id = timed("build edition", build, figures)
        outbox = OutboxSender(Path(tmp) / "outbox")
        mailer = Mailer(open_session=outbox.session, ctx=ctx, where=str(outbox.directory))
        sent = timed(
            "send to outbox",
            lambda: send_edition(engine, edition_id, mailer, lambda: now),
            figures,
        )

    articles = sum(r.new_articles for r in cold)
    print(
        f"brief pipeline bench: {args.feeds} feeds x {args.entries} entries, "
        f"{args.subscribers} subscribers, {args.delay * 1000:.0f} ms per response, "
        f"{'SQLite' if not args.database_url else args.database_url.split(':')[0]}"
    )
    print(
        f"  ingest cold        {figures['ingest cold']:7.2f} s  "
        f"{articles} new articles, {articles / figures['ingest cold']:.0f} articles/s, "
        f"errors {sum(r.status == 'error' for r in cold)}"
    )
    print(
        f"  ingest warm (304)  {figures['ingest warm (304)']:7.2f} s  "
        f"{sum(r.status == 'not_modified' for r in warm)} not modified"
    )
    print(f"  build edition      {figures['build edition']:7.2f} s")
    print(
        f"  send to outbox     {figures['send to outbox']:7.2f} s  "
        f"{sum(o.status == 'sent' for o in sent)} messages, "
        f"{len(sent) / figures['send to outbox']:.0f} messages/s"
    )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"  peak memory        {peak:7.0f} MB")


if __name__ == "__main__":
    main()

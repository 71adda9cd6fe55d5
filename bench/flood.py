"""One feed floods a day: ingest a 60,000-item feed, then build the next edition.

Prints, for each step, its time and its process's peak memory (each step runs in a
child process of its own, so the peak is that step's): ``ingest`` fetches the feed
from loopback, parses and stores it as a batch task does; ``edition`` builds the
edition of today from what is stored, with the settings' caps. A second, ordinary
feed gives the edition something else to choose from.

    python bench/flood.py [--items 60000] [--db sqlite:///path | postgresql+psycopg://...]

Run it under PYTHONPATH=<a checkout> to measure that checkout (before/after).
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

MB = 1024 * 1024
# Run as a script, bench/ is first on the path, and bench/dkim.py would hide dkimpy.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent]


def peak_rss() -> int:
    """Bytes: this process's resident high-water mark (VmHWM); not ``ru_maxrss``, which
    Linux carries across exec from the process that spawned us."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def flood(site: str, count: int, now: datetime) -> bytes:
    """``count`` short items (~125 bytes each: 60,000 make 7.5 MB), one a second back."""
    items = "".join(
        f"<item><title>Flood story number {i}</title><link>{site}/{i}</link>"
        f"<pubDate>{format_datetime(now - timedelta(seconds=i))}</pubDate></item>"
        for i in range(count)
    )
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>Flood</title>'
        f"<link>{site}</link><description>x</description>{items}</channel></rss>"
    ).encode()


def _settings(db: str, tmp: str) -> Any:
    from brief.config import Settings

    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=db,
        data_dir=Path(tmp),
        fetch_allow_private=True,
        fulltext=False,
        sections=["world"],
        edition_hour=23,  # the window: the 24 hours before now (before 23:00)
    )


def _ingest(db: str, tmp: str, urls: list[str], out: Any) -> None:
    from sqlalchemy import func, select

    from brief import runtime
    from brief.db import make_engine, session_scope
    from brief.feeds.ingest import refresh_batch
    from brief.models import Article, Feed

    settings = _settings(db, tmp)
    engine = make_engine(settings.db_url)
    with session_scope(engine) as session:
        ids = [session.scalar(select(Feed.id).where(Feed.url == u)) for u in urls]
    started = time.perf_counter()
    refresh_batch(engine, [i for i in ids if i], runtime.ingest_config(settings), datetime.now(UTC))
    seconds = time.perf_counter() - started
    with session_scope(engine) as session:
        stored = session.scalar(select(func.count()).select_from(Article))
    peak = peak_rss()
    out.put(("ingest", seconds, peak, f"{stored} articles stored"))


def _edition(db: str, tmp: str, out: Any) -> None:
    from brief import runtime
    from brief.db import make_engine, session_scope
    from brief.editions import build_edition

    settings = _settings(db, tmp)
    engine = make_engine(settings.db_url)
    plan = runtime.edition_plan(settings)
    now = datetime.now(UTC)
    started = time.perf_counter()
    with session_scope(engine) as session:
        edition, _ = build_edition(
            session, plan, runtime.mail_context(settings), day=plan.today(now), now=now
        )
        stories = len(edition.stories or [])
    seconds = time.perf_counter() - started
    peak = peak_rss()
    out.put(("edition", seconds, peak, f"{stories} stories"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=60_000)
    parser.add_argument("--db", help="database URL (default: a new SQLite file)")
    args = parser.parse_args()

    from brief import store
    from brief.db import make_engine, migrate, session_scope
    from tests.feedserver import FeedServer

    tmp = tempfile.mkdtemp(prefix="brief-flood-")
    db = args.db or f"sqlite:///{tmp}/flood.sqlite"
    engine = make_engine(db)
    migrate(engine)
    now = datetime.now(UTC)
    body = flood("https://flood.test", args.items, now)
    usual = flood("https://usual.test", 20, now - timedelta(minutes=30))
    context = multiprocessing.get_context("spawn")
    with FeedServer() as server:
        urls = [server.add("/flood.xml", body), server.add("/usual.xml", usual)]
        with session_scope(engine) as session:
            for url in urls:
                store.add_feed(session, url, "world")
        print(f"flood feed: {args.items:,} items, {len(body) / MB:.1f} MB; database {db}")
        for target, extra in ((_ingest, (urls,)), (_edition, ())):
            out = context.Queue()
            child = context.Process(target=target, args=(db, tmp, *extra, out))
            child.start()
            step, seconds, peak, what = out.get()
            child.join()
            print(f"{step}: {seconds:.1f} s, peak {peak / MB:.0f} MB ({what})")


if __name__ == "__main__":
    main()

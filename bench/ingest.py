"""Ingest speed: brief against a naive feedparser loop, on the same loopback feeds.

Serves N feeds (default 1,000 x 50 entries of realistic size, ~55 KB each) from an
asyncio HTTP/1.1 server in its own process that waits ``--delay`` (default 100 ms)
before each answer, like a remote server, and answers ``If-None-Match`` with 304.
Then, in one run:

- brief cold: every feed fetched (200), parsed and stored in a fresh database;
- brief warm: every feed polled again (all 304: no parsing);
- naive: a sequential loop of ``feedparser.parse(url)`` (no conditional GET, no
  storing), cold and again warm; with ``--naive-sample K`` only K feeds are timed and
  the figure is extrapolated to N (the output says so);

- lemon24/reader, when it is installed (``pip install reader``; not a dependency of
  brief): ``update_feeds(workers=16, scheduled=False)`` on the same feeds in a
  database of its own, cold then warm;

and prints the times, articles per second, peak memory of brief's process tree (the
main process, the forkserver and the pool processes, sampled from /proc as PSS, so
pages shared by forked processes count once; the feed server is not counted), and
the ratios. The feeds are spread over ``--hosts`` loopback addresses (127.1.x.y, one
per feed by default, as 1,000 real feeds would be), so the per-host limit applies as it
would in real life.

    python bench/ingest.py [--feeds 1000] [--hosts 0] [--entries 50] [--delay 0.1]
                           [--naive-sample 200] [--processes 2] [--database-url URL]
                           [--reader-workers 16]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import random
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

TEXT = (
    "government minister said talks would continue next week after officials from both "
    "sides met in the capital on tuesday to discuss trade energy and security the agreement "
    "covers transport and investment and takes effect next month critics warned that the "
    "deal left important questions open while markets rose on the news analysts expect "
    "further announcements as negotiations resume parliament is due to vote on the measure "
    "before the summer recess and opposition leaders have called for a public inquiry into "
    "how the contracts were awarded residents affected by the floods said help arrived late"
)
WORDS = TEXT.split()
SECTIONS = ("world", "business", "technology", "science", "sport", "culture")


def sentence(rng: random.Random, words: int) -> str:
    text = " ".join(rng.choice(WORDS) for _ in range(words))
    return text[0].upper() + text[1:] + "."


def feed_body(n: int, entries: int, now: datetime) -> bytes:
    """A realistic RSS 2.0 feed: ~1.1 KB per item (title, link, guid, date, author,
    categories, an image, and a three-paragraph HTML description); feedparser takes
    about 16 ms for 50 such items on the reference machine."""
    rng = random.Random(n)
    site = f"https://news{n}.example"
    items = []
    for i in range(entries):
        paragraphs = "".join(f"<p>{sentence(rng, 20)} {sentence(rng, 15)}</p>" for _ in range(3))
        when = format_datetime(now - timedelta(minutes=17 * i + n % 60))
        items.append(
            f"<item><title>{sentence(rng, 9)[:-1]}</title>"
            f"<link>{site}/{2025}/{n}/{i}/story-{i}?utm_source=rss</link>"
            f'<guid isPermaLink="false">{site}/id/{n}-{i}</guid>'
            f"<pubDate>{when}</pubDate><dc:creator>Reporter {i % 7}</dc:creator>"
            f"<category>{SECTIONS[i % len(SECTIONS)]}</category><category>news</category>"
            f'<media:content url="{site}/img/{i}.jpg" medium="image" width="800" height="450"/>'
            f"<description><![CDATA[{paragraphs}]]></description></item>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/" '
        'xmlns:media="http://search.yahoo.com/mrss/"><channel>'
        f"<title>Outlet {n}</title><link>{site}/</link><description>News from outlet {n}"
        f"</description><language>en</language><ttl>15</ttl>{''.join(items)}</channel></rss>"
    ).encode()


# -- the feed server (its own process) --------------------------------------


def host_of(feed: int, hosts: int) -> str:
    """The loopback address feed `feed` is served from: `hosts` of them in 127.1.0.0/16."""
    h = feed % hosts
    return f"127.1.{h // 250}.{h % 250 + 1}"


def serve(feeds: int, entries: int, delay: float, now: datetime, hosts: int, port_out: Any) -> None:
    """An asyncio HTTP/1.1 server: keep-alive, ETag/304, ``delay`` before every answer."""
    bodies = {f"/feed/{n}.xml": feed_body(n, entries, now) for n in range(feeds)}
    etags = {path: f'"{hash(body) & 0xFFFFFFFF:x}"' for path, body in bodies.items()}

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                line = await reader.readline()
                if not line:
                    break
                _method, path, version = line.decode("latin-1").split(" ", 2)
                headers = {}
                while True:
                    raw = await reader.readline()
                    if raw in (b"\r\n", b"\n", b""):
                        break
                    name, _, value = raw.decode("latin-1").partition(":")
                    headers[name.strip().lower()] = value.strip()
                await asyncio.sleep(delay)
                close = headers.get("connection", "").lower() == "close" or "1.0" in version
                body = bodies.get(path)
                if body is None:
                    head, body = "404 Not Found", b""
                elif headers.get("if-none-match") == etags[path]:
                    head, body = "304 Not Modified", b""
                else:
                    head = "200 OK"
                extra = f"ETag: {etags[path]}\r\n" if path in etags else ""
                writer.write(
                    (
                        f"HTTP/1.1 {head}\r\nContent-Type: application/rss+xml; charset=utf-8"
                        f"\r\nContent-Length: {len(body)}\r\n{extra}"
                        f"Connection: {'close' if close else 'keep-alive'}\r\n\r\n"
                    ).encode()
                    + body
                )
                await writer.drain()
                if close:
                    break
        except (ConnectionError, ValueError):
            pass
        finally:
            writer.close()

    async def main() -> None:
        # One port on every address: the first picks it, the others take the same.
        first = await asyncio.start_server(handle, host_of(0, hosts), 0, backlog=4096)
        port = first.sockets[0].getsockname()[1]
        others = [
            await asyncio.start_server(handle, host_of(h, hosts), port, backlog=4096)
            for h in range(1, min(hosts, feeds))
        ]
        port_out.send(port)
        async with first:
            await asyncio.gather(first.serve_forever(), *(s.serve_forever() for s in others))

    asyncio.run(main())


# -- memory of a process tree ------------------------------------------------


class TreeMemory:
    """Samples the memory of a process and its descendants (minus ``exclude``).

    ``peak`` is the summed PSS (proportional set size: a page shared by n processes
    counts 1/n in each, so pages the pool processes share with the forkserver they
    were forked from are counted once); ``peak_rss`` sums RSS, which counts them in
    every process (an overestimate).
    """

    def __init__(self, root: int, exclude: set[int]) -> None:
        self.root, self.exclude = root, exclude
        self.peak = self.peak_rss = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def reset(self) -> None:
        self.peak = self.peak_rss = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            pss, rss = self.sample()
            self.peak, self.peak_rss = max(self.peak, pss), max(self.peak_rss, rss)
            time.sleep(0.02)

    def sample(self) -> tuple[int, int]:
        parents: dict[int, list[int]] = {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat", "rb") as f:
                    stat = f.read()
            except OSError:
                continue
            ppid = int(stat[stat.rindex(b")") + 2 :].split()[1])
            parents.setdefault(ppid, []).append(int(entry))
        pss = rss = 0
        todo = [self.root]
        while todo:
            pid = todo.pop()
            if pid in self.exclude:
                continue
            rss += _kb(f"/proc/{pid}/status", "VmRSS:")
            pss += _kb(f"/proc/{pid}/smaps_rollup", "Pss:") or _kb(f"/proc/{pid}/status", "VmRSS:")
            todo.extend(parents.get(pid, ()))
        return pss, rss


def _kb(path: str, field: str) -> int:
    """A "Name:  123 kB" field of a /proc file, in bytes (0 when unreadable)."""
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(field):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


# -- the runs -----------------------------------------------------------------


def naive(urls: list[str]) -> tuple[float, int]:
    import feedparser

    started = time.perf_counter()
    entries = sum(len(feedparser.parse(url).entries) for url in urls)
    return time.perf_counter() - started, entries


def run_reader(urls: list[str], folder: str, workers: int) -> tuple[float, float] | None:
    """lemon24/reader on the same feeds, cold then warm; None when it is not installed."""
    try:
        from reader import make_reader
    except ImportError:
        return None
    r = make_reader(f"{folder}/reader.sqlite")
    for url in urls:
        r.add_feed(url)
    times = []
    for _ in range(2):
        started = time.perf_counter()
        r.update_feeds(workers=workers, scheduled=False)
        times.append(time.perf_counter() - started)
    r.close()
    return times[0], times[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--entries", type=int, default=50)
    parser.add_argument("--delay", type=float, default=0.1, help="seconds per response")
    parser.add_argument(
        "--naive-sample",
        type=int,
        default=200,
        help="feeds timed for the naive loop, extrapolated to --feeds (0: all of them)",
    )
    parser.add_argument(
        "--hosts", type=int, default=0, help="hosts the feeds are spread over (0: one each)"
    )
    parser.add_argument(
        "--reader-workers", type=int, default=16, help="reader's update_feeds(workers=...)"
    )
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--concurrency", type=int, default=32, help="fetches at once, per process")
    parser.add_argument("--database-url", default=None, help="default: a temporary SQLite file")
    args = parser.parse_args()

    from sqlalchemy import insert

    from brief.db import make_engine, migrate, session_scope
    from brief.feeds.fetch import FetchConfig
    from brief.feeds.ingest import IngestConfig
    from brief.models import Feed
    from brief.pipeline import ingest_all

    now = datetime.now(UTC)
    hosts = args.hosts or args.feeds
    context = multiprocessing.get_context("spawn")
    receive, send = context.Pipe(duplex=False)
    server = context.Process(
        target=serve, args=(args.feeds, args.entries, args.delay, now, hosts, send), daemon=True
    )
    server.start()
    port = receive.recv()
    memory = TreeMemory(os.getpid(), exclude={server.pid or -1})
    memory.start()

    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(args.database_url or f"sqlite:///{tmp}/bench.sqlite")
        migrate(engine)
        with session_scope(engine) as session:
            session.execute(
                insert(Feed),
                [
                    {
                        "url": f"http://{host_of(n, hosts)}:{port}/feed/{n}.xml",
                        "section": SECTIONS[n % len(SECTIONS)],
                        "error_count": 0,
                        "weight": 1.0,
                    }
                    for n in range(args.feeds)
                ],
            )
        config = IngestConfig(
            fetch=FetchConfig(
                user_agent="brief-bench",
                timeout=30,
                concurrency=args.concurrency,
                allow_networks=("127.0.0.0/8",),
            ),
            fulltext=False,
        )

        def ingest(label: str) -> list[Any]:
            memory.reset()
            started = time.perf_counter()
            results = ingest_all(engine, config, now=now, processes=args.processes)
            figures[label] = time.perf_counter() - started
            figures[label + " memory"] = memory.peak
            figures[label + " rss"] = memory.peak_rss
            return results

        cold = ingest("cold")
        warm = ingest("warm")
        engine.dispose()

    new = sum(r.new_articles for r in cold)
    errors = [r for r in cold + warm if r.status == "error"]
    not_modified = sum(r.status == "not_modified" for r in warm)

    all_urls = [f"http://{host_of(n, hosts)}:{port}/feed/{n}.xml" for n in range(args.feeds)]
    with tempfile.TemporaryDirectory() as tmp:
        memory.reset()
        reader_times = run_reader(all_urls, tmp, args.reader_workers)
        reader_memory = memory.peak
    sample = args.feeds if args.naive_sample <= 0 else min(args.naive_sample, args.feeds)
    urls = all_urls[:sample]
    memory.reset()
    naive_cold, naive_entries = naive(urls)
    naive_warm, _ = naive(urls)  # no conditional GET: the same work again
    naive_memory = memory.peak
    memory.stop()
    server.terminate()
    scale = args.feeds / sample
    naive_cold, naive_warm = naive_cold * scale, naive_warm * scale

    mb = 1024 * 1024
    peak = max(figures["cold memory"], figures["warm memory"])
    peak_rss = max(figures["cold rss"], figures["warm rss"])
    print(
        f"brief ingest bench: {args.feeds} feeds x {args.entries} entries "
        f"(~{len(feed_body(0, args.entries, now)) // 1024} KB each), "
        f"{hosts} hosts, {args.delay * 1000:g} ms per response, {args.processes} process(es) x "
        f"{args.concurrency} fetches, {'SQLite' if not args.database_url else 'PostgreSQL'}, "
        f"{os.cpu_count()} cores"
    )
    print(
        f"  brief cold       {figures['cold']:7.2f} s   {new} new articles, "
        f"{new / figures['cold']:,.0f} articles/s, {len(errors)} errors, "
        f"peak {figures['cold memory'] / mb:.0f} MB"
    )
    print(
        f"  brief warm (304) {figures['warm']:7.2f} s   {not_modified} not modified, "
        f"peak {figures['warm memory'] / mb:.0f} MB"
    )
    if reader_times is None:
        print("  reader           (not installed: pip install reader to compare)")
    else:
        r_cold, r_warm = reader_times
        print(
            f"  reader cold      {r_cold:7.2f} s   update_feeds(workers={args.reader_workers}, "
            f"scheduled=False), peak {reader_memory / mb:.0f} MB"
        )
        print(
            f"  reader warm      {r_warm:7.2f} s   brief is {r_cold / figures['cold']:.2f}x "
            f"(cold) and {r_warm / figures['warm']:.2f}x (warm) as fast"
        )
    note = "" if sample == args.feeds else f" (timed on {sample} feeds, x{scale:g} extrapolated)"
    print(
        f"  naive cold       {naive_cold:7.2f} s   {naive_entries * scale:,.0f} entries, "
        f"{naive_entries * scale / naive_cold:,.0f} entries/s{note}"
    )
    print(f"  naive warm       {naive_warm:7.2f} s   (no conditional GET){note}")
    print(
        f"  ratios           cold {naive_cold / figures['cold']:.1f}x, "
        f"warm {naive_warm / figures['warm']:.1f}x faster than naive"
    )
    print(
        f"  peak memory      {peak / mb:.0f} MB PSS of brief's process tree "
        f"({peak_rss / mb:.0f} MB summing RSS); naive loop {naive_memory / mb:.0f} MB"
    )
    aims = [
        ("cold <= 20 s", figures["cold"] <= 20),
        ("warm <= 3 s", figures["warm"] <= 3),
        (">= 5x naive cold", naive_cold / figures["cold"] >= 5),
        (">= 10x naive warm", naive_warm / figures["warm"] >= 10),
        ("< 400 MB", peak < 400 * mb),
    ]
    print("  aims             " + ", ".join(f"{a}: {'yes' if ok else 'NO'}" for a, ok in aims))
    if errors:
        for r in errors[:5]:
            print(f"  error: {r.url}: {r.error}")


if __name__ == "__main__":
    main()

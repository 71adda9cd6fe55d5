"""Hostile feeds: what each costs brief to refuse or to read, in time and peak memory.

A threaded HTTP server on loopback serves each case; a fresh child process (spawned, so
its memory is its own) fetches it with brief's fetcher and parses what it got with
brief's parser, under the default limits (10 MB body cap, 20 s per fetch), and reports
the outcome, the wall time and its peak RSS (``ru_maxrss``) above what the child held
before the fetch. The cases:

- gzip in gzip: 2 GiB of zeros compressed twice (a few KB on the wire);
- a gzip bomb: 2 GiB of zeros compressed once (~2 MB);
- 200 MB of body, with its length declared, and the same sent chunked;
- a slow drip: a byte every 0.2 s, forever;
- billion laughs, quadratic blow-up and XXE in a feed's DOCTYPE;
- 60,000 items in one 9 MB feed (the fetch and the parse; what ingest keeps of it is
  bench/flood.py's business).

    python bench/hostile.py [--cases name,name]
"""

from __future__ import annotations

import argparse
import gzip
import multiprocessing
import sys
import threading
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

MB = 1024 * 1024


def peak_rss() -> int:
    """Bytes: this process's resident high-water mark (VmHWM); not ``ru_maxrss``, which
    Linux carries across exec from the process that spawned us."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


@dataclass(frozen=True)
class Case:
    name: str
    body: bytes | None = None  # None: streamed by `stream`
    headers: tuple[tuple[str, str], ...] = ()
    stream: str = ""  # "zeros:N" (N MB, chunked) or "drip"


def _zeros_compressed(megabytes: int) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    zeros = b"\0" * MB
    return b"".join(packer.compress(zeros) for _ in range(megabytes)) + packer.flush()


def _items(count: int) -> bytes:
    items = "".join(
        f"<item><title>Item {n}</title><link>https://flood.example/{n}</link>"
        f"<guid>flood-{n}</guid><description>Entry {n} of the flood.</description></item>"
        for n in range(count)
    )
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Flood</title>'
        f"<link>https://flood.example/</link>{items}</channel></rss>"
    ).encode()


def _doctype(subset: str, body: str) -> bytes:
    return (
        f'<?xml version="1.0"?><!DOCTYPE rss [{subset}]><rss version="2.0"><channel>'
        f"<title>T</title><item><title>{body}</title><link>https://x.example/a</link>"
        "</item></channel></rss>"
    ).encode()


def cases() -> Iterator[Case]:
    laughs = '<!ENTITY lol0 "lol">' + "".join(
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)
    )
    rss = (("Content-Type", "application/rss+xml"),)
    yield Case(
        "gzip in gzip (2 GiB)",
        gzip.compress(_zeros_compressed(2048), 9),
        (("Content-Encoding", "gzip, gzip"), *rss),
    )
    yield Case("gzip bomb (2 GiB)", _zeros_compressed(2048), (("Content-Encoding", "gzip"), *rss))
    yield Case("200 MB, declared", stream="zeros:200:declared", headers=rss)
    yield Case("200 MB, chunked", stream="zeros:200", headers=rss)
    yield Case("slow drip", stream="drip", headers=rss)
    yield Case("billion laughs", _doctype(laughs, "&lol9;"), rss)
    yield Case("quadratic blow-up", _doctype(f'<!ENTITY a "{"x" * 100_000}">', "&a;" * 50_000), rss)
    yield Case("XXE", _doctype('<!ENTITY x SYSTEM "file:///etc/passwd">', "&x;"), rss)
    yield Case("60,000 items (9 MB)", _items(60_000), rss)


class _Handler(BaseHTTPRequestHandler):
    routes: ClassVar[dict[str, Case]] = {}

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        case = self.routes[self.path]
        self.send_response(200)
        for name, value in case.headers:
            self.send_header(name, value)
        try:
            if case.body is not None:
                self.send_header("Content-Length", str(len(case.body)))
                self.end_headers()
                self.wfile.write(case.body)
            elif case.stream == "drip":
                self.end_headers()
                self.wfile.write(b"<rss>")
                for _ in range(600):
                    time.sleep(0.2)
                    self.wfile.write(b" ")
                    self.wfile.flush()
            else:
                self._zeros(case.stream)
        except (BrokenPipeError, ConnectionResetError):
            pass  # brief hung up: what the case is about

    def _zeros(self, stream: str) -> None:
        parts = stream.split(":")
        total = int(parts[1]) * MB
        if len(parts) > 2:
            self.send_header("Content-Length", str(total))
            self.end_headers()
            for _ in range(total // MB):
                self.wfile.write(b" " * MB)
            return
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for _ in range(total // MB):
            self.wfile.write(b"%x\r\n" % MB + b" " * MB + b"\r\n")
        self.wfile.write(b"0\r\n\r\n")


def _child(url: str, out: Any) -> None:
    import asyncio

    from brief.errors import FeedError
    from brief.feeds.fetch import FetchConfig, fetch_feed, make_client
    from brief.feeds.parse import parse_feed

    config = FetchConfig(user_agent="brief-bench", allow_networks=("127.0.0.1/32",))
    before = peak_rss()

    async def fetch() -> bytes | None:
        async with make_client(config) as client:
            result = await fetch_feed(client, url, timeout=config.timeout)
            return result.content

    started = time.perf_counter()
    try:
        content = asyncio.run(fetch())
        feed = parse_feed(url, content or b"")
        outcome = f"read: {len(feed.articles):,} entries"
    except FeedError as exc:
        outcome = f"refused: {exc.message}"
    elapsed = time.perf_counter() - started
    peak = peak_rss()
    out.put((outcome, elapsed, before, peak))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", help="comma-separated names (default: all)")
    args = parser.parse_args()
    chosen = list(cases())
    if args.cases:
        wanted = [w.strip().lower() for w in args.cases.split(",")]
        chosen = [c for c in chosen if any(w in c.name.lower() for w in wanted)]
    _Handler.routes = {f"/{n}.xml": c for n, c in enumerate(chosen)}
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    context = multiprocessing.get_context("spawn")
    print("hostile feeds: brief's fetch + parse in a fresh child each, default limits")
    print(f"  {'case':24} {'wire':>12} {'time':>8} {'peak RSS (above start)':>24}  outcome")
    for path, case in _Handler.routes.items():
        queue = context.Queue()
        child = context.Process(target=_child, args=(f"http://127.0.0.1:{port}{path}", queue))
        child.start()
        outcome, elapsed, before, peak = queue.get(timeout=300)
        child.join()
        wire = f"{len(case.body):,} B" if case.body is not None else "streamed"
        memory = f"{peak / MB:.0f} MB ({max(peak - before, 0) / MB:+.0f})"
        print(f"  {case.name:24} {wire:>12} {elapsed:7.2f}s {memory:>24}  {outcome[:90]}")
    server.shutdown()


if __name__ == "__main__":
    main()

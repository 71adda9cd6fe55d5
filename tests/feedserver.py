"""A programmable loopback HTTP server for feed tests (stdlib only).

Usage::

    from tests.feedserver import FeedServer

    with FeedServer() as server:
        server.add("/world.xml", body, headers={"Content-Type": "application/rss+xml"},
                   etag='"v1"')
        fetch(server.url("/world.xml"))
        assert server.hits["/world.xml"] == 1
        assert server.requests["/world.xml"][-1]["If-None-Match"] is None

``add(path, body, status=200, headers=None, delay=0, etag=None, last_modified=None)``
sets (or replaces) what ``path`` answers. With ``etag``/``last_modified`` the response
carries that validator and a matching ``If-None-Match``/``If-Modified-Since`` gets a 304.
``delay`` sleeps before answering (for timeouts). Unknown paths answer 404.
``hits[path]`` counts requests; ``requests[path]`` keeps each request's headers.

Misbehaving on purpose: ``drip=(chunk, seconds)`` sends the body ``chunk`` bytes at a
time with a pause between (a slow drip); ``size=N`` streams N bytes made by repeating
``body``, never holding them in memory, without Content-Length (``declare=False``) or
with it. ``sent[path]`` counts the body bytes really written (a client that gives up
early makes the write fail), and ``max_in_flight`` the most requests answered at once.

To use the ``feed_server`` fixture in a test module, import it there or list
``tests.feedserver`` in ``pytest_plugins`` of the root conftest.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

import pytest


@dataclass
class Route:
    body: bytes
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    etag: str | None = None
    last_modified: str | None = None
    drip: tuple[int, float] | None = None
    size: int | None = None
    declare: bool = True


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # a sleeping handler must not hold up shutdown

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients that time out close the socket mid-answer; that is expected here


class FeedServer:
    """Serves programmable routes on ``127.0.0.1:<ephemeral port>`` from a daemon thread."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.hits: Counter[str] = Counter()
        self.requests: defaultdict[str, list[Message]] = defaultdict(list)
        self.sent: Counter[str] = Counter()
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        self._server = _Server(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}"

    def url(self, path: str) -> str:
        return self.base_url + path

    def add(
        self,
        path: str,
        body: bytes | str = b"",
        status: int = 200,
        headers: Mapping[str, str] | None = None,
        delay: float = 0.0,
        etag: str | None = None,
        last_modified: str | None = None,
        *,
        drip: tuple[int, float] | None = None,
        size: int | None = None,
        declare: bool = True,
    ) -> str:
        """Set what ``path`` answers; returns its full URL."""
        data = body.encode() if isinstance(body, str) else body
        self.routes[path] = Route(
            data, status, dict(headers or {}), delay, etag, last_modified, drip, size, declare
        )
        return self.url(path)

    def start(self) -> FeedServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> FeedServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _respond(self, handler: BaseHTTPRequestHandler) -> None:
        with self._lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            self._answer(handler)
        except (BrokenPipeError, ConnectionResetError):
            handler.close_connection = True  # the client gave up: expected in these tests
        finally:
            with self._lock:
                self.in_flight -= 1

    def _answer(self, handler: BaseHTTPRequestHandler) -> None:
        path = handler.path
        with self._lock:
            self.hits[path] += 1
            self.requests[path].append(handler.headers)
        route = self.routes.get(path)
        if route is None:
            handler.send_error(404)
            return
        if route.delay:
            time.sleep(route.delay)
        validators = {"ETag": route.etag, "Last-Modified": route.last_modified}
        if _not_modified(handler, route):
            handler.send_response(304)
            for name, value in validators.items():
                if value:
                    handler.send_header(name, value)
            handler.end_headers()
            return
        handler.send_response(route.status)
        headers = {"Content-Type": "application/rss+xml; charset=utf-8", **route.headers}
        headers.update({k: v for k, v in validators.items() if v})
        length = len(route.body) if route.size is None else route.size
        if route.declare:
            headers["Content-Length"] = str(length)
        else:
            headers["Connection"] = "close"  # the end of the body is the end of the stream
            handler.close_connection = True
        for name, value in headers.items():
            handler.send_header(name, value)
        handler.end_headers()
        for chunk in _chunks(route, length):
            handler.wfile.write(chunk)
            handler.wfile.flush()
            with self._lock:
                self.sent[path] += len(chunk)
            if route.drip:
                time.sleep(route.drip[1])

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, like real feed servers

            def do_GET(self) -> None:
                server._respond(self)

            def log_message(self, format: str, *args: object) -> None:
                pass

        return Handler


def _chunks(route: Route, length: int) -> Iterator[bytes]:
    """The body in pieces: drip-sized, or up to 64 KiB made by repeating ``route.body``."""
    step = route.drip[0] if route.drip else 64 * 1024
    if route.size is None:
        for start in range(0, len(route.body), step):
            yield route.body[start : start + step]
        return
    pattern = route.body or b"x"
    block = (pattern * (step // len(pattern) + 1))[:step]
    left = length
    while left > 0:
        piece = block[: min(step, left)]
        left -= len(piece)
        yield piece


def _not_modified(handler: BaseHTTPRequestHandler, route: Route) -> bool:
    if route.status != 200:
        return False
    if route.etag and handler.headers.get("If-None-Match") == route.etag:
        return True
    since = handler.headers.get("If-Modified-Since")
    return bool(route.last_modified and not route.etag and since == route.last_modified)


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    with FeedServer() as server:
        yield server

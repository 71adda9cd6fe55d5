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
    ) -> str:
        """Set what ``path`` answers; returns its full URL."""
        data = body.encode() if isinstance(body, str) else body
        self.routes[path] = Route(data, status, dict(headers or {}), delay, etag, last_modified)
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
        headers["Content-Length"] = str(len(route.body))
        for name, value in headers.items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(route.body)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, like real feed servers

            def do_GET(self) -> None:
                server._respond(self)

            def log_message(self, format: str, *args: object) -> None:
                pass

        return Handler


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

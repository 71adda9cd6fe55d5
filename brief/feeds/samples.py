"""Sample feeds for the offline demo, and a loopback HTTP server to fetch them from.

The files in ``brief/samples`` hold invented news whose dates are placeholders:
``{{hours_ago:N}}`` becomes an RFC 822 date (RSS) and ``{{hours_ago_iso:N}}`` an
RFC 3339 date (Atom), N hours before ``now``, so the items always fall inside the
last day. Serving them over real HTTP makes the demo exercise the real fetch path.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.resources import files

# (name, section, file in brief/samples); the name is also the URL path and feed title key.
SAMPLES: tuple[tuple[str, str, str], ...] = (
    ("meridian-world", "world", "meridian-world.xml"),
    ("ledger-business", "business", "ledger-business.xml"),
    ("circuit-technology", "technology", "circuit-technology.xml"),
    ("field-notes-science", "science", "field-notes-science.xml"),
)

_PLACEHOLDER = re.compile(r"\{\{hours_ago(_iso)?:(\d+(?:\.\d+)?)\}\}")


def render_sample(template: str, now: datetime) -> str:
    """Replace the date placeholders in ``template`` with dates relative to ``now``."""

    def date(match: re.Match[str]) -> str:
        when = (now - timedelta(hours=float(match.group(2)))).astimezone(UTC)
        return when.isoformat(timespec="seconds") if match.group(1) else format_datetime(when)

    return _PLACEHOLDER.sub(date, template)


def sample_feeds(now: datetime) -> list[tuple[str, str, bytes]]:
    """``(name, section, feed bytes)`` for every sample, dated relative to ``now``."""
    folder = files("brief").joinpath("samples")
    return [
        (name, section, render_sample(folder.joinpath(file).read_text("utf-8"), now).encode())
        for name, section, file in SAMPLES
    ]


@contextmanager
def serve_samples(feeds: Sequence[tuple[str, str, bytes]]) -> Iterator[dict[str, str]]:
    """Serve ``feeds`` at ``http://127.0.0.1:<port>/<name>.xml``; yields ``{name: url}``."""
    bodies = {f"/{name}.xml": body for name, _section, body in feeds}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = bodies.get(self.path)
            if body is None:
                self.send_error(404)
                return
            atom = b"<feed" in body[:1024]
            self.send_response(200)
            ctype = "application/atom+xml" if atom else "application/rss+xml"
            self.send_header("Content-Type", f"{ctype}; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass  # keep the demo's output clean

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="brief-samples", daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_port}"
        yield {name: f"{base}/{name}.xml" for name, _section, _body in feeds}
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

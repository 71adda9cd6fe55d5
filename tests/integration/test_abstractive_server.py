"""The abstractive summarizer against a real loopback /v1/chat/completions server."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from brief.digest.abstractive import AbstractiveSummarizer, cache_key
from brief.digest.summarize import summarize_story
from brief.types import Doc

DOCS = [
    Doc(
        "Earthquake kills five in central Chile",
        "A magnitude 7.1 earthquake struck central Chile on Monday, killing at least five people. "
        "Rescuers searched collapsed buildings through the night.",
        source="Reuters",
    )
]
REPLY = {"headline": "Quake kills five in Chile", "summary": "A strong quake hit Chile. Five died."}


class Handler(BaseHTTPRequestHandler):
    mode: ClassVar[str] = "ok"
    requests: ClassVar[list[dict[str, Any]]] = []

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        body = json.loads(self.rfile.read(length))
        Handler.requests.append(
            {"path": self.path, "auth": self.headers.get("Authorization"), **body}
        )
        if Handler.mode == "slow":
            time.sleep(2)
        if Handler.mode == "500":
            self.send_response(500)
            self.end_headers()
            self.wfile.write(b"boom")
            return
        if Handler.mode == "garbage":
            payload = b"{not json"
        elif Handler.mode == "no-choices":
            payload = json.dumps({"error": "x"}).encode()
        else:
            content = json.dumps(REPLY)
            payload = json.dumps(
                {"choices": [{"message": {"role": "assistant", "content": content}}]}
            ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        with contextlib.suppress(OSError):
            self.wfile.write(payload)


@pytest.fixture
def server() -> Iterator[str]:
    Handler.mode = "ok"
    Handler.requests = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_success_uses_the_model_and_sends_key_and_model(server: str) -> None:
    summarizer = AbstractiveSummarizer(server, "test-model", api_key="sk-test", timeout=5)
    result = summarizer(DOCS)
    assert (result.headline, result.summary) == (REPLY["headline"], REPLY["summary"])
    request = Handler.requests[0]
    assert request["path"] == "/v1/chat/completions"
    assert request["auth"] == "Bearer sk-test"
    assert request["model"] == "test-model"
    assert "Earthquake kills five" in request["messages"][-1]["content"]
    assert summarizer.last_error is None


def test_timeout_falls_back_to_extractive_within_bound(server: str) -> None:
    Handler.mode = "slow"
    summarizer = AbstractiveSummarizer(server, "m", timeout=0.5)
    started = time.monotonic()
    result = summarizer(DOCS)
    assert time.monotonic() - started < 1.5
    assert result == summarize_story(DOCS)
    assert summarizer.last_error


@pytest.mark.parametrize("mode", ["500", "garbage", "no-choices"])
def test_errors_fall_back_to_extractive(server: str, mode: str) -> None:
    Handler.mode = mode
    summarizer = AbstractiveSummarizer(server, "m", timeout=5)
    assert summarizer(DOCS) == summarize_story(DOCS)
    assert summarizer.last_error
    # A failure is not cached: the next call asks again.
    Handler.mode = "ok"
    assert summarizer(DOCS).summary == REPLY["summary"]
    assert summarizer.calls == 2


def test_unreachable_endpoint_falls_back() -> None:
    summarizer = AbstractiveSummarizer("http://127.0.0.1:9", "m", timeout=1)
    assert summarizer(DOCS) == summarize_story(DOCS)


def test_cached_per_story_in_memory_and_on_disk(server: str, tmp_path: Path) -> None:
    summarizer = AbstractiveSummarizer(server, "m", timeout=5, cache_dir=tmp_path)
    first = summarizer(DOCS)
    assert summarizer(DOCS) == first
    assert summarizer.calls == 1 and len(Handler.requests) == 1
    assert (tmp_path / f"{cache_key('m', DOCS)}.json").exists()
    # A new process (new object) with the same directory does not ask again.
    Handler.mode = "500"
    again = AbstractiveSummarizer(server, "m", timeout=5, cache_dir=tmp_path)
    assert again(DOCS) == first and again.calls == 0
    # Another story, or another model, is another key.
    other = [Doc("Budget day", "The minister presented the budget on Tuesday to parliament.")]
    assert cache_key("m", other) != cache_key("m", DOCS) != cache_key("n", DOCS)


def test_lru_is_bounded(server: str) -> None:
    summarizer = AbstractiveSummarizer(server, "m", timeout=5, cache_size=1)
    other = [Doc("Budget day", "The minister presented the budget on Tuesday to parliament.")]
    summarizer(DOCS)
    summarizer(other)
    summarizer(DOCS)
    assert summarizer.calls == 3

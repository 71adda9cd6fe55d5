"""Optional abstractive summaries through any OpenAI-compatible chat-completions endpoint.

`AbstractiveSummarizer(url, model, ...)` is a `Summarizer`: called with a
story's docs it returns a Summary. It asks the endpoint for a headline and a
summary of two or three sentences, with a hard bound on the whole exchange
(connect, send, wait and read all count against `timeout`), and caches each
answer per story (an in-memory LRU, plus a directory of JSON files when
`cache_dir` is given) under a key made from the model and the story's texts.
Whenever the endpoint is unreachable, slow, answers an error or something
that is not a chat completion, the extractive summary is returned instead
(`last_error` says why). Nothing here reads settings: the caller passes
plain values (settings.summarizer_url, _model, _api_key, _timeout).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import httpx

from brief.digest.summarize import MAX_WORDS, summarize_story
from brief.digest.text import truncate
from brief.types import Doc, Summary

log = logging.getLogger(__name__)

PROMPT_VERSION = "1"
MAX_DOCS = 5
MAX_DOC_CHARS = 2500
MAX_RESPONSE_BYTES = 1_000_000

SYSTEM_PROMPT = (
    "You write a neutral morning news brief. Given several outlets' articles on one story, "
    "reply with a JSON object only: "
    '{"headline": "<a clear, factual headline, at most 14 words>", '
    '"summary": "<two or three sentences, at most 60 words, facts only, no opinion>"}.'
)


class SummarizerFailed(Exception):
    """The endpoint gave no usable summary (the caller falls back to extractive)."""


def endpoint(url: str) -> str:
    """The chat-completions URL from a base URL ("http://host", ".../v1") or the full one."""
    url = url.rstrip("/")
    if url.endswith("/chat/completions"):
        return url
    if url.endswith("/v1"):
        return f"{url}/chat/completions"
    return f"{url}/v1/chat/completions"


def _doc_text(doc: Doc) -> str:
    """An article's text as the model reads it: on one line, cut at MAX_DOC_CHARS."""
    text = " ".join(doc.text.split())
    return truncate(text, MAX_DOC_CHARS, ellipsis=" …", trim="", ellipsis_in_limit=False)


def user_prompt(docs: Sequence[Doc]) -> str:
    parts = []
    for n, doc in enumerate(docs[:MAX_DOCS], 1):
        source = f" ({doc.source})" if doc.source else ""
        parts.append(f"Article {n}{source}\nTitle: {doc.title}\n{_doc_text(doc)}")
    return "\n\n".join(parts)


def cache_key(model: str, docs: Sequence[Doc]) -> str:
    """A story's cache key: its model, prompt version and articles' titles and texts."""
    material = json.dumps(
        [PROMPT_VERSION, model, [[d.title, _doc_text(d)] for d in docs[:MAX_DOCS]]],
        ensure_ascii=False,
    )
    return hashlib.sha256(material.encode("utf-8")).hexdigest()


def parse_reply(content: str, *, max_words: int = MAX_WORDS) -> tuple[str, str]:
    """(headline, summary) from the model's reply: a JSON object, or failing that plain text."""
    text = re.sub(r"^```(?:json)?\s*|\s*```$", "", content.strip())
    headline, summary = "", ""
    try:
        data = json.loads(text)
    except ValueError:
        summary = text
    else:
        if isinstance(data, dict):
            headline = str(data.get("headline") or "")
            summary = str(data.get("summary") or "")
    headline = " ".join(headline.split()).strip('"')
    summary = " ".join(summary.split())
    if not summary:
        raise SummarizerFailed("the reply has no summary")
    return headline, truncate(summary, max_words * 5 // 4, unit="words", trim="")


class AbstractiveSummarizer:
    """A Summarizer backed by an OpenAI-compatible endpoint, extractive when that fails."""

    def __init__(
        self,
        url: str,
        model: str,
        *,
        api_key: str | None = None,
        timeout: float = 20.0,
        max_words: int = MAX_WORDS,
        cache_dir: Path | None = None,
        cache_size: int = 512,
        fallback: Callable[[Sequence[Doc]], Summary] = summarize_story,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = endpoint(url)
        self.model = model
        self.api_key = api_key
        self.timeout = timeout
        self.max_words = max_words
        self.cache_dir = cache_dir
        self.cache_size = cache_size
        self.fallback = fallback
        self.transport = transport
        self.last_error: str | None = None
        self.calls = 0  # requests actually sent (for tests and logs)
        self._memory: OrderedDict[str, Summary] = OrderedDict()

    # -- cache -----------------------------------------------------------------

    def _cached(self, key: str) -> Summary | None:
        if key in self._memory:
            self._memory.move_to_end(key)
            return self._memory[key]
        if self.cache_dir is not None:
            path = self.cache_dir / f"{key}.json"
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
                summary = Summary(str(data["headline"]), str(data["summary"]))
            except (OSError, ValueError, KeyError, TypeError):
                return None
            self._remember(key, summary, write=False)
            return summary
        return None

    def _remember(self, key: str, summary: Summary, *, write: bool = True) -> None:
        self._memory[key] = summary
        self._memory.move_to_end(key)
        while len(self._memory) > self.cache_size:
            self._memory.popitem(last=False)
        if write and self.cache_dir is not None:
            try:
                self.cache_dir.mkdir(parents=True, exist_ok=True)
                path = self.cache_dir / f"{key}.json"
                tmp = path.with_suffix(f".{os.getpid()}.tmp")
                tmp.write_text(json.dumps(summary.to_json(), ensure_ascii=False), encoding="utf-8")
                tmp.replace(path)
            except OSError as exc:  # a cache that cannot be written is only slower
                log.warning("summary cache %s not written: %s", self.cache_dir, exc)

    # -- the call --------------------------------------------------------------

    def _request(self, docs: Sequence[Doc]) -> str:
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        payload: dict[str, Any] = {
            "model": self.model,
            "temperature": 0,
            "messages": [
                {"role": "system", "content": SYSTEM_PROMPT},
                {"role": "user", "content": user_prompt(docs)},
            ],
        }
        deadline = time.monotonic() + self.timeout
        self.calls += 1
        with (
            httpx.Client(timeout=httpx.Timeout(self.timeout), transport=self.transport) as client,
            client.stream("POST", self.url, json=payload, headers=headers) as response,
        ):
            if response.status_code != 200:
                raise SummarizerFailed(f"HTTP {response.status_code}")
            body = bytearray()
            for chunk in response.iter_bytes():
                body.extend(chunk)
                if time.monotonic() > deadline:
                    raise SummarizerFailed(f"no complete answer within {self.timeout:g} s")
                if len(body) > MAX_RESPONSE_BYTES:
                    raise SummarizerFailed("the answer is too large")
        try:
            data = json.loads(bytes(body))
            content = data["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise SummarizerFailed("the answer is not a chat completion") from exc
        if not isinstance(content, str):
            raise SummarizerFailed("the answer has no text")
        return content

    def __call__(self, docs: Sequence[Doc]) -> Summary:
        if not docs:
            return self.fallback(docs)
        key = cache_key(self.model, docs)
        cached = self._cached(key)
        if cached is not None:
            return cached
        try:
            headline, summary = parse_reply(self._request(docs), max_words=self.max_words)
        except (SummarizerFailed, httpx.HTTPError) as exc:
            self.last_error = str(exc) or type(exc).__name__
            log.warning("abstractive summary failed (%s); extractive instead", self.last_error)
            return self.fallback(docs)
        self.last_error = None
        if not headline:
            headline = self.fallback(docs).headline
        result = Summary(headline, summary)
        self._remember(key, result)
        return result

"""The I/O edge of the feeds stage: fetch -> parse -> store, for a batch of feeds at once.

One batch runs on one asyncio event loop (``ingest_batch``): every feed is fetched
concurrently, within a global and a per-host limit (``fetch.Limiter``), each under a
total time limit, so a slow or dead server holds one slot and never the batch. Each
fetched response is then parsed and stored on one writer thread with its own
session (the event loop keeps fetching meanwhile); at most ``2 x concurrency``
responses wait in memory. New teaser-only articles then get their page fetched under
the same rules and its main text stored (``brief.feeds.fulltext``).

Batches are the unit of scale: ``refresh_batch`` is the body of the Celery task (one
task per batch, so more workers = more batches at once), and ``refresh_feeds`` runs
the same batches in-process, over a process pool when there are enough feeds to keep
both cores busy (feedparser is pure Python: ~16 ms of CPU for a 50-entry feed).

A feed problem never raises out of here: it is recorded on the Feed row
(``error_count``, ``last_error``, ``next_poll_at`` backed off; a 410 disables the
feed) and reported in the IngestResult, so one broken feed cannot stop the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import importlib
import logging
import multiprocessing
import queue
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from hashlib import sha256
from types import ModuleType
from typing import Any, Literal, TypeVar

import httpx
from sqlalchemy import ColumnElement, Engine, and_, or_, select, update
from sqlalchemy.orm import Session

from brief import store
from brief.db import make_engine, session_factory
from brief.errors import FeedError, FeedGoneError, FeedParseError, FetchError
from brief.feeds import schedule
from brief.feeds.fetch import FetchConfig, Limiter, fetch_feed, fetch_page, make_client
from brief.feeds.normalize import title_key as _title_key
from brief.feeds.parse import parse_feed
from brief.models import Article, Feed
from brief.types import FetchResult, ParsedArticle, ParsedFeed

log = logging.getLogger(__name__)

T = TypeVar("T")
Status = Literal["ok", "not_modified", "error", "disabled"]
SessionFactory = Callable[[], Session]

# A published date further ahead than this is a feed bug (bad time zone, scheduled post);
# such an entry is dated when we first saw it, so it cannot sit atop every digest.
FUTURE_TOLERANCE = timedelta(hours=1)
# The same title from the same feed within this window is the same article.
TITLE_WINDOW = timedelta(days=3)
# Shorter title keys ("live", "podcast", "morning briefing") are too generic to merge on.
MIN_TITLE_KEY = 16
# Only articles this recent get their page fetched: older ones will not make an edition.
FULLTEXT_WINDOW = timedelta(days=2)
# Below this many feeds a process pool costs more (interpreter start-up) than it saves.
POOL_MIN_FEEDS = 150


@dataclass(frozen=True)
class IngestConfig:
    """Plain values for a batch (picklable: it crosses to pool processes)."""

    fetch: FetchConfig
    poll: schedule.PollPolicy = field(default_factory=schedule.PollPolicy)
    fulltext: bool = True
    fulltext_per_feed: int = 10  # article pages fetched per feed per poll, at most
    fulltext_concurrency: int = 8  # article pages fetched at once, per batch
    fulltext_max_bytes: int = 5 * 1024 * 1024


@dataclass(frozen=True)
class IngestResult:
    feed_id: int
    url: str
    status: Status
    new_articles: int = 0
    error: str | None = None
    updated_articles: int = 0
    full_texts: int = 0  # article pages whose main text was stored
    moved_to: str | None = None  # the feed's new URL, after a permanent redirect
    next_poll_at: datetime | None = None


@dataclass(frozen=True)
class Stored:
    """What ``store_articles`` did with a parsed feed."""

    new: int = 0
    updated: int = 0
    teasers: tuple[tuple[int, str], ...] = ()  # (article id, link) of new teaser-only rows


# -- running batches -------------------------------------------------------


def refresh_feeds(
    engine: Engine,
    feed_ids: Iterable[int],
    config: IngestConfig,
    now: datetime,
    *,
    processes: int = 1,
    pool_min: int = POOL_MIN_FEEDS,
) -> list[IngestResult]:
    """Refresh many feeds; results are in the order of ``feed_ids``.

    With ``processes > 1`` and enough feeds, the ids are split into one batch per
    process and run in a process pool (each process: its own engine, event loop and
    HTTP client); otherwise one batch runs here.
    """
    ids = list(dict.fromkeys(feed_ids))
    if not ids:
        return []
    url = engine.url.render_as_string(hide_password=False)
    in_memory = engine.url.get_backend_name() == "sqlite" and engine.url.database in (
        None,
        "",
        ":memory:",
    )
    if processes <= 1 or len(ids) < pool_min or in_memory:
        return refresh_batch(engine, ids, config, now)
    count = min(processes, len(ids))
    chunks = [ids[i::count] for i in range(count)]  # interleaved: hosts spread evenly
    context = _pool_context(config.fulltext)
    by_id: dict[int, IngestResult] = {}
    with ProcessPoolExecutor(count, mp_context=context) as pool:
        futures = [pool.submit(_batch_in_child, url, chunk, config, now) for chunk in chunks]
        for chunk, future in zip(chunks, futures, strict=True):
            try:
                results = future.result()
            except Exception as exc:  # the process died: report its feeds, keep the others
                log.exception("an ingest process failed")
                results = [_crashed(i, exc) for i in chunk]
            by_id.update((r.feed_id, r) for r in results)
    return [by_id[i] for i in ids]


def _pool_context(fulltext: bool) -> multiprocessing.context.BaseContext:
    """forkserver where there is one, else spawn; never a plain fork of this process.

    The parent may run threads (a web server, a test feed server), which a fork would
    copy mid-flight. The forkserver is a fresh process that imports the ingest code
    once (the first time it is needed; it lives as long as this process); each pool
    process is then forked from it in milliseconds, sharing those pages.
    """
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    preload = ["brief.feeds.ingest", "anyio._backends._asyncio", "httpcore._backends.anyio"]
    if fulltext:
        preload.append("brief.feeds.fulltext")
    context.set_forkserver_preload(preload)  # only the first call counts; missing: skipped
    return context


def _batch_in_child(
    url: str, ids: list[int], config: IngestConfig, now: datetime
) -> list[IngestResult]:
    engine = make_engine(url)
    try:
        return refresh_batch(engine, ids, config, now)
    finally:
        engine.dispose()


def refresh_batch(
    engine: Engine, feed_ids: Sequence[int], config: IngestConfig, now: datetime
) -> list[IngestResult]:
    """One batch on a fresh event loop: the body of the Celery batch task."""
    return asyncio.run(ingest_batch(session_factory(engine), feed_ids, config, now))


async def ingest_batch(
    factory: SessionFactory, feed_ids: Sequence[int], config: IngestConfig, now: datetime
) -> list[IngestResult]:
    """Fetch, parse and store ``feed_ids`` concurrently; results in the order given."""
    ids = list(feed_ids)
    if not ids:
        return []
    with factory() as session:
        rows = session.execute(select(*_SNAPSHOT).where(Feed.id.in_(ids))).all()
    feeds = {r.id: _Snapshot(*r) for r in rows}
    fetch = config.fetch
    limiter = Limiter(fetch.concurrency, fetch.per_host)
    pages = limiter.sharing_hosts(config.fulltext_concurrency)  # article pages
    waiting = asyncio.Semaphore(2 * fetch.concurrency)  # fetched, not yet stored
    writer = _Writer(factory, config, now, asyncio.get_running_loop())
    extract = _fulltext_module() if config.fulltext else None

    async def one(client: httpx.AsyncClient, feed_id: int) -> IngestResult:
        feed = feeds.get(feed_id)
        if feed is None:  # deleted since it was scheduled
            return IngestResult(feed_id, "", "error", error=f"no feed with id {feed_id}")
        if feed.disabled_at is not None:
            return IngestResult(feed_id, feed.url, "disabled", error="disabled")
        outcome: FetchResult | FeedError
        # The host's slot is held for the fetch only; the backlog slot until stored.
        host = limiter.host(feed.url)
        await host.acquire()
        try:
            await waiting.acquire()
        except BaseException:
            host.release()
            raise
        try:
            try:
                async with limiter.total():
                    outcome = await fetch_feed(
                        client,
                        feed.url,
                        etag=feed.etag,
                        last_modified=feed.last_modified,
                        max_bytes=fetch.max_bytes,
                        timeout=fetch.timeout,
                    )
            except FeedError as exc:
                outcome = exc
            finally:
                host.release()
            result, teasers = await writer.submit(feed, outcome)
        finally:
            waiting.release()
        if teasers and extract is not None:
            done = await _full_texts(client, pages, writer, teasers, config, extract)
            result = replace(result, full_texts=done)
        return result

    async def guarded(client: httpx.AsyncClient, feed_id: int) -> IngestResult:
        try:
            return await one(client, feed_id)
        except Exception as exc:  # a database problem: report it, let the other feeds run
            log.exception("refreshing feed %s failed", feed_id)
            return _crashed(feed_id, exc)

    writer.start()
    try:
        async with make_client(fetch, extra_connections=config.fulltext_concurrency) as client:
            return list(await asyncio.gather(*(guarded(client, i) for i in ids)))
    finally:
        writer.stop()


def _crashed(feed_id: int, exc: BaseException) -> IngestResult:
    return IngestResult(feed_id, "", "error", error=f"{type(exc).__name__}: {exc}")


# -- responses -> the database (on the writer thread) ----------------------

_SNAPSHOT = (
    Feed.id,
    Feed.url,
    Feed.etag,
    Feed.last_modified,
    Feed.disabled_at,
    Feed.title,
    Feed.hints,
    Feed.last_new_article_at,
    Feed.error_count,
)


@dataclass(frozen=True)
class _Snapshot:
    """The Feed columns a refresh needs, read once per batch."""

    id: int
    url: str
    etag: str | None
    last_modified: str | None
    disabled_at: datetime | None
    title: str | None
    hints: dict[str, Any] | None
    last_new_article_at: datetime | None
    error_count: int | None


Processed = tuple[IngestResult, tuple[tuple[int, str], ...]]


@dataclass
class _Job:
    feed: _Snapshot
    outcome: FetchResult | FeedError
    future: asyncio.Future[Processed]
    parsed: ParsedFeed | None = None
    status: int | None = None  # the HTTP status of a 200 whose body failed to parse


class _Writer:
    """One thread that parses responses and writes them, many feeds per transaction.

    The event loop hands over each response and awaits its result. The thread takes
    every response waiting (up to GROUP), parses the 200s (no transaction open, so a
    SQLite write lock is never held while parsing), then writes the whole group in
    one transaction: few commits, short locks. If the group fails, each feed is
    written alone, so one feed's database error costs only that feed.
    """

    GROUP = 32

    def __init__(
        self,
        factory: SessionFactory,
        config: IngestConfig,
        now: datetime,
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        self.factory, self.config, self.now, self.loop = factory, config, now, loop
        self._queue: queue.SimpleQueue[_Job | Callable[[], Any] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="brief-store", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._queue.put(None)
        self._thread.join()

    def submit(
        self, feed: _Snapshot, outcome: FetchResult | FeedError
    ) -> asyncio.Future[Processed]:
        future: asyncio.Future[Processed] = self.loop.create_future()
        self._queue.put(_Job(feed, outcome, future))
        return future

    async def call(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` on the writer thread (between groups) and await its result."""
        future: asyncio.Future[T] = self.loop.create_future()

        def task() -> None:
            try:
                value = fn()
            except BaseException as exc:
                self._settle(future, exc)
            else:
                self._settle(future, value)

        self._queue.put(task)
        return await future

    def _settle(self, future: asyncio.Future[Any], value: Any) -> None:
        def settle() -> None:
            if future.done():
                return
            if isinstance(value, BaseException):
                future.set_exception(value)
            else:
                future.set_result(value)

        # RuntimeError: the loop is gone (the batch was cancelled), so nobody waits.
        with contextlib.suppress(RuntimeError):
            self.loop.call_soon_threadsafe(settle)

    def _run(self) -> None:
        stopping = False
        while not stopping:
            items = [self._queue.get()]
            while len(items) < self.GROUP:
                try:
                    items.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            jobs: list[_Job] = []
            for item in items:
                if item is None:
                    stopping = True
                elif isinstance(item, _Job):
                    jobs.append(item)
                else:
                    item()
            try:
                if jobs:
                    self._write_group(jobs)
            except Exception as exc:  # a bug here must fail these feeds, not hang the batch
                log.exception("the store thread failed")
                for job in jobs:
                    self._settle(job.future, exc)

    def _write_group(self, jobs: list[_Job]) -> None:
        for job in jobs:
            self._parse(job)
        try:
            with self.factory() as session:
                results = [_write(session, job, self.config, self.now) for job in jobs]
                session.commit()
        except Exception as exc:
            if len(jobs) == 1:
                log.exception("storing feed %s failed", jobs[0].feed.id)
                self._settle(jobs[0].future, exc)
                return
            for job in jobs:  # alone, so only the culprit fails
                self._write_group([job])
            return
        for job, result in zip(jobs, results, strict=True):
            self._settle(job.future, result)

    def _parse(self, job: _Job) -> None:
        outcome = job.outcome
        if job.parsed is not None or not isinstance(outcome, FetchResult):
            return
        if outcome.not_modified:
            return
        try:
            job.parsed = _parse(outcome.url, outcome.content or b"", outcome.headers)
        except FeedError as exc:
            job.outcome, job.status = exc, outcome.status


def _write(session: Session, job: _Job, config: IngestConfig, now: datetime) -> Processed:
    feed, outcome = job.feed, job.outcome
    if isinstance(outcome, FeedError):
        return _failed(session, feed, outcome, job.status, config, now), ()
    values: dict[str, Any] = {
        "last_fetched_at": now,
        "last_status": outcome.status,
        "last_success_at": now,
        "error_count": 0,
        "last_error": None,
    }
    stored, hints, last_new = Stored(), feed.hints, feed.last_new_article_at
    if job.parsed is not None:
        parsed = job.parsed
        stored = store_articles(session, feed.id, parsed, now, fulltext=config.fulltext)
        hints = schedule.hints_from(
            ttl_minutes=parsed.ttl_minutes,
            update_period_minutes=parsed.update_period_minutes,
            skip_hours=parsed.skip_hours,
            entry_dates=(a.published_at for a in parsed.articles),
            now=now,
        ).to_json()
        values.update(etag=outcome.etag, last_modified=outcome.last_modified, hints=hints)
        values["site_url"] = _truncate(parsed.link, 2048) or Feed.site_url
        if not feed.title and parsed.title:
            values["title"] = _truncate(parsed.title, 500)
        if stored.new:
            values["last_new_article_at"] = last_new = now
    moved = _moved(session, feed, outcome.moved_to)
    if moved:
        values["url"] = moved
    plan = schedule.after_success(now, config.poll, schedule.FeedHints.from_json(hints), last_new)
    values.update(next_poll_at=plan.next_poll_at, poll_interval_minutes=plan.interval_minutes)
    session.execute(update(Feed).where(Feed.id == feed.id).values(**values))
    status: Status = "not_modified" if outcome.not_modified else "ok"
    result = IngestResult(
        feed.id,
        feed.url,
        status,
        new_articles=stored.new,
        updated_articles=stored.updated,
        moved_to=moved,
        next_poll_at=plan.next_poll_at,
    )
    return result, stored.teasers


def _moved(session: Session, feed: _Snapshot, moved_to: str | None) -> str | None:
    """Follow a permanent redirect: the feed's URL becomes the new one, unless taken."""
    if not moved_to or moved_to == feed.url or len(moved_to) > 2048:
        return None
    if store.get_feed_by_url(session, moved_to) is not None:
        log.warning("feed %s moved to %s, which is already a feed; URL kept", feed.id, moved_to)
        return None
    log.info("feed %s moved permanently: %s -> %s", feed.id, feed.url, moved_to)
    return moved_to


def _failed(
    session: Session,
    feed: _Snapshot,
    exc: FeedError,
    status: int | None,
    config: IngestConfig,
    now: datetime,
) -> IngestResult:
    errors = (feed.error_count or 0) + 1
    values: dict[str, Any] = {
        "error_count": errors,
        "last_error": exc.message,
        "last_fetched_at": now,
        "last_status": exc.status or status,
    }
    next_poll: datetime | None = None
    if isinstance(exc, FeedGoneError) and exc.status == 410:
        # Gone for good, says the server: stop polling (`brief feeds add URL` re-enables).
        values.update(disabled_at=now, disabled_reason=exc.message, next_poll_at=None)
    else:
        retry_after = exc.retry_after if isinstance(exc, FetchError) else None
        hints = schedule.FeedHints.from_json(feed.hints)
        plan = schedule.after_error(now, config.poll, errors, hints, retry_after)
        next_poll = plan.next_poll_at
        values.update(next_poll_at=next_poll, poll_interval_minutes=plan.interval_minutes)
    session.execute(update(Feed).where(Feed.id == feed.id).values(**values))
    log.warning("feed %s: %s", feed.id, exc)
    return IngestResult(feed.id, feed.url, "error", error=exc.message, next_poll_at=next_poll)


def _parse(url: str, content: bytes, headers: dict[str, str]) -> ParsedFeed:
    try:
        return parse_feed(url, content, headers)
    except FeedError:
        raise
    except Exception as exc:  # a parser bug must look like a bad feed, not crash the run
        log.exception("parsing %s crashed", url)
        raise FeedParseError(url, f"could not parse feed: {type(exc).__name__}: {exc}") from exc


# -- storing articles: dedup and updates -----------------------------------


def store_articles(
    session: Session, feed_id: int, parsed: ParsedFeed, now: datetime, *, fulltext: bool = False
) -> Stored:
    """Insert the new entries and update the edited ones. Does not commit.

    An entry is one already stored for this feed when it has the same guid, the same
    (canonical) link, or the same title within TITLE_WINDOW of it (feeds change guids
    on edits, and republish with new links). Such an entry updates the stored row
    when its content changed (``content_hash``), unless the stored copy says it is
    newer (``updated_at``). With ``fulltext``, new teaser-only rows published within
    FULLTEXT_WINDOW are listed in ``Stored.teasers`` for their page to be fetched.
    """
    rows = [_row(feed_id, a, now) for a in parsed.articles]
    existing = _Existing(_stored_matches(session, feed_id, rows))
    fresh: list[dict[str, Any]] = []
    batch = _Existing([])
    updated = 0
    for row in rows:
        if batch.match(row) is not None:
            continue  # the feed lists this entry twice: the first copy wins
        batch.add(row)
        match = existing.match(row)
        if match is None:
            fresh.append(row)
        elif _is_update(match, row):
            _update(session, match, row)
            updated += 1
    inserted = store.insert_articles(session, fresh)
    teasers = tuple(
        (article_id, row["link"])
        for row in fresh
        if fulltext
        and row["published_at"] >= now - FULLTEXT_WINDOW
        and (article_id := inserted.get(row["guid"])) is not None
        and row["link"]
        and _is_teaser(row["summary_text"])
    )
    return Stored(new=len(inserted), updated=updated, teasers=teasers)


_MATCH_COLUMNS = (
    Article.id,
    Article.guid,
    Article.link,
    Article.title_key,
    Article.published_at,
    Article.updated_at,
    Article.content_hash,
)


def _stored_matches(session: Session, feed_id: int, rows: list[dict[str, Any]]) -> list[Any]:
    """The stored rows of this feed sharing a guid, link or title key with ``rows``."""
    if not rows:
        return []
    guids = {r["guid"] for r in rows}
    links = {r["link"] for r in rows if r["link"]}
    keys = {r["title_key"] for r in rows if r["title_key"]}
    earliest = min(r["published_at"] for r in rows) - TITLE_WINDOW
    conditions: list[ColumnElement[bool]] = [Article.guid.in_(guids)]
    if links:
        conditions.append(Article.link.in_(links))
    if keys:
        conditions.append(and_(Article.title_key.in_(keys), Article.published_at >= earliest))
    query = select(*_MATCH_COLUMNS).where(Article.feed_id == feed_id, or_(*conditions))
    return list(session.execute(query).all())


class _Existing:
    """Stored (or already seen) entries, indexed by guid, link and title key."""

    def __init__(self, rows: Iterable[Any]) -> None:
        self.by_guid: dict[str, Any] = {}
        self.by_link: dict[str, Any] = {}
        self.by_title: dict[str, list[Any]] = {}
        for row in rows:
            self.add(row)

    def add(self, row: Any) -> None:
        guid, link, key = _get(row, "guid"), _get(row, "link"), _get(row, "title_key")
        self.by_guid.setdefault(guid, row)
        if link:
            self.by_link.setdefault(link, row)
        if key:
            self.by_title.setdefault(key, []).append(row)

    def match(self, row: dict[str, Any]) -> Any | None:
        found = self.by_guid.get(row["guid"])
        if found is None and row["link"]:
            found = self.by_link.get(row["link"])
        if found is None and row["title_key"]:
            for candidate in self.by_title.get(row["title_key"], ()):
                when = _get(candidate, "published_at")
                if abs(when - row["published_at"]) <= TITLE_WINDOW:
                    return candidate
        return found


def _get(row: Any, name: str) -> Any:
    return row[name] if isinstance(row, dict) else getattr(row, name)


def _is_update(stored: Any, row: dict[str, Any]) -> bool:
    if stored.content_hash == row["content_hash"]:
        return False
    newer, older = row["updated_at"], stored.updated_at
    return not (newer is not None and older is not None and newer <= older)


def _update(session: Session, stored: Any, row: dict[str, Any]) -> None:
    values = {
        k: row[k]
        for k in (
            "title",
            "summary_text",
            "summary_html",
            "author",
            "image_url",
            "image_alt",
            "categories",
            "updated_at",
            "content_hash",
            "title_key",
        )
    }
    if row["link"] and not stored.link:
        values["link"] = row["link"]
    session.execute(update(Article).where(Article.id == stored.id).values(**values))


def _row(feed_id: int, article: ParsedArticle, now: datetime) -> dict[str, Any]:
    published = article.published_at
    if published is None or published > now + FUTURE_TOLERANCE:
        published = now
    link = article.link if article.link and len(article.link) <= 2048 else None
    image = article.image_url if article.image_url and len(article.image_url) <= 2048 else None
    key = _title_key(article.title)[:300]
    content = "\x1f".join(
        [article.title, link or "", article.summary_text, image or "", *article.categories]
    )
    return {
        "feed_id": feed_id,
        "guid": _fit_guid(article.guid),
        "link": link,
        "title": article.title,
        "summary_text": article.summary_text,
        "summary_html": article.summary_html,
        "author": _truncate(article.author, 500),
        "image_url": image,
        "image_alt": _truncate(article.image_alt, 500),
        "categories": list(article.categories) or None,
        "published_at": published,
        "updated_at": article.updated_at,
        "fetched_at": now,
        "content_hash": sha256(content.encode()).hexdigest(),
        "title_key": key if len(key) >= MIN_TITLE_KEY else None,
    }


def _fit_guid(guid: str) -> str:
    # The column holds 1024 characters; a longer guid is replaced by its stable digest.
    return guid if len(guid) <= 1024 else "sha256:" + sha256(guid.encode()).hexdigest()


def _truncate(value: str | None, limit: int) -> str | None:
    return value[:limit] if value else None


# -- full text -------------------------------------------------------------


@functools.cache
def _fulltext_module() -> ModuleType | None:
    """brief.feeds.fulltext (trafilatura), or None when it is not importable."""
    try:
        return importlib.import_module("brief.feeds.fulltext")
    except ImportError:
        log.warning("full-text extraction unavailable (brief.feeds.fulltext not importable)")
        return None


def _is_teaser(text: str) -> bool:
    module = _fulltext_module()
    return module is not None and bool(module.is_teaser(text))


async def _full_texts(
    client: httpx.AsyncClient,
    limiter: Limiter,
    writer: _Writer,
    teasers: Sequence[tuple[int, str]],
    config: IngestConfig,
    module: ModuleType,
) -> int:
    """Fetch the pages of new teaser-only articles and store their main text.

    Any failure (refused, too big, not HTML, nothing extracted) keeps the teaser.
    """
    fetch = config.fetch

    async def one(article_id: int, link: str) -> bool:
        try:
            async with limiter.host(link), limiter.total():
                final_url, html = await fetch_page(
                    client,
                    link,
                    max_bytes=min(fetch.max_bytes, config.fulltext_max_bytes),
                    timeout=fetch.timeout,
                )
        except FeedError as exc:
            log.info("full text of %s not fetched: %s", link, exc.message)
            return False
        return await writer.call(
            lambda: _store_full_text(writer.factory, module, article_id, final_url, html)
        )

    picked = list(teasers)[: config.fulltext_per_feed]
    done = await asyncio.gather(*(one(i, link) for i, link in picked))
    return sum(done)


def _store_full_text(
    factory: SessionFactory, module: ModuleType, article_id: int, url: str, html: str
) -> bool:
    try:
        text = module.extract_main_text(html, url)
    except Exception:  # an extractor bug costs this article its full text, nothing more
        log.exception("extracting the main text of %s failed", url)
        return False
    if not text:
        return False
    with factory() as session:
        session.execute(update(Article).where(Article.id == article_id).values(full_text=text))
        session.commit()
    return True

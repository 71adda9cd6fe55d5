"""The I/O edge of the feeds stage: fetch -> parse -> store, for a batch of feeds at once.

One batch runs on one asyncio event loop (``ingest_batch``): every feed is fetched
concurrently, within a global and a per-host limit (``fetch.Limiter``), each under a
total time limit, so a slow or dead server holds one slot and never the batch. Each
fetched response is then parsed and stored on one writer thread with its own
session (``brief.feeds.writer``; the event loop keeps fetching meanwhile); at most
``2 x concurrency`` responses wait in memory. New teaser-only articles then get their
page fetched under the same rules and its main text stored (``brief.feeds.fulltext``).

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
import functools
import importlib
import logging
import multiprocessing
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from types import ModuleType

import httpx
from sqlalchemy import Engine

from brief import store
from brief.db import make_engine, session_factory, session_scope
from brief.errors import FeedError
from brief.feeds import quarantine, schedule
from brief.feeds.fetch import FetchConfig, Limiter, fetch_feed, fetch_page, make_client
from brief.feeds.writer import IngestResult, SessionFactory, Writer
from brief.types import FeedQuarantine, FetchResult, RefreshStatus

log = logging.getLogger(__name__)

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
    max_items: int | None = 200  # entries stored per feed per fetch, the newest


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


def start_batch(
    engine: Engine,
    feed_ids: Sequence[int],
    poll: schedule.PollPolicy,
    now: datetime,
    time_limit: timedelta,
) -> quarantine.Triage:
    """Before a queued batch is fetched: set aside its poison feeds, mark the rest in flight.

    Committed before any fetch, so that if this process dies the next task to pick
    these feeds up knows which were in flight (brief.feeds.quarantine decides).
    """
    with session_scope(engine) as session:
        found = store.fetch_markers(session, feed_ids)
        markers = [m for m, _ in found]
        plan = quarantine.triage(markers, alone=len(found) == 1, dead_before=now - time_limit)
        lost = {m.feed_id: m.lost + (m.started_at is not None) for m, _ in found}
        store.set_in_flight(session, {i: lost[i] for i in plan.alone}, None)
        for marker, errors in found:
            losses = plan.quarantine.get(marker.feed_id)
            if losses is None:
                continue
            why = quarantine.reason(losses)
            log.warning("feed %s quarantined: %s", marker.feed_id, why)
            store.quarantine_feed(
                session,
                FeedQuarantine(
                    feed_id=marker.feed_id,
                    at=now,
                    reason=why,
                    lost_count=losses,
                    error_count=errors + 1,
                    next_poll_at=schedule.after_error(now, poll, errors + 1).next_poll_at,
                ),
            )
        store.set_in_flight(session, {i: lost[i] for i in plan.run}, now)
    return plan


def finish_batch(engine: Engine, feed_ids: Sequence[int]) -> None:
    """The batch's process lived to the end: none of its feeds is in flight any more."""
    with session_scope(engine) as session:
        store.clear_in_flight(session, feed_ids)


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
        feeds = store.feeds_for_update(session, ids)
    fetch = config.fetch
    limiter = Limiter(fetch.concurrency, fetch.per_host)
    pages = limiter.sharing_hosts(config.fulltext_concurrency)  # article pages
    waiting = asyncio.Semaphore(2 * fetch.concurrency)  # fetched, not yet stored
    extract = _fulltext_module() if config.fulltext else None
    is_teaser = extract.is_teaser if extract is not None else None
    writer = Writer(
        factory,
        config.poll,
        now,
        asyncio.get_running_loop(),
        is_teaser=is_teaser,
        max_items=config.max_items,
    )

    async def one(client: httpx.AsyncClient, feed_id: int) -> IngestResult:
        feed = feeds.get(feed_id)
        if feed is None:  # deleted since it was scheduled
            return IngestResult(
                feed_id, "", RefreshStatus.ERROR, error=f"no feed with id {feed_id}"
            )
        if feed.disabled_at is not None:
            return IngestResult(feed_id, feed.url, RefreshStatus.DISABLED, error="disabled")
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
    return IngestResult(feed_id, "", RefreshStatus.ERROR, error=f"{type(exc).__name__}: {exc}")


# -- full text -------------------------------------------------------------


@functools.cache
def _fulltext_module() -> ModuleType | None:
    """brief.feeds.fulltext (trafilatura), or None when it is not importable."""
    try:
        return importlib.import_module("brief.feeds.fulltext")
    except ImportError:
        log.warning("full-text extraction unavailable (brief.feeds.fulltext not importable)")
        return None


async def _full_texts(
    client: httpx.AsyncClient,
    limiter: Limiter,
    writer: Writer,
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
            async with limiter.slot(link):
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
        store.set_full_text(session, article_id, text)
        session.commit()
    return True

"""The writer thread of an ingest batch: fetched responses -> parsed -> stored.

The event loop (brief.feeds.ingest) hands each feed's fetch outcome to one ``Writer``
and awaits its ``IngestResult``. The thread parses the 200s and records every outcome
on its Feed row (the next poll from brief.feeds.schedule, the new and edited articles
from brief.feeds.dedup), through the store's typed intents.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from brief import store
from brief.errors import FeedError, FeedGoneError, FeedParseError, FetchError
from brief.feeds import dedup, schedule
from brief.feeds.parse import parse_feed
from brief.types import (
    NAME_LENGTH,
    URL_LENGTH,
    FeedContent,
    FeedFailure,
    FeedForUpdate,
    FeedUpdate,
    FetchResult,
    ParsedFeed,
    RefreshStatus,
)

log = logging.getLogger(__name__)

T = TypeVar("T")
SessionFactory = Callable[[], Session]
IsTeaser = Callable[[str], bool]

# Only articles this recent get their page fetched: older ones will not make an edition.
FULLTEXT_WINDOW = timedelta(days=2)


@dataclass(frozen=True)
class IngestResult:
    feed_id: int
    url: str
    status: RefreshStatus
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


Processed = tuple[IngestResult, tuple[tuple[int, str], ...]]


@dataclass
class _Job:
    feed: FeedForUpdate
    outcome: FetchResult | FeedError
    future: asyncio.Future[Processed]
    parsed: ParsedFeed | None = None
    status: int | None = None  # the HTTP status of a 200 whose body failed to parse


class Writer:
    """One thread that parses responses and writes them, many feeds per transaction.

    The event loop hands over each response and awaits its result. The thread takes
    every response waiting (up to GROUP), parses the 200s (no transaction open, so a
    SQLite write lock is never held while parsing), then writes the whole group in
    one transaction: few commits, short locks. If the group fails, each feed is
    written alone, so one feed's database error costs only that feed.

    With ``is_teaser``, new teaser-only articles are listed for their page to be fetched.
    """

    GROUP = 32

    def __init__(
        self,
        factory: SessionFactory,
        poll: schedule.PollPolicy,
        now: datetime,
        loop: asyncio.AbstractEventLoop,
        *,
        is_teaser: IsTeaser | None = None,
        max_items: int | None = None,
    ) -> None:
        self.factory, self.poll, self.now, self.loop = factory, poll, now, loop
        self.is_teaser = is_teaser
        self.max_items = max_items  # entries stored per fetch, the newest
        self._queue: queue.SimpleQueue[_Job | Callable[[], Any] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="brief-store", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._queue.put(None)
        self._thread.join()

    def submit(
        self, feed: FeedForUpdate, outcome: FetchResult | FeedError
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
                results = [self._write(session, job) for job in jobs]
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
            parsed = _parse(outcome.url, outcome.content or b"", outcome.headers)
            if self.max_items is not None and len(parsed.articles) > self.max_items:
                log.warning(
                    "feed %s lists %d entries: the newest %d kept",
                    job.feed.id,
                    len(parsed.articles),
                    self.max_items,
                )
                parsed = replace(parsed, articles=dedup.newest(parsed.articles, self.max_items))
            job.parsed = parsed
        except FeedError as exc:
            job.outcome, job.status = exc, outcome.status

    def _write(self, session: Session, job: _Job) -> Processed:
        outcome = job.outcome
        if isinstance(outcome, FeedError):
            return _failed(session, job.feed, outcome, job.status, self.poll, self.now), ()
        return _fetched(session, job.feed, outcome, job.parsed, self.poll, self.now, self.is_teaser)


def _fetched(
    session: Session,
    feed: FeedForUpdate,
    outcome: FetchResult,
    parsed: ParsedFeed | None,
    poll: schedule.PollPolicy,
    now: datetime,
    is_teaser: IsTeaser | None,
) -> Processed:
    """Record a 200 (``parsed``) or a 304 (None) on the feed, and a 200's articles."""
    stored, hints, content = Stored(), feed.hints, None
    if parsed is not None:
        stored = store_articles(session, feed.id, parsed, now, is_teaser=is_teaser)
        hints = schedule.hints_from(
            ttl_minutes=parsed.ttl_minutes,
            update_period_minutes=parsed.update_period_minutes,
            skip_hours=parsed.skip_hours,
            entry_dates=(a.published_at for a in parsed.articles),
            now=now,
        ).to_json()
        content = FeedContent(
            etag=outcome.etag,
            last_modified=outcome.last_modified,
            hints=hints,
            site_url=parsed.link[:URL_LENGTH] if parsed.link else None,
            title=parsed.title[:NAME_LENGTH] if parsed.title and not feed.title else None,
        )
    new_article_at = now if stored.new else None
    last_new = new_article_at or feed.last_new_article_at
    moved = _moved(session, feed, outcome.moved_to)
    plan = schedule.after_success(now, poll, schedule.FeedHints.from_json(hints), last_new)
    store.record_fetch(
        session,
        FeedUpdate(
            feed_id=feed.id,
            fetched_at=now,
            status=outcome.status,
            next_poll_at=plan.next_poll_at,
            poll_interval_minutes=plan.interval_minutes,
            content=content,
            new_article_at=new_article_at,
            url=moved,
        ),
    )
    status = RefreshStatus.NOT_MODIFIED if outcome.not_modified else RefreshStatus.OK
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


def _moved(session: Session, feed: FeedForUpdate, moved_to: str | None) -> str | None:
    """Follow a permanent redirect: the feed's URL becomes the new one, unless taken."""
    if not moved_to or moved_to == feed.url or len(moved_to) > URL_LENGTH:
        return None
    if store.get_feed_by_url(session, moved_to) is not None:
        log.warning("feed %s moved to %s, which is already a feed; URL kept", feed.id, moved_to)
        return None
    log.info("feed %s moved permanently: %s -> %s", feed.id, feed.url, moved_to)
    return moved_to


def _failed(
    session: Session,
    feed: FeedForUpdate,
    exc: FeedError,
    status: int | None,
    poll: schedule.PollPolicy,
    now: datetime,
) -> IngestResult:
    errors = (feed.error_count or 0) + 1
    if isinstance(exc, FeedGoneError) and exc.status == 410:
        # Gone for good, says the server: stop polling (`brief feeds add URL` re-enables).
        next_poll, interval, disabled = None, None, True
    else:
        retry_after = exc.retry_after if isinstance(exc, FetchError) else None
        hints = schedule.FeedHints.from_json(feed.hints)
        plan = schedule.after_error(now, poll, errors, hints, retry_after)
        next_poll, interval, disabled = plan.next_poll_at, plan.interval_minutes, False
    store.record_failure(
        session,
        FeedFailure(
            feed_id=feed.id,
            fetched_at=now,
            status=exc.status or status,
            error=exc.message,
            error_count=errors,
            next_poll_at=next_poll,
            poll_interval_minutes=interval,
            disabled=disabled,
        ),
    )
    log.warning("feed %s: %s", feed.id, exc)
    return IngestResult(
        feed.id, feed.url, RefreshStatus.ERROR, error=exc.message, next_poll_at=next_poll
    )


def _parse(url: str, content: bytes, headers: dict[str, str]) -> ParsedFeed:
    try:
        return parse_feed(url, content, headers)
    except FeedError:
        raise
    except Exception as exc:  # a parser bug must look like a bad feed, not crash the run
        log.exception("parsing %s crashed", url)
        raise FeedParseError(url, f"could not parse feed: {type(exc).__name__}: {exc}") from exc


def store_articles(
    session: Session,
    feed_id: int,
    parsed: ParsedFeed,
    now: datetime,
    *,
    is_teaser: IsTeaser | None = None,
) -> Stored:
    """Insert the new entries and update the edited ones (brief.feeds.dedup decides).

    Does not commit. With ``is_teaser``, new teaser-only rows published within
    FULLTEXT_WINDOW are listed in ``Stored.teasers`` for their page to be fetched.
    """
    entries = [dedup.article_data(feed_id, a, now) for a in parsed.articles]
    candidates = store.articles_for_update(session, feed_id, entries, dedup.TITLE_WINDOW)
    decision = dedup.decide(entries, candidates)
    for edit in decision.updates:
        store.update_article(session, edit)
    inserted = store.insert_articles(session, decision.new)
    teasers = tuple(
        (article_id, entry.link)
        for entry in decision.new
        if is_teaser is not None
        and entry.published_at >= now - FULLTEXT_WINDOW
        and (article_id := inserted.get(entry.guid)) is not None
        and entry.link
        and is_teaser(entry.summary_text)
    )
    return Stored(new=len(inserted), updated=len(decision.updates), teasers=teasers)

"""One feed cannot flood a day: entries stored per fetch, and articles an edition reads.

A feed listing thousands of entries has only its newest BRIEF_MAX_ITEMS_PER_FETCH
stored; an edition window holding tens of thousands of one feed's articles (many
fetches in a day) is read newest first, at most BRIEF_MAX_ARTICLES_PER_FEED_WINDOW of
each feed and BRIEF_MAX_ARTICLES_PER_WINDOW in all, so the build's time and memory
stay bounded (measured in a child process).
"""

from __future__ import annotations

import multiprocessing
import time
import traceback
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, func, insert, select

from brief import runtime, store
from brief.config import Settings
from brief.db import make_engine, session_scope
from brief.editions import build_edition
from brief.feeds.ingest import refresh_batch
from brief.models import Article
from tests.factories import CTX, add_feed_with_articles
from tests.feedserver import FeedServer
from tests.floods import rss
from tests.integration.test_ingest import CONFIG, add_feed
from tests.memory import peak_rss

MB = 1024 * 1024


def test_a_fetch_stores_only_the_newest_entries(engine: Engine) -> None:
    now = datetime.now(UTC)
    with FeedServer() as server:
        feed_id = add_feed(engine, server.add("/flood.xml", rss("https://flood.test", 1_000)))
        [result] = refresh_batch(engine, [feed_id], CONFIG, now)  # max_items: 200
    assert result.error is None and result.new_articles == 200
    with session_scope(engine) as session:
        links = set(session.scalars(select(Article.link)))
    assert links == {f"https://flood.test/{i}" for i in range(200)}  # item i is i s old


def test_the_window_is_read_newest_first_per_feed_and_in_all(engine: Engine) -> None:
    now = datetime.now(UTC)
    with session_scope(engine) as session:
        flood = add_feed_with_articles(
            session, "https://flood.test/feed", "world", [f"F{i}" for i in range(50)], now=now
        )
        usual = add_feed_with_articles(
            session, "https://usual.test/feed", "world", [f"U{i}" for i in range(5)], now=now
        )
    start, end = now - timedelta(days=30), now
    with session_scope(engine) as session:
        every = store.articles_in_window(session, start, end)
        fair = store.articles_in_window(session, start, end, per_feed=10)
        capped = store.articles_in_window(session, start, end, per_feed=10, limit=12)
    assert len(every) == 55
    assert [a.title for a in fair if a.feed_id == flood.id] == [f"F{i}" for i in range(10)]
    assert [a.title for a in fair if a.feed_id == usual.id] == [f"U{i}" for i in range(5)]
    assert [a.published_at for a in fair] == sorted((a.published_at for a in fair), reverse=True)
    assert capped == fair[:12]


def _build_in_child(url: str, out: Any) -> None:
    try:
        out.put(_build(url))
    except BaseException:  # the test shows it rather than waiting for a result
        out.put(traceback.format_exc())


def _build(url: str) -> tuple[float, int, set[str]]:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=url,
        sections=["world"],
        max_articles_per_feed_window=500,
    )
    engine = make_engine(url)
    plan = runtime.edition_plan(settings)
    now = datetime.now(UTC)
    started = time.perf_counter()
    with session_scope(engine) as session:
        edition, _ = build_edition(session, plan, CTX, day=plan.today(now), now=now)
        sources = {src["name"] for story in edition.stories for src in story["sources"]}
    seconds = time.perf_counter() - started
    engine.dispose()
    return seconds, peak_rss(), sources


@pytest.mark.slow
def test_an_edition_over_a_flooded_day_stays_bounded(engine: Engine) -> None:
    """60,000 articles of one feed in the window (the issue's flood, over many fetches):
    the build reads 500 of them and the other feed's article, in bounded time and memory."""
    url = engine.url.render_as_string(hide_password=False)
    if url.endswith(":memory:"):
        pytest.skip("needs a database file the child can open")
    now = datetime.now(UTC)
    with session_scope(engine) as session:
        usual = add_feed_with_articles(
            session, "https://usual.test/feed", "world", ["Harbour bridge reopens"], now=now
        )
        flood, _ = store.add_feed(session, "https://flood.test/feed", "world", "Flood")
        rows = [
            {
                "feed_id": flood.id,
                "guid": f"f{i}",
                "link": f"https://flood.test/{i}",
                "title": f"Flood story number {i}",
                "summary_text": f"Flood story number {i} happened.",
                "summary_html": "",
                "published_at": now - timedelta(hours=1, seconds=i),
                "fetched_at": now,
                "content_hash": str(i),
                "title_key": f"flood story number {i}",
            }
            for i in range(60_000)
        ]
        session.execute(insert(Article), rows)
    with session_scope(engine) as session:
        assert session.scalar(select(func.count()).select_from(Article)) == 60_001

    context = multiprocessing.get_context("spawn")
    out = context.Queue()
    child = context.Process(target=_build_in_child, args=(url, out))
    child.start()
    answer = out.get(timeout=240)
    child.join()
    assert not isinstance(answer, str), answer
    seconds, peak, sources = answer
    print(f"edition over 60,000 flood articles: {seconds:.1f} s, peak {peak / MB:.0f} MB")
    assert peak < 400 * MB  # ~120 MB for an edition of 50 articles; 661 MB read whole
    assert sources  # an edition was made
    with session_scope(engine) as session:  # what it read: the flood did not push out the rest
        read = store.articles_in_window(session, now - timedelta(days=1), now, per_feed=500)
    assert len(read) == 501 and sum(a.feed_id == usual.id for a in read) == 1

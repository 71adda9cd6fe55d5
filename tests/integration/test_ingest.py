"""Fetch -> parse -> store against a real loopback HTTP server and SQLite/PostgreSQL."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from xml.sax.saxutils import escape

import pytest
from sqlalchemy import Engine, func, select

from brief import store
from brief.db import session_factory, session_scope
from brief.feeds.fetch import FetchConfig
from brief.feeds.ingest import IngestConfig, refresh_batch, refresh_feeds
from brief.feeds.samples import sample_feeds, serve_samples
from brief.feeds.writer import IngestResult, Stored, store_articles
from brief.models import Article, Feed
from brief.pipeline import ingest_all
from brief.types import ParsedArticle, ParsedFeed
from tests.feedserver import FeedServer

NOW = datetime(2025, 1, 31, 6, 0, tzinfo=UTC)
UA = "brief-tests/1.0"
# The test server is on 127.0.0.1: these tests let exactly that address through.
FETCH = FetchConfig(user_agent=UA, timeout=5, allow_networks=("127.0.0.1/32",))
CONFIG = IngestConfig(fetch=FETCH, fulltext=False)


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer() as s:
        yield s


def rss(*items: tuple[str, str, str], title: str = "Test Wire", extra: str = "") -> bytes:
    """A small RSS 2.0 document; each item is (guid, link, title)."""
    date = format_datetime(NOW - timedelta(hours=2))
    entries = "".join(
        f"<item><guid>{escape(g)}</guid><link>{escape(link)}</link><title>{escape(t)}</title>"
        f"<pubDate>{date}</pubDate><description>About {escape(t)}.</description></item>"
        for g, link, t in items
    )
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>{title}</title>'
        f"<link>https://wire.example/</link>{extra}{entries}</channel></rss>"
    ).encode()


def add_feed(engine: Engine, url: str, title: str | None = None) -> int:
    with session_scope(engine) as s:
        feed = Feed(url=url, title=title, section="world")
        s.add(feed)
        s.flush()
        return feed.id


def feed_row(engine: Engine, feed_id: int) -> Feed:
    with session_factory(engine)() as s:
        feed = s.get(Feed, feed_id)
        assert feed is not None
        return feed


def refresh(
    engine: Engine, feed_id: int, now: datetime = NOW, config: IngestConfig = CONFIG
) -> IngestResult:
    (result,) = refresh_batch(engine, [feed_id], config, now)
    return result


def articles(engine: Engine, feed_id: int) -> list[Article]:
    with session_factory(engine)() as s:
        query = select(Article).where(Article.feed_id == feed_id).order_by(Article.guid)
        return list(s.scalars(query))


def test_good_feed_is_stored(engine: Engine, server: FeedServer) -> None:
    url = server.add(
        "/wire.xml",
        rss(("g1", "https://wire.example/1", "One"), ("g2", "https://wire.example/2", "Two")),
        etag='"v1"',
    )
    feed_id = add_feed(engine, url)

    result = refresh(engine, feed_id)

    assert (result.feed_id, result.url, result.status, result.new_articles) == (
        feed_id,
        url,
        "ok",
        2,
    )
    feed = feed_row(engine, feed_id)
    assert (feed.title, feed.site_url, feed.etag) == ("Test Wire", "https://wire.example/", '"v1"')
    assert (feed.last_status, feed.error_count, feed.last_error) == (200, 0, None)
    assert feed.last_success_at == feed.last_fetched_at == feed.last_new_article_at == NOW
    assert feed.next_poll_at == result.next_poll_at
    assert feed.next_poll_at is not None and feed.next_poll_at > NOW
    stored = articles(engine, feed_id)
    assert [(a.guid, a.link, a.title) for a in stored] == [
        ("g1", "https://wire.example/1", "One"),
        ("g2", "https://wire.example/2", "Two"),
    ]
    assert stored[0].published_at == NOW - timedelta(hours=2)
    assert stored[0].fetched_at == NOW
    assert stored[0].summary_text == "About One."
    assert stored[0].content_hash and len(stored[0].content_hash) == 64
    request = server.requests["/wire.xml"][0]
    assert request["User-Agent"] == UA
    assert "gzip" in request["Accept-Encoding"]


def test_existing_title_is_kept(engine: Engine, server: FeedServer) -> None:
    feed_id = add_feed(engine, server.add("/t.xml", rss()), title="My name for it")
    assert refresh(engine, feed_id).status == "ok"
    assert feed_row(engine, feed_id).title == "My name for it"


def test_second_refresh_is_conditional_and_parses_nothing(
    engine: Engine, server: FeedServer
) -> None:
    url = server.add("/wire.xml", rss(("g1", "https://wire.example/1", "One")), etag='"v1"')
    feed_id = add_feed(engine, url)
    assert refresh(engine, feed_id).new_articles == 1

    later = NOW + timedelta(minutes=30)
    result = refresh(engine, feed_id, later)

    assert (result.status, result.new_articles) == ("not_modified", 0)
    first, second = server.requests["/wire.xml"]
    assert first["If-None-Match"] is None
    assert second["If-None-Match"] == '"v1"'
    feed = feed_row(engine, feed_id)
    assert (feed.last_status, feed.last_fetched_at, feed.etag) == (304, later, '"v1"')
    assert feed.last_new_article_at == NOW  # nothing new at the second poll
    assert len(articles(engine, feed_id)) == 1


def test_last_modified_is_sent_back(engine: Engine, server: FeedServer) -> None:
    stamp = "Fri, 31 Jan 2025 05:00:00 GMT"
    feed_id = add_feed(engine, server.add("/lm.xml", rss(), last_modified=stamp))
    refresh(engine, feed_id)
    assert refresh(engine, feed_id).status == "not_modified"
    assert server.requests["/lm.xml"][1]["If-Modified-Since"] == stamp


def test_same_article_by_guid_link_or_title_is_stored_once(
    engine: Engine, server: FeedServer
) -> None:
    a = ("a", "https://wire.example/a", "Parliament votes on the budget today")
    b = ("b", "https://wire.example/b", "Storm closes schools across the north")
    url = server.add("/wire.xml", rss(a, b))
    feed_id = add_feed(engine, url)
    assert refresh(engine, feed_id).new_articles == 2

    server.add(
        "/wire.xml",
        rss(
            a,  # same guid, same content
            ("b-edited", "https://wire.example/b", "Storm closes schools across the north!"),
            ("a-moved", "https://wire.example/a?v=2", "Parliament votes on the budget today"),
            ("c", "https://wire.example/c", "Rail strike called off after late talks"),
            ("c-again", "https://wire.example/c", "C again"),  # same link, same batch
            ("d", "https://wire.example/d", "Museum reopens after long renovation"),
            ("d", "https://wire.example/d2", "D twice"),  # same guid, same batch
        ),
    )
    result = refresh(engine, feed_id, NOW + timedelta(hours=1))

    assert (result.new_articles, result.updated_articles) == (2, 1)
    stored = {a.guid: a for a in articles(engine, feed_id)}
    assert sorted(stored) == ["a", "b", "c", "d"]
    # The edited entry (same link, new guid and title) updated the stored row.
    assert stored["b"].title == "Storm closes schools across the north!"
    assert stored["b"].published_at == NOW - timedelta(hours=2)


def test_entry_updated_by_its_feed_updates_the_row(engine: Engine, server: FeedServer) -> None:
    def feed(title: str, summary: str, updated: str) -> bytes:
        return (
            '<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>W</title>'
            f"<entry><id>urn:x:1</id><title>{title}</title>"
            '<link href="https://wire.example/x"/>'
            f"<updated>{updated}</updated><summary>{summary}</summary></entry></feed>"
        ).encode()

    url = server.add("/u.xml", feed("Early", "First version.", "2025-01-31T03:00:00Z"))
    feed_id = add_feed(engine, url)
    assert refresh(engine, feed_id).new_articles == 1

    server.add("/u.xml", feed("Later", "Corrected version.", "2025-01-31T04:00:00Z"))
    result = refresh(engine, feed_id, NOW + timedelta(hours=1))
    assert (result.new_articles, result.updated_articles) == (0, 1)
    (row,) = articles(engine, feed_id)
    assert (row.title, row.summary_text) == ("Later", "Corrected version.")
    assert row.updated_at == datetime(2025, 1, 31, 4, tzinfo=UTC)

    # An older copy of the entry (a stale cache) does not undo the update.
    server.add("/u.xml", feed("Early", "First version.", "2025-01-31T03:00:00Z"))
    assert refresh(engine, feed_id, NOW + timedelta(hours=2)).updated_articles == 0
    assert articles(engine, feed_id)[0].title == "Later"


def test_same_title_outside_the_window_is_a_new_article(engine: Engine) -> None:
    feed_id = add_feed(engine, "https://limits.example/feed")
    title = "Weekly markets round-up and outlook"
    old = ParsedArticle(guid="w1", title=title, published_at=NOW - timedelta(days=7))
    new = ParsedArticle(guid="w2", title=title, published_at=NOW)
    again = ParsedArticle(guid="w3", title=title, published_at=NOW - timedelta(hours=5))
    with session_factory(engine)() as s:
        feed = s.get(Feed, feed_id)
        assert feed is not None
        assert store_articles(s, feed_id, ParsedFeed(feed.url, None, None, (old,)), NOW).new == 1
        assert store_articles(s, feed_id, ParsedFeed(feed.url, None, None, (new,)), NOW).new == 1
        assert store_articles(s, feed_id, ParsedFeed(feed.url, None, None, (again,)), NOW).new == 0
        s.commit()


def test_same_guid_in_another_feed_is_a_different_article(
    engine: Engine, server: FeedServer
) -> None:
    item = ("shared-guid", "https://wire.example/x", "X")
    one = add_feed(engine, server.add("/one.xml", rss(item)))
    two = add_feed(engine, server.add("/two.xml", rss(item)))
    assert refresh(engine, one).new_articles == 1
    assert refresh(engine, two).new_articles == 1


def test_store_articles_dates_and_column_limits(engine: Engine) -> None:
    feed_id = add_feed(engine, "https://limits.example/feed")
    with session_factory(engine)() as session:
        feed = session.get(Feed, feed_id)
        assert feed is not None
        parsed = ParsedFeed(
            url=feed.url,
            title=None,
            link=None,
            articles=(
                ParsedArticle(guid="undated", title="No date"),
                ParsedArticle(
                    guid="future", title="Tomorrow", published_at=NOW + timedelta(days=1)
                ),
                ParsedArticle(
                    guid="soon", title="Clock skew", published_at=NOW + timedelta(minutes=5)
                ),
                ParsedArticle(
                    guid="x" * 2000, title="Long guid", link="https://l.example/" + "y" * 3000
                ),
            ),
        )
        assert store_articles(session, feed_id, parsed, NOW) == Stored(new=4)
        session.commit()
        assert store_articles(session, feed_id, parsed, NOW) == Stored()  # idempotent

        rows = {
            a.title: a for a in session.scalars(select(Article).where(Article.feed_id == feed_id))
        }
    assert rows["No date"].published_at == NOW  # first-seen time
    assert rows["Tomorrow"].published_at == NOW  # far future: treated as first seen
    assert rows["Clock skew"].published_at == NOW + timedelta(minutes=5)  # within tolerance
    assert rows["Long guid"].guid.startswith("sha256:")
    assert rows["Long guid"].link is None


def test_error_count_grows_backs_off_then_resets(engine: Engine, server: FeedServer) -> None:
    url = server.add("/flaky.xml", b"oops", status=500)
    feed_id = add_feed(engine, url)

    waits = []
    for expected in (1, 2, 3):
        result = refresh(engine, feed_id)
        assert (result.status, result.error) == ("error", "HTTP 500 Internal Server Error")
        feed = feed_row(engine, feed_id)
        assert (feed.error_count, feed.last_status) == (expected, 500)
        assert feed.next_poll_at is not None
        waits.append(feed.next_poll_at - NOW)
    assert waits == [timedelta(minutes=15), timedelta(minutes=30), timedelta(minutes=60)]

    server.add("/flaky.xml", rss(("g", "https://wire.example/g", "G")))
    assert refresh(engine, feed_id).status == "ok"
    feed = feed_row(engine, feed_id)
    assert (feed.error_count, feed.last_error, feed.last_status) == (0, None, 200)


def test_not_modified_also_ends_an_error_streak(engine: Engine, server: FeedServer) -> None:
    body = rss(("g", "https://wire.example/g", "G"))
    url = server.add("/w.xml", body, etag='"v1"')
    feed_id = add_feed(engine, url)
    refresh(engine, feed_id)
    server.add("/w.xml", b"", status=500)
    assert refresh(engine, feed_id).status == "error"
    server.add("/w.xml", body, etag='"v1"')

    assert refresh(engine, feed_id).status == "not_modified"
    feed = feed_row(engine, feed_id)
    assert (feed.error_count, feed.last_error, feed.last_status) == (0, None, 304)


def test_missing_feed_row_is_reported_not_raised(engine: Engine) -> None:
    assert refresh(engine, 999_999).status == "error"


def test_feed_hints_set_the_next_poll(engine: Engine, server: FeedServer) -> None:
    url = server.add("/ttl.xml", rss(("g", "https://wire.example/g", "G"), extra="<ttl>180</ttl>"))
    feed_id = add_feed(engine, url)
    result = refresh(engine, feed_id)
    feed = feed_row(engine, feed_id)
    assert feed.hints is not None and feed.hints["ttl_minutes"] == 180
    assert feed.poll_interval_minutes == 180
    assert result.next_poll_at == NOW + timedelta(minutes=180)


def test_one_bad_feed_never_costs_the_others(engine: Engine, server: FeedServer) -> None:
    urls = {
        "good": server.add("/good.xml", rss(("g1", "https://wire.example/1", "One"))),
        "error": server.add("/error.xml", b"boom", status=500),
        "slow": server.add("/slow.xml", rss(("s", "https://wire.example/s", "S")), delay=3),
        "drip": server.add("/drip.xml", rss(("d", "https://wire.example/d", "D")), drip=(1, 0.1)),
        "html": server.add(
            "/page.html",
            b"<!DOCTYPE html><html><head><title>Home</title></head><body>Hi</body></html>",
            headers={"Content-Type": "text/html; charset=utf-8"},
        ),
        "gone": server.add("/gone.xml", b"", status=410),
        "missing": server.add("/missing.xml", b"", status=404),
        "good2": server.add("/good2.xml", rss(("h1", "https://other.example/1", "Other"))),
    }
    ids = {name: add_feed(engine, url) for name, url in urls.items()}
    config = replace(CONFIG, fetch=replace(FETCH, timeout=1))

    started = time.monotonic()
    results = refresh_feeds(engine, list(ids.values()), config, NOW)
    elapsed = time.monotonic() - started

    assert elapsed < 2.5  # the slow and dripping feeds cost their own time limit, once
    assert [r.feed_id for r in results] == list(ids.values())
    by_name = dict(zip(ids, results, strict=True))
    assert by_name["good"].status == by_name["good2"].status == "ok"
    assert by_name["good"].new_articles == by_name["good2"].new_articles == 1
    expected_errors = {
        "error": ("HTTP 500 Internal Server Error", 500),
        "slow": ("timed out after 1s", None),
        "drip": ("timed out after 1s", None),
        "html": ("not a feed: looks like an HTML page", 200),
        "gone": ("HTTP 410 Gone", 410),
        "missing": ("HTTP 404 Not Found", 404),
    }
    with session_factory(engine)() as s:
        for name, (message, status) in expected_errors.items():
            result = by_name[name]
            assert (result.feed_id, result.url, result.status, result.error) == (
                ids[name],
                urls[name],
                "error",
                message,
            )
            feed = s.get(Feed, ids[name])
            assert feed is not None
            assert (feed.error_count, feed.last_error, feed.last_status) == (1, message, status)
            assert feed.last_fetched_at == NOW
            assert feed.last_success_at is None
        assert s.scalar(select(func.count()).select_from(Article)) == 2


def test_refresh_feeds_with_no_ids(engine: Engine) -> None:
    assert refresh_feeds(engine, [], CONFIG, NOW) == []


def test_process_pool_gives_the_same_results(engine: Engine, server: FeedServer) -> None:
    ids = [
        add_feed(engine, server.add(f"/p{i}.xml", rss((f"g{i}", f"https://p.example/{i}", "P"))))
        for i in range(5)
    ]
    ids.append(add_feed(engine, server.add("/broken.xml", b"", status=500)))

    results = refresh_feeds(engine, ids, CONFIG, NOW, processes=2, pool_min=1)

    assert [r.feed_id for r in results] == ids
    assert [r.status for r in results] == ["ok"] * 5 + ["error"]
    with session_factory(engine)() as s:
        assert s.scalar(select(func.count()).select_from(Article)) == 5


def test_sample_feeds_over_loopback(engine: Engine) -> None:
    """The offline demo's path: packaged samples, served over HTTP, ingested."""
    now = datetime.now(UTC)
    feeds = sample_feeds(now)
    with serve_samples(feeds) as urls:
        ids = [add_feed(engine, urls[name]) for name, _section, _body in feeds]
        results = refresh_feeds(engine, ids, CONFIG, now)
    assert [r.status for r in results] == ["ok"] * len(feeds)
    with session_factory(engine)() as s:
        dates = s.scalars(select(Article.published_at)).all()
        assert len(dates) == sum(r.new_articles for r in results) >= 12
        assert all(now - timedelta(hours=24) < d <= now for d in dates)


# -- HTTP semantics that change the Feed row -------------------------------


def test_gone_disables_the_feed(engine: Engine, server: FeedServer) -> None:
    url = server.add("/gone.xml", b"", status=410)
    feed_id = add_feed(engine, url)
    other = add_feed(engine, server.add("/fine.xml", rss()))

    assert refresh(engine, feed_id).error == "HTTP 410 Gone"

    feed = feed_row(engine, feed_id)
    assert (feed.disabled_at, feed.disabled_reason, feed.next_poll_at) == (
        NOW,
        "HTTP 410 Gone",
        None,
    )
    # Not fetched again: neither by the beat's claim nor by `brief ingest`.
    with session_scope(engine) as s:
        assert store.claim_due_feeds(s, NOW + timedelta(days=30), timedelta(minutes=5)) == [other]
    results = ingest_all(engine, CONFIG, now=NOW + timedelta(days=1))
    assert [r.feed_id for r in results] == [other]
    assert server.hits["/gone.xml"] == 1
    # Adding it again enables it.
    with session_scope(engine) as s:
        store.add_feed(s, url, "world")
    assert feed_row(engine, feed_id).disabled_at is None


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_sets_the_next_poll(engine: Engine, server: FeedServer, status: int) -> None:
    url = server.add("/busy.xml", b"slow down", status=status, headers={"Retry-After": "7200"})
    feed_id = add_feed(engine, url)

    result = refresh(engine, feed_id)

    assert result.status == "error"
    assert result.error is not None and result.error.endswith("(retry after 7200s)")
    assert feed_row(engine, feed_id).next_poll_at == NOW + timedelta(seconds=7200)


def test_permanent_redirect_updates_the_url(engine: Engine, server: FeedServer) -> None:
    new = server.add("/new.xml", rss(("g", "https://wire.example/g", "G")))
    old = server.add("/old.xml", b"", status=301, headers={"Location": new})
    feed_id = add_feed(engine, old)

    result = refresh(engine, feed_id)

    assert (result.status, result.moved_to) == ("ok", new)
    assert feed_row(engine, feed_id).url == new
    assert refresh(engine, feed_id).status == "ok"
    assert server.hits["/old.xml"] == 1  # the second poll went straight to the new URL


def test_temporary_redirect_keeps_the_url(engine: Engine, server: FeedServer) -> None:
    new = server.add("/new.xml", rss())
    old = server.add("/tmp.xml", b"", status=302, headers={"Location": new})
    feed_id = add_feed(engine, old)
    assert refresh(engine, feed_id).moved_to is None
    assert feed_row(engine, feed_id).url == old


def test_permanent_redirect_to_a_feed_already_there_keeps_the_url(
    engine: Engine, server: FeedServer
) -> None:
    new = server.add("/new.xml", rss())
    add_feed(engine, new)
    old = server.add("/old.xml", b"", status=308, headers={"Location": new})
    feed_id = add_feed(engine, old)
    result = refresh(engine, feed_id)
    assert (result.status, result.moved_to) == ("ok", None)
    assert feed_row(engine, feed_id).url == old


def test_refused_address_is_a_clear_feed_error(engine: Engine, server: FeedServer) -> None:
    feed_id = add_feed(engine, server.add("/f.xml", rss()))
    strict = replace(CONFIG, fetch=replace(FETCH, allow_networks=()))
    result = refresh(engine, feed_id, config=strict)
    assert result.error == "refused: 127.0.0.1 is a loopback address"
    assert feed_row(engine, feed_id).last_error == result.error
    assert server.hits["/f.xml"] == 0


# -- full text -------------------------------------------------------------

ARTICLE_PAGE = """<!DOCTYPE html><html><head><title>Bridge reopens</title></head><body>
<nav><a href="/">Home</a> | <a href="/world">World</a></nav>
<article><h1>Bridge reopens after repairs</h1>
<p>The old stone bridge over the river reopened on Friday after eighteen months of repairs,
the city council said, ending long detours for thousands of commuters every day.</p>
<p>Engineers replaced the worn arches and strengthened the foundations, which had been
damaged by floods two winters ago. The work cost about twelve million euros in total.</p>
<p>Residents gathered on both banks for the reopening, and the mayor walked across first,
followed by a brass band and a long line of cyclists who had waited since dawn.</p>
</article><footer>Subscribe to our newsletter</footer></body></html>"""


def test_teaser_gets_the_article_pages_main_text(engine: Engine, server: FeedServer) -> None:
    page = server.add("/story.html", ARTICLE_PAGE, headers={"Content-Type": "text/html"})
    url = server.add(
        "/teasers.xml",
        rss(
            ("t1", page, "Bridge reopens after repairs"),
            ("t2", server.url("/nowhere.html"), "A page that is gone"),
        ),
    )
    feed_id = add_feed(engine, url)

    result = refresh(engine, feed_id, config=replace(CONFIG, fulltext=True))

    assert (result.new_articles, result.full_texts) == (2, 1)
    stored = {a.guid: a for a in articles(engine, feed_id)}
    assert "eighteen months of repairs" in stored["t1"].full_text
    assert "newsletter" not in stored["t1"].full_text.lower()
    assert stored["t2"].full_text == ""  # the failure kept the teaser
    assert stored["t2"].summary_text == "About A page that is gone."
    assert server.hits["/story.html"] == 1
    # Only new articles: the next poll fetches no page again.
    refresh(engine, feed_id, NOW + timedelta(hours=1), config=replace(CONFIG, fulltext=True))
    assert server.hits["/story.html"] == 1

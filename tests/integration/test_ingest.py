"""Fetch -> parse -> store against a real loopback HTTP server and SQLite/PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from xml.sax.saxutils import escape

import httpx
import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from brief.db import session_factory
from brief.errors import FeedGoneError, FeedParseError, FetchError
from brief.feeds.fetch import fetch_feed, make_client
from brief.feeds.ingest import IngestResult, refresh_feed, refresh_feeds, store_articles
from brief.feeds.samples import sample_feeds, serve_samples
from brief.models import Article, Feed
from brief.types import ParsedArticle, ParsedFeed
from tests.feedserver import FeedServer

NOW = datetime(2025, 1, 31, 6, 0, tzinfo=UTC)
UA = "brief-tests/1.0"


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer() as s:
        yield s


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with make_client(timeout=5, user_agent=UA) as c:
        yield c


def rss(*items: tuple[str, str, str], title: str = "Test Wire") -> bytes:
    """A small RSS 2.0 document; each item is (guid, link, title)."""
    date = format_datetime(NOW - timedelta(hours=2))
    entries = "".join(
        f"<item><guid>{escape(g)}</guid><link>{escape(link)}</link><title>{escape(t)}</title>"
        f"<pubDate>{date}</pubDate><description>About {escape(t)}.</description></item>"
        for g, link, t in items
    )
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>{title}</title>'
        f"<link>https://wire.example/</link>{entries}</channel></rss>"
    ).encode()


def add_feed(session: Session, url: str, title: str | None = None) -> int:
    feed = Feed(url=url, title=title, section="world")
    session.add(feed)
    session.commit()
    return feed.id


def article_count(session: Session, feed_id: int) -> int:
    return session.scalar(select(func.count()).where(Article.feed_id == feed_id)) or 0


def test_good_feed_is_stored(session: Session, server: FeedServer, client: httpx.Client) -> None:
    url = server.add(
        "/wire.xml",
        rss(("g1", "https://wire.example/1", "One"), ("g2", "https://wire.example/2", "Two")),
        etag='"v1"',
    )
    feed_id = add_feed(session, url)

    result = refresh_feed(session, client, feed_id, NOW)

    assert result == IngestResult(feed_id, url, "ok", new_articles=2)
    feed = session.get(Feed, feed_id)
    assert feed is not None
    assert (feed.title, feed.site_url, feed.etag) == ("Test Wire", "https://wire.example/", '"v1"')
    assert (feed.last_status, feed.error_count, feed.last_error) == (200, 0, None)
    assert feed.last_success_at == NOW
    assert feed.last_fetched_at == NOW
    stored = session.scalars(select(Article).order_by(Article.guid)).all()
    assert [(a.guid, a.link, a.title) for a in stored] == [
        ("g1", "https://wire.example/1", "One"),
        ("g2", "https://wire.example/2", "Two"),
    ]
    assert stored[0].published_at == NOW - timedelta(hours=2)
    assert stored[0].fetched_at == NOW
    assert stored[0].summary_text == "About One."
    assert server.requests["/wire.xml"][0]["User-Agent"] == UA


def test_existing_title_is_kept(session: Session, server: FeedServer, client: httpx.Client) -> None:
    feed_id = add_feed(session, server.add("/t.xml", rss()), title="My name for it")
    assert refresh_feed(session, client, feed_id, NOW).status == "ok"
    assert session.get(Feed, feed_id).title == "My name for it"  # type: ignore[union-attr]


def test_second_refresh_is_conditional_and_stores_nothing(
    session: Session, server: FeedServer, client: httpx.Client
) -> None:
    url = server.add("/wire.xml", rss(("g1", "https://wire.example/1", "One")), etag='"v1"')
    feed_id = add_feed(session, url)
    assert refresh_feed(session, client, feed_id, NOW).new_articles == 1

    later = NOW + timedelta(minutes=30)
    result = refresh_feed(session, client, feed_id, later)

    assert result == IngestResult(feed_id, url, "not_modified")
    first, second = server.requests["/wire.xml"]
    assert first["If-None-Match"] is None
    assert second["If-None-Match"] == '"v1"'
    feed = session.get(Feed, feed_id)
    assert feed is not None
    assert (feed.last_status, feed.last_fetched_at, feed.etag) == (304, later, '"v1"')
    assert article_count(session, feed_id) == 1


def test_last_modified_is_sent_back(
    session: Session, server: FeedServer, client: httpx.Client
) -> None:
    stamp = "Fri, 31 Jan 2025 05:00:00 GMT"
    feed_id = add_feed(session, server.add("/lm.xml", rss(), last_modified=stamp))
    refresh_feed(session, client, feed_id, NOW)
    assert refresh_feed(session, client, feed_id, NOW).status == "not_modified"
    assert server.requests["/lm.xml"][1]["If-Modified-Since"] == stamp


def test_entries_already_stored_by_guid_or_link_are_skipped(
    session: Session, server: FeedServer, client: httpx.Client
) -> None:
    a = ("a", "https://wire.example/a", "A")
    b = ("b", "https://wire.example/b", "B")
    url = server.add("/wire.xml", rss(a, b))
    feed_id = add_feed(session, url)
    assert refresh_feed(session, client, feed_id, NOW).new_articles == 2

    server.add(
        "/wire.xml",
        rss(
            a,  # same guid
            ("b-edited", "https://wire.example/b", "B, edited"),  # new guid, same link
            ("c", "https://wire.example/c", "C"),  # new
            ("c-again", "https://wire.example/c", "C again"),  # same link, same batch
            ("d", "https://wire.example/d", "D"),  # new
            ("d", "https://wire.example/d2", "D twice"),  # same guid, same batch
        ),
    )
    result = refresh_feed(session, client, feed_id, NOW + timedelta(hours=1))

    assert result.new_articles == 2
    guids = session.scalars(select(Article.guid).where(Article.feed_id == feed_id)).all()
    assert sorted(guids) == ["a", "b", "c", "d"]


def test_same_guid_in_another_feed_is_a_different_article(
    session: Session, server: FeedServer, client: httpx.Client
) -> None:
    item = ("shared-guid", "https://wire.example/x", "X")
    one = add_feed(session, server.add("/one.xml", rss(item)))
    two = add_feed(session, server.add("/two.xml", rss(item)))
    assert refresh_feed(session, client, one, NOW).new_articles == 1
    assert refresh_feed(session, client, two, NOW).new_articles == 1


def test_store_articles_dates_and_column_limits(session: Session) -> None:
    feed_id = add_feed(session, "https://limits.example/feed")
    feed = session.get(Feed, feed_id)
    assert feed is not None
    parsed = ParsedFeed(
        url=feed.url,
        title=None,
        link=None,
        articles=(
            ParsedArticle(guid="undated", title="No date"),
            ParsedArticle(guid="future", title="Tomorrow", published_at=NOW + timedelta(days=1)),
            ParsedArticle(guid="soon", title="Clock skew", published_at=NOW + timedelta(minutes=5)),
            ParsedArticle(
                guid="x" * 2000, title="Long guid", link="https://l.example/" + "y" * 3000
            ),
        ),
    )
    assert store_articles(session, feed, parsed, NOW) == 4
    session.commit()
    assert store_articles(session, feed, parsed, NOW) == 0  # idempotent

    rows = {a.title: a for a in session.scalars(select(Article).where(Article.feed_id == feed_id))}
    assert rows["No date"].published_at == NOW  # first-seen time
    assert rows["Tomorrow"].published_at == NOW  # far future: treated as first seen
    assert rows["Clock skew"].published_at == NOW + timedelta(minutes=5)  # within tolerance
    assert rows["Long guid"].guid.startswith("sha256:")
    assert rows["Long guid"].link is None


def test_error_count_grows_then_resets_on_success(
    session: Session, server: FeedServer, client: httpx.Client
) -> None:
    url = server.add("/flaky.xml", b"oops", status=503)
    feed_id = add_feed(session, url)

    for expected in (1, 2):
        result = refresh_feed(session, client, feed_id, NOW)
        assert result == IngestResult(feed_id, url, "error", error="HTTP 503 Service Unavailable")
        feed = session.get(Feed, feed_id)
        assert feed is not None
        assert (feed.error_count, feed.last_status) == (expected, 503)

    server.add("/flaky.xml", rss(("g", "https://wire.example/g", "G")))
    assert refresh_feed(session, client, feed_id, NOW).status == "ok"
    feed = session.get(Feed, feed_id)
    assert feed is not None
    assert (feed.error_count, feed.last_error, feed.last_status) == (0, None, 200)


def test_not_modified_also_ends_an_error_streak(
    session: Session, server: FeedServer, client: httpx.Client
) -> None:
    body = rss(("g", "https://wire.example/g", "G"))
    url = server.add("/w.xml", body, etag='"v1"')
    feed_id = add_feed(session, url)
    refresh_feed(session, client, feed_id, NOW)
    server.add("/w.xml", b"", status=500)
    assert refresh_feed(session, client, feed_id, NOW).status == "error"
    server.add("/w.xml", body, etag='"v1"')

    assert refresh_feed(session, client, feed_id, NOW).status == "not_modified"
    feed = session.get(Feed, feed_id)
    assert feed is not None
    assert (feed.error_count, feed.last_error, feed.last_status) == (0, None, 304)


def test_missing_feed_row_is_reported_not_raised(session: Session, client: httpx.Client) -> None:
    assert refresh_feed(session, client, 999_999, NOW).status == "error"


def test_one_bad_feed_never_costs_the_others(engine: Engine, server: FeedServer) -> None:
    urls = {
        "good": server.add("/good.xml", rss(("g1", "https://wire.example/1", "One"))),
        "error": server.add("/error.xml", b"boom", status=500),
        "slow": server.add("/slow.xml", rss(("s", "https://wire.example/s", "S")), delay=2),
        "html": server.add(
            "/page.html",
            b"<!DOCTYPE html><html><head><title>Home</title></head><body>Hi</body></html>",
            headers={"Content-Type": "text/html; charset=utf-8"},
        ),
        "gone": server.add("/gone.xml", b"", status=410),
        "good2": server.add("/good2.xml", rss(("h1", "https://other.example/1", "Other"))),
    }
    factory = session_factory(engine)
    with factory() as s:
        ids = {name: add_feed(s, url) for name, url in urls.items()}

    results = refresh_feeds(
        factory, list(ids.values()), timeout=0.5, user_agent=UA, now=NOW, max_workers=4
    )

    assert [r.feed_id for r in results] == list(ids.values())
    by_name = dict(zip(ids, results, strict=True))
    assert by_name["good"].status == by_name["good2"].status == "ok"
    assert by_name["good"].new_articles == by_name["good2"].new_articles == 1
    expected_errors = {
        "error": ("HTTP 500 Internal Server Error", 500),
        "slow": ("timed out after 0.5s", None),
        "html": ("not a feed: looks like an HTML page", 200),
        "gone": ("HTTP 410 Gone", 410),
    }
    with factory() as s:
        for name, (message, status) in expected_errors.items():
            assert by_name[name] == IngestResult(ids[name], urls[name], "error", error=message)
            feed = s.get(Feed, ids[name])
            assert feed is not None
            assert (feed.error_count, feed.last_error, feed.last_status) == (1, message, status)
            assert feed.last_fetched_at == NOW
            assert feed.last_success_at is None
        assert s.scalar(select(func.count()).select_from(Article)) == 2


def test_refresh_feeds_with_no_ids(engine: Engine) -> None:
    assert refresh_feeds(session_factory(engine), [], timeout=1, user_agent=UA, now=NOW) == []


def test_sample_feeds_over_loopback(engine: Engine) -> None:
    """The offline demo's path: packaged samples, served over HTTP, ingested."""
    now = datetime.now(UTC)
    feeds = sample_feeds(now)
    factory = session_factory(engine)
    with serve_samples(feeds) as urls, factory() as s:
        ids = [add_feed(s, urls[name]) for name, _section, _body in feeds]
        results = refresh_feeds(factory, ids, timeout=5, user_agent=UA, now=now)
    assert [r.status for r in results] == ["ok"] * len(feeds)
    with factory() as s:
        dates = s.scalars(select(Article.published_at)).all()
        assert len(dates) == sum(r.new_articles for r in results) >= 12
        assert all(now - timedelta(hours=24) < d <= now for d in dates)


# fetch_feed's error mapping, against the same real server.


@pytest.mark.parametrize(
    ("status", "error", "message"),
    [
        (404, FeedGoneError, "HTTP 404 Not Found"),
        (403, FeedGoneError, "HTTP 403 Forbidden"),
        (429, FetchError, "HTTP 429 Too Many Requests (retry after 120)"),
        (502, FetchError, "HTTP 502 Bad Gateway (retry after 120)"),
    ],
)
def test_fetch_status_errors(
    server: FeedServer, client: httpx.Client, status: int, error: type[Exception], message: str
) -> None:
    url = server.add("/x.xml", b"no", status=status, headers={"Retry-After": "120"})
    with pytest.raises(error) as info:
        fetch_feed(client, url)
    assert info.value.message == message  # type: ignore[attr-defined]
    assert info.value.url == url  # type: ignore[attr-defined]


def test_fetch_size_cap(server: FeedServer, client: httpx.Client) -> None:
    url = server.add("/big.xml", b"x" * (2 * 1024 * 1024 + 1))
    with pytest.raises(FeedParseError, match="response larger than 2 MB"):
        fetch_feed(client, url, max_bytes=2 * 1024 * 1024)
    assert fetch_feed(client, url, max_bytes=3 * 1024 * 1024).content is not None


def test_fetch_follows_redirects_and_reports_the_final_url(
    server: FeedServer, client: httpx.Client
) -> None:
    final = server.add("/new.xml", rss())
    old = server.add("/old.xml", b"", status=301, headers={"Location": final})
    result = fetch_feed(client, old)
    assert (result.status, result.url) == (200, final)


def test_fetch_redirect_loop(server: FeedServer, client: httpx.Client) -> None:
    loop = server.add("/loop.xml", b"", status=302, headers={"Location": "/loop.xml"})
    with pytest.raises(FetchError, match="more than 5 redirects"):
        fetch_feed(client, loop)


def test_fetch_connection_refused(client: httpx.Client) -> None:
    with FeedServer() as s:
        url = s.url("/feed.xml")  # the port is free again once the server stops
    with pytest.raises(FetchError) as info:
        fetch_feed(client, url)
    assert info.value.message == "connection refused"

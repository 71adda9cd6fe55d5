"""`brief feeds ...` and `brief ingest` as a user runs them, against a loopback feed server."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import update

from brief.db import make_engine
from brief.models import Feed
from tests.feedserver import FeedServer
from tests.integration.test_cli import brief

RSS = (
    b'<?xml version="1.0"?><rss version="2.0"><channel><title>Loop Wire</title>'
    b"<link>https://wire.example/</link><item><guid>g1</guid><title>Hello</title>"
    b"<link>https://wire.example/1</link><description>About hello, and a bit more text to "
    b"read.</description></item></channel></rss>"
)
PRIVATE_OK = {"BRIEF_FETCH_ALLOW_PRIVATE": "true", "BRIEF_FULLTEXT": "false"}


def test_feed_health_weight_and_refusals(tmp_path: Path) -> None:
    with FeedServer() as server:
        good = server.add("/good.xml", RSS, etag='"1"')
        gone = server.add("/gone.xml", b"", status=410)
        down = server.add("/down.xml", b"", status=503, headers={"Retry-After": "3600"})
        # --no-check: this test is of how ingest handles them, not feeds add's check.
        assert (
            brief(tmp_path, "feeds", "add", good, "--weight", "2.5", "--no-check").returncode == 0
        )
        for url in (gone, down):
            assert brief(tmp_path, "feeds", "add", url, "--no-check").returncode == 0
        bad = brief(tmp_path, "feeds", "add", good, "--weight", "0")
        assert bad.returncode == 1 and "weight must be a positive number" in bad.stderr

        # By default brief does not fetch from loopback addresses: a clear per-feed error.
        refused = brief(tmp_path, "ingest")
        assert refused.returncode == 0
        assert "refused: 127.0.0.1 is a loopback address" in refused.stdout
        assert "BRIEF_FETCH_ALLOW_PRIVATE=true" in refused.stdout
        assert server.hits["/good.xml"] == 0

        ran = brief(tmp_path, "ingest", "--json", env=PRIVATE_OK)
        assert ran.returncode == 0, ran.stderr
        by_url = {r["url"]: r for r in json.loads(ran.stdout)}
        assert (by_url[good]["status"], by_url[good]["new_articles"]) == ("ok", 1)
        assert by_url[gone]["error"] == "HTTP 410 Gone"
        assert by_url[down]["error"] == "HTTP 503 Service Unavailable (retry after 3600s)"

        again = json.loads(brief(tmp_path, "ingest", "--json", env=PRIVATE_OK).stdout)
        assert {r["url"]: r["status"] for r in again} == {good: "not_modified", down: "error"}
        assert server.hits["/gone.xml"] == 1  # disabled: not fetched again

    # Make the 503 feed's streak old, as if it had failed for days.
    engine = make_engine(f"sqlite:///{tmp_path / 'data' / 'brief.sqlite'}")
    with engine.begin() as conn:
        conn.execute(
            update(Feed)
            .where(Feed.url == down)
            .values(created_at=datetime.now(UTC) - timedelta(days=5))
        )
    engine.dispose()

    feeds = {f["url"]: f for f in json.loads(brief(tmp_path, "feeds", "list", "--json").stdout)}
    assert feeds[good]["weight"] == 2.5 and feeds[gone]["weight"] == 1.0
    assert feeds[good]["next_poll_at"] and feeds[good]["error_count"] == 0
    assert feeds[gone]["disabled_reason"] == "HTTP 410 Gone"
    assert feeds[down]["failing_for_days"] is True and feeds[good]["failing_for_days"] is False

    text = brief(tmp_path, "feeds", "list").stdout
    assert "weight 2.5" in text
    assert "DISABLED since" in text and "HTTP 410 Gone" in text
    assert "FAILING for 5 days (x3): HTTP 503 Service Unavailable" in text
    assert "next poll" in text


def test_feeds_add_fetches_the_url_once_and_says_why_it_refuses(tmp_path: Path) -> None:
    page = b"<!doctype html><html><head><title>Home</title></head><body>Hi</body></html>"
    with FeedServer() as server:
        good = server.add("/good.xml", RSS, headers={"Content-Type": "application/rss+xml"})
        html = server.add("/index.html", page, headers={"Content-Type": "text/html"})
        missing = server.add("/missing.xml", b"", status=404)

        # Loopback is refused as ingest refuses it, and the line names the setting.
        loop = brief(tmp_path, "feeds", "add", good)
        assert loop.returncode == 1 and "Traceback" not in loop.stderr
        [line] = loop.stderr.strip().splitlines()
        assert "127.0.0.1 is a loopback address" in line
        assert "BRIEF_FETCH_ALLOW_PRIVATE" in line and server.hits["/good.xml"] == 0

        page_refused = brief(tmp_path, "feeds", "add", html, env=PRIVATE_OK)
        assert page_refused.returncode == 1
        assert "not added" in page_refused.stderr and "not a feed" in page_refused.stderr
        gone = brief(tmp_path, "feeds", "add", missing, env=PRIVATE_OK)
        assert gone.returncode == 1 and "HTTP 404 Not Found" in gone.stderr
        listed = json.loads(brief(tmp_path, "feeds", "list", "--json").stdout)
        assert listed == []

        added = brief(tmp_path, "feeds", "add", good, env=PRIVATE_OK)
        assert added.returncode == 0, added.stderr
        assert server.hits["/good.xml"] == 1
        # Changing the section of a feed already there fetches nothing.
        moved = brief(tmp_path, "feeds", "add", good, "--section", "business", env=PRIVATE_OK)
        assert moved.returncode == 0 and server.hits["/good.xml"] == 1
        # --no-check adds without fetching.
        unchecked = brief(tmp_path, "feeds", "add", missing, "--no-check")
        assert unchecked.returncode == 0 and server.hits["/missing.xml"] == 1
    urls = {f["url"] for f in json.loads(brief(tmp_path, "feeds", "list", "--json").stdout)}
    assert urls == {good, missing}


def test_a_quarantined_feed_is_listed_with_its_reason(tmp_path: Path) -> None:
    from brief.feeds.ingest import start_batch
    from brief.feeds.schedule import PollPolicy

    url = "https://poison.example/feed.xml"
    assert brief(tmp_path, "feeds", "add", url, "--no-check").returncode == 0
    engine = make_engine(f"sqlite:///{tmp_path / 'data' / 'brief.sqlite'}")
    limit = timedelta(minutes=11)
    # Two one-feed runs that died with it in flight (nothing after their start), then a
    # third, each after the last one's time limit.
    for n in range(3):
        plan = start_batch(engine, [1], PollPolicy(), datetime.now(UTC) + n * 2 * limit, limit)
    engine.dispose()
    assert plan.quarantine == {1: 2}

    [row] = json.loads(brief(tmp_path, "feeds", "list", "--json").stdout)
    assert (
        row["quarantined_at"]
        and "killed or timed out the worker 2 times" in (row["quarantine_reason"])
    )
    text = brief(tmp_path, "feeds", "list").stdout
    assert "QUARANTINED since" in text and "worker 2 times in a row" in text

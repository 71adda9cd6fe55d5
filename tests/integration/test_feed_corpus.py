"""Every real feed document of ../shared/corpora/feeds: parsed, and ingested over HTTP.

The figures come from bench/feeds_corpus.py (which documents how agreement with the
other parsers' outputs is defined); these tests keep them from regressing:
no document may crash the parser or the ingestion, and our titles and links must
agree with the reference outputs for at least 95% of their entries — straight from
the parser, and as stored in the database after a real fetch over loopback HTTP.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, select

from bench.feeds_corpus import HEADERS, THRESHOLD, Document, Tally, check, documents
from bench.feeds_corpus import parse_document as parse_corpus_document
from brief.db import session_factory, session_scope
from brief.feeds.fetch import FetchConfig
from brief.feeds.ingest import IngestConfig, refresh_feeds
from brief.models import Article, Feed
from brief.types import ParsedArticle, ParsedFeed
from tests.conftest import corpus
from tests.feedserver import FeedServer

NOW = datetime(2025, 1, 31, 6, 0, tzinfo=UTC)
CONFIG = IngestConfig(
    fetch=FetchConfig(user_agent="brief-tests/1.0", timeout=10, allow_networks=("127.0.0.1/32",)),
    fulltext=False,
)

pytestmark = pytest.mark.slow


def corpus_documents() -> list[Document]:
    return list(documents(corpus("feeds")))


def total(tallies: list[Tally]) -> Tally:
    result = Tally()
    for tally in tallies:
        result.add(tally)
    return result


def test_every_document_parses_and_agrees_with_the_references() -> None:
    # Served with "charset=utf-8" whatever the bytes are (a server that lies for the
    # windows-1251/KOI8-R/ISO-8859-1/UTF-16 documents). The honest "application/xml"
    # header is what the test over HTTP below serves; bench/feeds_corpus.py does all three.
    docs = corpus_documents()
    result = total([parse_corpus_document(doc, HEADERS["utf8"]) for doc in docs])
    assert result.documents == len(docs) >= 200
    assert result.crashes == []
    assert result.compared >= 600  # the references are really being read
    assert result.agreement >= THRESHOLD, "\n".join(result.disagreements)
    assert result.refused <= 20  # HTML pages, fragments, JSON that is not a JSON Feed


def content_type(doc: Document) -> str:
    return "application/feed+json" if doc.path.suffix == ".json" else "application/xml"


def stored_feed(engine: Engine, feed_id: int) -> ParsedFeed:
    """What the database holds for a feed, in insertion order, as a ParsedFeed."""
    with session_factory(engine)() as s:
        feed = s.get(Feed, feed_id)
        assert feed is not None
        rows = s.scalars(select(Article).where(Article.feed_id == feed_id).order_by(Article.id))
        articles = tuple(ParsedArticle(guid=a.guid, title=a.title, link=a.link) for a in rows)
        return ParsedFeed(url=feed.url, title=feed.title, link=feed.site_url, articles=articles)


def test_every_document_is_ingested_over_http(engine: Engine) -> None:
    docs = corpus_documents()
    with FeedServer() as server:
        ids: dict[int, Document] = {}
        with session_scope(engine) as s:
            for n, doc in enumerate(docs):
                url = server.add(
                    f"/{n}/{doc.path.name}",
                    doc.path.read_bytes(),
                    headers={"Content-Type": content_type(doc)},
                )
                feed = Feed(url=url, section="world")
                s.add(feed)
                s.flush()
                ids[feed.id] = doc
        results = refresh_feeds(engine, list(ids), CONFIG, NOW)

    tallies: list[Tally] = []
    refused = 0
    for result in results:
        doc = ids[result.feed_id]
        if result.status == "error":
            # Only documents that are not feeds may fail, and as such (no crash, no timeout).
            assert result.error and result.error.startswith("not a feed"), (doc.path, result)
            refused += 1
            continue
        assert result.status == "ok", f"{doc.path}: {result.status} {result.error}"
        tallies.append(check(doc, stored_feed(engine, result.feed_id), None))
    stored = total(tallies)
    assert refused <= 20
    assert stored.parsed + refused == len(docs)
    assert stored.compared >= 600
    assert stored.agreement >= THRESHOLD, "\n".join(stored.disagreements)

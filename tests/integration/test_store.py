"""Constraints the database itself keeps, on SQLite and PostgreSQL after every migration."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError

from brief import store
from brief.db import session_scope
from brief.editions import build_edition
from brief.models import Subscriber
from tests.factories import CTX, NOW, add_feed_with_articles, plan


def test_an_address_is_unique_whatever_its_case(engine: Engine) -> None:
    with session_scope(engine) as session:
        session.add(Subscriber(email="Ana@Example.org", status="active", timezone="UTC"))
    with pytest.raises(IntegrityError), session_scope(engine) as session:
        session.add(Subscriber(email="ana@example.org", status="active", timezone="UTC"))


def test_due_deliveries_follow_each_subscribers_morning(engine: Engine) -> None:
    with session_scope(engine) as session:
        add_feed_with_articles(session, "https://a.test/feed", "world", ["Quake in Chile"])
        store.add_subscriber(session, "now@x.test", now=NOW)  # no hour: with the edition
        store.add_subscriber(
            session, "paris7@x.test", now=NOW, timezone="Europe/Paris", delivery_hour=11
        )
        store.add_subscriber(session, "paused@x.test", now=NOW)
        store.unsubscribe(session, "paused@x.test", NOW)
        edition, _ = build_edition(session, plan(), CTX, day=NOW.date(), now=NOW)
        edition_id = edition.id
    # Made at 09:30 UTC = 10:30 in Paris: the 11:00 reader waits half an hour.
    with session_scope(engine) as session:
        edition = store.get_edition(session, edition_id)
        assert store.create_due_deliveries(session, edition, NOW) == 1
        assert store.create_due_deliveries(session, edition, NOW + timedelta(minutes=10)) == 0
        assert store.create_due_deliveries(session, edition, NOW + timedelta(minutes=30)) == 1
        assert store.create_due_deliveries(session, edition, NOW + timedelta(hours=2)) == 0
        session.expire(edition)
        recipients = {d.recipient for d in edition.deliveries}
    assert recipients == {"now@x.test", "paris7@x.test"}


def test_articles_in_window_carry_what_ranking_and_summaries_use(engine: Engine) -> None:
    with session_scope(engine) as session:
        feed = add_feed_with_articles(session, "https://a.test/feed", "world", ["Quake"])
        feed.weight = 2.5
        article = feed.articles[0]
        article.full_text, article.image_alt = "The whole article.", "Rubble in Santiago"
        article.categories = ["Americas", "Earthquakes"]
    with session_scope(engine) as session:
        [record] = store.articles_in_window(session, NOW - timedelta(days=1), NOW)
    assert (record.weight, record.full_text, record.image_alt, record.categories) == (
        2.5,
        "The whole article.",
        "Rubble in Santiago",
        ("Americas", "Earthquakes"),  # a story's section reads them (brief.digest.rank)
    )

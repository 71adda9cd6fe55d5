"""The edition canvas's task bodies, run here (tests/e2e runs them on a real worker)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from brief import store
from brief.config import Settings
from brief.db import session_scope
from brief.digest.build import group_stories, summarize_draft
from tests.factories import NOW, add_feed_with_articles


@pytest.fixture
def configured(engine: Engine, tmp_path: Path) -> Iterator[None]:
    from tasks.app import app

    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        data_dir=tmp_path,
        database_url=engine.url.render_as_string(hide_password=False),
        sections=["world", "business"],
    )
    saved = app.conf.get("brief_settings")
    app.conf.update(brief_settings=settings)
    try:
        yield
    finally:
        app.conf.update(brief_settings=saved)


def test_a_story_that_fails_is_left_out_not_the_edition(engine: Engine, configured: None) -> None:
    from tasks.digest import compose_edition, summarize_story

    window = (NOW - timedelta(hours=24), NOW)
    with session_scope(engine) as session:
        add_feed_with_articles(session, "https://a.test/feed", "world", ["Quake in Chile"])
        add_feed_with_articles(session, "https://b.test/feed", "business", ["Stocks rally"])
        drafts = group_stories(store.articles_in_window(session, *window), window=window)
    good = summarize_story.run(drafts[0].to_json())
    assert good == summarize_draft(drafts[0]).to_json()
    assert summarize_story.run({"not": "a draft"}) is None

    result = compose_edition.run(
        [good, None],
        NOW.date().isoformat(),
        [w.isoformat() for w in window],
        NOW.isoformat(),
        False,
    )
    assert result["stories"] == 1 and result["left_out"] == 1 and result["created"]
    with session_scope(engine) as session:
        edition = store.get_edition(session, result["edition_id"])
        assert [s["title"] for s in edition.stories] == [good["title"]]
    again = compose_edition.run(
        [good], NOW.date().isoformat(), [w.isoformat() for w in window], NOW.isoformat(), False
    )
    assert again["edition_id"] == result["edition_id"] and not again["created"]

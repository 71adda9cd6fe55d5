from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from brief.digest.rank import (
    article_section,
    rank_groups,
    select,
    story_score,
    story_section,
)
from brief.types import ArticleRecord, StoryDraft

NOW = datetime(2026, 11, 25, 6, 0, tzinfo=UTC)


def art(
    id: int,
    source: str = "A",
    hours_ago: float = 1,
    weight: float = 1.0,
    section: str = "world",
) -> ArticleRecord:
    return ArticleRecord(
        id=id,
        feed_id=ord(source[0]),
        source=source,
        section=section,
        title=f"Title {id}",
        link=f"https://example.org/{id}",
        summary_text="Text.",
        image_url=None,
        published_at=NOW - timedelta(hours=hours_ago),
        weight=weight,
    )


def test_more_outlets_beat_more_updates_from_one() -> None:
    three_outlets = [art(1, "A"), art(2, "B"), art(3, "C")]
    one_outlet_updates = [art(4, "A"), art(5, "A"), art(6, "A")]
    assert story_score(three_outlets, NOW) > story_score(one_outlet_updates, NOW)


def test_recency_and_weight_count() -> None:
    assert story_score([art(1, hours_ago=1)], NOW) > story_score([art(2, hours_ago=20)], NOW)
    assert story_score([art(1, weight=2.0)], NOW) > story_score([art(2, weight=1.0)], NOW)
    # A heavy feed counts once per outlet, at its weight.
    assert story_score([art(1, "A", weight=3.0), art(2, "A", weight=3.0)], NOW) < story_score(
        [art(3, "A", weight=3.0), art(4, "B", weight=3.0)], NOW
    )


def test_section_is_the_heaviest_then_configured_order() -> None:
    articles = [art(1, section="business"), art(2, section="world"), art(3, section="world")]
    assert story_section(articles, ["business", "world"]) == "world"
    tie = [art(1, section="business"), art(2, section="world")]
    assert story_section(tie, ["world", "business"]) == "world"
    assert story_section(tie, ["business", "world"]) == "business"


def test_rank_groups_orders_and_keys_drafts() -> None:
    groups = [[art(5, "A", hours_ago=3)], [art(2, "A"), art(3, "B")], [art(9, "C", hours_ago=1)]]
    drafts = rank_groups(groups, now=NOW, sections=["world"])
    assert [d.key for d in drafts] == ["a2", "a9", "a5"]
    assert drafts[0].outlets == ("A", "B")
    assert drafts[0].published_at == NOW - timedelta(hours=1)


def test_lead_article_is_from_the_heaviest_feed() -> None:
    drafts = rank_groups([[art(1, "A"), art(2, "B", weight=2.0)]], now=NOW)
    assert drafts[0].articles[0].id == 2


def test_select_applies_caps() -> None:
    groups = [[art(i, section="world" if i < 5 else "sport", hours_ago=i)] for i in range(1, 9)]
    drafts = rank_groups(groups, now=NOW)
    chosen = select(drafts, per_section=2)
    assert [d.key for d in chosen] == ["a1", "a2", "a5", "a6"]
    assert [d.key for d in select(drafts, per_section=2, total=3)] == ["a1", "a2", "a5"]


def test_draft_json_round_trip() -> None:
    draft = rank_groups([[art(1, "A"), art(2, "B")]], now=NOW)[0]
    assert StoryDraft.from_json(draft.to_json()) == draft


def test_article_json_round_trip_and_defaults() -> None:
    full = replace(
        art(1), full_text="The page.", weight=2.0, image_alt="A harbour", categories=("Sport",)
    )
    assert ArticleRecord.from_json(full.to_json()) == full
    absent = ("full_text", "weight", "categories")
    data = {k: v for k, v in full.to_json().items() if k not in absent}
    assert ArticleRecord.from_json(data) == replace(full, full_text="", weight=1.0, categories=())


# -- the top story -------------------------------------------------------------


def test_the_story_most_outlets_carry_leads_even_when_older() -> None:
    three_outlets_old = [[art(1, "A", 22), art(2, "B", 23), art(3, "C", 23)]]
    two_outlets_fresh_and_updated = [
        [art(4, "D", 0), art(5, "E", 0), *(art(i, "D", 0) for i in range(6, 16))]
    ]
    drafts = rank_groups(three_outlets_old + two_outlets_fresh_and_updated, now=NOW)
    assert [d.key for d in drafts] == ["a1", "a4"]


def test_a_single_source_story_leads_only_on_a_day_with_no_shared_story() -> None:
    single_fresh_many_updates = [art(i, "A", 0) for i in range(1, 30)]
    shared_old = [art(40, "B", 23.9), art(41, "C", 23.9)]
    drafts = rank_groups([single_fresh_many_updates, shared_old], now=NOW)
    assert drafts[0].key == "a40"
    singles = rank_groups([[art(1, "A", 5)], [art(2, "B", 1)], [art(3, "C", 9)]], now=NOW)
    assert [d.key for d in singles] == ["a2", "a1", "a3"]  # no shared story: the newest


def test_an_operator_weight_can_put_a_feed_first() -> None:
    weighted = [art(1, "A", 3, weight=2.5)]
    shared = [art(2, "B", 1), art(3, "C", 1)]
    assert rank_groups([shared, weighted], now=NOW)[0].key == "a1"


# -- sections by story -----------------------------------------------------------

SECTIONS = ["world", "business", "technology", "science", "sport", "health"]


def guardian(
    id: int, link: str, categories: tuple[str, ...], section: str = "world"
) -> ArticleRecord:
    return replace(art(id, "The Guardian", section=section), link=link, categories=categories)


# Real entries of the Guardian feed in ../shared/corpora/feeds (filed there as world).
TRANSFERS = guardian(
    1,
    "https://www.theguardian.com/football/live/2018/jan/31/transfer-deadline-day-aubameyang-giroud-batshuayi-mahrez-latest-live",
    ("Transfer window", "Football", "Sport", "European club football", "Olivier Giroud"),
)
NBA = guardian(
    2,
    "https://www.theguardian.com/sport/2018/jan/31/rasual-butler-killed-car-crash-miami-heat-nba",
    ("NBA", "Miami Heat", "Basketball", "US sports", "Sport"),
)
ORCAS = guardian(
    3,
    "https://www.theguardian.com/science/2018/jan/31/orcas-killer-whales-can-imitate-human-speech-research-reveals",
    ("Animal behaviour", "Language", "Marine life", "Science", "Wildlife"),
)


@pytest.mark.parametrize(
    ("link", "categories", "expected"),
    [
        (TRANSFERS.link, TRANSFERS.categories, "sport"),
        (NBA.link, (), "sport"),  # the path alone
        ("https://example.org/2025/11/30/a3f9", ("Football",), "sport"),  # the categories alone
        ("https://www.bbc.co.uk/news/business-68123456", (), "business"),  # word + numeric id
        ("https://www.bbc.co.uk/news/world-europe-68123456", (), None),  # europe: not configured
        # A topic outranks a region: a sports story under /us-news/ is sport.
        ("https://www.theguardian.com/us-news/2018/jan/31/x", ("US news", "US sports"), "sport"),
        # The headline's slug says nothing, nor do a category's words alone.
        ("https://example.org/2025/apple-launches-health-app", (), None),
        (
            "http://feeds.washingtonpost.com/click.phdo?i=f4c4",
            ("Episcopal Church", "modern science"),
            None,
        ),
        (None, (), None),
    ],
)
def test_article_section_reads_the_path_then_the_categories(
    link: str | None, categories: tuple[str, ...], expected: str | None
) -> None:
    article = replace(art(1), link=link, categories=categories)
    assert article_section(article, SECTIONS) == expected


def test_sport_goes_to_sport_even_from_a_world_feed() -> None:
    assert story_section([TRANSFERS], SECTIONS) == "sport"
    assert story_section([NBA, replace(NBA, id=9, link=None, categories=())], SECTIONS) == "sport"


def test_a_story_follows_what_its_articles_say_over_how_feeds_are_filed() -> None:
    # A solar-storm story: two technology feeds whose entries say "Space", one science feed.
    tech = [
        replace(
            art(i, s, section="technology"),
            link=f"https://{s}.example/2025/11/12/solar-storm",
            categories=("Space",),
        )
        for i, s in ((1, "verge"), (2, "wired"))
    ]
    science = replace(
        art(3, "nasa", section="science"), link="https://nasa.example/news/solar-storm"
    )
    assert story_section([*tech, science], SECTIONS) == "science"
    assert story_section([ORCAS], SECTIONS) == "science"


def test_unknown_stays_with_the_feeds_section() -> None:
    silent = [
        replace(art(i, s, section="business"), link=f"https://{s}.example/{i}")
        for i, s in ((1, "a"), (2, "b"))
    ]
    assert story_section(silent, SECTIONS) == "business"
    # One article saying "sport" among three silent world-feed articles: most weight is world.
    world = [
        replace(art(i, s), link=f"https://{s}.example/{i}")
        for i, s in ((4, "c"), (5, "d"), (6, "e"))
    ]
    assert story_section([*world, NBA], SECTIONS) == "world"
    # A section the operator did not configure is never chosen from a path.
    assert story_section([ORCAS], ["world", "sport"]) == "world"

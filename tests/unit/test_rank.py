from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from brief.digest.rank import rank_groups, select, story_score, story_section
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
    full = replace(art(1), full_text="The page.", weight=2.0, image_alt="A harbour")
    assert ArticleRecord.from_json(full.to_json()) == full
    data = {k: v for k, v in full.to_json().items() if k not in ("full_text", "weight")}
    assert ArticleRecord.from_json(data) == replace(full, full_text="", weight=1.0)

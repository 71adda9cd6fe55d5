from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from brief.digest.build import (
    MAX_SOURCES,
    SUMMARY_DOCS,
    compose_digest,
    edition_time,
    edition_window,
    group_stories,
    one_copy_per_link,
    order_sections,
    select_drafts,
    summarize_draft,
)
from brief.types import ArticleRecord, Digest, Doc, Story, StoryDraft, Summary

TOPICS = [
    "Volcano erupts near Naples, villages evacuated overnight.",
    "Central bank raises interest rates by half a point.",
    "Football club sacks its manager after five defeats.",
    "New telescope images show a distant galaxy cluster.",
    "Parliament passes a bill on renewable energy subsidies.",
    "Airline strike grounds hundreds of flights in Spain.",
    "Chess champion retains title after a tense final game.",
]

END = datetime(2026, 11, 25, 6, 0, tzinfo=UTC)


def article(
    id: int,
    section: str,
    hours_ago: float,
    title: str | None = None,
    text: str | None = None,
    source: str = "Example News",
    image_url: str | None = None,
    image_alt: str | None = None,
) -> ArticleRecord:
    if text is None:
        text = TOPICS[id % len(TOPICS)]
    return ArticleRecord(
        id=id,
        feed_id=sum(map(ord, source)),
        source=source,
        section=section,
        title=title or f"#{id}",  # no shared word: a placeholder must not group stories
        link=f"https://example.org/{id}",
        summary_text=text,
        image_url=image_url,
        image_alt=image_alt,
        published_at=END - timedelta(hours=hours_ago),
    )


def build(
    articles: list[ArticleRecord],
    *,
    sections: list[str],
    per_section: int,
    total: int | None = None,
) -> Digest:
    """An edition the way brief.editions makes one: group, select, summarize, compose."""
    window = edition_window(END)
    drafts = group_stories(articles, window=window, sections=sections)
    chosen = select_drafts(drafts, per_section=per_section, total=total)
    return compose_digest(
        [summarize_draft(d) for d in chosen],
        edition_date=END.date(),
        window=window,
        sections=sections,
        per_section=per_section,
        total=total,
    )


def test_edition_time_is_the_hour_in_the_home_zone() -> None:
    paris = ZoneInfo("Europe/Paris")
    assert edition_time(date(2026, 11, 25), 6, paris) == datetime(2026, 11, 25, 5, tzinfo=UTC)
    # Summer time: Paris is UTC+2.
    assert edition_time(date(2026, 7, 1), 6, paris) == datetime(2026, 7, 1, 4, tzinfo=UTC)


def test_window_is_the_24_hours_before() -> None:
    assert edition_window(END) == (END - timedelta(hours=24), END)


def test_order_sections_keeps_configured_order_then_the_rest() -> None:
    assert order_sections({"sport", "zzz", "world", "aaa"}, ["world", "business", "sport"]) == [
        "world",
        "sport",
        "aaa",
        "zzz",
    ]


def test_edition_window_sections_order_and_cap() -> None:
    articles = [
        article(1, "business", 1),
        article(2, "world", 5),
        article(3, "world", 2),
        article(4, "world", 3),
        article(5, "world", 30),  # before the window
        article(6, "world", -1),  # after the edition time
    ]
    digest = build(
        articles,
        sections=["world", "business"],
        per_section=2,
    )
    assert [s.name for s in digest.sections] == ["world", "business"]
    assert [st.title for st in digest.sections[0].stories] == ["#3", "#4"]
    assert digest.sections[0].stories[0].summary.startswith(TOPICS[3])
    assert digest.sections[0].stories[0].sources[0].url == "https://example.org/3"


def test_edition_drops_repeated_headlines_in_a_section() -> None:
    articles = [
        article(1, "world", 1, "Quake hits Chile", text=TOPICS[0], source="One"),
        article(2, "world", 2, "Quake hits Chile!", text=TOPICS[0], source="Two"),
    ]
    digest = build(
        articles,
        sections=["world"],
        per_section=5,
    )
    assert len(digest.stories) == 1


def test_stories_survive_a_json_round_trip() -> None:
    articles = [article(1, "world", 1), article(2, "sport", 2)]
    digest = build(
        articles,
        sections=["world", "sport"],
        per_section=5,
    )
    again = Digest.from_stories(
        digest.edition_date,
        edition_window(END),
        [Story.from_json(s) for s in digest.stories_json()],
    )
    assert again == digest
    assert again.for_sections(["sport"]).stories == (digest.sections[1].stories[0],)


def quake(id: int, source: str, hours_ago: float, **kw: str) -> ArticleRecord:
    return article(
        id,
        "world",
        hours_ago,
        title=f"Earthquake kills five in central Chile - {source}",
        text="A magnitude 7.1 earthquake struck central Chile on Monday, killing at least five "
        "people. Rescuers searched collapsed buildings through the night.",
        source=source,
        **kw,  # type: ignore[arg-type]
    )


def test_one_story_from_many_outlets_leads_the_edition() -> None:
    articles = [
        article(1, "business", 1, source="Ledger"),
        quake(2, "Reuters", 3),
        quake(3, "AFP", 2, image_url="https://img.example/q.jpg", image_alt="Rubble in Talca"),
        quake(4, "AP", 4),
        article(5, "world", 1, source="Reuters"),
    ]
    digest = build(
        articles,
        sections=["business", "world"],
        per_section=5,
    )
    assert [s.name for s in digest.sections] == ["business", "world"]  # configured order kept
    top = max(digest.stories, key=lambda s: s.score)
    assert top.title == "Earthquake kills five in central Chile"
    assert digest.sections[1].stories[0] == top  # best first within its section
    assert {s.name for s in top.sources} == {"Reuters", "AFP", "AP"}
    assert top.image_url == "https://img.example/q.jpg" and top.image_alt == "Rubble in Talca"
    assert len(digest.stories) == 3


def test_total_cap() -> None:
    articles = [article(i, "world" if i % 2 else "sport", i) for i in range(1, 7)]
    digest = build(
        articles,
        sections=["world", "sport"],
        per_section=5,
        total=3,
    )
    assert len(digest.stories) == 3
    assert [st.title for st in digest.stories] == ["#1", "#3", "#2"]


def test_the_canvas_pieces_through_json_make_the_same_edition() -> None:
    # The Celery canvas (tasks/digest.py) passes drafts and stories as JSON between
    # workers; the edition it composes is the one made in one process.
    articles = [quake(2, "Reuters", 3), quake(3, "AFP", 2), article(1, "business", 1)]
    window = edition_window(END)
    drafts = group_stories(articles, window=window, sections=["world", "business"])
    assert len(drafts) == 2
    again = [StoryDraft.from_json(json.loads(json.dumps(d.to_json()))) for d in drafts]
    assert again == drafts
    chosen = select_drafts(again, per_section=5, total=10)
    stories = [
        Story.from_json(json.loads(json.dumps(summarize_draft(d).to_json()))) for d in chosen
    ]
    composed = compose_digest(
        stories,
        edition_date=END.date(),
        window=window,
        sections=["world", "business"],
        per_section=5,
        total=10,
    )
    assert composed == build(articles, sections=["world", "business"], per_section=5, total=10)
    # A story that failed to summarize is just left out.
    assert (
        len(
            compose_digest(
                stories[1:],
                edition_date=END.date(),
                window=window,
                sections=["world"],
                per_section=5,
            ).stories
        )
        == 1
    )


def test_why_an_edition_is_empty() -> None:
    from datetime import UTC, datetime

    from brief.editions import Supply, why_empty

    window = (datetime(2026, 3, 1, 6, tzinfo=UTC), datetime(2026, 3, 2, 6, tzinfo=UTC))
    old = datetime(2026, 2, 20, 9, 30, tzinfo=UTC)
    assert "there are no feeds" in why_empty(Supply(0, 0, None), window)
    assert "all 3 feed(s) failed" in why_empty(Supply(3, 3, old), window)
    assert "no new articles yet" in why_empty(Supply(3, 1, None), window)
    stale = why_empty(Supply(3, 0, old), window)
    assert "the newest is from 2026-02-20 09:30 UTC" in stale
    assert "(2026-03-01 06:00 to 2026-03-02 06:00 UTC)" in stale
    assert "made a story" in why_empty(Supply(3, 0, window[0]), window)
    assert "is for the next edition" in why_empty(Supply(3, 0, window[1]), window)


def test_the_most_widely_carried_story_leads_over_a_fresh_single_source_item() -> None:
    # The case: a single-source item topped the edition while a story carried by
    # several outlets sat lower. Here the shared story is 20 hours old.
    articles = [
        article(1, "business", 0.1, title="We're hiring: senior editor", source="Ledger"),
        article(2, "business", 0.2, title="We're hiring: senior editor (updated)", source="Ledger"),
        quake(3, "Reuters", 20),
        quake(4, "AFP", 21),
    ]
    digest = build(articles, sections=["business", "world"], per_section=5)
    top = max(digest.stories, key=lambda s: s.score)
    assert {s.name for s in top.sources} == {"Reuters", "AFP"}


def test_a_match_report_from_a_world_feed_goes_to_sport() -> None:
    match = replace(
        article(1, "world", 1, title="Tottenham Hotspur v Manchester United: Premier League"),
        # (a match report: the live blog of the same match is a live blog, left out)
        link="https://www.theguardian.com/football/2018/jan/31/tottenham-hotspur-v-manchester-united-premier-league-match-report",
        categories=("Premier League", "Tottenham Hotspur", "Football", "Sport"),
    )
    digest = build([match, article(2, "world", 2)], sections=["world", "sport"], per_section=5)
    assert {s.name: [st.title for st in s.stories] for s in digest.sections} == {
        "world": ["#2"],
        "sport": ["Tottenham Hotspur v Manchester United: Premier League"],
    }


def test_one_sites_article_in_two_of_its_feeds_is_one_article() -> None:
    # The Guardian's World and Politics feeds both carry one article: it is one article
    # of one outlet, not two outlets telling a story (which would make it the top story).
    text = "The prime minister announced a snap election for December on Tuesday."
    world = replace(
        article(1, "world", 2, "Snap election called", text, "The Guardian"),
        link="https://www.theguardian.com/politics/2026/nov/24/snap-election",
    )
    politics = replace(world, id=2, feed_id=99, section="politics", weight=2.0)
    other = article(3, "world", 1, "Chess champion keeps title", TOPICS[1], "Reuters")
    assert one_copy_per_link([world, politics, other]) == [politics, other]
    drafts = group_stories([world, politics, other], window=edition_window(END))
    assert sorted(len(d.articles) for d in drafts) == [1, 1]
    assert {a.id for d in drafts for a in d.articles} == {2, 3}


def test_a_summary_reads_the_leading_articles_not_every_copy() -> None:
    # A wire story carried by thirty feeds: the summary draws on the first SUMMARY_DOCS
    # (lead first), while the story keeps every article and its sources their cap.
    copies = [
        article(i, "world", 1, title="Earthquake kills five in Chile", source=f"Feed {i}")
        for i in range(30)
    ]
    draft = StoryDraft("a0", "world", 30.0, END, tuple(copies))
    read: list[int] = []

    def summarizer(docs: Sequence[Doc]) -> Summary:
        read.append(len(docs))
        return Summary(docs[0].title, docs[0].text)

    story = summarize_draft(draft, summarizer=summarizer)
    assert read == [SUMMARY_DOCS] and len(copies) > SUMMARY_DOCS
    assert story.title == "Earthquake kills five in Chile"
    assert [s.name for s in story.sources] == [f"Feed {i}" for i in range(MAX_SOURCES)]

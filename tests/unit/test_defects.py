"""The edition's defect rules (brief.digest.defects), each on the real snippets that showed it,
and the product code that keeps them out (kinds, clean_text, summarize, select_drafts)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from brief.digest.build import group_stories, left_out, select_drafts
from brief.digest.defects import (
    Article,
    ShownStory,
    duplicate_stories,
    edition_defects,
    glued_blocks,
    live_blog_clutter,
    non_news,
    page_furniture,
    repeated_sentences,
    standfirst,
    summary_length,
    text_artefacts,
)
from brief.digest.kinds import is_live_blog, live_standfirst, not_news
from brief.digest.summarize import clean_title, summarize_story
from brief.digest.text import clean_text, says_again
from brief.types import ArticleRecord, Doc, StoryDraft

# Real snippets (The Guardian, TPM, The Washington Post, Livemint feeds of ../shared/corpora/feeds).
FBI_BLOCKS = (
    "In statement attributable to FBI director – appointed by Trump – agency raises concerns "
    "about ‘material omissions of fact’ in document",
    "The FBI said on Wednesday it had “grave concerns” about Donald Trump’s apparent intention "
    "to release a memo said to contain classified information about the bureau’s investigation "
    "into one of the president’s campaign aides.",
)
BUTLER_BLOCKS = (
    "Former Miami Heat player died in crash in Los Angeles on Wednesday",
    "Former teams and team-mates pay tribute to hard-working veteran",
    "The 13-year NBA veteran Rasual Butler has died in a car crash in Los Angeles. He was 38.",
    "According to Los Angeles County coroner’s department, Butler lost control of his Range "
    "Rover in the early hours of Wednesday morning.",
)
LIVE_TITLE = "Tottenham Hotspur v Manchester United: Premier League – live!"
LIVE_TEXT = "\n".join(
    [
        "Latest updates from the 8pm kick-off at Wembley",
        "Clockwatch: keep up with all tonight’s other matches – live!",
        "Transfer deadline day – live!",
        "Scott’s book, The Title, containing hot Chas & Dave action",
        "And email Scott here",
        "8.13pm GMT",
        "13 min: The impressive Lingard bursts down the inside-left channel.",
    ]
)
HIRING_TEXT = (
    "TPM is currently hiring for four editorial positions, one existing position and three new "
    "positions: Senior Editor, Prime Editor, Assistant Editor and a third reporter to join our "
    "Investigations Desk team. I’ll be posting job listings for all of these positions shortly."
)
CALENDAR_TEXT = (
    "Breast-feeding support group For mothers and babies. Thursdays, 10-11 a.m. Inova Fairfax "
    "Hospital Women's Center, seventh floor, 3300 Gallows Rd., Falls Church. 703-776-6455. Free. "
    "Mood disorders support Sponsored by the Depression and Bipolar Support Alliance. Thursdays, "
    "7-9 p.m. First Christian Church, 6165 Leesburg Pike, Falls Church. 703-354-5104. Free."
)
MINT = (
    "PM Modi hosting Xi in Varanasi is in return for Xi receiving Modi in Wuhan last year in "
    "April.Previously, Modi hosted Xi in Ahmedabad, during Xi’s first ever visit to India in 2014"
)
OFFSHORE = (
    "More than 50 tankers are waiting offshore as the port of Basra remains shut. "
    "Dozens of tankers were queuing offshore on Tuesday, unable to enter Basra's port."
)
# The Guardian: a standfirst, then the body's opening telling the same in full.
NASSAR_BLOCKS = (
    "Police decided not to prosecute abuse allegation after disgraced doctor said he was "
    "conducting legitimate medical procedures",
    "Police dropped an investigation into disgraced former gymnastics doctor Larry Nassar in "
    "2004 after he told them he was conducting legitimate medical treatment, according to "
    "documents released on Wednesday.",
    "Brianne Randall-Gay was 17 when she was treated for scoliosis by Nassar. Randall-Gay’s "
    "mother subsequently complained to Meridian Township police department.",
)


# -- glued blocks ------------------------------------------------------------


@pytest.mark.parametrize("blocks", [FBI_BLOCKS, BUTLER_BLOCKS])
def test_a_standfirst_run_into_the_body_is_a_glued_block(blocks: tuple[str, ...]) -> None:
    glued = " ".join(blocks)  # what the edition showed
    assert glued_blocks(glued, blocks)
    assert glued_blocks(". ".join(b.rstrip(".") for b in blocks) + ".", blocks) is None


@pytest.mark.parametrize("blocks", [FBI_BLOCKS, BUTLER_BLOCKS])
def test_summaries_never_run_a_standfirst_into_the_body(blocks: tuple[str, ...]) -> None:
    summary = summarize_story([Doc("A title about something else", "\n".join(blocks))]).summary
    assert summary and glued_blocks(summary, blocks) is None


# -- live blogs --------------------------------------------------------------


def test_live_blog_clutter_is_found_in_headlines_and_summaries() -> None:
    assert live_blog_clutter(LIVE_TITLE, "")
    assert live_blog_clutter("Spurs v United", "And email Scott here 8.13pm GMT 13 min: The")
    assert live_blog_clutter("Spurs v United", "Lingard scored after 13 min: a fine goal.")
    ok = "The ministers will be administered the oath on Wednesday at 10.30 am in Bhubaneswar."
    assert live_blog_clutter("Naveen Patnaik govt to have 21 ministers", ok) is None


def test_a_live_blog_is_read_from_its_standfirst_only() -> None:
    assert is_live_blog(LIVE_TITLE, LIVE_TEXT)
    assert is_live_blog("Transfers", "8.12pm GMT Town sign Cotter. 8.04pm GMT Update.")
    assert not is_live_blog("Liverpool delivers a lively win", "Fans cheered at 8pm.")
    assert live_standfirst(LIVE_TEXT) == ""  # 9 words: nothing a reader learns from
    standfirst = "Follow every deal as clubs in Europe’s top five leagues race to sign players"
    assert live_standfirst(f"{standfirst}\n8.12pm GMT Town have signed Cotter.") == standfirst
    summary = summarize_story([Doc(LIVE_TITLE, LIVE_TEXT, "https://x.test/football/live/1")])
    assert live_blog_clutter(summary.headline, summary.summary) is None


# -- non-news ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("title", "text", "link", "reason"),
    [
        ("We're Hiring: Senior Editor", HIRING_TEXT, None, "job ad"),
        (
            "Senior Editor",
            HIRING_TEXT + " The position requires strong leadership.",
            None,
            "job ad",
        ),
        ("Fairfax wellness calendar, Aug. 23-30", CALENDAR_TEXT, None, "event calendar"),
        ("Support groups this week", CALENDAR_TEXT, None, "listing"),
        ("Featured Advertiser", "", "http://ads.pheedo.com/click.phdo?s=cc0c", "sponsored"),
        ("Snake school and May in China: Wednesday's top photos", "", None, "listing"),
        (
            "Best smart lock",
            "Keys are yesterday’s tech, your smart home needs a smart lock.",
            "https://www.techhive.com/article/3212828/connected-home/best-smart-lock.html",
            "buying guide",
        ),
        ("Which MacBook should you buy?", "", None, "buying guide"),
        ("A note to readers", "We are moving our comments to a new system.", None, "house notice"),
        (
            "Episode 212: The big one",
            "Listen to the episode on Apple Podcasts.",
            None,
            "podcast stub",
        ),
    ],
)
def test_not_news(title: str, text: str, link: str | None, reason: str) -> None:
    assert not_news(title, text, link) == reason
    assert non_news(ShownStory(title, text, (Article(title, (text,), link),)))


@pytest.mark.parametrize(
    ("title", "text"),
    [
        (
            "Amazon is hiring 100,000 workers for the holidays",
            "Amazon said on Tuesday it would hire.",
        ),
        ("Hannity Announces Fox Has Hired Sebastian Gorka", "Fox News hired Gorka on Wednesday."),
        ("Climate change threatens half of US bases worldwide", "Defense department says 1,700."),
        ("Schools minister to kids’ fitness and nutrition needs", "You’ve just been appointed."),
        # NeuS headlines that once matched a rule
        ("Army soldier charged with giving classified info to neo-Nazi group.", ""),
        ("What's on the table in pandemic relief talks.", "Trump and Senate Republicans."),
        ("Job openings soar to record high 9.3 million.", "America is hiring like never before."),
        ("Best Buy shares fall after weak holiday forecast", "The retailer said on Tuesday."),
        ("Best friends reunite after 50 years apart", "They met in 1975."),
        ("The best way to stop a pandemic is testing, WHO says", "The WHO said on Monday."),
    ],
)
def test_news_is_news(title: str, text: str) -> None:
    assert not_news(title, text) is None


def _record(n: int, title: str, text: str, source: str = "TPM") -> ArticleRecord:
    return ArticleRecord(
        id=n,
        feed_id=n,
        source=source,
        section="politics",
        title=title,
        link=f"https://x.test/{n}",
        summary_text=text,
        image_url=None,
        published_at=datetime(2026, 11, 25, tzinfo=UTC) - timedelta(minutes=n),
    )


def test_news_links_are_news() -> None:
    assert not_news("May jobs report", "", "https://x.test/2021/06/04/jobs-report-may.html") is None
    assert not_news("Senior Editor", "", "http://x.test/edblog/were-hiring-senior-editor")


def test_a_gallery_grouped_with_a_story_lends_it_no_outlet() -> None:
    text = "iCloud Photo Library keeps photos from every device in one place, and sorts them."
    drafts = group_stories(
        [
            _record(1, "iCloud Photo Library: sorting photos by device", text, "Macworld"),
            _record(2, "Snake school and May in China: Wednesday's top photos", text, "Guardian"),
        ]
    )
    assert sorted(len(d.articles) for d in drafts) == [1, 1]
    assert {left_out(d) for d in drafts} == {None, "listing"}


def test_the_edition_leaves_non_news_out_and_says_why() -> None:
    news = "Jurors finished a second full day of deliberations without reaching a verdict."
    drafts = [
        StoryDraft("a1", "politics", 3.0, datetime(2026, 11, 25, tzinfo=UTC),
                   (_record(1, "We're Hiring: Senior Editor", HIRING_TEXT),)),
        StoryDraft("a2", "politics", 2.0, datetime(2026, 11, 25, tzinfo=UTC),
                   (_record(2, "Menendez jury ends second day", news),)),
        StoryDraft("a3", "politics", 1.0, datetime(2026, 11, 25, tzinfo=UTC),
                   (_record(3, LIVE_TITLE, LIVE_TEXT, "The Guardian"),)),
        StoryDraft("a4", "politics", 0.5, datetime(2026, 11, 25, tzinfo=UTC),
                   (_record(4, "Best smart lock", "Keys are yesterday’s tech.", "Macworld"),)),
        StoryDraft("a5", "politics", 0.4, datetime(2026, 11, 25, tzinfo=UTC),
                   (_record(5, "Apple ships macOS fix", "Apple fixed a bug.", "Macworld"),)),
    ]  # fmt: skip
    assert [left_out(d) for d in drafts] == [
        "job ad",
        None,
        "live blog without a standfirst",
        "buying guide",
        None,
    ]
    assert [d.key for d in select_drafts(drafts, per_section=2)] == ["a2", "a5"]


# -- repeats and duplicates --------------------------------------------------


def test_a_sentence_saying_the_same_thing_in_other_words_is_a_repeat() -> None:
    assert repeated_sentences(OFFSHORE)
    assert says_again(*OFFSHORE.split(". "))
    different = (
        "Winnipeg high school student Nusaybah Mohamed's basketball uniform will look a little "
        "different this year as Muslim athletes at Dakota Collegiate can wear a custom hijab. "
        "Dakota Collegiate found a website where it could place orders for custom hijabs."
    )
    assert repeated_sentences(different) is None


def test_summaries_do_not_repeat_themselves() -> None:
    text = OFFSHORE + " Oil prices rose 3% on the news, traders in London said."
    summary = summarize_story([Doc("Basra port shut as tankers wait", text)]).summary
    assert repeated_sentences(summary) is None
    assert "Oil prices rose" in summary


def test_duplicate_stories() -> None:
    one = ShownStory(
        "Porn actor Stormy Daniels casts doubt on denial of affair with Trump",
        "Daniels appears to question the authenticity of a statement denying the affair.",
    )
    two = ShownStory(
        "Stormy Daniels on Jimmy Kimmel: porn actor casts doubt on denial of Trump affair",
        "The adult film star Stormy Daniels appears to question a statement denying her affair.",
    )
    other = ShownStory(
        "Glee actor Mark Salling found dead aged 35",
        "Mark Salling, the actor best known for his role in Glee, has died at the age of 35.",
    )
    assert len(duplicate_stories([one, two, other])) == 1
    shared = Article("x", (), "https://x.test/1")
    assert duplicate_stories([ShownStory("A", "a", (shared,)), ShownStory("B", "b", (shared,))])


# -- length, furniture, artefacts -------------------------------------------


def test_summary_length() -> None:
    assert summary_length("Keys are yesterday’s tech, your smart home needs a smart lock.")
    assert summary_length(" ".join(["word"] * 81))
    assert summary_length(" ".join(["word"] * 40)) is None


@pytest.mark.parametrize(
    ("headline", "summary"),
    [
        ("Snake school: top photos", "A selection of photo highlights Continue reading..."),
        ("Trump’s speech was bad | Cas Mudde", "The Democratic party showed it had learned."),
        ("Moments of protest during the address – video", "Democrats used it to protest."),
        ("Schools minister", "You have been appointed. Read full article >>"),
        ("CDC director resigns", "Related: CDC banned words include 'diversity' – report."),
    ],
)
def test_page_furniture(headline: str, summary: str) -> None:
    assert page_furniture(headline, summary)


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        (LIVE_TITLE, "Tottenham Hotspur v Manchester United: Premier League"),
        (
            "Moments of protest during Trump's State of the Union address – video",
            "Moments of protest during Trump's State of the Union address",
        ),
        (
            "Trump’s speech was bad. The Democrats' response to it was worse | Cas Mudde",
            "Trump’s speech was bad. The Democrats' response to it was worse",
        ),
        ("Super blue blood moon - in pictures", "Super blue blood moon"),
        ("Live video", "Live video"),  # nothing left to cut to
    ],
)
def test_headlines_lose_format_and_outlet_suffixes(title: str, expected: str) -> None:
    assert clean_title(title) == expected
    assert page_furniture(clean_title(title), "") is None or expected == title


def test_text_artefacts_are_found_and_cleaned() -> None:
    assert text_artefacts("", MINT)
    assert text_artefacts("", "Two  spaces here.")
    assert text_artefacts("It&#8217;s here", "")
    cleaned = clean_text(MINT)
    assert "April. Previously," in cleaned and text_artefacts("", cleaned) is None
    assert clean_text("It&amp;#8217;s  U.S. and Booking.com , iOS 11.2") == (
        "It’s U.S. and Booking.com, iOS 11.2"
    )
    summary = summarize_story([Doc("PM Modi-Xi Jinping summit in Varanasi", MINT)]).summary
    assert "April. Previously," in summary and text_artefacts("", summary) is None


def test_an_edition_of_clean_stories_has_no_defect() -> None:
    story = ShownStory(
        "FBI has 'grave concerns' about Trump plan to release controversial memo",
        summarize_story([Doc("FBI memo", "\n".join(FBI_BLOCKS))]).summary,
        (Article("FBI memo", FBI_BLOCKS, "https://x.test/fbi"),),
    )
    assert all(not found for found in edition_defects([story]).values())


def test_a_standfirst_and_the_body_sentence_restating_it_are_a_repeat() -> None:
    deck = standfirst(NASSAR_BLOCKS)
    assert deck == NASSAR_BLOCKS[0]
    both = f"{NASSAR_BLOCKS[0]}. {NASSAR_BLOCKS[1]}"
    assert repeated_sentences(both) is None  # too far apart in words for any two sentences
    assert repeated_sentences(both, [deck])
    # The FBI's standfirst and body share a subject but each says something of its own.
    fbi = f"{FBI_BLOCKS[0]}. {FBI_BLOCKS[1]}"
    assert repeated_sentences(fbi, [standfirst(FBI_BLOCKS) or ""]) is None
    assert standfirst(BUTLER_BLOCKS[2:]) is None  # punctuated: the body itself


def test_summaries_take_the_body_over_a_standfirst_it_restates() -> None:
    summary = summarize_story([Doc("Nassar investigation dropped", "\n".join(NASSAR_BLOCKS))])
    assert summary.summary.startswith("Police dropped an investigation into disgraced")
    assert "Police decided not to prosecute" not in summary.summary
    deck = standfirst(NASSAR_BLOCKS) or ""
    assert repeated_sentences(summary.summary, [deck]) is None
    # The FBI's standfirst adds to the body's opening, so it stays, though a later
    # sentence takes up its words ("statement ... attributable to the bureau director").
    later = (
        "After both Trump and the House speaker, Paul Ryan, made public statements supporting "
        "the so-called Nunes memo’s release, the fight over its fate took an extraordinary twist "
        "with the FBI’s highly unusual statement, which was ultimately attributable to the bureau "
        "director, Christopher Wray, Trump’s own appointee."
    )
    text = "\n".join((*FBI_BLOCKS, later))
    fbi = summarize_story([Doc("FBI has grave concerns", text)]).summary
    assert fbi.startswith("In statement attributable to FBI director")
    assert "The FBI said on Wednesday" in fbi

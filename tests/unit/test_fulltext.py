"""is_teaser / extract_main_text / filter_boilerplate: pure, on built pages and the seed page."""

from __future__ import annotations

import html

import pytest

from brief.feeds.fulltext import extract_main_text, filter_boilerplate, is_teaser
from tests.conftest import SEEDS

URL = "https://www.france24.com/en/20200107-us-military-iraq"
LONG = " ".join(["Officials confirmed the figures on Tuesday after a week of talks."] * 8)


@pytest.mark.parametrize(
    ("text", "teaser"),
    [
        ("", True),
        ("Short summary of the story.", True),
        (LONG, False),
        (LONG + " And then…", True),
        (LONG + " [...]", True),
        (LONG + " Read more", True),
        (LONG + " Continue reading →", True),
        (LONG + " The post appeared first on Example.", False),
    ],
)
def test_is_teaser(text: str, teaser: bool) -> None:
    assert is_teaser(text) is teaser


def seed_lines() -> list[str]:
    path = SEEDS / "daily-news-brief-example.txt"
    if not path.exists():
        pytest.skip(f"{path} is absent (clone ../shared beside the repo)")
    return [line.strip() for line in path.read_text().splitlines() if line.strip()]


def seed_page(furniture_inside_article: bool = False) -> tuple[str, list[str]]:
    """A plausible France 24 page around the seed text, and the article's paragraphs."""
    lines = seed_lines()
    skip, title, alt, caption = lines[:4]
    end = lines.index("(FRANCE 24 with AFP)")
    paragraphs = lines[4:end]
    e = html.escape
    body = "".join(f"<p>{e(p)}</p>" for p in paragraphs)
    newsletter = (
        '<aside class="newsletter"><h2>Daily news brief</h2>'
        "<p>Receive essential international news every morning</p>"
        "<p>Sign up for our newsletter and get the news in your inbox.</p>"
        '<form><input type="email" placeholder="Your email"><button>Subscribe</button></form>'
        "</aside>"
    )
    not_found = (
        "<section><h2>Page not found</h2>"
        "<p>The content you requested does not exist or is not available anymore.</p></section>"
    )
    inside = newsletter + not_found if furniture_inside_article else ""
    outside = "" if furniture_inside_article else newsletter + not_found
    page = f"""<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<title>{e(title)} - France 24</title><meta property="og:title" content="{e(title)}">
</head><body>
<a class="skip-link" href="#main">{e(skip)}</a>
<header><nav><ul><li><a href="/en/">Home</a></li><li><a href="/en/france/">France</a></li>
<li><a href="/en/africa/">Africa</a></li><li><a href="/en/middle-east/">Middle East</a></li>
</ul></nav></header>
<main id="main"><article>
<h1>{e(title)}</h1>
<p class="date">Issued on: 07/01/2020 - 05:35</p>
<figure><img src="/img/paratroopers.jpg" alt="{e(alt)}"><figcaption>{e(caption)}</figcaption>
</figure>
{"<p>" + e(alt) + "</p><p>" + e(caption) + "</p>" if furniture_inside_article else ""}
{body}
<p>(FRANCE 24 with AFP)</p>
{inside}
</article>{outside}</main>
<footer><p>© 2020 France 24</p><p>Follow us on Twitter</p></footer></body></html>"""
    return page, paragraphs


FURNITURE = [
    "Skip to main content",
    "REUTERS",
    "paratroopers",  # the photo caption, with and without its credit
    "Daily news brief",
    "Receive essential",
    "newsletter",
    "Page not found",
    "does not exist",
    "FRANCE 24 with AFP",
    "©",
    "Issued on",
    "Middle East",  # the navigation
    "US military has no plans",  # the headline is the title, not the text
]


@pytest.mark.parametrize("inside", [False, True], ids=["page", "furniture-in-article"])
def test_seed_page_keeps_the_news_and_drops_the_furniture(inside: bool) -> None:
    page, paragraphs = seed_page(furniture_inside_article=inside)
    text = extract_main_text(page, URL)
    assert text is not None
    assert text.startswith("US Defence Secretary Mark Esper denied Monday that US forces")
    for snippet in FURNITURE:
        assert snippet not in text, snippet
    # Nothing of the article is lost, in order, one paragraph per block.
    assert text.split("\n\n") == [" ".join(p.split()) for p in paragraphs]
    assert "a copy of which was seen by AFP." in text  # "AFP" in a sentence is not a credit


def test_seed_text_as_extracted_lines() -> None:
    lines = seed_lines()
    text = filter_boilerplate(lines, title=lines[1])
    assert text is not None
    assert text.startswith("US Defence Secretary Mark Esper denied Monday")
    assert text.endswith("allow foreign officials to attend such meetings.")
    assert "Page not found" not in text and "Daily news brief" not in text


def test_page_not_found_is_none() -> None:
    page = """<html><head><title>Page not found - France 24</title></head><body>
<header><a href="#main">Skip to main content</a></header><main id="main"><article>
<h1>Page not found</h1>
<p>The content you requested does not exist or is not available anymore.</p>
<p>Daily news brief</p><p>Receive essential international news every morning</p>
</article></main></body></html>"""
    assert extract_main_text(page, URL) is None


@pytest.mark.parametrize(
    "page",
    ["", "   ", "<html><body><p>Too short.</p></body></html>", "\x00\x01 not html at all"],
)
def test_nothing_to_extract_is_none(page: str) -> None:
    assert extract_main_text(page, URL) is None


@pytest.mark.parametrize(
    "line",
    [
        "Skip to main content",
        "Share this article",
        "Advertisement",
        "Read more: Iraq votes to expel US troops",
        "By Jane Doe and John Roe, Reuters",
        "Published on 7 January 2020",
        "Updated: 07/01/2020 - 05:35",
        "January 7, 2020",
        "Tue 7 Jan 2020 05.35 GMT",
        "Photo: Jane Doe for The Example",
        "A protester waves a flag in Baghdad. REUTERS/Thaier al-Sudani",
        "Smoke rises over the city (AFP PHOTO / John Doe)",
        "© Example Media 2020",
        "(FRANCE 24 with AFP)",
        "Reuters",
        "World | Europe | Middle East | Africa",
        "Sign up for our newsletter",
        "Get the latest headlines delivered to your inbox every morning",
        "By Jane Smith, chief political correspondent",
        "Soldiers leave the base at dawn. Jane Doe / Reuters",
    ],
)
def test_furniture_lines_are_dropped(line: str) -> None:
    text = filter_boilerplate(["Intro. " + LONG, line, "Outro. " + LONG])
    assert text == f"Intro. {LONG}\n\nOutro. {LONG}"


@pytest.mark.parametrize(
    "line",
    [
        "By Monday, the talks had collapsed and the delegates had gone home.",
        "AFP could hear helicopters flying low over Baghdad throughout the night on Monday.",
        "Countries that sign up to the treaty must cut emissions by half.",
        "Share prices fell 3% in early trading.",
        "Published figures showed a rise in unemployment.",
        "Home sales rose for the third month in a row.",
        # What only a summary drops (a mention of furniture): a page keeps it whole.
        "The regulator said the privacy policy broke the law and that the cookie consent "
        "banner must change; the company has read more than 400 complaints.",
    ],
)
def test_sentences_that_look_like_furniture_are_kept(line: str) -> None:
    text = filter_boilerplate([LONG, line])
    assert text == f"{LONG}\n\n{line}"


def test_dateline_prefix_is_dropped() -> None:
    text = filter_boilerplate([f"BAGHDAD (Reuters) - {LONG}"])
    assert text == LONG

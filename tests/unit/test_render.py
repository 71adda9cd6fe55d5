"""render_digest: Digest -> subject, plain text and HTML (no I/O)."""

from __future__ import annotations

import json
import os
import re
from dataclasses import replace
from datetime import UTC, date, datetime
from html.parser import HTMLParser
from pathlib import Path

import pytest

from brief.errors import InputError
from brief.mail.render import (
    PREHEADER_MAX,
    SUBJECT_MAX,
    long_date,
    overview,
    render_digest,
    top_story,
)
from brief.templating import make_env, template_dir, wrap
from brief.types import Digest, Recipient, RenderedEmail, Section, Source, Story

GOLDEN = Path(__file__).resolve().parents[1] / "data" / "email"
WEB_URL = "https://brief.test/archive/2026-11-25"
RECIPIENT = Recipient(
    email="reader@example.com",
    unsubscribe_url="https://brief.test/unsubscribe/tok123",
    preferences_url="https://brief.test/preferences/tok123",
)
END = datetime(2026, 11, 25, 6, 0, tzinfo=UTC)
START = datetime(2026, 11, 24, 6, 0, tzinfo=UTC)


def story(title: str, section: str, *sources: Source, **kw: str) -> Story:
    return Story(
        title=title,
        summary=kw.get("summary", f"What happened: {title.lower()}."),
        section=section,
        sources=sources,
        published_at=END,
        image_url=kw.get("image_url"),
        image_alt=kw.get("image_alt"),
    )


def src(name: str, url: str | None) -> Source:
    return Source(name=name, url=url, title=name)


def sample_digest() -> Digest:
    iraq = story(
        "US military has no plans to leave Iraq, Pentagon says after letter 'mistake'",
        "world",
        src("France 24", "https://www.france24.com/en/20200107-us-iraq"),
        src("AFP", "https://www.afp.com/en/news/iraq"),
        src("Wire", None),
        summary=(
            "US Defence Secretary Mark Esper denied on Monday that US forces would pull out "
            "of Iraq, after a general's letter told the Iraqi government that troops were "
            "preparing to depart. The Pentagon called the letter a draft sent by mistake."
        ),
        image_url="https://static.france24.com/iraq.jpg",
        image_alt="US Army paratroopers prepare for departure",
    )
    visa = story(
        "Iran's foreign minister says US denied him a visa for UN meetings",
        "world",
        src("RFI", "https://www.rfi.fr/en/iran-visa"),
    )
    hostile = story(
        "<script>alert('x')</script> Markets & \"bonds\" rally",
        "business",
        src("Evil Feed", "javascript:alert(1)"),
        summary="Stocks rose <b>sharply</b> & bonds followed.",
    )
    ai = story(
        "Researchers publish an openly licensed weather model",
        "science-tech",
        src("Nature", "https://www.nature.com/articles/weather"),
    )
    return Digest(
        edition_date=date(2026, 11, 25),
        window_start=START,
        window_end=END,
        sections=(
            Section("world", (iraq, visa)),
            Section("business", (hostile,)),
            Section("empty", ()),
            Section("science-tech", (ai,)),
        ),
    )


def realistic_digest() -> Digest:
    """A full edition: 25 stories in 5 sections, 3 sources each, summaries of ~60 words.

    Written for these tests in the style of real wire copy (curly quotes, accents,
    long source URLs); its top story by score is the second story of "world".
    """
    data = json.loads((GOLDEN / "edition-25.json").read_text(encoding="utf-8"))
    sections: dict[str, list[Story]] = {}
    for item in data["stories"]:
        sections.setdefault(item["section"], []).append(Story.from_json(item))
    return Digest(
        edition_date=date.fromisoformat(data["edition_date"]),
        window_start=datetime.fromisoformat(data["window_start"]),
        window_end=datetime.fromisoformat(data["window_end"]),
        sections=tuple(Section(name, tuple(stories)) for name, stories in sections.items()),
    )


def empty_digest() -> Digest:
    return Digest(date(2026, 11, 25), START, END, ())


def render(digest: Digest | None = None, **kw: object) -> RenderedEmail:
    args: dict[str, object] = {"brief_name": "Daily Brief", "web_url": WEB_URL}
    args["recipient"] = RECIPIENT
    args.update(kw)
    return render_digest(digest or sample_digest(), **args)  # type: ignore[arg-type]


def over_72(text: str) -> list[str]:
    """Lines of a plain-text part wider than 72 columns, except a lone URL."""
    return [
        ln for ln in text.splitlines() if len(ln) > 72 and not re.fullmatch(r"\s*https?://\S+", ln)
    ]


def scored(digest: Digest, scores: dict[str, float]) -> Digest:
    """``digest`` with the given scores, by story title (others keep 0)."""
    sections = tuple(
        Section(
            sec.name,
            tuple(replace(st, score=scores.get(st.title, st.score)) for st in sec.stories),
        )
        for sec in digest.sections
    )
    return Digest(digest.edition_date, digest.window_start, digest.window_end, sections)


class Page(HTMLParser):
    """Links, images and elements of a rendered HTML part."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.links: list[tuple[str, str]] = []  # (href, text)
        self.images: list[dict[str, str | None]] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self._href: str | None = None
        self._text = ""
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        self.tags.append((tag, attributes))
        if tag == "a":
            self._href, self._text = attributes.get("href") or "", ""
        if tag == "img":
            self.images.append(attributes)

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._href is not None:
            self.links.append((self._href, self._text))
            self._href = None

    def handle_data(self, data: str) -> None:
        if self._href is not None:
            self._text += data


def test_templates_are_found_and_escaping_follows_the_extension() -> None:
    assert (template_dir() / "email" / "digest" / "body.html").is_file()
    env = make_env()
    assert env is make_env()  # cached
    assert env.from_string("{{ x }}").render(x="<b>") == "&lt;b&gt;"  # safe default
    assert (
        env.select_template(["email/digest/subject.txt"])
        .render(brief_name="<B>", long_date="d", top_story=None)
        .startswith("<B> — d")
    )


def test_wrap_never_splits_urls() -> None:
    url = "https://example.com/" + "a" * 80
    assert wrap(f"read {url} now", 20) == f"read\n{url}\nnow"


# -- subject -------------------------------------------------------------------


def test_subject_has_name_date_and_top_story() -> None:
    assert render().subject == (
        "Daily Brief — Wednesday 25 November 2026: "
        "US military has no plans to leave Iraq, Pentagon says after letter 'mistake'"
    )


def test_subject_is_one_line_and_trimmed() -> None:
    long_title = "Breaking\r\nBcc: victim@example.com " + "word " * 60
    digest = Digest(
        date(2026, 11, 25), START, END, (Section("world", (story(long_title, "world"),)),)
    )
    subject = render(digest).subject
    assert "\r" not in subject and "\n" not in subject
    assert len(subject) <= SUBJECT_MAX
    assert subject.endswith("…")
    assert subject.startswith("Daily Brief — Wednesday 25 November 2026: Breaking Bcc:")


def test_subject_of_empty_digest() -> None:
    assert (
        render(empty_digest()).subject == "Daily Brief — Wednesday 25 November 2026: no new stories"
    )


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2026, 11, 25), "Wednesday 25 November 2026"),
        (date(2025, 1, 5), "Sunday 5 January 2025"),
        (date(2024, 2, 29), "Thursday 29 February 2024"),
    ],
)
def test_long_date(day: date, expected: str) -> None:
    assert long_date(day) == expected


@pytest.mark.parametrize(
    ("sections", "expected"),
    [
        ((), "0 stories from 0 sources"),
        ((Section("world", (story("A", "world", src("One", None)),)),), "1 story from 1 source"),
    ],
)
def test_overview_counts(sections: tuple[Section, ...], expected: str) -> None:
    assert overview(Digest(date(2026, 11, 25), START, END, sections)) == expected


def test_overview_of_sample() -> None:
    # 4 stories; sources: France 24, AFP, Wire, RFI, Evil Feed, Nature.
    assert overview(sample_digest()) == "4 stories from 6 sources"


# -- both parts ------------------------------------------------------------------


def test_both_parts_carry_date_sections_in_order_and_titles() -> None:
    email = render()
    for body in (email.text, email.html):
        assert "Wednesday 25 November 2026" in body
        assert "4 stories from 6 sources" in body
    text_heads = [
        ln for ln in email.text.splitlines() if ln in ("WORLD", "BUSINESS", "SCIENCE TECH")
    ]
    assert text_heads == ["WORLD", "BUSINESS", "SCIENCE TECH"]
    html_heads = re.findall(r'class="section-title"[^>]*>([^<]+)<', email.html)
    assert html_heads == ["World", "Business", "Science Tech"]  # the empty section is skipped
    assert "Iran's foreign minister says US denied him a visa for UN meetings" in email.text
    assert "Iran's foreign minister says US denied him a visa for UN meetings" in email.html


def test_html_links_point_at_stories_sources_and_footer() -> None:
    page = Page(render().html)
    iraq = "https://www.france24.com/en/20200107-us-iraq"
    # The top story's photo links to it, then its headline, then its sources.
    assert page.links[:3] == [
        (iraq, ""),
        (iraq, "US military has no plans to leave Iraq, Pentagon says after letter 'mistake'"),
        (iraq, "France 24"),
    ]
    assert ("https://www.afp.com/en/news/iraq", "AFP") in page.links  # "Also reported by"
    assert (WEB_URL, "View in your browser") in page.links
    assert ("https://brief.test/preferences/tok123", "Preferences") in page.links
    assert ("https://brief.test/unsubscribe/tok123", "Unsubscribe") in page.links


def test_text_part_links_on_their_own_lines() -> None:
    lines = [ln.strip() for ln in render().text.splitlines()]
    for url in (
        "https://www.france24.com/en/20200107-us-iraq",
        "https://www.rfi.fr/en/iran-visa",
        WEB_URL,
        "https://brief.test/preferences/tok123",
        "https://brief.test/unsubscribe/tok123",
    ):
        assert url in lines
    assert "Source: France 24 · Also reported by AFP, Wire" in lines
    assert "Source: RFI" in lines


def test_text_part_is_wrapped_at_72_columns() -> None:
    text = render(postal_address="Brief Ltd\n1 Long Street\n75000 Paris").text
    assert over_72(text) == []
    assert "Brief Ltd\n1 Long Street\n75000 Paris" in text
    assert "\n-- \n" in text  # signature separator before the footer


def test_html_styles_are_inlined_and_media_queries_kept() -> None:
    html = render().html
    page = Page(html)
    styled = [tag for tag, attrs in page.tags if "style" in attrs]
    assert {"body", "table", "td", "p", "a", "img"} <= set(styled)
    assert re.search(r'class="container"[^>]*style="[^"]*max-width:600px', html)
    assert "@media only screen and (max-width: 480px)" in html
    assert "@media (prefers-color-scheme: dark)" in html
    assert ".headline { margin" not in html  # plain rules moved into style=""


def test_only_the_top_story_has_an_image_with_size_and_alt() -> None:
    [image] = Page(render().html).images
    assert image["src"] == "https://static.france24.com/iraq.jpg"
    assert image["alt"] == "US Army paratroopers prepare for departure"
    assert image["width"] == "568" and image["height"] == "320"


def test_hostile_content_is_escaped_and_bad_links_dropped() -> None:
    email = render()
    assert "<script>" not in email.html
    # css-inline re-serializes text nodes: quotes come out bare, which is safe there.
    assert "&lt;script&gt;alert('x')&lt;/script&gt; Markets &amp; \"bonds\" rally" in email.html
    assert "&lt;b&gt;sharply&lt;/b&gt;" in email.html
    assert "javascript:" not in email.html and "javascript:" not in email.text
    # The plain-text part is not HTML: it keeps the title as written.
    assert "<script>alert('x')</script> Markets & \"bonds\" rally" in email.text


def test_preheader_is_hidden_and_lists_top_titles() -> None:
    html = render().html
    match = re.search(r'<div class="preheader" style="([^"]*)">([^<]*)', html)
    assert match is not None
    assert "display:none" in match.group(1)
    assert match.group(2).startswith("US military has no plans to leave Iraq")


def test_empty_digest_says_so_politely() -> None:
    email = render(empty_digest())
    for body in (email.text, email.html):
        assert "No news from your feeds in the last 24 hours" in body
        assert "stories from" not in body
        assert "https://brief.test/unsubscribe/tok123" in body
    assert Page(email.html).images == []


def test_web_copy_has_no_personal_links_but_a_subscribe_hint() -> None:
    email = render(recipient=None)
    for body in (email.text, email.html):
        assert "reader@example.com" not in body
        assert "unsubscribe" not in body.lower()
        assert "tok123" not in body
        assert "https://brief.test/" in body
    assert ("https://brief.test/", "Subscribe") in Page(email.html).links


def test_web_copy_subscribe_url_can_be_given() -> None:
    email = render(recipient=None, subscribe_url="https://brief.test/join")
    assert ("https://brief.test/join", "Subscribe") in Page(email.html).links
    assert "https://brief.test/join" in email.text.splitlines()


def test_preferences_link_is_optional() -> None:
    recipient = Recipient("reader@example.com", "https://brief.test/unsubscribe/tok123")
    email = render(recipient=recipient)
    assert "Preferences" not in email.html and "preferences" not in email.text


@pytest.mark.parametrize("web_url", ["/archive/2026-11-25", "javascript:alert(1)", ""])
def test_relative_web_url_is_refused(web_url: str) -> None:
    with pytest.raises(InputError, match="web_url"):
        render(web_url=web_url)


def test_relative_unsubscribe_url_is_refused() -> None:
    with pytest.raises(InputError, match="unsubscribe_url"):
        render(recipient=Recipient("reader@example.com", "/unsubscribe/tok"))


# -- the top story -------------------------------------------------------------

VISA = "Iran's foreign minister says US denied him a visa for UN meetings"
WEATHER = "Researchers publish an openly licensed weather model"


def test_top_story_is_the_highest_score_and_leads_once() -> None:
    digest = scored(sample_digest(), {WEATHER: 3.0, VISA: 2.0})
    assert top_story(digest) is not None and top_story(digest).title == WEATHER  # type: ignore[union-attr]
    email = render(digest)
    assert email.subject == f"Daily Brief — Wednesday 25 November 2026: {WEATHER}"
    html_heads = re.findall(r'class="[^"]*headline[^"]*"[^>]*>(?:<a [^>]*>)?([^<]+)<', email.html)
    assert html_heads[0] == WEATHER and html_heads.count(WEATHER) == 1
    assert len(html_heads) == 4  # every story, once
    # Its section had nothing else, so it is not shown empty.
    assert "SCIENCE TECH" not in email.text.splitlines()
    assert "TOP STORY · SCIENCE TECH" in email.text.splitlines()
    assert email.text.count(WEATHER) == 1
    # Only the top story gets an image; this one has none.
    assert Page(email.html).images == []


def test_top_story_of_equal_scores_is_the_first() -> None:
    digest = scored(sample_digest(), {st.title: 1.5 for st in sample_digest().stories})
    top = top_story(digest)
    assert top is not None and top.title.startswith("US military has no plans")
    assert top_story(empty_digest()) is None


def test_preheader_lists_the_top_stories_by_score() -> None:
    digest = scored(sample_digest(), {WEATHER: 3.0, VISA: 2.0})
    html = render(digest).html
    match = re.search(r'<div class="preheader"[^>]*>([^<]*)', html)
    assert match is not None
    assert match.group(1).startswith(f"{WEATHER} · {VISA} · US military")


def test_preheader_can_be_given_and_is_one_short_line() -> None:
    html = render(preheader="Today:\r\nthe Pentagon " + "and more " * 30).html
    match = re.search(r'<div class="preheader"[^>]*>([^<]*)', html)
    assert match is not None
    given = match.group(1).split("\u034f")[0]  # before the invisible padding
    assert given.startswith("Today: the Pentagon and more")
    assert given.endswith("…") and len(given) <= PREHEADER_MAX


# -- footer ------------------------------------------------------------------------


def test_footer_says_why_and_carries_preferences_unsubscribe_and_address() -> None:
    email = render(postal_address="Brief Ltd\n1 Long Street\n75000 Paris")
    footer = email.html[email.html.index('class="footer"') :]
    assert "You are receiving this because reader@example.com subscribed to Daily Brief" in footer
    assert "Brief Ltd<br>1 Long Street<br>75000 Paris" in footer
    assert ("https://brief.test/preferences/tok123", "Preferences") in Page(footer).links
    assert ("https://brief.test/unsubscribe/tok123", "Unsubscribe") in Page(footer).links


def test_preferences_url_parameter_is_used_when_the_recipient_has_none() -> None:
    bare = Recipient("reader@example.com", "https://brief.test/unsubscribe/tok123")
    email = render(recipient=bare, preferences_url="https://brief.test/preferences/p9")
    assert ("https://brief.test/preferences/p9", "Preferences") in Page(email.html).links
    assert "https://brief.test/preferences/p9" in email.text.splitlines()
    # The recipient's own link wins; the web copy has none.
    assert "preferences/p9" not in render(preferences_url="https://brief.test/preferences/p9").html
    web = render(recipient=None, preferences_url="https://brief.test/preferences/p9")
    assert "preferences" not in web.html.lower() and "preferences" not in web.text.lower()
    with pytest.raises(InputError, match="preferences_url"):
        render(recipient=bare, preferences_url="/preferences/p9")


# -- real-client quality ---------------------------------------------------------


@pytest.mark.parametrize("recipient", [RECIPIENT, None], ids=["email", "web"])
@pytest.mark.parametrize("make", [sample_digest, realistic_digest, empty_digest])
def test_every_link_and_image_is_absolute(make: object, recipient: Recipient | None) -> None:
    html = render(make(), recipient=recipient).html  # type: ignore[operator]
    page = Page(html)
    urls = [
        value
        for _tag, attrs in page.tags
        for name, value in attrs.items()
        if name in ("href", "src", "background", "action")
    ]
    assert urls, "no links at all"
    assert all(value and re.match(r"https?://[^/\s]+", value) for value in urls), urls
    for image in page.images:
        assert image["width"] and image["height"] and image["alt"], image


def test_a_25_story_edition_stays_under_gmails_clipping_size() -> None:
    digest = realistic_digest()
    assert len(digest.stories) == 25
    assert all(len(st.sources) == 3 for st in digest.stories)
    words = [len(st.summary.split()) for st in digest.stories]
    assert min(words) >= 50 and sum(words) / len(words) >= 55
    html = render(digest, postal_address="Brief Ltd\n1 Long Street\n75000 Paris").html
    size = len(html.encode("utf-8"))
    assert size < 102 * 1024, f"{size} bytes: Gmail clips messages over 102 KB"
    assert size < 60 * 1024  # plenty of room left for longer titles and summaries


def test_a_full_edition_reads_well_at_72_columns() -> None:
    email = render(realistic_digest(), postal_address="Brief Ltd\n1 Long Street\n75000 Paris")
    assert over_72(email.text) == []
    lines = email.text.splitlines()
    assert lines[:3] == ["DAILY BRIEF", "Wednesday 25 November 2026", "25 stories from 49 sources"]
    top = "TOP STORY · WORLD"
    assert lines[lines.index(top) + 1] == "=" * len(top)
    assert lines[lines.index(top) + 3].startswith("* Earthquake of magnitude 7.1")
    assert "Source: NHK World · Also reported by AP, BBC News" in lines
    assert "https://www3.nhk.or.jp/nhkworld/en/news/20261125_02/" in lines


def test_html_is_dark_mode_friendly_and_fluid() -> None:
    html = render(realistic_digest()).html
    assert '<meta name="color-scheme" content="light dark">' in html
    assert "@media (prefers-color-scheme: dark)" in html
    # Fluid: full width up to 600px, so it fits a 320px phone without media queries.
    assert re.search(r'class="container"[^>]*width="100%"[^>]*style="[^"]*max-width:600px', html)
    assert '<!--[if mso]><table role="presentation" width="600"' in html
    assert "#000000" not in html and "#ffffff" not in html.lower()


def test_credit_line_links_every_source() -> None:
    html = render().html
    assert re.search(
        r'Source: <a href="https://www.france24.com/en/20200107-us-iraq"[^>]*>France 24</a>'
        r' · Also reported by <a href="https://www.afp.com/en/news/iraq"[^>]*>AFP</a>, Wire</p>',
        html,
    )


# -- golden files ------------------------------------------------------------------


@pytest.mark.parametrize("name", ["digest", "web", "empty"])
def test_matches_golden_files(name: str) -> None:
    """Any change to the rendered email shows up as a diff; BRIEF_REGEN=1 rewrites them."""
    email = {
        "digest": lambda: render(postal_address="Brief Ltd, 1 Long Street, 75000 Paris"),
        "web": lambda: render(recipient=None),
        "empty": lambda: render(empty_digest()),
    }[name]()
    outputs = {f"{name}.subject.txt": email.subject + "\n", f"{name}.txt": email.text}
    outputs[f"{name}.html"] = email.html
    for filename, actual in outputs.items():
        path = GOLDEN / filename
        if os.environ.get("BRIEF_REGEN") == "1":
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(actual, encoding="utf-8")
        assert path.exists(), f"{path} is missing: run with BRIEF_REGEN=1"
        assert actual == path.read_text(encoding="utf-8"), f"{filename} changed (BRIEF_REGEN=1)"

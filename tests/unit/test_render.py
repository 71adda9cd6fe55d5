"""render_digest: Digest -> subject, plain text and HTML (no I/O)."""

from __future__ import annotations

import os
import re
from datetime import UTC, date, datetime
from html.parser import HTMLParser
from pathlib import Path

import pytest

from brief.errors import InputError
from brief.mail.render import SUBJECT_MAX, long_date, overview, render_digest, shorten
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


def empty_digest() -> Digest:
    return Digest(date(2026, 11, 25), START, END, ())


def render(digest: Digest | None = None, **kw: object) -> RenderedEmail:
    args: dict[str, object] = {"brief_name": "Daily Brief", "web_url": WEB_URL}
    args["recipient"] = RECIPIENT
    args.update(kw)
    return render_digest(digest or sample_digest(), **args)  # type: ignore[arg-type]


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
    ("text", "limit", "expected"),
    [
        ("short", 10, "short"),
        ("one two three four", 12, "one two…"),
        ("unbreakablewordhere", 10, "unbreakab…"),
    ],
)
def test_shorten(text: str, limit: int, expected: str) -> None:
    assert shorten(text, limit) == expected


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


def test_html_links_are_absolute_and_point_at_stories_and_footer() -> None:
    page = Page(render().html)
    hrefs = [href for href, _ in page.links]
    assert all(href.startswith("https://") for href in hrefs), hrefs
    assert ("https://www.france24.com/en/20200107-us-iraq", page.links[0][1]) == page.links[0]
    assert "US military has no plans" in page.links[0][1]
    assert ("https://www.afp.com/en/news/iraq", "AFP") in page.links  # "Also:" source
    assert (WEB_URL, "View in your browser") in page.links
    assert ("https://brief.test/preferences/tok123", "Preferences") in page.links
    assert ("https://brief.test/unsubscribe/tok123", "Unsubscribe") in page.links


def test_text_part_links_on_their_own_lines() -> None:
    lines = render().text.splitlines()
    for url in (
        "https://www.france24.com/en/20200107-us-iraq",
        "https://www.rfi.fr/en/iran-visa",
        WEB_URL,
        "https://brief.test/preferences/tok123",
        "https://brief.test/unsubscribe/tok123",
    ):
        assert url in lines
    assert "Source: France 24. Also: AFP, Wire" in lines


def test_text_part_is_wrapped_at_72_columns() -> None:
    text = render(postal_address="Brief Ltd\n1 Long Street\n75000 Paris").text
    too_long = [ln for ln in text.splitlines() if len(ln) > 72 and "://" not in ln]
    assert too_long == []
    assert "Brief Ltd\n1 Long Street\n75000 Paris" in text
    assert "\n-- \n" in text  # signature separator before the footer


def test_html_styles_are_inlined_and_media_queries_kept() -> None:
    html = render().html
    page = Page(html)
    styled = [tag for tag, attrs in page.tags if "style" in attrs]
    assert {"body", "table", "td", "p", "a", "img"} <= set(styled)
    assert 'class="container"' in html and "width: 600px" in html
    assert "@media only screen and (max-width: 620px)" in html
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
    assert "display: none" in match.group(1)
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

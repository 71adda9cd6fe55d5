"""The rendered edition in a real browser: headless Chromium at phone and desktop widths.

Uses Debian's ``chromium`` (``/usr/bin/chromium``, which ``.ci/run`` installs)
through Playwright; no browser is downloaded. Screenshots go to
``test-artifacts/`` at the repository root, to look at after a run.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from brief.mail.render import render_digest, top_story
from brief.types import Digest, Recipient, Section, Source
from tests.browser import ARTIFACTS, browser, shoot
from tests.unit.test_render import realistic_digest

__all__ = ["ARTIFACTS", "browser"]  # the fixture, used by name

# A stand-in for the news photo: the page never reaches the network.
PHOTO = (
    b'<svg xmlns="http://www.w3.org/2000/svg" width="1600" height="900" viewBox="0 0 16 9">'
    b'<defs><linearGradient id="g" x1="0" y1="0" x2="0" y2="1">'
    b'<stop offset="0" stop-color="#7d9bb5"/><stop offset="1" stop-color="#3d4f5c"/>'
    b'</linearGradient></defs><rect width="16" height="9" fill="url(#g)"/>'
    b'<rect y="6" width="16" height="3" fill="#55606a"/></svg>'
)


def stress_edition() -> Digest:
    """The 25-story edition plus a story whose words are longer than a phone is wide."""
    digest = realistic_digest()
    long_word = "Donaudampfschifffahrtsgesellschaftskapitänswitwenrentenversicherung"
    url = "https://www.example-news.com/" + "very-long-slug-" * 8 + "2026-11-25"
    story = replace(
        digest.stories[-1],
        title=f"{long_word} reform passes in Vienna",
        summary=f"The {long_word} bill passed. Details at {url} for those who want them.",
        sources=(Source("Wiener Zeitung", url, "t"), Source("ORF", None, "t")),
        score=0.0,
    )
    sections = (*digest.sections, Section("europe", (story,)))
    return Digest(digest.edition_date, digest.window_start, digest.window_end, sections)


def rendered_html(digest: Digest) -> str:
    return render_digest(
        digest,
        brief_name="Daily Brief",
        web_url="https://brief.test/editions/2026-11-25",
        recipient=Recipient(
            "reader@example.com",
            "https://brief.test/unsubscribe/tok",
            "https://brief.test/preferences/tok",
        ),
        postal_address="Brief Ltd\n1 Long Street\n75000 Paris",
    ).html


def open_page(
    browser: Any, html: str, width: int, *, images: bool = True, dark: bool = False
) -> Any:
    page = browser.new_page(
        viewport={"width": width, "height": 800}, color_scheme="dark" if dark else "light"
    )

    def handle(route: Any) -> None:
        if images and route.request.resource_type == "image":
            route.fulfill(status=200, content_type="image/svg+xml", body=PHOTO)
        else:
            route.abort()  # nothing else leaves the machine

    page.route("**/*", handle)
    page.set_content(html, wait_until="load")
    return page


def layout(page: Any) -> dict[str, Any]:
    return page.evaluate(  # type: ignore[no-any-return]
        """() => {
          const headlines = [...document.querySelectorAll('.headline')].map(h => {
            const r = h.getBoundingClientRect();
            const s = getComputedStyle(h);
            return {text: h.textContent.trim(), left: r.left, right: r.right,
                    width: r.width, height: r.height,
                    shown: s.display !== 'none' && s.visibility !== 'hidden'
                           && h.offsetParent !== null};
          });
          const img = document.querySelector('img.story-image');
          return {
            scrollWidth: document.scrollingElement.scrollWidth,
            viewport: window.innerWidth,
            headlines,
            image: img && {width: img.getBoundingClientRect().width,
                           height: img.getBoundingClientRect().height},
            preheaderHeight: document.querySelector('.preheader').getBoundingClientRect().height,
          };
        }"""
    )


@pytest.mark.parametrize("width", [320, 375, 600, 1024])
def test_edition_fits_the_screen_and_shows_every_story(browser: Any, width: int) -> None:
    digest = stress_edition()
    page = open_page(browser, rendered_html(digest), width)
    try:
        shot = shoot(page, f"email-{width}.png")
        found = layout(page)
    finally:
        page.close()
    assert shot.stat().st_size > 0
    assert found["scrollWidth"] <= found["viewport"] == width  # no horizontal scrolling
    # The top story first, then every other story in section order, each once.
    top = top_story(digest)
    assert top is not None
    expected = [top.title, *(st.title for st in digest.stories if st is not top)]
    assert [h["text"] for h in found["headlines"]] == expected
    assert len(expected) == 26
    for headline in found["headlines"]:
        assert headline["shown"] and headline["width"] > 0 and headline["height"] > 0, headline
        assert headline["left"] >= 0 and headline["right"] <= width, headline
    # The column is 600px at most and fills a phone; the photo fits inside it.
    assert found["image"]["width"] <= min(width, 600) - 32
    assert found["image"]["width"] >= min(width, 600) - 32 - 1
    assert found["preheaderHeight"] == 0


def test_dark_mode_and_images_off_stay_readable(browser: Any) -> None:
    html = rendered_html(realistic_digest())
    dark = open_page(browser, html, 375, dark=True)
    try:
        shoot(dark, "email-375-dark.png")
        colours = dark.evaluate(
            """() => ['.container', '.headline a', '.summary'].map(
                 q => getComputedStyle(document.querySelector(q)).getPropertyValue(
                   q === '.container' ? 'background-color' : 'color'))"""
        )
    finally:
        dark.close()
    assert colours == ["rgb(30, 30, 30)", "rgb(240, 240, 240)", "rgb(214, 214, 214)"]

    blocked = open_page(browser, html, 375, images=False)
    try:
        shoot(blocked, "email-375-images-off.png")
        found = layout(blocked)
    finally:
        blocked.close()
    assert found["scrollWidth"] <= 375
    assert all(h["shown"] for h in found["headlines"])
    # The image keeps its box (width/height attributes), so the layout does not jump.
    assert found["image"]["height"] > 100

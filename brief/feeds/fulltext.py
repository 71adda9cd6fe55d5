"""The main text of an article page (pure: HTML in, text out; no network).

A feed often gives only a teaser. The fetching side decides with ``is_teaser`` whether
to fetch the page, and calls ``extract_main_text`` on the HTML it got; ``None`` means
"keep the teaser".

Extraction is trafilatura, tuned for precision (no comments, no tables, no links),
followed by brief's page-furniture filter (digest/boilerplate.py, shared with the
summaries) for what still gets through on news sites: "Skip to main content",
navigation and share lines, newsletter boxes, photo captions and credits
("… REUTERS/…", "Photo: …", "© …"), bylines, datelines, "(FRANCE 24 with AFP)"
taglines, and pages that are really a "Page not found".
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

import trafilatura

from brief.digest.boilerplate import (
    is_caption_credit,
    is_furniture_line,
    is_not_found,
    strip_agency_dateline,
)
from brief.feeds.normalize import title_key

log = logging.getLogger(__name__)

TEASER_CHARS = 400
MIN_TEXT_CHARS = 200  # less than this, after filtering, is not an article
MAX_HTML_BYTES = 5 * 1024 * 1024

_TEASER_ENDINGS = re.compile(
    r"(?:…|\.\.\.|\[…\]|\[\.\.\.\]|\(more…?\)|"
    r"read (?:the )?(?:more|full (?:story|article))|continue reading|keep reading|"
    r"lire la suite|weiterlesen|leer más|leggi tutto|ler mais)"
    r"[\s\]\).:»›→>-]*$",
    re.IGNORECASE,
)


def is_teaser(text: str) -> bool:
    """True when a feed's text is only a teaser: short, or cut off ("…", "Read more")."""
    body = " ".join(text.split())
    return len(body) < TEASER_CHARS or bool(_TEASER_ENDINGS.search(body))


def extract_main_text(html: str, url: str) -> str | None:
    """The article's main text, paragraphs separated by blank lines, or None.

    None when the page has no article to speak of: extraction failed, a "Page not found"
    page, or less than MIN_TEXT_CHARS of text once the boilerplate is removed.
    """
    if not html or not html.strip():
        return None
    html = html[:MAX_HTML_BYTES]
    try:
        doc = trafilatura.bare_extraction(
            html,
            url=url,
            favor_precision=True,
            include_comments=False,
            include_tables=False,
            include_links=False,
            include_images=False,
            with_metadata=True,
        )
    except Exception:  # a parser bug on odd markup: keep the teaser
        log.warning("extracting %s failed", url, exc_info=True)
        return None
    if doc is None:
        return None
    text = getattr(doc, "text", None) or ""
    title = getattr(doc, "title", None) or ""
    author = getattr(doc, "author", None) or ""
    return filter_boilerplate(text.splitlines(), title=title, author=author)


def plain_extract(html: str, url: str) -> str | None:
    """trafilatura alone, with the same options and no filter (for comparison in bench/)."""
    return trafilatura.extract(
        html,
        url=url,
        favor_precision=True,
        include_comments=False,
        include_tables=False,
        include_links=False,
        include_images=False,
    )


def filter_boilerplate(lines: Iterable[str], *, title: str = "", author: str = "") -> str | None:
    """Drop the page furniture from extracted ``lines``; None for a not-found page."""
    cleaned = [" ".join(line.split()) for line in lines]
    cleaned = [line for line in cleaned if line]
    not_found = [line for line in cleaned if is_not_found(line)]
    credits = [line for line in cleaned if is_caption_credit(line)]
    skip_keys = {title_key(t) for t in (title, author) if t.strip()}
    kept: list[str] = []
    seen: set[str] = set()
    for line in cleaned:
        key = title_key(line)
        if not key or key in seen or key in skip_keys:
            continue
        if is_furniture_line(line) or any(len(line) > 30 and c.startswith(line) for c in credits):
            continue  # the caption again, without its credit (an image's alt text)
        seen.add(key)
        kept.append(line)
    if kept:
        kept[0] = strip_agency_dateline(kept[0])
    text = "\n\n".join(kept).strip()
    if not_found and len(text) < 2 * MIN_TEXT_CHARS:
        return None  # the page says it has nothing; what is left is its furniture
    return text if len(text) >= MIN_TEXT_CHARS else None

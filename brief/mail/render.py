"""Digest -> RenderedEmail (subject, plain text, HTML). Pure: no I/O beyond templates."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

import css_inline

from brief.errors import InputError
from brief.templating import make_env
from brief.types import Digest, Recipient, RenderedEmail, Story

SUBJECT_MAX = 120  # long enough for a headline, short enough for a phone's inbox row
PREHEADER_MAX = 140
# The top story's image box: 16:9 at the content width (600px minus padding), the
# usual news-photo shape; CSS height:auto keeps real proportions where supported.
IMAGE_WIDTH = 568
IMAGE_HEIGHT = 320

_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


@dataclass(frozen=True)
class _Link:
    name: str
    url: str | None


@dataclass(frozen=True)
class _Image:
    url: str
    alt: str
    width: int = IMAGE_WIDTH
    height: int = IMAGE_HEIGHT


@dataclass(frozen=True)
class _StoryView:
    title: str
    summary: str
    url: str | None
    source: str
    also: tuple[_Link, ...]
    image: _Image | None


@dataclass(frozen=True)
class _SectionView:
    title: str
    stories: tuple[_StoryView, ...]


def long_date(day: date) -> str:
    """'Wednesday 25 November 2026', the same whatever the process locale."""
    return f"{_DAYS[day.weekday()]} {day.day} {_MONTHS[day.month - 1]} {day.year}"


def one_line(text: str) -> str:
    """Fold all whitespace, CR and LF included, so the text is safe in a header."""
    return " ".join(text.split())


def shorten(text: str, limit: int) -> str:
    """Cut at a word boundary and add an ellipsis when ``text`` is over ``limit``."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if " " in cut:
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:.-—·") + "…"


def web_link(url: str | None) -> str | None:
    """The URL if it is an absolute http(s) link, else None (drops javascript: etc.)."""
    if not url:
        return None
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme.lower() in ("http", "https") and parts.netloc and not _has_control(url):
        return url
    return None


def _has_control(text: str) -> bool:
    return any(ord(ch) < 32 or ch == "\x7f" for ch in text)


def _require_link(url: str, what: str) -> str:
    link = web_link(url)
    if link is None:
        raise InputError(f"{what} must be an absolute http(s) URL, got {url!r}")
    return link


def _count(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


def overview(digest: Digest) -> str:
    """'12 stories from 9 sources'."""
    stories = _count(len(digest.stories), "story", "stories")
    return f"{stories} from {_count(len(digest.source_names), 'source', 'sources')}"


def window_text(digest: Digest) -> str:
    """'24 hours': the digest window, for the no-news message."""
    hours = max(1, round((digest.window_end - digest.window_start).total_seconds() / 3600))
    return _count(hours, "hour", "hours")


def _story_view(story: Story, *, with_image: bool) -> _StoryView:
    primary = story.sources[0].name if story.sources else "unknown"
    also = tuple(_Link(one_line(s.name), web_link(s.url)) for s in story.sources[1:])
    image_url = web_link(story.image_url) if with_image else None
    image = _Image(image_url, one_line(story.image_alt or story.title)) if image_url else None
    return _StoryView(
        title=one_line(story.title),
        summary=story.summary.strip(),
        url=web_link(story.url),
        source=one_line(primary),
        also=also,
        image=image,
    )


def _section_views(digest: Digest) -> tuple[_SectionView, ...]:
    views = []
    first = True
    for section in digest.sections:
        if not section.stories:
            continue
        stories = []
        for story in section.stories:
            stories.append(_story_view(story, with_image=first))
            first = False
        views.append(_SectionView(section.title, tuple(stories)))
    return tuple(views)


def _context(
    digest: Digest,
    *,
    brief_name: str,
    web_url: str,
    recipient: Recipient | None,
    postal_address: str,
    subscribe_url: str | None,
) -> dict[str, Any]:
    sections = _section_views(digest)
    top = sections[0].stories[0] if sections else None
    titles = [st.title for sec in sections for st in sec.stories[:1]]
    web = _require_link(web_url, "web_url")
    nothing = f"No news from your feeds in the last {window_text(digest)}"
    return {
        "brief_name": one_line(brief_name),
        "long_date": long_date(digest.edition_date),
        "preheader": shorten(" · ".join(titles), PREHEADER_MAX) or nothing,
        "overview": overview(digest) if sections else "",
        "nothing": nothing,
        "sections": sections,
        "top_story": top,
        "web_url": web,
        "recipient_email": one_line(recipient.email) if recipient else None,
        "unsubscribe_url": (
            _require_link(recipient.unsubscribe_url, "unsubscribe_url") if recipient else None
        ),
        "preferences_url": web_link(recipient.preferences_url) if recipient else None,
        "subscribe_url": (
            _require_link(subscribe_url, "subscribe_url")
            if subscribe_url
            else f"{urlsplit(web).scheme}://{urlsplit(web).netloc}/"
        ),
        "postal_lines": [ln.strip() for ln in postal_address.splitlines() if ln.strip()],
    }


@lru_cache(maxsize=1)
def _inliner() -> css_inline.CSSInliner:
    # keep_at_rules leaves the @media rules (mobile, dark mode) in a <style> tag;
    # never fetch remote stylesheets while rendering.
    return css_inline.CSSInliner(keep_at_rules=True, load_remote_stylesheets=False)


def render_digest(
    digest: Digest,
    *,
    brief_name: str,
    web_url: str,
    recipient: Recipient | None = None,
    postal_address: str = "",
    subscribe_url: str | None = None,
) -> RenderedEmail:
    """Render one edition for ``recipient``, or the archive/web copy when it is None.

    The web copy has no personal links; its footer invites to subscribe at
    ``subscribe_url`` (default: the site root of ``web_url``).
    """
    env = make_env()
    ctx = _context(
        digest,
        brief_name=brief_name,
        web_url=web_url,
        recipient=recipient,
        postal_address=postal_address,
        subscribe_url=subscribe_url,
    )
    subject = shorten(
        one_line(env.get_template("email/digest/subject.txt").render(ctx)), SUBJECT_MAX
    )
    text = env.get_template("email/digest/body.txt").render(ctx)
    html = _inliner().inline(env.get_template("email/digest/body.html").render(ctx))
    return RenderedEmail(subject=subject, text=_tidy_text(text), html=html)


def _tidy_text(text: str) -> str:
    """Strip trailing blanks (keeping the '-- ' signature marker) and end with one newline."""
    lines = [ln if ln == "-- " else ln.rstrip() for ln in text.splitlines()]
    return "\n".join(lines).strip("\n") + "\n"

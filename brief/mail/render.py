"""Digest -> RenderedEmail (subject, plain text, HTML). Pure: no I/O beyond templates."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

import css_inline

from brief.digest.text import truncate
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
    section: str
    source: _Link
    also: tuple[_Link, ...]
    image: _Image | None

    @property
    def credit(self) -> str:
        """'Source: France 24 · Also reported by AFP, Wire' (the plain-text form)."""
        line = f"Source: {self.source.name}"
        if self.also:
            line += " · Also reported by " + ", ".join(link.name for link in self.also)
        return line


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


def top_story(digest: Digest) -> Story | None:
    """The story the edition leads with: the highest score, the first of equals."""
    stories = digest.stories
    return max(stories, key=lambda st: st.score) if stories else None


def _story_view(story: Story, section: str, *, with_image: bool) -> _StoryView:
    primary = story.sources[0] if story.sources else None
    source = _Link(one_line(primary.name), web_link(primary.url)) if primary else _Link("", None)
    also = tuple(_Link(one_line(s.name), web_link(s.url)) for s in story.sources[1:])
    image_url = web_link(story.image_url) if with_image else None
    image = _Image(image_url, one_line(story.image_alt or story.title)) if image_url else None
    return _StoryView(
        title=one_line(story.title),
        summary=story.summary.strip(),
        url=web_link(story.url),
        section=section,
        source=source if source.name else _Link("unknown", None),
        also=also,
        image=image,
    )


def _views(digest: Digest) -> tuple[_StoryView | None, tuple[_SectionView, ...]]:
    """The top story (with its image) and the sections without it, empty ones skipped."""
    top = top_story(digest)
    top_view = None
    sections = []
    for section in digest.sections:
        stories = []
        for story in section.stories:
            if story is top and top_view is None:
                top_view = _story_view(story, section.title, with_image=True)
            else:
                stories.append(_story_view(story, section.title, with_image=False))
        if stories:
            sections.append(_SectionView(section.title, tuple(stories)))
    return top_view, tuple(sections)


def default_preheader(digest: Digest, count: int = 3) -> str:
    """The inbox preview line: the top stories' headlines, most important first."""
    ranked = sorted(digest.stories, key=lambda st: -st.score)  # stable: ties keep order
    return truncate(" · ".join(one_line(st.title) for st in ranked[:count]), PREHEADER_MAX)


def _context(
    digest: Digest,
    *,
    brief_name: str,
    web_url: str,
    recipient: Recipient | None,
    postal_address: str,
    subscribe_url: str | None,
    preferences_url: str | None,
    preheader: str | None,
) -> dict[str, Any]:
    top, sections = _views(digest)
    web = _require_link(web_url, "web_url")
    nothing = f"No news from your feeds in the last {window_text(digest)}"
    preferences = None
    if recipient is not None:
        if recipient.preferences_url:
            preferences = web_link(recipient.preferences_url)
        elif preferences_url:
            preferences = _require_link(preferences_url, "preferences_url")
    if preheader is not None:
        preheader = truncate(one_line(preheader), PREHEADER_MAX)
    return {
        "brief_name": one_line(brief_name),
        "long_date": long_date(digest.edition_date),
        "preheader": preheader or default_preheader(digest) or nothing,
        "overview": overview(digest) if top else "",
        "nothing": nothing,
        "top_story": top,
        "sections": sections,
        "web_url": web,
        "recipient_email": one_line(recipient.email) if recipient else None,
        "unsubscribe_url": (
            _require_link(recipient.unsubscribe_url, "unsubscribe_url") if recipient else None
        ),
        "preferences_url": preferences,
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
    # minify_css writes style="a:b;c:d", which keeps a 25-story edition far from
    # Gmail's 102 KB clipping point.
    return css_inline.CSSInliner(keep_at_rules=True, load_remote_stylesheets=False, minify_css=True)


def render_digest(
    digest: Digest,
    *,
    brief_name: str,
    web_url: str,
    recipient: Recipient | None = None,
    postal_address: str = "",
    subscribe_url: str | None = None,
    preferences_url: str | None = None,
    preheader: str | None = None,
) -> RenderedEmail:
    """Render one edition for ``recipient``, or the archive/web copy when it is None.

    The edition leads with its top story (highest ``Story.score``, the first of
    equals) and its image, then the other stories by section. The web copy has no
    personal links; its footer invites to subscribe at ``subscribe_url`` (default:
    the site root of ``web_url``). ``preferences_url`` is used for a recipient
    whose own ``preferences_url`` is unset; ``preheader`` replaces the inbox
    preview line (default: the top stories' headlines).
    """
    env = make_env()
    ctx = _context(
        digest,
        brief_name=brief_name,
        web_url=web_url,
        recipient=recipient,
        postal_address=postal_address,
        subscribe_url=subscribe_url,
        preferences_url=preferences_url,
        preheader=preheader,
    )
    subject = truncate(
        one_line(env.get_template("email/digest/subject.txt").render(ctx)), SUBJECT_MAX
    )
    text = env.get_template("email/digest/body.txt").render(ctx)
    html = _inliner().inline(env.get_template("email/digest/body.html").render(ctx))
    return RenderedEmail(subject=subject, text=_tidy_text(text), html=html)


def _tidy_text(text: str) -> str:
    """Strip trailing blanks (keeping the '-- ' signature marker) and end with one newline."""
    lines = [ln if ln == "-- " else ln.rstrip() for ln in text.splitlines()]
    return "\n".join(lines).strip("\n") + "\n"

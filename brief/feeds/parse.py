"""Feed bytes -> ParsedFeed. The only module that imports feedparser.

feedparser is forgiving: it returns *something* for any input, flags trouble with
``bozo`` and keeps what it could read. We keep bozo feeds that still yielded entries
(a stray ``&`` should not cost a day's news) and turn everything else that is not a
feed into FeedParseError.
"""

from __future__ import annotations

import calendar
import hashlib
import html
import io
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import feedparser

from brief.errors import FeedParseError
from brief.feeds.clean import fold_whitespace, html_to_text, sanitize_html
from brief.types import ParsedArticle, ParsedFeed

TITLE_FROM_TEXT_CHARS = 80
_IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".gif", ".webp", ".avif")
_IMG_SRC = re.compile(r"""<img\b[^>]*?\ssrc\s*=\s*["']?([^"'\s>]+)""", re.IGNORECASE)
_HTML_START = re.compile(rb"^\s*(?:<\?xml[^>]*>\s*)?(?:<!doctype\s+html|<html\b|<head\b)", re.I)


def parse_feed(url: str, content: bytes, headers: Mapping[str, str] | None = None) -> ParsedFeed:
    """Parse RSS 0.9x/1.0/2.0 or Atom ``content`` fetched from ``url``.

    ``headers`` are the HTTP response headers; Content-Type gives feedparser the charset.
    Raises FeedParseError when the document is not a feed.
    """
    if not content.strip():
        raise FeedParseError(url, "not a feed: the response is empty")
    # feedparser wants lower-case names. No Content-Location is made up from ``url``: links
    # left relative (no xml:base) are resolved below against the site link, as miniflux does,
    # since a feed is often served from another host (a CDN, FeedBurner) than its site.
    response_headers = {k.lower(): v for k, v in (headers or {}).items()}
    try:
        # BytesIO, not bytes: feedparser treats a bare string as a possible file path or URL.
        data = feedparser.parse(io.BytesIO(content), response_headers=response_headers)
    except Exception as exc:  # feedparser has crashed on odd input before; never let it escape
        raise FeedParseError(url, f"could not parse feed: {type(exc).__name__}: {exc}") from exc
    _check_is_feed(url, content, response_headers, data)

    feed = data.get("feed", {})
    site = _http_url(feed.get("link"), url)
    articles = tuple(a for a in (_article(e, site or url) for e in data.get("entries", [])) if a)
    title = fold_whitespace(html.unescape(feed.get("title", ""))) or None
    return ParsedFeed(url=url, title=title, link=site, articles=articles)


def _check_is_feed(url: str, content: bytes, headers: Mapping[str, str], data: Any) -> None:
    if data.get("entries"):
        return  # bozo or not, there is something to read
    if data.get("version") or data.get("feed", {}).get("title"):
        return  # recognisably a feed, with no entries today
    if "html" in headers.get("content-type", "").lower() or _HTML_START.match(content[:1024]):
        raise FeedParseError(url, "not a feed: looks like an HTML page")
    reason = data.get("bozo_exception")
    detail = f" ({fold_whitespace(str(reason))})" if reason else ""
    raise FeedParseError(url, f"not a feed: no RSS or Atom document found{detail}")


def _article(entry: Any, base: str) -> ParsedArticle | None:
    title = _entry_title(entry)
    link = _http_url(entry.get("link"), base)
    if not title and not link:
        return None  # nothing a reader could recognise or follow
    body = _entry_html(entry)
    text = html_to_text(body)
    # dict.get: FeedParserDict's own lookup maps a missing updated_parsed, with a warning.
    published = _timestamp(dict.get(entry, "published_parsed") or dict.get(entry, "updated_parsed"))
    return ParsedArticle(
        guid=_guid(entry, link, title, published),
        # Untitled posts (allowed in RSS) are named by their opening words, else their link.
        title=title or _shorten(text, TITLE_FROM_TEXT_CHARS) or link or "",
        link=link,
        summary_html=sanitize_html(body, link or base),
        summary_text=text,
        author=fold_whitespace(entry.get("author", "")) or None,
        image_url=_image_url(entry, body, link or base),
        published_at=published,
    )


def _shorten(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0].rstrip(",;:.") + "…"


def _entry_title(entry: Any) -> str:
    title = entry.get("title", "")
    if "html" in entry.get("title_detail", {}).get("type", ""):
        return html_to_text(title)
    # Plain titles are often double-escaped ("&amp;#8217;"); one more unescape fixes them.
    return fold_whitespace(html.unescape(title))


def _entry_html(entry: Any) -> str:
    """The summary, else the full content: a brief wants the short version."""
    summary = entry.get("summary", "")
    if summary.strip():
        return str(summary)
    for part in entry.get("content", []):
        if part.get("value", "").strip():
            return str(part["value"])
    return ""


def _guid(entry: Any, link: str | None, title: str, published: datetime | None) -> str:
    guid = fold_whitespace(entry.get("id", ""))
    if guid:
        return guid
    if link:
        return link
    # No id and no link: the title and date are all that identifies the entry.
    stamp = published.isoformat() if published else ""
    return "sha1:" + hashlib.sha1(f"{title}\n{stamp}".encode()).hexdigest()


def _timestamp(parsed: Any) -> datetime | None:
    """feedparser's UTC struct_time -> aware datetime; None when absent or nonsense."""
    if not parsed:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(parsed), UTC)
    except (OverflowError, ValueError, OSError, TypeError):
        return None


def _image_url(entry: Any, body: str, base: str) -> str | None:
    return next(
        (u for u in (_http_url(c, base) for c in _image_candidates(entry, body)) if u), None
    )


def _image_candidates(entry: Any, body: str) -> Iterable[str]:
    """Image URLs in order of how deliberately the publisher chose them."""
    for media in entry.get("media_content", []):
        if _looks_like_image(media.get("url", ""), media.get("type"), media.get("medium")):
            yield media["url"]
    for thumb in entry.get("media_thumbnail", []):
        if thumb.get("url"):
            yield thumb["url"]
    for enclosure in entry.get("enclosures", []):
        if enclosure.get("type", "").startswith("image/") and enclosure.get("href"):
            yield enclosure["href"]
    for part in [body, *(c.get("value", "") for c in entry.get("content", []))]:
        match = _IMG_SRC.search(part)
        if match:
            yield html.unescape(match.group(1))


def _looks_like_image(url: str, mime: str | None, medium: str | None) -> bool:
    if medium or mime:
        return medium == "image" or (mime or "").startswith("image/")
    return urlsplit(url).path.lower().endswith(_IMAGE_EXTENSIONS)


def _http_url(value: Any, base: str) -> str | None:
    """``value`` made absolute against ``base``, if it is then an http(s) URL."""
    if not isinstance(value, str) or not value.strip():
        return None
    url = urljoin(base, value.strip())
    parts = urlsplit(url)
    return url if parts.scheme in ("http", "https") and parts.netloc else None

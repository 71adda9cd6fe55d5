"""Feed bytes -> ParsedFeed. The only module that imports feedparser.

feedparser is forgiving: it returns *something* for any input, flags trouble with
``bozo`` and keeps what it could read. We keep bozo feeds that still yielded entries
(a stray ``&`` should not cost a day's news) and turn everything else that is not a
feed into FeedParseError.

Before feedparser sees a document:

- gzip bytes (a server that compresses twice, or a ``.gz`` file served as is) are
  unpacked, at most ``MAX_UNPACKED_BYTES``;
- JSON Feed (https://jsonfeed.org, which feedparser does not read) is parsed here
  into the same ParsedFeed;
- the DOCTYPE is removed, with its internal subset: no external entity (XXE) can be
  fetched or read, no entity can expand into another ("billion laughs"). Entities
  that stand for one character or a few letters (``<!ENTITY nbsp "&#160;">``) are
  replaced by their values, since feeds use them.
"""

from __future__ import annotations

import calendar
import hashlib
import html
import io
import json
import re
import zlib
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import feedparser

from brief.errors import FeedParseError
from brief.feeds.clean import fold_whitespace, html_to_text, sanitize_html
from brief.feeds.normalize import aware_utc, canonical_url, clean_title, short_text
from brief.types import ParsedArticle, ParsedFeed

TITLE_FROM_TEXT_CHARS = 80
MAX_UNPACKED_BYTES = 32 * 1024 * 1024
MAX_CATEGORIES = 20
_IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".gif", ".webp", ".avif")
_IMG_TAG = re.compile(r"<img\b[^>]*>", re.IGNORECASE)
_ATTR = re.compile(r"""\s([a-z-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))""", re.IGNORECASE)
_HTML_START = re.compile(rb"^\s*(?:<\?xml[^>]*>\s*)?(?:<!doctype\s+html|<html\b|<head\b)", re.I)
_JSON_FEED_VERSION = re.compile(r"^https?://jsonfeed\.org/version/")
_SKIP_HOURS = re.compile(r"<(?:\w+:)?skipHours\b[^>]*>(.*?)</(?:\w+:)?skipHours\s*>", re.I | re.S)
_HOUR = re.compile(r"<(?:\w+:)?hour\b[^>]*>\s*(\d{1,2})\s*</", re.I)
_RSS_PREFIX = re.compile(rb"<(/?)rss:")
_UNDECLARED_RSS_PREFIX = re.compile(rb"<rss:(?:channel|item)\b")
_EMAIL_AND_NAME = re.compile(r"^[^\s@()]+@[^\s@()]+\s*\((.+)\)$")
_PERIOD_MINUTES = {"hourly": 60, "daily": 1440, "weekly": 10080, "monthly": 43200, "yearly": 525600}


def parse_feed(url: str, content: bytes, headers: Mapping[str, str] | None = None) -> ParsedFeed:
    """Parse RSS 0.9x/1.0/2.0, Atom or JSON Feed ``content`` fetched from ``url``.

    ``headers`` are the HTTP response headers; Content-Type gives feedparser the charset.
    Raises FeedParseError when the document is not a feed.
    """
    if not content.strip():
        raise FeedParseError(url, "not a feed: the response is empty")
    content = _gunzip(url, content)
    # feedparser wants lower-case names. No Content-Location is made up from ``url``: links
    # left relative (no xml:base) are resolved below against the site link, as miniflux does,
    # since a feed is often served from another host (a CDN, FeedBurner) than its site.
    response_headers = {k.lower(): v for k, v in (headers or {}).items()}
    if _looks_like_json(content):
        return parse_json_feed(url, content)
    content, response_headers = defuse_doctype(content, response_headers)
    try:
        # BytesIO, not bytes: feedparser treats a bare string as a possible file path or URL.
        data = feedparser.parse(io.BytesIO(content), response_headers=response_headers)
    except Exception as exc:  # feedparser has crashed on odd input before; never let it escape
        raise FeedParseError(url, f"could not parse feed: {type(exc).__name__}: {exc}") from exc
    if not data.get("entries") and _UNDECLARED_RSS_PREFIX.search(content[:4096]):
        # <rss:item> without an xmlns:rss (dylanharris.org does this): read it unprefixed.
        unprefixed = _RSS_PREFIX.sub(rb"<\1", content)
        data = feedparser.parse(io.BytesIO(unprefixed), response_headers=response_headers)
    _check_is_feed(url, content, response_headers, data)

    feed = data.get("feed", {})
    site = _http_url(feed.get("link"), url)
    articles = tuple(a for a in (_article(e, site or url) for e in data.get("entries", [])) if a)
    return ParsedFeed(
        url=url,
        title=clean_title(feed.get("title", "")) or None,
        link=site,
        articles=articles,
        ttl_minutes=_positive_int(feed.get("ttl")),
        update_period_minutes=_update_period(
            feed.get("sy_updateperiod"), feed.get("sy_updatefrequency")
        ),
        skip_hours=_skip_hours(_ascii_view(content)),
    )


# -- before feedparser ---------------------------------------------------------------------


def _gunzip(url: str, content: bytes) -> bytes:
    if not content.startswith(b"\x1f\x8b"):
        return content
    unpacker = zlib.decompressobj(wbits=31)
    try:
        out = unpacker.decompress(content, MAX_UNPACKED_BYTES)
    except zlib.error as exc:
        raise FeedParseError(url, f"not a feed: broken gzip data ({exc})") from exc
    if unpacker.unconsumed_tail:
        raise FeedParseError(url, f"not a feed: gzip data unpacks to over {MAX_UNPACKED_BYTES} B")
    if not out.strip():  # a truncated stream that still yields a part is parsed as it is
        raise FeedParseError(url, "not a feed: broken gzip data (nothing unpacked)")
    return out


def _wide_codec(content: bytes) -> str | None:
    """The codec of a UTF-16/32 document (by BOM, else by the NULs around "<"), or None."""
    for bom, codec in (
        (b"\xff\xfe\x00\x00", "utf-32-le"),
        (b"\x00\x00\xfe\xff", "utf-32-be"),
        (b"\xff\xfe", "utf-16-le"),
        (b"\xfe\xff", "utf-16-be"),
    ):
        if content.startswith(bom):
            return codec
    head = content[:4]
    if head.startswith(b"<\x00\x00\x00"):
        return "utf-32-le"
    if head.startswith(b"\x00\x00\x00<"):
        return "utf-32-be"
    if head.startswith(b"<\x00"):
        return "utf-16-le"
    if head.startswith(b"\x00<"):
        return "utf-16-be"
    return None


def _ascii_view(content: bytes) -> str:
    """The document as text good enough for ASCII markup: tag names, digits, punctuation.

    Latin-1 maps each byte to one character, so for ASCII-compatible encodings (UTF-8,
    windows-125x, KOI8-R...) offsets and ASCII text are preserved exactly.
    """
    codec = _wide_codec(content)
    if codec:
        return content.decode(codec, errors="replace").lstrip("\ufeff")
    return content.decode("latin-1")


def _looks_like_json(content: bytes) -> bool:
    """By the bytes, not the Content-Type: servers label XML feeds "application/json"
    and JSON feeds "text/plain" often enough."""
    head = content[:64].removeprefix(b"\xef\xbb\xbf")
    return _ascii_view(head).lstrip("\ufeff \t\r\n").startswith("{")


_DOCTYPE = re.compile(r"<!DOCTYPE\b", re.IGNORECASE)
_FIRST_ELEMENT = re.compile(r"<[A-Za-z_]")
# An entity that stands for a character reference or a few plain characters (no markup,
# no quotes, no other entity): at most a few times longer than a reference to it.
_SAFE_ENTITY = re.compile(
    r"""<!ENTITY\s+(?!(?:amp|lt|gt|quot|apos)\s)([A-Za-z_][\w.-]*)\s+"""
    r"""(?:"(&\#x?[0-9A-Fa-f]{1,6};|[^"'&%<>]{0,8})"|'(&\#x?[0-9A-Fa-f]{1,6};|[^"'&%<>]{0,8})')\s*>"""
)
_ENTITY_REF = re.compile(r"&([A-Za-z_][\w.-]*);")


def defuse_doctype(
    content: bytes, headers: Mapping[str, str] | None = None
) -> tuple[bytes, dict[str, str]]:
    """``content`` without its DOCTYPE; references to entities with tiny literal values
    are replaced by those values, the others are left for the parser to report.

    Returns the document and the headers to parse it with (a UTF-16/32 document with a
    DOCTYPE comes back as UTF-8, so its charset is changed to match).
    """
    out_headers = dict(headers or {})
    codec = _wide_codec(content)
    text = _ascii_view(content)
    first = _FIRST_ELEMENT.search(text)
    prolog_end = first.start() if first else len(text)
    match = _DOCTYPE.search(text, 0, prolog_end)
    if not match:
        return content, out_headers
    end = _doctype_end(text, match.start())
    subset = text[match.start() : end]
    values = {m.group(1): m.group(2) or m.group(3) or "" for m in _SAFE_ENTITY.finditer(subset)}
    body = text[end:]
    if values:  # each reference becomes its value: no DTD is left for a parser to expand
        body = _ENTITY_REF.sub(lambda m: values.get(m.group(1), m.group(0)), body)
    text = text[: match.start()] + body
    if codec is None:
        return text.encode("latin-1"), out_headers
    # Re-encoded as UTF-8: the prolog and the header must now say so.
    text = re.sub(r"""(<\?xml[^>]*?encoding\s*=\s*)["'][^"']*["']""", r'\1"utf-8"', text, count=1)
    for name, value in list(out_headers.items()):
        if name.lower() == "content-type":
            out_headers[name] = re.sub(r"charset=[\w-]+", "charset=utf-8", value, flags=re.I)
    return text.encode("utf-8"), out_headers


def _doctype_end(text: str, start: int) -> int:
    """The offset just past the DOCTYPE that starts at ``start``: quotes, comments and the
    internal subset are skipped over, so a ``>`` inside them does not end it early."""
    i, n, depth, quote = start + 2, len(text), 0, ""
    while i < n:
        c = text[i]
        if quote:
            if c == quote:
                quote = ""
        elif text.startswith("<!--", i):
            close = text.find("-->", i + 4)
            i = n if close < 0 else close + 3
            continue
        elif c in "\"'":
            quote = c
        elif c == "[":
            depth += 1
        elif c == "]":
            depth = max(0, depth - 1)
        elif c == ">" and depth == 0:
            return i + 1
        i += 1
    return n


def _check_is_feed(url: str, content: bytes, headers: Mapping[str, str], data: Any) -> None:
    if data.get("entries"):
        return  # bozo or not, there is something to read
    if data.get("version") or data.get("feed", {}).get("title"):
        return  # recognisably a feed, with no entries today
    if "html" in headers.get("content-type", "").lower() or _HTML_START.match(content[:1024]):
        raise FeedParseError(url, "not a feed: looks like an HTML page")
    reason = data.get("bozo_exception")
    detail = f" ({fold_whitespace(str(reason))})" if reason else ""
    raise FeedParseError(url, f"not a feed: no RSS, Atom or JSON Feed document found{detail}")


# -- feed-level hints ------------------------------------------------------------------------


def _positive_int(value: Any) -> int | None:
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None


def _update_period(period: Any, frequency: Any) -> int | None:
    """sy:updatePeriod / sy:updateFrequency -> minutes between updates."""
    if not isinstance(period, str) and frequency is None:
        return None
    minutes = _PERIOD_MINUTES.get(str(period or "daily").strip().lower())
    if minutes is None:
        return None
    times = _positive_int(frequency) if frequency is not None else 1
    return max(1, minutes // times) if times else None


def _skip_hours(text: str) -> tuple[int, ...]:
    block = _SKIP_HOURS.search(text)
    if not block:
        return ()
    hours = {int(h) % 24 for h in _HOUR.findall(block.group(1)) if int(h) <= 24}
    return tuple(sorted(hours))


# -- entries -----------------------------------------------------------------------------


def _article(entry: Any, base: str) -> ParsedArticle | None:
    title = _entry_title(entry)
    link = canonical_url(_entry_link(entry), base)
    if not title and not link:
        return None  # nothing a reader could recognise or follow
    body = _entry_html(entry)
    text = html_to_text(body, blocks=True)  # one block a line: a standfirst stays apart
    # dict.get: FeedParserDict's own lookup maps a missing updated_parsed, with a warning.
    updated = _timestamp(dict.get(entry, "updated_parsed"))
    published = _timestamp(dict.get(entry, "published_parsed")) or updated
    image = _lead_image(entry, body, link or base)
    return ParsedArticle(
        guid=_guid(fold_whitespace(entry.get("id", "")), link, title, published),
        # Untitled posts (allowed in RSS) are named by their opening words, else their link.
        title=title or short_text(text, TITLE_FROM_TEXT_CHARS) or link or "",
        link=link,
        summary_html=sanitize_html(body, link or base),
        summary_text=text,
        author=_author(entry),
        image_url=image[0] if image else None,
        published_at=published,
        updated_at=updated,
        categories=_categories(t.get("term") or t.get("label") for t in entry.get("tags", [])),
        image_alt=image[1] if image else None,
    )


def _entry_title(entry: Any) -> str:
    title = entry.get("title", "")
    return clean_title(title, is_html="html" in entry.get("title_detail", {}).get("type", ""))


def _entry_link(entry: Any) -> str | None:
    link = entry.get("link")
    if isinstance(link, str) and link.strip():
        return link
    # No alternate link: a permalink guid is the article's address.
    guid = entry.get("id", "")
    if entry.get("guidislink") or (
        isinstance(guid, str) and guid.startswith(("http://", "https://"))
    ):
        return str(guid)
    return None


def _entry_html(entry: Any) -> str:
    """The summary, else the full content: a brief wants the short version."""
    summary = entry.get("summary", "")
    if summary.strip():
        return str(summary)
    for part in entry.get("content", []):
        if part.get("value", "").strip():
            return str(part["value"])
    return ""


def _author(entry: Any) -> str | None:
    raw = entry.get("author") or ""
    named = _EMAIL_AND_NAME.match(raw.strip()) if isinstance(raw, str) else None
    if named:  # RSS <author>desk@example.com (Desk Editor)</author>
        return clean_title(named.group(1)) or None
    detail = entry.get("author_detail") or {}
    name = raw or detail.get("name") or ""
    if not name:
        name = next((a.get("name", "") for a in entry.get("authors", []) if a.get("name")), "")
    return clean_title(name) or None


def _categories(terms: Iterable[Any]) -> tuple[str, ...]:
    seen: dict[str, str] = {}
    for term in terms:
        name = clean_title(term)[:100] if isinstance(term, str) else ""
        if name and name.casefold() not in seen:
            seen[name.casefold()] = name
    return tuple(seen.values())[:MAX_CATEGORIES]


def _guid(guid: str, link: str | None, title: str, published: datetime | None) -> str:
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


def _lead_image(entry: Any, body: str, base: str) -> tuple[str, str | None] | None:
    """The entry's image (URL, alt text), in order of how deliberately it was chosen."""
    images = _content_images([body, *(c.get("value", "") for c in entry.get("content", []))])
    alts = {canonical_url(src, base): alt for src, alt in images}
    for candidate, alt in _image_candidates(entry, images):
        url = _http_url(candidate, base)
        if url:
            return url, alt or alts.get(canonical_url(url)) or None
    return None


def _image_candidates(
    entry: Any, images: list[tuple[str, str | None]]
) -> Iterable[tuple[str, str | None]]:
    for media in entry.get("media_content", []):
        if _looks_like_image(media.get("url", ""), media.get("type"), media.get("medium")):
            yield media["url"], None
    for thumb in entry.get("media_thumbnail", []):
        if thumb.get("url"):
            yield thumb["url"], None
    for enclosure in entry.get("enclosures", []):
        if enclosure.get("type", "").startswith("image/") and enclosure.get("href"):
            yield enclosure["href"], None
    yield from images


def _content_images(parts: Iterable[str]) -> list[tuple[str, str | None]]:
    """(src, alt) of each ``<img>`` in the HTML ``parts``, in order."""
    found: list[tuple[str, str | None]] = []
    for part in parts:
        for tag in _IMG_TAG.findall(part or ""):
            attrs = {
                m.group(1).lower(): m.group(2) or m.group(3) or m.group(4) or ""
                for m in _ATTR.finditer(tag)
            }
            if attrs.get("src"):
                alt = clean_title(attrs.get("alt", "")) or None
                found.append((html.unescape(attrs["src"]), alt))
    return found


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


# -- JSON Feed -------------------------------------------------------------------------------


def parse_json_feed(url: str, content: bytes) -> ParsedFeed:
    """A JSON Feed 1.0/1.1 document -> ParsedFeed; FeedParseError for other JSON."""
    try:
        data = json.loads(content.decode(_wide_codec(content) or "utf-8-sig", errors="replace"))
    except (ValueError, RecursionError) as exc:
        raise FeedParseError(url, f"not a feed: malformed JSON ({exc})") from exc
    if not isinstance(data, dict) or not _JSON_FEED_VERSION.match(str(data.get("version", ""))):
        raise FeedParseError(url, "not a feed: JSON, but not a JSON Feed (no jsonfeed.org version)")
    items = data.get("items")
    if not isinstance(items, list):
        raise FeedParseError(url, "not a feed: JSON Feed without an items list")
    site = _http_url(_str(data.get("home_page_url")), url)
    base = site or url
    feed_authors = _json_authors(data)
    articles = tuple(
        a for a in (_json_article(i, base, feed_authors) for i in items if isinstance(i, dict)) if a
    )
    return ParsedFeed(
        url=url, title=clean_title(_str(data.get("title"))) or None, link=site, articles=articles
    )


def _json_article(
    item: dict[str, Any], base: str, feed_authors: str | None
) -> ParsedArticle | None:
    title = clean_title(_str(item.get("title")))
    link = canonical_url(_str(item.get("url")) or _str(item.get("external_url")), base)
    content_html = _str(item.get("content_html"))
    summary = _str(item.get("summary"))
    if summary:
        body = html.escape(summary)
    elif content_html:
        body = content_html
    else:
        body = html.escape(_str(item.get("content_text"))).replace("\n", "<br>")
    text = html_to_text(body, blocks=True)  # one block a line: a standfirst stays apart
    if not title and not link and not text:
        return None
    published = _iso_date(item.get("date_published"))
    updated = _iso_date(item.get("date_modified"))
    images = _content_images([content_html])
    candidates = [(_str(item.get("image")), None), (_str(item.get("banner_image")), None), *images]
    image = next(
        ((u, a) for u, a in ((_http_url(c, link or base), a) for c, a in candidates) if u), None
    )
    guid = fold_whitespace(
        _str(item.get("id")) or (str(item["id"]) if isinstance(item.get("id"), int) else "")
    )
    tags = item.get("tags")
    return ParsedArticle(
        guid=_guid(guid, link, title, published or updated),
        title=title or short_text(text, TITLE_FROM_TEXT_CHARS) or link or "",
        link=link,
        summary_html=sanitize_html(body, link or base),
        summary_text=text,
        author=_json_authors(item) or feed_authors,
        image_url=image[0] if image else None,
        published_at=published or updated,
        updated_at=updated,
        categories=_categories(tags if isinstance(tags, list) else []),
        image_alt=image[1] if image else None,
    )


def _json_authors(obj: dict[str, Any]) -> str | None:
    authors = obj.get("authors")
    if not isinstance(authors, list):
        authors = [obj.get("author")]
    names = [clean_title(_str(a.get("name"))) for a in authors if isinstance(a, dict)]
    return ", ".join(n for n in names if n) or None


def _iso_date(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        return aware_utc(datetime.fromisoformat(value.strip()))
    except ValueError:
        parsed = feedparser.datetimes._parse_date(value)  # RFC 822 and friends
        return _timestamp(parsed)


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""

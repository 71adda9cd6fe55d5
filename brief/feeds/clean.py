"""Pure HTML helpers: make feed HTML safe to embed, or reduce it to plain text.

Plain text keeps the HTML's blocks (paragraphs, list items, headings, `<br>`
breaks) apart, one a line, when asked: a standfirst without a full stop must not
run into the body ("... in document The FBI said ..."), and the summarizer splits
sentences at block ends.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import nh3

# What a summary in an email or on the archive page may keep: text structure and links.
# Anything else (script, style, iframe, form, object, event handlers) is dropped.
ALLOWED_TAGS = frozenset(
    {
        "a", "abbr", "b", "blockquote", "br", "cite", "code", "em", "figcaption", "figure",
        "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "li", "ol", "p", "pre", "q",
        "s", "small", "strong", "sub", "sup", "u", "ul",
    }
)  # fmt: skip
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "img": {"src", "alt", "width", "height"}}
URL_SCHEMES = frozenset({"http", "https", "mailto"})
LINK_REL = "noopener noreferrer nofollow"
# Removed together with their content; the rest of the unknown tags keep their text.
DROP_WITH_CONTENT = frozenset(
    {"script", "style", "iframe", "object", "embed", "noscript", "template"}
)

_URL_ATTRS = frozenset({"href", "src"})
_WS = re.compile(r"\s+")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# In plain text, a blank line ends a paragraph; a single line break is a space.
_BLANK_LINE = re.compile(r"\n[^\S\n]*\n\s*")


def fold_whitespace(text: str) -> str:
    """Collapse whitespace runs to one space; drop control characters (PostgreSQL refuses NUL)."""
    return _WS.sub(" ", _CONTROL.sub("", text)).strip()


def sanitize_html(html: str, base_url: str | None = None) -> str:
    """Allow-list ``html``; relative ``href``/``src`` are made absolute against ``base_url``."""

    def fix_url(tag: str, attr: str, value: str) -> str | None:
        if attr not in _URL_ATTRS:
            return value
        if not value.strip():
            return None  # urljoin would turn "" into the base itself
        url = urljoin(base_url, value.strip()) if base_url else value.strip()
        scheme = urlsplit(url).scheme.lower()
        # Relative URLs without a base are kept (nh3 passes them through); bad schemes go.
        return url if not scheme or scheme in URL_SCHEMES else None

    cleaned = nh3.clean(
        _CONTROL.sub("", html),
        tags=set(ALLOWED_TAGS),
        clean_content_tags=set(DROP_WITH_CONTENT),
        attributes={tag: set(attrs) for tag, attrs in ALLOWED_ATTRIBUTES.items()},
        attribute_filter=fix_url,
        url_schemes=set(URL_SCHEMES),
        link_rel=LINK_REL,
        strip_comments=True,
    )
    return cleaned.strip()


# Tags after which the text reads as a new block: a line break (or a space), not nothing.
_BREAK = "\n"
_BLOCK_TAGS = frozenset(
    {
        "address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt", "figcaption",
        "figure", "footer", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "ol", "p",
        "pre", "section", "table", "td", "th", "tr", "ul",
    }
)  # fmt: skip
_SKIP_CONTENT = frozenset({"script", "style", "noscript", "template", "head", "title"})
# An embedded post (a tweet, an Instagram or TikTok post) is a blockquote of someone else's
# words, with the embed's own "Dear @AppleSupport ... pic.twitter.com/..." and date: in a
# summary it reads as the article's own sentence. The platforms' embed codes mark it.
_EMBED_CLASSES = frozenset(
    {"twitter-tweet", "twitter-video", "instagram-media", "tiktok-embed", "reddit-card"}
)


def _is_embed(tag: str, attrs: list[tuple[str, str | None]]) -> bool:
    if tag != "blockquote":
        return False
    classes = " ".join(value or "" for name, value in attrs if name == "class").split()
    return not _EMBED_CLASSES.isdisjoint(classes)


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)  # decodes entities in text for us
        self.parts: list[str] = []
        self._skipping = 0
        self._embed_depth = 0  # blockquotes open inside an embedded post

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self._embed_depth:
            self._embed_depth += tag == "blockquote"
        elif _is_embed(tag, attrs):
            self._embed_depth = 1
            self.parts.append(_BREAK)
        elif tag in _SKIP_CONTENT:
            self._skipping += 1
        elif tag in _BLOCK_TAGS:
            self.parts.append(_BREAK)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCK_TAGS:
            self.parts.append(_BREAK)

    def handle_endtag(self, tag: str) -> None:
        if self._embed_depth:
            self._embed_depth -= tag == "blockquote"
        elif tag in _SKIP_CONTENT:
            self._skipping = max(0, self._skipping - 1)
        elif tag in _BLOCK_TAGS:
            self.parts.append(_BREAK)

    def handle_data(self, data: str) -> None:
        if not (self._skipping or self._embed_depth):  # HTML's line breaks are spaces
            self.parts.append(_WS.sub(" ", data))


def html_to_text(html: str, *, blocks: bool = False) -> str:
    """Plain text of an HTML fragment: tags stripped, entities decoded, whitespace folded.

    With `blocks`, each block (paragraph, list item, heading, `<br>` line) is one
    line: whitespace is folded within it, empty blocks go, and lines are joined by
    a single "\n". Without, the text is one line.
    """
    if "<" not in html and "&" not in html:
        if not blocks:
            return fold_whitespace(html)
        # Plain text: a blank line parts paragraphs, a single line break is a space.
        return "\n".join(p for p in map(fold_whitespace, _BLANK_LINE.split(html)) if p)
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    text = "".join(parser.parts)
    return fold_lines(text) if blocks else fold_whitespace(text)


def fold_lines(text: str) -> str:
    """`text` with whitespace folded within each line and empty lines dropped."""
    lines = (fold_whitespace(line) for line in text.split("\n"))
    return "\n".join(line for line in lines if line)

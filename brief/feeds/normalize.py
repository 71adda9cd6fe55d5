"""Pure normalisation of what feeds say: URLs, titles, dates.

Everything here is a plain function of its arguments (no I/O, no clock), so the
fetching side, the store and the digest can all agree on one notion of "the same
link" and "the same title".
"""

from __future__ import annotations

import html
import unicodedata
from datetime import UTC, datetime, timedelta
from urllib.parse import quote, unquote, urljoin, urlsplit, urlunsplit

from brief.digest.text import truncate
from brief.feeds.clean import fold_whitespace, html_to_text

# Query parameters that only say where a click came from. Dropped from canonical links.
TRACKING_PARAMS = frozenset(
    {
        "fbclid", "gclid", "gclsrc", "dclid", "gbraid", "wbraid", "msclkid", "yclid",
        "twclid", "ttclid", "li_fat_id", "igshid", "mc_cid", "mc_eid", "_hsenc", "_hsmi",
        "mkt_tok", "oly_anon_id", "oly_enc_id", "vero_id", "vero_conv", "rb_clickid",
        "s_cid", "ncid", "cmpid", "ocid", "ito", "at_medium", "at_campaign", "at_custom1",
        "at_custom2", "at_custom3", "at_custom4", "wt.mc_id", "ref_src", "ref_url",
        "__twitter_impression", "_ga", "_gl", "spm", "scm", "sr_share", "cmp", "wt_mc", "wt_zmc",
    }
)  # fmt: skip
TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "piwik_", "matomo_", "hsa_", "at_", "ga_")
_DEFAULT_PORTS = {"http": 80, "https": 443}
_TRACKING_LOWER = frozenset(p.lower() for p in TRACKING_PARAMS)

# A published date further ahead than this is a feed bug (bad time zone, scheduled post).
FUTURE_TOLERANCE = timedelta(hours=1)


def canonical_url(url: str | None, base: str | None = None) -> str | None:
    """``url`` resolved against ``base`` and reduced to a canonical form, or None.

    None unless the result is an absolute http(s) URL with a host. Canonical means:
    scheme and host lower-cased, a trailing dot of the host and the default port
    dropped, an empty path made "/", the fragment dropped, tracking parameters
    (``utm_*``, ``fbclid``, ``gclid``, ``mc_cid``/``mc_eid``, ...) dropped, the other
    parameters kept in their order. Percent-escapes are left as the publisher wrote
    them, except that spaces and other unsafe characters are escaped.

    >>> canonical_url("HTTPS://Example.COM:443/a?utm_source=x&id=3#top")
    'https://example.com/a?id=3'
    """
    if not url or not url.strip():
        return None
    raw = url.strip()
    try:
        joined = urljoin(base, raw) if base else raw
        parts = urlsplit(joined)
        port = parts.port
    except ValueError:  # a bad port or IPv6 literal
        return None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").rstrip(".")
    if scheme not in _DEFAULT_PORTS or not host:
        return None
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    netloc = host if port in (None, _DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    if parts.username or parts.password:
        creds = parts.username or ""
        if parts.password:
            creds += ":" + parts.password
        netloc = f"{creds}@{netloc}"
    path = _safe(parts.path) or "/"
    return urlunsplit((scheme, netloc, path, _clean_query(parts.query), ""))


def is_tracking_param(name: str) -> bool:
    low = name.lower()
    return low in _TRACKING_LOWER or low.startswith(TRACKING_PREFIXES)


def _clean_query(query: str) -> str:
    if not query:
        return ""
    pairs = [p for p in query.split("&") if p]
    kept = [p for p in pairs if not is_tracking_param(unquote(p.split("=", 1)[0]))]
    if len(kept) == len(pairs):
        return _safe(query.strip("&"), extra="=&")
    return _safe("&".join(kept), extra="=&")


def _safe(text: str, extra: str = "") -> str:
    # Escape only what is not allowed in a URL (spaces, quotes, non-ASCII), keep the rest.
    return quote(text, safe="/:@!$&'()*+,;=%-._~?" + extra)


def clean_title(raw: str, *, is_html: bool = False) -> str:
    """A headline as plain text: tags stripped (if HTML), entities decoded, whitespace folded.

    Plain titles are often double-escaped ("&amp;#8217;"), so entities are decoded once
    more than the feed format asks for.
    """
    if is_html:
        return html_to_text(raw)
    return fold_whitespace(html.unescape(raw))


def title_key(title: str) -> str:
    """A key under which two spellings of one headline are equal (for deduplication).

    Unicode-normalised (NFKC) and case-folded; punctuation, quotes and dashes dropped;
    whitespace folded. ``title_key("Iraq: ‘No plans’ to leave")`` == ``"iraq no plans to leave"``.
    """
    text = unicodedata.normalize("NFKC", html.unescape(title)).casefold()
    text = "".join(" " if unicodedata.category(c)[0] in "PSZC" else c for c in text)
    return " ".join(text.split())


def aware_utc(value: datetime | None) -> datetime | None:
    """``value`` as an aware UTC datetime (naive values are taken to be UTC)."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def clamp_published(
    published: datetime | None, now: datetime, tolerance: timedelta = FUTURE_TOLERANCE
) -> datetime:
    """The date to store: the feed's date, else ``now`` when absent or too far ahead."""
    if published is None or published > now + tolerance:
        return now
    return published


def short_text(text: str, limit: int) -> str:
    """``text`` on one line, cut at a word boundary to at most ``limit`` characters plus "…"."""
    return truncate(" ".join(text.split()), limit, trim=",;:.", ellipsis_in_limit=False)

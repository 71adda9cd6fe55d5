"""The main text of an article page (pure: HTML in, text out; no network).

A feed often gives only a teaser. The fetching side decides with ``is_teaser`` whether
to fetch the page, and calls ``extract_main_text`` on the HTML it got; ``None`` means
"keep the teaser".

Extraction is trafilatura, tuned for precision (no comments, no tables, no links),
followed by a filter of our own for the furniture that still gets through on news
sites: "Skip to main content", navigation and share lines, newsletter boxes, photo
captions and credits ("… REUTERS/…", "Photo: …", "© …"), bylines, datelines,
"(FRANCE 24 with AFP)" taglines, and pages that are really a "Page not found".
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

import trafilatura

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

_NOT_FOUND = re.compile(
    r"^(?:error )?(?:404\b.*|page not found.*|(?:sorry, )?(?:this|the) page "
    r"(?:you (?:were looking for|requested) )?(?:could not be found|cannot be found|"
    r"does not exist|doesn't exist|was not found|is not available).*|"
    r"the (?:content|page|article) you (?:requested|are looking for|were looking for) "
    r"(?:does not exist|doesn't exist|is not available|could not be found|has been removed).*|"
    r"we can(?:no|')t find (?:the|that) page.*|oops!?.{0,40})$",
    re.IGNORECASE,
)

# Lines that are never part of an article, whatever the page.
_FURNITURE = re.compile(
    r"^(?:skip to (?:main )?(?:content|navigation|search)|jump to (?:main )?content|"
    r"menu|main menu|search|home|close|open|toggle navigation|navigation|advertisement|"
    r"advertising|sponsored(?: content)?|share(?: this(?: article| story| page)?)?(?: on \w+)?|"
    r"share|tweet|email|print|copy link|comments?|\d+ comments?|"
    r"related(?: (?:articles?|stories|content|topics|coverage))?|more (?:on|from|about) .{1,40}|"
    r"read (?:more|next|also)(?::.*)?|see also(?::.*)?|also read(?::.*)?|recommended(?: for you)?|"
    r"most (?:read|popular|viewed)|trending(?: now)?|top stories|latest(?: news)?|"
    r"follow us(?: on .*)?|click here.*|cookies?(?: policy| settings)?|"
    r"accept(?: all)?(?: cookies)?|"
    r"privacy policy|terms (?:of use|and conditions)|all rights reserved\.?|"
    r"listen to (?:this )?(?:article|story).*|\d+ min(?:ute)?s? read|reading time.*|"
    r"(?:this )?(?:article|story) (?:continues|continued) (?:below|after (?:the )?advertisement)|"
    r"scroll (?:down )?to continue.*|watch(?: now| video)?|video|photos?|gallery|"
    r"sign in|log in|register|subscribe(?: now)?|download (?:the|our) app.*)[.!:]?$",
    re.IGNORECASE,
)

_NEWSLETTER = re.compile(
    r"(?:newsletter|\binbox\b|enter your e-?mail|daily news ?brief|receive essential|"
    r"\be-?mail\b.{0,80}\bsign up\b|we want to hear what you think|letter to the editor|"
    r"(?:sign up|subscribe|register)\b.{0,40}\b(?:e-?mail|free|now|today|here|updates|alerts)\b)",
    re.IGNORECASE,
)
# A photo credit: "Name/REUTERS", "REUTERS/Name", "AFP PHOTO", "Photo: …", "© …", "Getty Images".
_CREDIT = re.compile(
    r"(?:\b[\w.-]+/(?:REUTERS|AFP|AP|EPA(?:-EFE)?|ANADOLU|SIPA|DPA|XINHUA|GETTY|TPX)\b|"
    r"\b(?:REUTERS|AFP|AP|EPA|TPX IMAGES OF THE DAY)/|\bAFP PHOTO\b|\bAP Photo\b|"
    r"^(?i:photo|photograph|picture|image|credit|illustration|foto|crédit photo)s?\s*(?i:by)?\s*:|"
    r"\((?i:photo|image|picture)s? (?i:by|credit|:)|\((?i:credit|photo|image)s?:|©|\([cC]\) \d{4}|"
    r"\bGetty Images\b|\bShutterstock\b|\bAlamy\b|\bPA (?:Wire|Media)\b|\bEPA-EFE\b)",
)
_AGENCY_TAGLINE = re.compile(
    r"^\(?\s*(?:[\w .'-]{1,30}\s+(?:with|and|/)\s+)?"
    r"(?:AFP|Reuters|AP|dpa|EFE|ANSA|Xinhua|AP and AFP|AFP and Reuters|Reuters and AFP)"
    r"(?:\s*,\s*(?:AFP|Reuters|AP|dpa))*\s*\)?\.?$",
    re.IGNORECASE,
)
_BYLINE_WORD = re.compile(
    r"^(?:[A-Z(][\w.'’()-]*|and|&|in|of|de|van|von|al|bin|da|di|del|la|le|[|,/-])$"
)
_BYLINE = re.compile(r"^(?:by|par|von|por|di)\s", re.IGNORECASE)
_STAMP = re.compile(
    r"^(?:written|reported|posted|published|updated|issued|modified|last updated|"
    r"first published|author|reporter|editor)s?(?: on| by| at)?\s*:?\s+\S.*\d",
    re.IGNORECASE,
)
_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
    r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_DATE_ONLY = re.compile(
    r"^(?:(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*\.?,?\s+)?"
    r"(?:\d{1,2}\s+" + _MONTH + r"\s+\d{4}|" + _MONTH + r"\s+\d{1,2},?\s+\d{4}|"
    r"\d{1,4}[/.-]\d{1,2}[/.-]\d{1,4})"
    r"(?:\s*(?:-|–|,|at|\|)?\s*\d{1,2}[:.]\d{2}(?:\s*(?:am|pm))?(?:\s*[A-Z]{2,4})?)?"
    r"(?:\s*(?:updated|modified).*)?$",
    re.IGNORECASE,
)
# "PARIS (Reuters) - " / "WASHINGTON, Jan 6 (AFP) — " at the start of the first paragraph.
_DATELINE_PREFIX = re.compile(
    r"^[A-Z][A-Z .,'’-]{1,40}(?:,\s*[\w .]{1,20})?\s*\((?:Reuters|AFP|AP|dpa|EFE|Xinhua)\)"
    r"\s*[-—–:]+\s*"
)
# "Read also: …" in a few languages: a link to another article, not this one's text.
_SEE_ALSO = re.compile(
    r"^(?:read (?:more|next|also)|see also|also read|related|more on this|"
    r"(?:à|a) lire aussi|lire aussi|voir aussi|weitere informationen|mehr zum thema|"
    r"auch interessant|lesen sie auch|leggi anche|lee también|leia também|ver también)\b",
    re.IGNORECASE,
)
_NAV_SEPARATORS = re.compile(r"\s(?:\||•|·|›|»|/)\s")


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
    not_found = [line for line in cleaned if _NOT_FOUND.match(line)]
    credits = [line for line in cleaned if _is_caption_credit(line)]
    skip_keys = {title_key(t) for t in (title, author) if t.strip()}
    kept: list[str] = []
    seen: set[str] = set()
    for line in cleaned:
        key = title_key(line)
        if not key or key in seen or key in skip_keys or line in not_found:
            continue
        if _is_furniture(line) or any(len(line) > 30 and c.startswith(line) for c in credits):
            continue  # the caption again, without its credit (an image's alt text)
        seen.add(key)
        kept.append(line)
    if kept:
        kept[0] = _DATELINE_PREFIX.sub("", kept[0])
    text = "\n\n".join(kept).strip()
    if not_found and len(text) < 2 * MIN_TEXT_CHARS:
        return None  # the page says it has nothing; what is left is its furniture
    return text if len(text) >= MIN_TEXT_CHARS else None


def _is_furniture(line: str) -> bool:
    words = len(line.split())
    if _FURNITURE.match(line) or _AGENCY_TAGLINE.match(line) or _DATE_ONLY.match(line):
        return True
    if _is_caption_credit(line):
        return True
    if words <= 25 and _NEWSLETTER.search(line) and not line.rstrip().endswith(('"', "”")):
        return True
    if words <= 25 and _SEE_ALSO.match(line):
        return True
    if words <= 12 and (_is_byline(line) or _STAMP.match(line)):
        return True
    # "World | Europe | Asia | Business": a row of short links.
    parts = _NAV_SEPARATORS.split(line)
    return len(parts) >= 3 and all(len(p.split()) <= 3 for p in parts)


def _is_byline(line: str) -> bool:
    """ "By Jane Doe and John Roe, Reuters": "By" and then only names and joining words."""
    if not _BYLINE.match(line) or line.endswith(("?", "!")):
        return False
    words = line.replace(",", " , ").split()[1:]
    return bool(words) and all(_BYLINE_WORD.match(w) for w in words)


def _is_caption_credit(line: str) -> bool:
    return len(line.split()) <= 60 and bool(_CREDIT.search(line))

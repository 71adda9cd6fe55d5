"""Pure: keep page furniture out of summaries.

Works on the text a summary is drawn from (a feed's summary or a page's main
text): paragraphs that are navigation, error pages, newsletter boxes, photo
captions and credits, bylines and agency credits are dropped, and datelines
("PARIS (AFP) —") are cut from the front of a sentence.
"""

from __future__ import annotations

import re

_FURNITURE = re.compile(
    r"""
    skip\ to\ (?:main\ )?content | skip\ navigation | jump\ to\ (?:content|navigation)
    | page\ not\ found | \b404\b.*\bnot\ found
    | (?:content|page)\ you\ (?:requested|are\ looking\ for)
    | (?:does\ not|doesn't)\ exist\ or\ is\ not\ available | no\ longer\ available
    | sign\ up\ (?:for|to)\b | subscribe\ (?:to|now|for|here)\b | \bnewsletters?\b
    | delivered\ (?:to|in)\ your\ inbox | (?:receive|get)\b.{0,40}\bevery\ (?:morning|day|week)
    | daily\ news\ ?brief | \bmost\ (?:read|popular|viewed)\b | \bread\ more\b | \bclick\ here\b
    | share\ (?:this|on)\b | follow\ us\b | \badvertisement\b | \bsponsored\ content\b
    | \bcookies?\b.{0,40}\b(?:policy|consent|accept|settings)
    | privacy\ policy | terms\ of\ (?:use|service)
    | all\ rights\ reserved | ©|\(c\)\ \d{4} | \bcopyright\b
    | image\ caption | photo\ caption | \bphoto(?:graph)?:\ | \bimage:\ | \bcredit:\ | \bpictured\b
    | getty\ images | \bap\ photo\b | \bfile\ photo\b | \bvia\ reuters\b | \bshutterstock\b
    | \w/(?:reuters|afp|ap|getty|epa|tpx)\b
    | reporting\ by\b | editing\ by\b | writing\ by\b | contributed\ to\ this\ report
    | \blast\ updated\b | \bmin(?:ute)?\ read\b | \(\s*[\w ]{2,30}\ with\ (?:afp|ap|reuters)\s*\)
    | ^\s*\(\s*(?:afp|ap|reuters)\s*\)\s*$ | ^\s*(?:related|recommended|watch|listen|more)\s*:
    | ^\s*updated?\ \d
    | javascript | your\ browser | enable\ cookies
    """,
    re.IGNORECASE | re.VERBOSE,
)
# "By Jane Smith" must stay case-sensitive on the name, so it is checked apart.
_BYLINE = re.compile(
    r"^\s*By\s+[A-Z][\w.'’-]+(?:\s+[A-Z][\w.'’-]+){1,3}\s*(?:[,|]\s*[^,.]{0,40})?$"
)
# "PARIS (AFP) —", "WASHINGTON, Jan 5 (Reuters) -", "LONDON —", "Kyiv, Ukraine (AP) —"
_DATELINE = re.compile(
    r"""^\s*(?:
        [A-Z][\w.'’-]*(?:[ ,]+[A-Z][\w.'’-]*){0,4}(?:,?\s+[A-Z][a-z]{2,8}\.?\s+\d{1,2})?
        \s*\((?:AFP|AP|Reuters|UPI|CNN|dpa|Xinhua|Bloomberg|[A-Z][A-Za-z. ]{1,20})\)\s*[-—–:]+\s*
      | [A-Z]{3,}(?:[ ,]+[A-Z]{2,}){0,3}(?:,\s+[A-Z][a-z]+)?\s*[-—–]+\s+
    )""",
    re.VERBOSE,
)
_CREDIT_TAIL = re.compile(r"[A-Z][a-z]+(?: [A-Z][a-z]+)+\s*/\s*[A-Z][A-Za-z ]+$")
_TERMINAL = re.compile(r"[.!?…][\"'”’)\]]*$")


def is_furniture(text: str) -> bool:
    """Whether a paragraph or sentence is page furniture rather than news."""
    return bool(_FURNITURE.search(text) or _BYLINE.match(text) or _CREDIT_TAIL.search(text))


def strip_dateline(sentence: str) -> str:
    """A sentence without its leading dateline ("PARIS (AFP) — ...")."""
    stripped = _DATELINE.sub("", sentence, count=1)
    if stripped is sentence or len(stripped.split()) < 4:
        return sentence
    return stripped[:1].upper() + stripped[1:]


def _key(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())


def clean_paragraphs(text: str, title: str = "") -> list[str]:
    """The news paragraphs of a text: furniture, repeated captions and headings dropped.

    A text with no line breaks (a feed summary) is one paragraph. A paragraph
    that repeats another, or is the start of another (a caption and the same
    caption with its credit), is a caption and goes; so does the headline
    repeated in the body and a short line without a full stop (a heading or a
    menu entry).
    """
    paragraphs = [" ".join(p.split()) for p in re.split(r"\n\s*\n|\n", text)]
    paragraphs = [p for p in paragraphs if p]
    keys = [_key(p) for p in paragraphs]
    title_key = _key(title)
    kept: list[str] = []
    for i, (para, key) in enumerate(zip(paragraphs, keys, strict=True)):
        if not key or is_furniture(para):
            continue
        if title_key and (key == title_key or (len(key) < 2 * len(title_key) and title_key in key)):
            continue
        if len(key) > 40 and any(j != i and other.startswith(key) for j, other in enumerate(keys)):
            continue  # a caption, shown again elsewhere (often with its credit)
        if len(para.split()) < 20 and not _TERMINAL.search(para):
            continue  # a heading, a menu entry, a label
        kept.append(para)
    return kept


def first_heading(text: str) -> str:
    """The first heading-like line of a page's text (a title when none was given)."""
    for line in text.splitlines():
        line = " ".join(line.split())
        if line and not is_furniture(line) and 3 <= len(line.split()) < 20:
            if not _TERMINAL.search(line) or line.endswith("?"):
                return line
            return ""
    return ""

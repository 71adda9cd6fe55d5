"""Pure: page furniture, the one filter for article pages and for summaries.

Page furniture is what a news page carries besides the news: navigation and
share lines, "Page not found" pages, newsletter boxes, photo captions and
credits, bylines, date stamps and agency taglines. One filter, two strengths:

- `is_furniture_line`: a whole line that is furniture ("Share", "Most read",
  "By Jane Doe, Reuters", "REUTERS/Jane Doe", "12 March 2024"). Precise: the
  main text of an article page (feeds/fulltext.py) loses only these lines.
- `is_furniture`: a furniture line, or a text that mentions furniture anywhere
  ("Sign up for our newsletter ...", "... Getty Images"). For summaries, which
  have sentences to spare and must never show one of these.

Datelines are cut from the front rather than dropped: `strip_dateline` for a
summary's sentences ("PARIS (AFP) —", "LONDON —"), `strip_agency_dateline` for a
page's first paragraph (only "PARIS (Reuters) -": a page keeps its "LONDON —").
"""

from __future__ import annotations

import re

# -- whole lines -------------------------------------------------------------

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
_NAVIGATION = re.compile(
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
# "Read also: …" in a few languages: a link to another article, not this one's text.
_SEE_ALSO = re.compile(
    r"^(?:read (?:more|next|also)|see also|also read|related|more on this|"
    r"(?:à|a) lire aussi|lire aussi|voir aussi|weitere informationen|mehr zum thema|"
    r"auch interessant|lesen sie auch|leggi anche|lee también|leia também|ver también)\b",
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
# ... or one at the end of a caption: "Jane Doe / Reuters".
_CREDIT_TAIL = re.compile(r"[A-Z][a-z]+(?: [A-Z][a-z]+)+\s*/\s*[A-Z][A-Za-z ]+$")
_AGENCY_TAGLINE = re.compile(
    r"^\(?\s*(?:[\w .'-]{1,30}\s+(?:with|and|/)\s+)?"
    r"(?:AFP|Reuters|AP|dpa|EFE|ANSA|Xinhua|AP and AFP|AFP and Reuters|Reuters and AFP)"
    r"(?:\s*,\s*(?:AFP|Reuters|AP|dpa))*\s*\)?\.?$",
    re.IGNORECASE,
)
# "By Jane Doe and John Roe, Reuters": "By", then only names and joining words.
_BY = re.compile(r"^(?:by|par|von|por|di)\s", re.IGNORECASE)
_BYLINE_WORD = re.compile(
    r"^(?:[A-Z(][\w.'’()-]*|and|&|in|of|de|van|von|al|bin|da|di|del|la|le|[|,/-])$"
)
# "By Jane Smith, chief correspondent": case-sensitive on the name, then a short title.
_BYLINE_NAMED = re.compile(
    r"^\s*By\s+[A-Z][\w.'’-]+(?:\s+[A-Z][\w.'’-]+){1,3}\s*(?:[,|]\s*[^,.]{0,40})?$"
)
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
_NAV_SEPARATORS = re.compile(r"\s(?:\||•|·|›|»|/)\s")
# "PARIS (Reuters) - " / "WASHINGTON, Jan 6 (AFP) — " at the start of the first paragraph.
_AGENCY_DATELINE = re.compile(
    r"^[A-Z][A-Z .,'’-]{1,40}(?:,\s*[\w .]{1,20})?\s*\((?:Reuters|AFP|AP|dpa|EFE|Xinhua)\)"
    r"\s*[-—–:]+\s*"
)

# -- mentions, for summaries ------------------------------------------------

# Phrases that make a text furniture wherever they appear: too greedy for a page (an
# article may be about cookies), right for a summary's sentences.
_MENTIONS = re.compile(
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
    | ^\s*(?:related|recommended|watch|listen|more)\s*:
    | ^\s*updated?\ \d
    | javascript | your\ browser | enable\ cookies
    | pic\.twitter\.com/ | \(@\w{1,15}\)\ """
    + _MONTH
    + r"""\ \d{1,2},\ \d{4}
    """,
    re.IGNORECASE | re.VERBOSE,
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
_TERMINAL = re.compile(r"[.!?…][\"'”’)\]]*$")


def is_not_found(line: str) -> bool:
    """Whether a line is a "Page not found" message."""
    return bool(_NOT_FOUND.match(line))


def is_caption_credit(line: str) -> bool:
    """Whether a line is or ends with a photo credit ("… REUTERS/Jane Doe", "© AFP")."""
    return (len(line.split()) <= 60 and bool(_CREDIT.search(line))) or bool(
        _CREDIT_TAIL.search(line)
    )


def is_furniture_line(line: str) -> bool:
    """Whether a whole line (whitespace folded) is page furniture, never news."""
    words = len(line.split())
    if _NOT_FOUND.match(line) or _NAVIGATION.match(line) or _AGENCY_TAGLINE.match(line):
        return True
    if _DATE_ONLY.match(line) or is_caption_credit(line) or _is_byline(line):
        return True
    if words <= 25 and _NEWSLETTER.search(line) and not line.rstrip().endswith(('"', "”")):
        return True
    if words <= 25 and _SEE_ALSO.match(line):
        return True
    if words <= 12 and _STAMP.match(line):
        return True
    # "World | Europe | Asia | Business": a row of short links.
    parts = _NAV_SEPARATORS.split(line)
    return len(parts) >= 3 and all(len(p.split()) <= 3 for p in parts)


def _is_byline(line: str) -> bool:
    """ "By Jane Doe and John Roe, Reuters" (names and joining words only, short), or
    "By Jane Smith, chief correspondent" (a name, then a short title)."""
    if _BYLINE_NAMED.match(line):
        return True
    if len(line.split()) > 12 or not _BY.match(line) or line.endswith(("?", "!")):
        return False
    words = line.replace(",", " , ").split()[1:]
    return bool(words) and all(_BYLINE_WORD.match(w) for w in words)


def strip_agency_dateline(paragraph: str) -> str:
    """A page's first paragraph without its agency dateline ("PARIS (Reuters) - ")."""
    return _AGENCY_DATELINE.sub("", paragraph)


def is_furniture(text: str) -> bool:
    """Whether a paragraph or sentence is page furniture rather than news."""
    return bool(_MENTIONS.search(text)) or is_furniture_line(text)


def strip_dateline(sentence: str) -> str:
    """A sentence without its leading dateline ("PARIS (AFP) — ...")."""
    stripped = _DATELINE.sub("", sentence, count=1)
    if stripped is sentence or len(stripped.split()) < 4:
        return sentence
    return stripped[:1].upper() + stripped[1:]


def _key(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())


def clean_paragraphs(text: str, title: str = "") -> list[str]:
    """The news paragraphs of a text: furniture, repeated captions and headings dropped
    (see clean_blocks)."""
    return clean_blocks(text, title)[0]


def clean_blocks(text: str, title: str = "") -> tuple[list[str], bool]:
    """The news paragraphs of a text, and whether the first is a standfirst.

    A text with no line breaks (a feed summary) is one paragraph. A paragraph
    that repeats another, or is the start of another (a caption and the same
    caption with its credit), is a caption and goes; so does the headline
    repeated in the body and a short line without a full stop (a heading or a
    menu entry), unless it opens the text and reads as a standfirst: then it is
    kept, with a full stop, so that it never runs into the body.
    """
    paragraphs = [" ".join(p.split()) for p in re.split(r"\n\s*\n|\n", text)]
    paragraphs = [p for p in paragraphs if p]
    keys = [_key(p) for p in paragraphs]
    title_key = _key(title)
    kept: list[str] = []
    standfirst = False
    for i, (para, key) in enumerate(zip(paragraphs, keys, strict=True)):
        if not key or is_furniture(para):
            continue
        if title_key and (key == title_key or (len(key) < 2 * len(title_key) and title_key in key)):
            continue
        if len(key) > 40 and any(j != i and other.startswith(key) for j, other in enumerate(keys)):
            continue  # a caption, shown again elsewhere (often with its credit)
        if not kept and not _TERMINAL.search(para) and is_standfirst(para):
            para += "."  # a standfirst: a sentence of its own, whatever follows it
            standfirst = True
        elif len(para.split()) < 20 and not _TERMINAL.search(para):
            continue  # a heading, a menu entry, a label
        kept.append(para)
    return kept, standfirst and len(kept) > 1


def is_standfirst(paragraph: str) -> bool:
    """Whether an unpunctuated opening paragraph reads as a standfirst (a sentence
    in sentence case, 8 words or more), not a heading or a label."""
    words = [w for w in paragraph.split() if w[:1].isalpha()]
    if len(words) < 8:
        return False
    capitalised = sum(w[:1].isupper() for w in words[1:])
    return capitalised / (len(words) - 1) < 0.5


def first_heading(text: str) -> str:
    """The first heading-like line of a page's text (a title when none was given)."""
    for line in text.splitlines():
        line = " ".join(line.split())
        if line and not is_furniture(line) and 3 <= len(line.split()) < 20:
            if not _TERMINAL.search(line) or line.endswith("?"):
                return line
            return ""
    return ""

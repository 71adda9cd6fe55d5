"""Pure: what kind of item a feed entry is: news, a live blog, or not news at all.

Feeds carry more than news: job ads ("We're Hiring: Senior Editor"), house
notices, sponsored posts ("Featured Advertiser"), event calendars and other
listings ("Fairfax wellness calendar, Aug. 23-30"), shopping guides ("Best smart
lock"), podcast and gallery stubs.
`not_news` names why an entry is not news (the edition leaves it out, `brief
stories --json` shows the reason); `is_live_blog` spots a live blog, which is
summarized from its standfirst only.

Rules look at the title first (the most reliable signal), then the link's path,
then the text; each is written to fire on the listing, never on a news story
about one ("Amazon is hiring 100,000 workers" is news; "We're hiring" is not).
"""

from __future__ import annotations

import re

# -- not news ----------------------------------------------------------------

_TITLE_RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "job ad",
        re.compile(
            r"^(?:we(?:'|’)?re|we are|now) hiring\b|^job (?:opening|listing|posting|ad)\s*[:|–—-]|"
            r"^(?:join (?:our|the) team|careers? at)\b|\bis hiring\s*:|^vacanc(?:y|ies)\b"
        ),
    ),
    (
        "sponsored",
        re.compile(
            r"^(?:featured advertiser|advertisement|advertorial|sponsored(?: content| post)?|"
            r"paid (?:post|content)|partner content|promoted)\b|\[sponsored\]|\(sponsored\)"
        ),
    ),
    (
        "house notice",
        re.compile(
            r"^(?:a )?(?:note|letter) (?:to|for) (?:our )?readers\b|^programming note\b|"
            r"^housekeeping\b|^site (?:maintenance|news|update)\b|^(?:an? )?(?:update|message) "
            r"(?:to|for) (?:our )?(?:readers|members|subscribers)\b|^corrections?(?: and "
            r"clarifications)?\s*$|^open thread\b|^comments? (?:section|policy)\b"
        ),
    ),
    (
        "event calendar",
        re.compile(
            r"\b(?:wellness|events?|health|community|arts|music|concert|theat(?:er|re)|club|"
            r"weekend|entertainment)\s+calendar\b|^calendar\b|"
            r"^what(?:'|’)?s on\s*(?:[:|–—-]|in |this |at |tonight|today|near )|"
            r"\bthings to do\b|\bevents? (?:listings?|guide|this week(?:end)?)\b"
        ),
    ),
    (
        "listing",
        re.compile(
            r"^\$\d[\d,]*\s*/\s*\d+\s*br\b|\b(?:tv|television|radio|cinema|film) listings\b|"
            r"\bfor (?:rent|sale)\s*[-–(]|^classifieds?\b|\bclassified ads?\b|"
            r"\bobituar(?:y|ies)\s*(?:for|:)|"
            r"(?:mon|tues|wednes|thurs|fri|satur|sun)day(?:'|’)s top photos\b|\btop photos of\b"
        ),
    ),
    (
        # "Best smart lock", "The 7 best laptops for students", "Which MacBook should you
        # buy?": a shopping guide. "Best Buy shares fall" and "Best Picture" are news.
        "buying guide",
        re.compile(
            r"^(?:the )?(?:\d+ )?best (?!buy\b|sell|picture|actor|actress|director|film|song|"
            r"album|friends?\b|man\b|woman\b|of\b|and\b|in\b|way\b|chance\b|hope\b|case\b|"
            r"yet\b|ever\b|year\b|day\b|known\b|team\b|player\b)(?:[\w'’$.-]+ ){0,5}[\w'’$.-]+$|"
            r"^which [\w' -]{2,40} should you (?:buy|get)\b|\b(?:buying|gift|buyer(?:'|’)?s) "
            r"guide\b|^(?:the )?best [\w' -]{2,40} deals\b"
        ),
    ),
    (
        "podcast stub",
        re.compile(
            r"^(?:podcast|episode \d+|ep\.? ?\d+)\b|[|:–—-]\s*(?:podcast|episode \d+)\s*$|"
            r"\bpodcast\s*:"
        ),
    ),
)
# Matched against the lower-cased title (IGNORECASE makes Python's re several times slower).
_PATH_RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("job ad", re.compile(r"/(?:careers?|jobs)/|/(?:were|we-are)-hiring\b", re.I)),
    (
        "sponsored",
        re.compile(r"/(?:sponsored|advertorial|partner-content|paid-post)(?:/|-|$)", re.I),
    ),
    ("sponsored", re.compile(r"^https?://(?:ads?|adserver|ad\.doubleclick)\.", re.I)),
    ("podcast stub", re.compile(r"/(?:podcasts?|audio)/", re.I)),
    ("buying guide", re.compile(r"/(?:buying-guides?|gift-guides?)/", re.I)),
)
# A listing's text: several phone numbers, addresses, prices and "Free." in a row.
_PHONE = re.compile(r"\b\d{3}[-.]\d{3}[-.]\d{4}\b")
_LISTING_WORDS = re.compile(
    r"\bFree\.|\bRegistration required\b|\bAppointments? recommended\b|\bAdmission\b|"
    r"\b(?:Mon|Tues|Wednes|Thurs|Fri|Satur|Sun)days?,\s*\d|\$\d+\.",
)
_JOB_KEYS = ("seeking", "looking for", "position requires", "to apply", "job listing")
_JOB_TEXT = re.compile(
    r"\b(?:is seeking|are seeking|we(?:'|’)re looking for|we are looking for) an? [\w -]{0,40}"
    r"(?:editor|reporter|writer|engineer|producer|manager|designer|developer|director)\b|"
    r"\bthe position requires\b|\bto apply,? (?:send|email|please)\b|\bjob listings?\b"
)
_JOB_WORD = re.compile(r"\b(?:hiring|position|job|apply)\b")
_PODCAST_TEXT = re.compile(
    r"\b(?:listen (?:to|on)|subscribe (?:on|to|via)) (?:the )?(?:episode|podcast|apple podcasts|"
    r"spotify|itunes|stitcher)\b|\bin this (?:episode|week'?s episode)\b"
)
_GALLERY_TEXT = re.compile(
    r"\b(?:picture editors bring you|a selection of (?:photo|picture)s?|best photos? of)\b"
)


_TITLE_ANY = re.compile("|".join(f"(?:{p.pattern})" for _, p in _TITLE_RULES))


def not_news_by_title(title: str, link: str | None = None) -> str | None:
    """`not_news` from the title and link alone: cheap enough for every article of a day."""
    low_title = " ".join(title.split()).lower()
    if _TITLE_ANY.search(low_title):  # one pass; then which rule it was
        for reason, pattern in _TITLE_RULES:
            if pattern.search(low_title):
                return reason
    if link and "/" in link:
        for reason, pattern in _PATH_RULES:
            if pattern.search(link):
                return reason
    return None


def not_news(title: str, text: str = "", link: str | None = None) -> str | None:
    """Why an entry is not news ("job ad", "event calendar", ...), or None when it is news."""
    reason = not_news_by_title(title, link)
    if reason:
        return reason
    # Each text rule runs only when a cheap keyword test lets it (the edition judges
    # thousands of articles).
    body = text[:3000]
    low = body.lower()
    if any(k in low for k in _JOB_KEYS) and _JOB_TEXT.search(low) and _JOB_WORD.search(low):
        return "job ad"
    phones = len(_PHONE.findall(body)) if "-" in body or "." in body else 0
    if phones >= 2 or (phones and len(_LISTING_WORDS.findall(body)) >= 3):
        return "listing"
    words = len(body.split())
    if ("episode" in low or "podcast" in low) and words < 120 and _PODCAST_TEXT.search(low):
        return "podcast stub"
    if ("photo" in low or "picture" in low) and words < 40 and _GALLERY_TEXT.search(low):
        return "gallery stub"
    if not title and words < 12:
        return "no text"
    return None


# -- live blogs --------------------------------------------------------------

_LIVE_TITLE = re.compile(
    r"[-–—:|]\s*(?:as it happened|live(?: updates| coverage| blog| reaction| report)?)!?\s*$|"
    r"^live\s*[:|–—-]|\blive updates?\b|\blive blog\b|\blive!\s*$"
)
_LIVE_PATH = re.compile(r"/live(?:/|-blog|-updates|$)|/liveblog/", re.IGNORECASE)
# A live blog's entry stamp: "8.13pm GMT", "13:05 BST", "10:42 a.m. ET", and "13 min:".
CLOCK_STAMP = re.compile(
    r"\b\d{1,2}[.:]\d{2}\s*(?:[ap]\.?m\.?)?\s*(?:GMT|BST|UTC|CET|CEST|EST|EDT|ET|PST|PDT|PT|"
    r"CST|CDT|IST|AEST|AEDT)\b|\b\d{1,3}\s*min(?:s|utes?)?\s*:",
)


def is_live_blog(title: str, text: str = "", link: str | None = None) -> bool:
    """Whether an entry is a live blog: "– live!" titles, /live/ links, or timestamped entries."""
    low_title = title.lower()
    if ("live" in low_title or "as it happened" in low_title) and _LIVE_TITLE.search(
        " ".join(low_title.split())
    ):
        return True
    if link and _LIVE_PATH.search(link):
        return True
    return len(CLOCK_STAMP.findall(text[:5000])) >= 2


LIVE_PHRASE = re.compile(
    r"[-–—]\s*live!?(?=\s|$)|\blive!|\blive updates?\b|\blatest updates\b|\bclockwatch\b|"
    r"\be-?mail \w+ (?:here|with)\b|\btweet (?:me|him|her|us)\b|\bas it happened\b",
    re.IGNORECASE,
)
_LIVE_KEYS = ("live", "updates", "clockwatch", "mail", "tweet", "happened")
STANDFIRST_MIN_WORDS = 12


def has_live_clutter(text: str) -> bool:
    """Whether a text carries a live blog's clock stamps or phrases ("8.13pm GMT", "– live!")."""
    if CLOCK_STAMP.search(text):
        return True
    low = text.lower()  # the phrase pattern only where one of its words is
    return any(k in low for k in _LIVE_KEYS) and LIVE_PHRASE.search(text) is not None


def live_standfirst(text: str) -> str:
    """A live blog's standfirst: its first block, when that block says something
    (12 words or more) and carries no clock stamp or live-blog phrase; else ""."""
    first = text.strip().split("\n", 1)[0].strip()
    if len(first.split()) < STANDFIRST_MIN_WORDS or has_live_clutter(first):
        return ""
    return first

"""OPML import and export (pure).

Parsing uses the standard library's expat directly, so that a DOCTYPE or ENTITY
declaration can be refused before anything is expanded ("billion laughs"), as
defusedxml does, without a new dependency.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass
from typing import NoReturn
from urllib.parse import urlsplit
from xml.parsers import expat

from brief.errors import InputError


@dataclass(frozen=True)
class OPMLFeed:
    url: str
    title: str | None = None
    section: str | None = None  # lower-case, spaces as "-"; None when the file gives none


# Characters XML 1.0 cannot carry (a feed title may contain them).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


class _Refused(Exception):
    pass


def parse_opml(data: bytes) -> list[OPMLFeed]:
    """The feeds listed in an OPML document, in order, each URL once.

    A feed's section is its ``category`` attribute, else the text of the folder outline
    it sits in. Raises InputError for anything that is not well-formed, DTD-free OPML.
    """
    if not data.strip():
        raise InputError("the OPML file is empty")
    feeds: dict[str, OPMLFeed] = {}
    folders: list[str | None] = []  # one slot per open <outline>: its folder name or None
    root: list[str] = []

    def refuse(*_args: object) -> NoReturn:
        raise _Refused

    def start(tag: str, attrs: dict[str, str]) -> None:
        if not root:
            root.append(tag)
        if tag != "outline":
            return
        url = _attr(attrs, "xmlUrl")
        if not url:
            folders.append(_section(_attr(attrs, "text") or _attr(attrs, "title")))
            return
        folders.append(None)
        if _is_http(url) and url not in feeds:
            title = _attr(attrs, "title") or _attr(attrs, "text")
            section = _category(_attr(attrs, "category")) or _innermost(folders)
            feeds[url] = OPMLFeed(url=url, title=title, section=section)

    def end(tag: str) -> None:
        if tag == "outline" and folders:
            folders.pop()

    parser = expat.ParserCreate()
    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    try:
        parser.Parse(data, True)
    except _Refused:
        raise InputError("refusing OPML with a DOCTYPE or ENTITY declaration") from None
    except expat.ExpatError as exc:
        raise InputError(f"malformed OPML: {exc}") from None
    if root != ["opml"]:
        raise InputError(f"not an OPML file: the root element is <{root[0] if root else ''}>")
    return list(feeds.values())


def to_opml(feeds: Iterable[OPMLFeed], title: str) -> str:
    """An OPML 2.0 document with one folder outline per section, in first-seen order."""
    opml = ET.Element("opml", version="2.0")
    ET.SubElement(ET.SubElement(opml, "head"), "title").text = _xml_text(title)
    body = ET.SubElement(opml, "body")
    folders: dict[str, ET.Element] = {}
    for feed in feeds:
        parent = body
        if feed.section:
            if feed.section not in folders:
                section = _xml_text(feed.section)
                folders[feed.section] = ET.SubElement(body, "outline", text=section, title=section)
            parent = folders[feed.section]
        # Control characters cannot be written in XML 1.0: a title carrying one would
        # make the whole file unreadable, so they go (and whitespace is folded).
        name = _xml_text(feed.title) or _xml_text(feed.url)
        ET.SubElement(parent, "outline", type="rss", text=name, title=name, xmlUrl=feed.url)
    ET.indent(opml)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(opml, encoding="unicode") + "\n"


def _xml_text(value: str | None) -> str:
    return " ".join(_CONTROL.sub("", value or "").split())


def _attr(attrs: dict[str, str], name: str) -> str | None:
    # Exporters disagree on case (xmlUrl, xmlurl, XMLURL).
    value = attrs.get(name)
    if value is None:
        value = next((v for k, v in attrs.items() if k.lower() == name.lower()), None)
    return (" ".join(value.split()) or None) if value is not None else None


def _category(value: str | None) -> str | None:
    """``category="/News/World,tech"`` -> "world": the last step of the first path."""
    if not value:
        return None
    first = value.split(",")[0].strip().strip("/")
    return _section(first.rsplit("/", 1)[-1])


def _section(name: str | None) -> str | None:
    return (re.sub(r"\s+", "-", name.strip().lower()) or None) if name else None


def _innermost(folders: list[str | None]) -> str | None:
    return next((f for f in reversed(folders) if f), None)


def _is_http(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.netloc)

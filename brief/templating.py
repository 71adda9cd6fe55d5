"""The one Jinja2 environment brief renders emails and pages with."""

from __future__ import annotations

import textwrap
from functools import lru_cache
from pathlib import Path

import jinja2

_PACKAGE_TEMPLATES = Path(__file__).resolve().parent / "templates"
_REPO_TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


def template_dir() -> Path:
    """The templates folder: inside the package for wheels, beside it in a checkout."""
    # The wheel force-includes top-level templates/ as brief/templates.
    for candidate in (_PACKAGE_TEMPLATES, _REPO_TEMPLATES):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"no templates folder at {_PACKAGE_TEMPLATES} or {_REPO_TEMPLATES}")


def wrap(text: str, width: int = 72, indent: str = "", first: str | None = None) -> str:
    """Fill plain text to ``width`` columns; long words (URLs) are never split.

    Every line starts with ``indent``, the first with ``first`` when given
    (``wrap(title, indent="  ", first="* ")`` makes a hanging bullet).
    """
    return textwrap.fill(
        " ".join(text.split()),
        width=width,
        initial_indent=indent if first is None else first,
        subsequent_indent=indent,
        break_long_words=False,
        break_on_hyphens=False,
    )


@lru_cache(maxsize=1)
def make_env() -> jinja2.Environment:
    """A cached environment: HTML escaped, plain text not, undefined names an error."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(template_dir()),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default=False),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["wrap"] = wrap
    return env

"""The schema revisions this code knows, read from the migration files.

No Alembic or SQLAlchemy import: `brief status` and the quick "is the schema
current?" check at every start use it.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

VERSIONS_DIR = Path(__file__).parent / "migrations" / "versions"
_REVISION = re.compile(r'^(down_revision|revision)\s*=\s*["\']?(\w+)', re.MULTILINE)


@cache
def revisions() -> tuple[frozenset[str], str]:
    """Every revision this code knows, and the newest (the one no other revises)."""
    known: set[str] = set()
    parents: set[str] = set()
    for path in VERSIONS_DIR.glob("*.py"):
        for key, value in _REVISION.findall(path.read_text(encoding="utf-8")):
            (known if key == "revision" else parents).add(value)
    [head] = known - parents
    return frozenset(known), head


def is_newer(current: str | None) -> bool:
    """True for a revision written by a newer brief (this code would misread its tables)."""
    return current is not None and current not in revisions()[0]

"""What every command module shares: settings/engine state, time, JSON output.

Command modules import only light things at module level (typer, the standard
library, brief.errors): `brief --help` must not pay for SQLAlchemy, pydantic,
httpx or numpy. Each command imports what it needs when it runs.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from brief.config import Settings

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]


class _State:
    """Settings and engine, built once per command on first use."""

    def __init__(self) -> None:
        self._settings: Settings | None = None
        self._engine: Engine | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            from brief.config import load_settings

            self._settings = load_settings()
        return self._settings

    def use_env(self) -> None:
        self._settings, self._engine = None, None

    def use(self, settings: Settings) -> None:
        self._settings, self._engine = settings, None

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            from brief.db import open_database

            self._engine = open_database(self.settings.db_url)
        return self._engine


state = _State()


def now() -> datetime:
    return datetime.now(UTC)


def print_json(value: Any) -> None:
    typer.echo(json.dumps(value, indent=2, ensure_ascii=False, default=str))


def ago(when: datetime | None) -> str:
    return when.strftime("%Y-%m-%d %H:%M UTC") if when else "never"

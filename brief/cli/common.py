"""What every command module shares: settings/engine state, time, JSON output."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from sqlalchemy import Engine

from brief import runtime
from brief.config import Settings, load_settings

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]


class _State:
    """Settings and engine, built once per command on first use."""

    def __init__(self) -> None:
        self._settings: Settings | None = None
        self._engine: Engine | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings()
        return self._settings

    def use_env(self) -> None:
        self._settings, self._engine = None, None

    def use(self, settings: Settings) -> None:
        self._settings, self._engine = settings, None

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = runtime.database(self.settings)
        return self._engine


state = _State()


def now() -> datetime:
    return datetime.now(UTC)


def print_json(value: Any) -> None:
    typer.echo(json.dumps(value, indent=2, ensure_ascii=False, default=str))


def ago(when: datetime | None) -> str:
    return when.strftime("%Y-%m-%d %H:%M UTC") if when else "never"

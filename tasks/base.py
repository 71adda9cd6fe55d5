"""What every task needs: the settings and a database engine for this process."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine

from brief.config import Settings
from brief.db import engine_for
from tasks.app import app


def settings() -> Settings:
    value: Settings = app.conf.brief_settings
    return value


def engine() -> Engine:
    return engine_for(settings().db_url)


def utcnow() -> datetime:
    return datetime.now(UTC)

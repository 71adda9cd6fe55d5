"""The Celery app, built from Settings: broker, results, beat schedule.

`celery -A tasks worker -B` runs the workers with the schedule: ingest every
BRIEF_INGEST_INTERVAL_MINUTES, and the edition every morning at
BRIEF_EDITION_HOUR in BRIEF_TIMEZONE.
"""

from __future__ import annotations

import logging
import sys
from datetime import timedelta
from typing import Any

from celery import Celery, signals
from celery.schedules import crontab

from brief.config import Settings, load_settings
from brief.errors import ConfigError

log = logging.getLogger(__name__)


def _settings() -> Settings:
    try:
        return load_settings()
    except ConfigError as exc:
        # One clear line, not a traceback, for a bad environment variable.
        print(f"brief: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def make_app(settings: Settings) -> Celery:
    app = Celery("brief", include=["tasks.ingest", "tasks.digest", "tasks.mail"])
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    app.conf.update(
        broker_url=settings.celery_broker_url,
        result_backend=settings.celery_result_backend,
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        timezone=settings.timezone,
        enable_utc=True,
        # Tasks are idempotent by data, so a redelivery after a crash is safe.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        result_expires=timedelta(days=1),
        broker_connection_retry_on_startup=True,
        beat_schedule_filename=str(settings.data_dir / "celerybeat-schedule"),
        beat_schedule={
            "refresh-feeds": {
                "task": "brief.refresh_due_feeds",
                "schedule": timedelta(minutes=settings.ingest_interval_minutes),
            },
            # Each subscriber gets the edition at their delivery hour, in their time zone.
            "send-due": {"task": "brief.send_due", "schedule": timedelta(minutes=5)},
            "daily-edition": {
                "task": "brief.daily_edition",
                "schedule": crontab(hour=settings.edition_hour, minute=settings.edition_minute),
            },
        },
    )
    app.conf.brief_settings = settings
    return app


settings = _settings()
app = make_app(settings)


@signals.worker_init.connect
def _migrate_on_start(**_: Any) -> None:
    """Workers bring the schema up to date before taking work (idempotent)."""
    from brief.db import make_engine, migrate

    engine = make_engine(settings.db_url)
    try:
        migrate(engine)
    finally:
        engine.dispose()  # forked children must not share its connections

"""The Celery app: broker, results and beat schedule, from Settings.

`celery -A tasks worker -B` runs the workers with the schedule: ingest every
BRIEF_INGEST_INTERVAL_MINUTES, and the edition every morning at
BRIEF_EDITION_HOUR in BRIEF_TIMEZONE.

Importing this module reads nothing and creates nothing. Celery configures the
app the first time it reads `app.conf` (a worker or beat starting, a task's first
call): then the settings are read from the environment. A worker creates the
data folder when it starts, the beat when it opens its schedule file.
"""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

from celery import Celery, signals
from celery.beat import PersistentScheduler
from celery.schedules import crontab

from brief.config import Settings, load_settings
from brief.errors import ConfigError

app = Celery("brief", include=["tasks.ingest", "tasks.digest", "tasks.mail"])


def settings_from_environment() -> Settings:
    try:
        return load_settings()
    except ConfigError as exc:
        # One clear line, not a traceback, for a bad environment variable.
        print(f"brief: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def celery_config(settings: Settings) -> dict[str, Any]:
    """Celery's configuration for `settings`; tasks read `settings` as `brief_settings`."""
    return {
        "brief_settings": settings,
        "broker_url": settings.celery_broker_url,
        "result_backend": settings.celery_result_backend,
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "timezone": settings.timezone,
        "enable_utc": True,
        # Tasks are idempotent by data, so a redelivery after a crash is safe.
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        # A process that grew past this (a huge feed parsed) is replaced after its task.
        "worker_max_memory_per_child": settings.worker_max_memory_mb * 1024 or None,
        # A batch whose fetch or parse hangs is killed; its feeds then count as lost
        # (brief.feeds.quarantine), and are claimed again after the lease.
        "task_annotations": {
            "brief.refresh_feed_batch": {
                "time_limit": settings.ingest_time_limit,
                "soft_time_limit": max(1, settings.ingest_time_limit * 9 // 10),
            }
        },
        "result_expires": timedelta(days=1),
        "broker_connection_retry_on_startup": True,
        "beat_scheduler": "tasks.app:Scheduler",
        "beat_schedule_filename": str(settings.data_dir / "celerybeat-schedule"),
        "beat_schedule": {
            "refresh-feeds": {
                "task": "brief.refresh_due_feeds",
                "schedule": timedelta(minutes=settings.ingest_interval_minutes),
            },
            # Each subscriber gets the edition at their delivery hour, in their time zone.
            "send-due": {"task": "brief.send_due", "schedule": timedelta(minutes=5)},
            # The database is the record of what is left to send: expired claims go back
            # and sends are queued for due rows, so a lost queue delays mail by seconds.
            "sweep-deliveries": {
                "task": "brief.sweep_deliveries",
                "schedule": timedelta(seconds=settings.send_sweep_seconds),
                "options": {"expires": settings.send_sweep_seconds},  # a backlog is no use
            },
            "daily-edition": {
                "task": "brief.daily_edition",
                "schedule": crontab(hour=settings.edition_hour, minute=settings.edition_minute),
            },
        },
    }


@app.on_configure.connect
def _configure_from_environment(sender: Celery, **_: Any) -> None:
    # Sent when Celery first needs the configuration, and read by it right after.
    sender.config_from_object(celery_config(settings_from_environment()))


class Scheduler(PersistentScheduler):  # type: ignore[misc]
    """Celery's default beat scheduler, which first creates its schedule file's folder."""

    def setup_schedule(self) -> None:
        Path(self.schedule_filename).parent.mkdir(parents=True, exist_ok=True)
        super().setup_schedule()


@signals.worker_init.connect
def _prepare_worker(**_: Any) -> None:
    """Workers create the data folder and bring the schema up to date before taking work."""
    from sqlalchemy.exc import DBAPIError

    from brief.db import make_engine, migrate, unreachable
    from brief.errors import DatabaseError

    settings: Settings = app.conf.brief_settings
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.db_url)
    try:
        migrate(engine)  # idempotent
    except (DBAPIError, DatabaseError) as exc:
        # One line, and no worker: not a traceback, then tasks that all fail.
        error = unreachable(engine, exc) if isinstance(exc, DBAPIError) else exc
        print(f"brief: {error}", file=sys.stderr)
        raise SystemExit(1) from None
    finally:
        engine.dispose()  # forked children must not share its connections


@signals.worker_ready.connect
def _sweep_at_start(**_: Any) -> None:
    """A worker that starts (after a crash, say) picks up at once what was left unsent."""
    app.send_task("brief.sweep_deliveries")

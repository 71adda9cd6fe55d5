"""`brief status` in a real process: the embedded setup, Redis + PostgreSQL with a real
Celery worker, and services that do not answer."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
import redis
from sqlalchemy import text

from brief.config import Settings
from brief.db import make_engine
from brief.taskqueue import CeleryQueue
from tests.feedserver import FeedServer
from tests.integration.test_cli import HEAVY, brief, heavy, imported
from tests.integration.test_cli_feeds import PRIVATE_OK
from tests.services import require_postgres, require_redis
from tests.wait import wait_until


def rss_of_today() -> bytes:
    when = format_datetime(datetime.now(UTC) - timedelta(hours=2), usegmt=True)
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Loop Wire</title>'
        "<link>https://wire.example/</link><item><guid>g1</guid><title>Harbour reopens"
        f"</title><link>https://wire.example/1</link><pubDate>{when}</pubDate><description>"
        "The harbour reopened on Monday after a week of repairs.</description></item>"
        "</channel></rss>"
    ).encode()


def status(tmp_path: Path, env: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
    result = brief(tmp_path, "status", "--json", env=env)
    assert "Traceback" not in result.stderr, result.stderr
    return result.returncode, json.loads(result.stdout)


def test_status_of_the_default_setup(tmp_path: Path) -> None:
    fresh, report = status(tmp_path)
    assert fresh == 0
    assert report["data_dir"] == str(tmp_path / "data")
    assert report["database"]["note"].startswith("not created yet")
    assert (report["broker"]["kind"], report["broker"]["ok"]) == ("embedded", True)
    assert not (tmp_path / "data" / "brief.sqlite").exists()  # status creates nothing

    with FeedServer() as server:
        good = server.add("/good.xml", rss_of_today())
        down = server.add("/down.xml", b"", status=503)
        for url in (good, down):
            assert brief(tmp_path, "feeds", "add", url, "--no-check").returncode == 0
        assert brief(tmp_path, "subscribers", "add", "reader@example.org").returncode == 0
        # The edition of this hour: its window holds the article of two hours ago.
        this_hour = {**PRIVATE_OK, "BRIEF_EDITION_HOUR": str(datetime.now(UTC).hour)}
        ran = brief(tmp_path, "run", env=this_hour)
        assert ran.returncode == 0 and "1 sent" in ran.stdout, ran.stdout + ran.stderr
    settings = Settings(data_dir=tmp_path / "data", base_url="https://brief.test")
    CeleryQueue(settings).send("brief.sweep_deliveries")  # waits: no worker runs

    code, report = status(tmp_path, env={"BRIEF_TIMEZONE": "Europe/Paris"})
    assert code == 0
    db, broker = report["database"], report["broker"]
    assert db["url"] == f"sqlite:///{tmp_path / 'data' / 'brief.sqlite'}"
    assert db["ok"] and db["schema"] and db["feeds"] == 2
    assert db["last_edition"]["deliveries"] == {"sent": 1}
    assert db["last_edition"]["stories"] == 1
    assert [(f["url"], f["errors"]) for f in db["failing_feeds"]] == [(down, 1)]
    assert "503" in db["failing_feeds"][0]["last_error"]
    assert broker["queued"] == 1 and broker["workers"] is None
    assert report["next_edition_at"].endswith(("+01:00", "+02:00"))  # 06:00 in Paris

    lines = brief(tmp_path, "status", env={"BRIEF_TIMEZONE": "Europe/Paris"}).stdout
    assert "deliveries sent 1" in lines and f"{down} (x1)" in lines
    assert "queued tasks  1" in lines and "06:00 Europe/Paris" in lines

    # Status stays light: no digest, numpy, httpx, Celery, not even SQLAlchemy, for the
    # embedded setup (it reads with the standard library's sqlite3).
    modules = imported(tmp_path, "status")
    assert heavy(modules) == set(), HEAVY
    assert "sqlalchemy" not in modules and "sqlite3" in modules


@pytest.mark.redis
@pytest.mark.postgres
@pytest.mark.slow
def test_status_with_redis_postgres_and_a_worker(tmp_path: Path) -> None:
    db_url, redis_url = require_postgres(), require_redis()
    redis.Redis.from_url(redis_url).flushdb()
    engine = make_engine(db_url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    engine.dispose()
    env = {"BRIEF_DATABASE_URL": db_url, "BRIEF_BROKER_URL": redis_url}
    assert brief(tmp_path, "db", "upgrade", env=env).returncode == 0
    settings = Settings(data_dir=tmp_path / "data", database_url=db_url, broker_url=redis_url)
    CeleryQueue(settings).send("brief.sweep_deliveries")

    code, report = status(tmp_path, env)
    assert code == 0
    assert report["database"]["url"] == db_url and report["database"]["schema"]
    broker = report["broker"]
    assert (broker["kind"], broker["ok"], broker["queued"], broker["workers"]) == (
        "redis",
        True,
        1,
        [],
    )

    worker_env = {k: v for k, v in os.environ.items() if not k.startswith("BRIEF_")}
    worker_env.update(env, BRIEF_DATA_DIR=str(tmp_path / "data"), BRIEF_ENV_FILE="")
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "tasks", "worker", "--pool", "solo", "-n", "st@%h"],
        cwd=Path(__file__).resolve().parents[2],
        env=worker_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:

        def seen() -> dict[str, Any] | None:
            broker = status(tmp_path, env)[1]["broker"]
            return broker if broker["workers"] and broker["queued"] == 0 else None

        broker = wait_until(seen, 60, interval=0.5, what="the worker answering status's ping")
        assert [name.partition("@")[0] for name in broker["workers"]] == ["st"]
    finally:
        worker.terminate()
        worker.wait(30)


def test_status_reports_services_that_do_not_answer(tmp_path: Path) -> None:
    env = {
        "BRIEF_DATABASE_URL": "postgresql+psycopg://brief:s3cret@127.0.0.1:1/brief",
        "BRIEF_BROKER_URL": "redis://:s3cret@127.0.0.1:1/5",
    }
    code, report = status(tmp_path, env)
    assert code == 1
    db, broker = report["database"], report["broker"]
    assert db["ok"] is False and broker["ok"] is False
    assert db["url"] == "postgresql+psycopg://brief:***@127.0.0.1:1/brief"
    assert "Connection refused" in db["error"] and "BRIEF_DATABASE_URL" in db["error"]
    assert broker["url"] == "redis://:***@127.0.0.1:1/5" and "refused" in broker["error"]
    assert "s3cret" not in json.dumps(report)

"""Failures outside brief's control, in a real process: one line on stderr that names
what failed and the setting to check, a non-zero exit, no traceback."""

from __future__ import annotations

import sqlite3
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.feedserver import FeedServer
from tests.integration.test_cli import brief
from tests.integration.test_cli_feeds import PRIVATE_OK
from tests.integration.test_cli_status import rss_of_today
from tests.services import require_postgres
from tests.smtpserver import SMTPServer, free_port


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_an_unreachable_database(tmp_path: Path) -> None:
    env = {"BRIEF_DATABASE_URL": "postgresql+psycopg://brief:s3cret@127.0.0.1:1/brief"}
    line = one_line(brief(tmp_path, "feeds", "list", env=env))
    assert line == (
        "brief: cannot reach the database at postgresql+psycopg://brief:***@127.0.0.1:1/brief "
        "(BRIEF_DATABASE_URL): Connection refused"
    )


@pytest.mark.postgres
def test_a_missing_database(tmp_path: Path) -> None:
    url = require_postgres().rsplit("/", 1)[0] + "/brief_absent_h5"
    line = one_line(brief(tmp_path, "subscribers", "list", env={"BRIEF_DATABASE_URL": url}))
    assert line.startswith("brief: cannot reach the database at ")
    assert '(BRIEF_DATABASE_URL): database "brief_absent_h5" does not exist' in line


def test_a_database_folder_that_cannot_be_made(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a folder")
    env = {"BRIEF_DATABASE_URL": f"sqlite:///{tmp_path / 'file' / 'brief.sqlite'}"}
    line = one_line(brief(tmp_path, "feeds", "list", env=env))
    assert line.startswith("brief: cannot create the database at sqlite:///")
    assert line.endswith(f"(BRIEF_DATABASE_URL, BRIEF_DATA_DIR): File exists: {tmp_path / 'file'}")


def test_a_database_at_a_newer_schema(tmp_path: Path) -> None:
    assert brief(tmp_path, "db", "upgrade").returncode == 0
    with sqlite3.connect(tmp_path / "data" / "brief.sqlite") as conn:
        conn.execute("UPDATE alembic_version SET version_num = '0099'")
    line = one_line(brief(tmp_path, "feeds", "list"))
    assert "(BRIEF_DATABASE_URL) has schema revision 0099, newer than this brief knows" in line
    assert line.endswith("upgrade brief")
    # Nothing was changed: the revision is still the newer one, and status says so.
    with sqlite3.connect(tmp_path / "data" / "brief.sqlite") as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchall() == [("0099",)]
    status = brief(tmp_path, "status")
    assert status.returncode == 1 and "newer than this brief knows" in status.stdout


@pytest.mark.parametrize("command", ["web", "inbound"])
def test_an_unreachable_broker(tmp_path: Path, command: str) -> None:
    env = {"BRIEF_BROKER_URL": "redis://:s3cret@127.0.0.1:1/5"}
    line = one_line(brief(tmp_path, command, "--port", str(free_port()), env=env))
    assert line.startswith(
        "brief: cannot reach the broker at redis://:***@127.0.0.1:1/5 (BRIEF_BROKER_URL): "
    )
    assert "Connection refused" in line


@pytest.mark.slow
def test_smtp_refusing_authentication(tmp_path: Path) -> None:
    with SMTPServer(credentials=("brief", "right")) as smtp, FeedServer() as feeds:
        env = {
            **PRIVATE_OK,
            "BRIEF_EDITION_HOUR": str(datetime.now(UTC).hour),
            "BRIEF_SMTP_URL": f"smtp://brief:wrong@{smtp.host}:{smtp.port}",
        }
        url = feeds.add("/today.xml", rss_of_today())
        assert brief(tmp_path, "feeds", "add", url, env=env).returncode == 0
        assert brief(tmp_path, "subscribers", "add", "reader@example.org").returncode == 0
        for command in (["run"], ["digest", "send"]):
            line = one_line(brief(tmp_path, *command, env=env))
            assert line == (
                f"brief: the mail server at smtp://{smtp.host}:{smtp.port} refused brief "
                "(BRIEF_SMTP_URL): SMTP 535 5.7.8 Authentication credentials invalid "
                "(hello or login)"
            )
        assert smtp.messages == []
    assert "s3cret" not in line

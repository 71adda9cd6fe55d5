"""The files a deployment needs: compose services, and what the wheel ships."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]


def test_compose_file_names_the_services() -> None:
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"redis", "postgres", "worker", "beat", "mailpit", "web", "inbound"} <= set(services)
    worker_env = services["worker"]["environment"]
    assert worker_env["BRIEF_BROKER_URL"].startswith("redis://")
    assert worker_env["BRIEF_DATABASE_URL"].startswith("postgresql://")
    assert "celery" in services["worker"]["command"] and "beat" in services["beat"]["command"]


@pytest.mark.slow
def test_the_wheel_ships_templates_migrations_and_samples(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(REPO),
        ],
        check=True,
        capture_output=True,
    )
    [wheel] = list(tmp_path.glob("brief-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "brief/templates/email/digest/body.html" in names
    assert "brief/migrations/env.py" in names
    assert any(n.startswith("brief/migrations/versions/0001") for n in names)
    assert any(n.startswith("brief/samples/") for n in names)
    assert "tasks/app.py" in names

    # Installed from the wheel (not editable), away from the source tree, it still
    # finds its templates, migrations and sample feeds: the demo runs end to end.
    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "-q",
            "--target",
            str(target),
            str(wheel),
        ],
        check=True,
        capture_output=True,
    )
    work = tmp_path / "work"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("BRIEF_")}
    env["PYTHONPATH"] = str(target)
    code = "import brief, sys; print(brief.__file__); from brief.cli import main; main(['demo'])"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=work, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(str(target))
    assert "1 sent" in result.stdout
    assert list((work / ".brief" / "demo" / "outbox").glob("*.eml"))

"""The Celery app reads its settings when Celery first needs them, never at import."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.wait import wait_until


def run(cwd: Path, *args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("BRIEF_")}
    return subprocess.Popen(
        [sys.executable, *args],
        cwd=cwd,
        env={**base, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_importing_the_tasks_reads_and_creates_nothing(tmp_path: Path) -> None:
    code = "import tasks, tasks.ingest, tasks.digest, tasks.mail; assert not tasks.app.configured"
    bad = {"BRIEF_DATA_DIR": str(tmp_path / "data"), "BRIEF_EDITION_HOUR": "25"}
    proc = run(tmp_path, "-c", code, env=bad)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert not (tmp_path / "data").exists() and not (tmp_path / ".brief").exists()


def test_a_worker_with_a_bad_setting_says_so_in_one_line(tmp_path: Path) -> None:
    proc = run(tmp_path, "-m", "celery", "-A", "tasks", "worker", env={"BRIEF_EDITION_HOUR": "25"})
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert err.splitlines() == [
        "brief: bad setting: BRIEF_EDITION_HOUR: Input should be less than or equal to 23"
    ]


def test_the_beat_creates_the_folder_of_its_schedule(tmp_path: Path) -> None:
    data = tmp_path / "new" / "data"
    proc = run(tmp_path, "-m", "celery", "-A", "tasks", "beat", env={"BRIEF_DATA_DIR": str(data)})
    try:
        wait_until(lambda: list(data.glob("celerybeat-schedule*")), 60, what="the schedule file")
    finally:
        proc.kill()  # only the folder matters here, not a clean shutdown
        proc.communicate(timeout=30)


def test_the_sweep_runs_as_often_as_the_setting_says(tmp_path: Path) -> None:
    from brief.config import Settings
    from tasks.app import celery_config

    def sweep(settings: Settings) -> dict[str, object]:
        entry: dict[str, object] = celery_config(settings)["beat_schedule"]["sweep-deliveries"]
        return entry

    default = sweep(Settings(data_dir=tmp_path))
    assert default["schedule"].total_seconds() == 15  # type: ignore[attr-defined]
    fast = sweep(Settings(data_dir=tmp_path, send_sweep_seconds=2))
    assert fast["schedule"].total_seconds() == 2  # type: ignore[attr-defined]
    assert fast["options"] == {"expires": 2}

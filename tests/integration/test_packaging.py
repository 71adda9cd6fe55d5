"""The files a deployment needs: compose services, and what the wheel ships."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from brief.config import Settings

REPO = Path(__file__).resolve().parents[2]


COMPOSE = REPO / "docker-compose.yml"
BIN = Path(sys.executable).parent  # the console scripts `pip install .` makes, as in the image
# What compose itself must decide for its services: where its servers are.
STACK_SETTINGS = {
    "BRIEF_DATA_DIR",
    "BRIEF_DATABASE_URL",
    "BRIEF_BROKER_URL",
    "BRIEF_REDIS_URL",
    "BRIEF_SMTP_URL",
}


def _services() -> dict[str, dict[str, Any]]:
    services: dict[str, dict[str, Any]] = yaml.safe_load(COMPOSE.read_text())["services"]
    return services


def _brief_services() -> dict[str, dict[str, Any]]:
    return {n: s for n, s in _services().items() if s.get("image") == "brief:latest"}


def test_compose_file_names_the_services() -> None:
    services = _services()
    assert {"redis", "postgres", "worker", "beat", "mailpit", "web", "inbound"} <= set(services)
    worker_env = services["worker"]["environment"]
    assert worker_env["BRIEF_BROKER_URL"].startswith("redis://")
    assert worker_env["BRIEF_DATABASE_URL"].startswith("postgresql://")
    assert "celery" in services["worker"]["command"] and "beat" in services["beat"]["command"]


def test_every_brief_service_gets_the_env_file_and_only_stack_addresses_on_top() -> None:
    services = _brief_services()
    assert {"migrate", "worker", "beat", "web", "inbound"} <= set(services)
    for name, service in services.items():
        assert {"path": ".env", "required": False} in service["env_file"], name
        # `environment` wins over env_file: it must not shadow the operator's settings.
        assert set(service["environment"]) <= STACK_SETTINGS, name


def test_services_restart_keep_their_data_and_report_health() -> None:
    compose = yaml.safe_load(COMPOSE.read_text())
    for name, service in compose["services"].items():
        if name == "migrate":  # runs once per start, then exits
            assert service["restart"] == "no"
            continue
        assert service["restart"] == "unless-stopped", name
        if name not in ("mailpit", "beat"):
            assert service["healthcheck"]["test"], name
        for volume in service.get("volumes", []):
            assert volume.split(":")[0] in compose["volumes"], f"{name}: {volume} is not named"


@pytest.mark.parametrize("name", sorted(_brief_services()))
def test_every_service_command_exists_in_the_image(name: str, tmp_path: Path) -> None:
    command = _brief_services()[name]["command"]
    assert (BIN / command[0]).exists(), f"{command[0]} is not installed by the package"
    env = {k: v for k, v in os.environ.items() if not k.startswith("BRIEF_")}
    env["BRIEF_DATA_DIR"] = str(tmp_path)
    # --help parses the whole command line and runs nothing: an unknown command or
    # option fails here as it would in the container.
    result = subprocess.run(
        [str(BIN / command[0]), *command[1:], "--help"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_example_env_names_only_real_settings() -> None:
    fields = {f"BRIEF_{name.upper()}" for name in Settings.model_fields} | {"BRIEF_FROM"}
    for line in (REPO / ".env.example").read_text().splitlines():
        line = line.lstrip("# ")
        if line.startswith("BRIEF_"):
            assert line.split("=")[0] in fields, line


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
    env["BRIEF_DATA_DIR"] = str(work / "data")
    code = "import brief, sys; print(brief.__file__); from brief.cli import main; main(['demo'])"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=work, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(str(target))
    assert "1 sent" in result.stdout
    assert list((work / "data" / "demo" / "outbox").glob("*.eml"))

"""`brief web` in a process of its own, as an operator runs it, for tests on loopback."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.smtpserver import free_port
from tests.wait import wait_until


@dataclass(frozen=True)
class WebProcess:
    base: str  # http://127.0.0.1:PORT
    log: Path  # its standard output and error

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@contextmanager
def brief_web(tmp_path: Path, **settings: str) -> Iterator[WebProcess]:
    """Start `brief web` with only these BRIEF_* settings (and a data folder in
    `tmp_path`); yield once /healthz answers 200; stop it on the way out."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("BRIEF_")}
    env.update(BRIEF_ENV_FILE="", BRIEF_DATA_DIR=str(tmp_path / "data"), **settings)
    web = WebProcess(f"http://127.0.0.1:{port}", tmp_path / "web.log")
    with web.log.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "brief.cli", "web", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def up() -> bool:
        assert process.poll() is None, web.output()
        try:
            return httpx.get(f"{web.base}/healthz").status_code == 200
        except httpx.TransportError:
            return False

    try:
        wait_until(up, 60, interval=0.2, what="brief web")
        yield web
    finally:
        process.terminate()
        process.wait(30)

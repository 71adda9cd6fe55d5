"""X-Forwarded-For is believed only from BRIEF_TRUSTED_PROXIES: `brief web` in a real
process on loopback, and a client that makes up a new address for every request."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from brief.web.deps import SUBSCRIBES_PER_IP_PER_HOUR
from tests.smtpserver import free_port
from tests.wait import wait_until


@contextmanager
def _brief_web(tmp_path: Path, proxies: str) -> Iterator[str]:
    """`brief web` in its own process, as an operator runs it."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("BRIEF_")}
    env.update(
        BRIEF_ENV_FILE="",
        BRIEF_DATA_DIR=str(tmp_path / "data"),
        BRIEF_SECRET_KEY="proxy-test-secret",
        BRIEF_TRUSTED_PROXIES=proxies,
    )
    log_path = tmp_path / "web.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "brief.cli", "web", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:
        assert process.poll() is None, log_path.read_text()
        try:
            return httpx.get(f"{base}/healthz").status_code == 200
        except httpx.TransportError:
            return False

    try:
        wait_until(up, 60, interval=0.2, what="brief web")
        # It says at once that mail needs a worker, which `brief web` alone is not.
        assert "sent by a Celery worker" in log_path.read_text()
        yield base
    finally:
        process.terminate()
        process.wait(30)


def _accepted(base: str, attempts: int) -> int:
    """Subscribe attempts answered "check your inbox", each with a made-up client address."""
    accepted = 0
    with httpx.Client(base_url=base) as client:
        page = client.get("/")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token
        for n in range(attempts):
            answer = client.post(
                "/subscribe",
                data={"email": f"r{n}@example.org", "csrf_token": token.group(1)},
                headers={"X-Forwarded-For": f"198.51.100.{n}"},
            )
            accepted += answer.status_code == 200 and "Check your inbox" in answer.text
    return accepted


def test_a_made_up_forwarded_for_does_not_bypass_the_limit(tmp_path: Path) -> None:
    attempts = SUBSCRIBES_PER_IP_PER_HOUR + 10
    with _brief_web(tmp_path, "") as base:
        assert _accepted(base, attempts) == SUBSCRIBES_PER_IP_PER_HOUR


def test_a_trusted_proxy_forwards_the_client_address(tmp_path: Path) -> None:
    attempts = SUBSCRIBES_PER_IP_PER_HOUR + 10
    with _brief_web(tmp_path, "127.0.0.1") as base:
        assert _accepted(base, attempts) == attempts  # each a different client


def test_a_bad_proxy_setting_names_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    from brief.config import load_settings
    from brief.errors import ConfigError

    monkeypatch.setenv("BRIEF_TRUSTED_PROXIES", "10.0.0.1, proxy.example.com")
    message = "BRIEF_TRUSTED_PROXIES: 'proxy.example.com' is not an IP"
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_settings()

"""X-Forwarded-For is believed only from BRIEF_TRUSTED_PROXIES: a real uvicorn on
loopback, and a client that makes up a new address for every request."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import uvicorn
from sqlalchemy import Engine

from brief.config import Settings
from brief.ratelimit import MemoryRateLimiter
from brief.web.app import create_app
from brief.web.deps import SUBSCRIBES_PER_IP_PER_HOUR
from tests.factories import RecordingQueue
from tests.smtpserver import free_port
from tests.wait import wait_until


@contextmanager
def _serving(settings: Settings) -> Iterator[str]:
    app = create_app(settings, queue=RecordingQueue(), limiter=MemoryRateLimiter())
    port = free_port()
    # As `brief web` runs it: uvicorn's own proxy handling off, the app decides.
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", proxy_headers=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_until(lambda: server.started, 15, what="uvicorn")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def _settings(engine: Engine, tmp_path: Path, proxies: list[str]) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        data_dir=tmp_path,
        database_url=engine.url.render_as_string(hide_password=False),
        secret_key="proxy-test-secret",
        trusted_proxies=proxies,
    )


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


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_a_made_up_forwarded_for_does_not_bypass_the_limit(engine: Engine, tmp_path: Path) -> None:
    attempts = SUBSCRIBES_PER_IP_PER_HOUR + 10
    with _serving(_settings(engine, tmp_path, [])) as base:
        assert _accepted(base, attempts) == SUBSCRIBES_PER_IP_PER_HOUR


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_a_trusted_proxy_forwards_the_client_address(engine: Engine, tmp_path: Path) -> None:
    attempts = SUBSCRIBES_PER_IP_PER_HOUR + 10
    with _serving(_settings(engine, tmp_path, ["127.0.0.1"])) as base:
        assert _accepted(base, attempts) == attempts  # each a different client


def test_a_bad_proxy_setting_names_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    from brief.config import load_settings
    from brief.errors import ConfigError

    monkeypatch.setenv("BRIEF_TRUSTED_PROXIES", "10.0.0.1, proxy.example.com")
    with pytest.raises(
        ConfigError, match=re.escape("BRIEF_TRUSTED_PROXIES: 'proxy.example.com' is not an IP")
    ):
        load_settings()

"""X-Forwarded-For is believed only from BRIEF_TRUSTED_PROXIES: `brief web` in a real
process on loopback, and a client that makes up a new address for every request."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from brief.web.deps import SUBSCRIBES_PER_IP_PER_HOUR
from tests.webproc import brief_web

SECRET = "proxy-test-secret"


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
    with brief_web(tmp_path, BRIEF_SECRET_KEY=SECRET, BRIEF_TRUSTED_PROXIES="") as web:
        # It says at once that mail needs a worker, which `brief web` alone is not.
        assert "sent by a Celery worker" in web.output()
        assert _accepted(web.base, attempts) == SUBSCRIBES_PER_IP_PER_HOUR


def test_a_trusted_proxy_forwards_the_client_address(tmp_path: Path) -> None:
    attempts = SUBSCRIBES_PER_IP_PER_HOUR + 10
    with brief_web(tmp_path, BRIEF_SECRET_KEY=SECRET, BRIEF_TRUSTED_PROXIES="127.0.0.1") as web:
        assert "sent by a Celery worker" in web.output()
        assert _accepted(web.base, attempts) == attempts  # each a different client


def test_a_bad_proxy_setting_names_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    from brief.config import load_settings
    from brief.errors import ConfigError

    monkeypatch.setenv("BRIEF_TRUSTED_PROXIES", "10.0.0.1, proxy.example.com")
    message = "BRIEF_TRUSTED_PROXIES: 'proxy.example.com' is not an IP"
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_settings()

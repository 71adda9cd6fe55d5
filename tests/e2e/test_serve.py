"""`brief serve` alone, as the README's quick start runs it: subscribe on the page, get
the confirmation, confirm, get the digest; then SIGTERM stops every part cleanly.

Nothing else runs: no separate worker, no beat, no Redis (the embedded broker).
"""

from __future__ import annotations

import os
import re
import signal
import smtplib
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.e2e.test_pipeline import FEEDS
from tests.feedserver import FeedServer
from tests.smtpserver import Received, SMTPServer, free_port
from tests.wait import wait_until

ADMIN = "serve-admin-token"
pytestmark = pytest.mark.slow


def _env(tmp_path: Path, smtp: SMTPServer, base: str) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("BRIEF_")},
        "BRIEF_ENV_FILE": "",
        "BRIEF_DATA_DIR": str(tmp_path / "data"),
        "BRIEF_SMTP_URL": f"smtp://127.0.0.1:{smtp.port}",
        "BRIEF_FROM": "Daily Brief <brief@brief.test>",
        "BRIEF_BASE_URL": base,
        "BRIEF_ADMIN_TOKEN": ADMIN,
        "BRIEF_FETCH_ALLOW_PRIVATE": "true",  # the feed server is on 127.0.0.1
        "BRIEF_FULLTEXT": "false",
        "BRIEF_SECTIONS": "world,business",
        # Today's window ends at 23:00 UTC, so it holds the feeds' articles of the
        # last hours (tests/e2e/test_pipeline.py does the same).
        "BRIEF_TIMEZONE": "UTC",
        "BRIEF_EDITION_HOUR": "23",
        "BRIEF_INBOUND_PORT": str(free_port()),
    }


def _brief(env: dict[str, str], *args: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "brief.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr


@contextmanager
def _serving(env: dict[str, str], port: int, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "brief.cli", "serve", "--port", str(port), "--inbound"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        for pid in _processes_of(env["BRIEF_DATA_DIR"]):  # never leave a child behind
            os.kill(pid, signal.SIGKILL)


def _processes_of(data_dir: str) -> list[int]:
    """Processes started with this data folder in their environment (ours, and children)."""
    marker = f"BRIEF_DATA_DIR={data_dir}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if marker in (entry / "environ").read_bytes().split(b"\0"):
                found.append(int(entry.name))
        except OSError:  # gone, or not ours to read
            continue
    return found


def _answers(port: int) -> bool:
    """The mail listener answers an SMTP NOOP."""
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=5) as inbound:
            return inbound.noop()[0] == 250
    except OSError:
        return False


def _mail_to(smtp: SMTPServer, address: str, count: int) -> list[Received]:
    def arrived() -> list[Received] | None:
        got = [m for m in smtp.messages if address in m.rcpt_tos]
        return got if len(got) >= count else None

    return wait_until(arrived, 90, what=f"{count} message(s) to {address}")


def test_one_command_subscribes_confirms_and_delivers(tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "serve.log"
    with SMTPServer() as smtp, FeedServer() as feeds:
        env = _env(tmp_path, smtp, base)
        for path, (section, body) in FEEDS.items():
            url = feeds.add(path, body, headers={"Content-Type": "application/rss+xml"})
            _brief(env, "feeds", "add", url, "--section", section)

        with (
            _serving(env, port, log) as serve,
            httpx.Client(base_url=base, follow_redirects=True, timeout=10) as browser,
        ):

            def up() -> bool:
                assert serve.poll() is None, log.read_text(errors="replace")[-3000:]
                try:
                    return browser.get("/healthz").status_code == 200
                except httpx.TransportError:
                    return False

            wait_until(up, 60, what="brief serve's web front")
            wait_until(lambda: _answers(int(env["BRIEF_INBOUND_PORT"])), 30, what="inbound")

            # 1. Subscribe on the page: the confirmation comes from serve's own worker.
            page = browser.get("/")
            token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
            assert token, page.text
            answer = browser.post(
                "/subscribe",
                data={"email": "reader@example.org", "csrf_token": token.group(1)},
            )
            assert answer.status_code == 200 and "Check your inbox" in answer.text
            [confirmation] = _mail_to(smtp, "reader@example.org", 1)
            text = confirmation.message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
            confirm = re.search(re.escape(base) + r"/confirm/\S+", text)
            assert confirm, text
            confirmed = browser.get(confirm.group(0))
            assert confirmed.status_code == 200 and "confirmed" in confirmed.text

            # 2. The worker ingested the feeds when it started; the operator sends today's.
            admin = {"Authorization": f"Bearer {ADMIN}"}

            reasons: list[str] = []

            def built() -> bool:
                made = browser.post("/api/editions", headers=admin, json={"send": True})
                assert made.status_code in (200, 201), made.text
                reasons.append(made.json().get("reason") or "")
                return made.json()["edition"] is not None

            wait_until(
                built,
                60,
                interval=0.5,
                what=lambda: f"an edition ({reasons[-1]}): {log.read_text()[-3000:]}",
            )
            digest = _mail_to(smtp, "reader@example.org", 2)[1].message
            body = digest.get_body(("plain",)).get_content()  # type: ignore[union-attr]
            assert "Ceasefire agreed in the north" in body

            # 3. SIGTERM: every part stops, cleanly, and nothing is left running.
            serve.send_signal(signal.SIGTERM)
            assert serve.wait(90) == 0, log.read_text(errors="replace")[-3000:]
            output = log.read_text(errors="replace")
            assert "SIGTERM, stopping" in output and "Warm shutdown" in output
            assert _processes_of(env["BRIEF_DATA_DIR"]) == []
    assert f"data folder: {tmp_path / 'data'}" in output

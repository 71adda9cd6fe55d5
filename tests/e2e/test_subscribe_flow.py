"""A stranger's whole path through the real app, a real worker and a real SMTP server:

subscribe -> the confirmation arrives -> follow its link -> the next digest arrives
-> POST to its List-Unsubscribe URL (one click) -> no further digest.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from brief.web.app import create_app
from tests.e2e.test_pipeline import FEEDS, Stack, running_stack
from tests.smtpserver import Received, free_port
from tests.wait import wait_until

ADMIN = "e2e-admin-token"
pytestmark = pytest.mark.slow


@contextmanager
def serve(app: FastAPI, port: int) -> Iterator[str]:
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_until(lambda: server.started, 15, what="the web server to start")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def mail_to(stack: Stack, address: str, count: int, timeout: float = 60) -> list[Received]:
    def arrived() -> list[Received] | None:
        got = [m for m in stack.smtp.messages if address in m.rcpt_tos]
        return got if len(got) >= count else None

    return stack.wait(arrived, timeout, f"{count} message(s) to {address}")


def link(message: Received, pattern: str) -> str:
    text = message.message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    found = re.search(pattern, text)
    assert found, text
    return found.group(0)


def test_subscribe_confirm_receive_and_leave_in_one_click(tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {"BRIEF_BASE_URL": base, "BRIEF_ADMIN_TOKEN": ADMIN, "BRIEF_FETCH_ALLOW_PRIVATE": "true"}
    with running_stack("embedded", tmp_path, env=env) as stack:
        stack.serve_feeds()
        settings = stack.settings()
        with (
            serve(create_app(settings), port),
            httpx.Client(base_url=base, follow_redirects=True) as browser,
        ):
            admin = {"Authorization": f"Bearer {ADMIN}"}
            for path, (section, _) in FEEDS.items():
                added = browser.post(
                    "/api/feeds",
                    headers=admin,
                    json={"url": stack.feeds.url(path), "section": section},
                )
                assert added.status_code == 201, added.text

            # 1. Subscribe from the page.
            page = browser.get("/")
            token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
            assert token
            answer = browser.post(
                "/subscribe",
                data={
                    "email": "reader@example.org",
                    "csrf_token": token.group(1),
                    "timezone": "Europe/Paris",
                    "delivery_hour": "",  # as soon as it is out: the test can't wait for 7:00
                },
            )
            assert answer.status_code == 200 and "Check your inbox" in answer.text

            # 2. The confirmation arrives; it is the only message before confirming.
            [confirmation] = mail_to(stack, "reader@example.org", 1)
            assert confirmation.message["List-Unsubscribe"] is None
            confirmed = browser.get(link(confirmation, re.escape(base) + r"/confirm/\S+"))
            assert confirmed.status_code == 200 and "confirmed" in confirmed.text

            # 3. The morning run ingests, builds and sends: the digest arrives.
            stack.client.send_task("brief.daily_edition")
            messages = mail_to(stack, "reader@example.org", 2)
            digest = messages[1].message
            assert "Ceasefire agreed in the north" in str(digest.get_body(("plain",)).get_content())  # type: ignore[union-attr]

            # 4. One click, as a mail provider does it (RFC 8058).
            https_link = re.search(r"<(http[^>]+)>", str(digest["List-Unsubscribe"]))
            assert https_link and digest["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
            left = httpx.post(
                https_link.group(1),
                content=b"List-Unsubscribe=One-Click",
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            )
            assert left.status_code == 200 and "unsubscribed" in left.text

            # 5. The next edition goes to the others, not to the reader who left.
            browser.post(
                "/api/subscribers/import",
                headers={**admin, "Content-Type": "text/csv"},
                content=b"control@example.org\n",
            )
            tomorrow = (digest_date := _edition_date(browser, admin)) + timedelta(days=1)
            nxt = browser.post(
                "/api/editions", headers=admin, json={"date": tomorrow.isoformat(), "send": True}
            )
            assert nxt.status_code == 201, nxt.text
            mail_to(stack, "control@example.org", 1)
            stack.wait(stack.deliveries_settled, 30, "the deliveries to settle")
            assert len([m for m in stack.smtp.messages if "reader@example.org" in m.rcpt_tos]) == 2
            del digest_date


def _edition_date(client: httpx.Client, admin: dict[str, str]):  # type: ignore[no-untyped-def]
    from datetime import date

    editions = client.get("/api/editions", headers=admin).json()
    return date.fromisoformat(editions[0]["date"])

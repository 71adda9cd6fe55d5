"""The stranger's path once more, in a real browser (headless Chromium), with screenshots."""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from brief.web.app import create_app
from tests.browser import browser, shoot
from tests.e2e.test_pipeline import FEEDS, running_stack
from tests.e2e.test_subscribe_flow import link, mail_to, serve
from tests.smtpserver import free_port

__all__ = ["browser"]  # the fixture, used by name
ADMIN = "browser-admin-token"
pytestmark = pytest.mark.slow


def test_subscribe_confirm_and_leave_in_a_browser(browser: Any, tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {"BRIEF_BASE_URL": base, "BRIEF_ADMIN_TOKEN": ADMIN, "BRIEF_FETCH_ALLOW_PRIVATE": "true"}
    with running_stack("embedded", tmp_path, env=env) as stack:
        stack.serve_feeds()
        settings = stack.settings()
        admin = {"Authorization": f"Bearer {ADMIN}"}
        with serve(create_app(settings), port):
            for path, (section, _) in FEEDS.items():
                httpx.post(
                    f"{base}/api/feeds",
                    headers=admin,
                    json={"url": stack.feeds.url(path), "section": section},
                )
            page = browser.new_page(viewport={"width": 375, "height": 800})
            try:
                page.goto(base + "/")
                assert page.input_value("input[name=timezone]")  # filled in by the browser
                page.fill("input[name=email]", "walker@example.org")
                page.check("input[name=sections][value=world]")
                page.select_option("select[name=delivery_hour]", index=0)
                assert page.input_value("select[name=delivery_hour]") == ""  # as soon as out
                shoot(page, "web-subscribe-form.png")
                page.click("button[type=submit]")
                page.wait_for_selector("text=Check your inbox")
                shoot(page, "web-check-inbox.png")

                [confirmation] = mail_to(stack, "walker@example.org", 1)
                page.goto(link(confirmation, re.escape(base) + r"/confirm/\S+"))
                page.wait_for_selector("text=Your subscription is confirmed")
                assert page.is_checked("input[name=sections][value=world]")
                shoot(page, "web-preferences.png")

                stack.client.send_task("brief.daily_edition")
                digest = mail_to(stack, "walker@example.org", 2)[1].message
                unsubscribe = re.search(r"<(http[^>]+)>", str(digest["List-Unsubscribe"]))
                assert unsubscribe
                page.goto(unsubscribe.group(1))
                page.click("button[type=submit]")
                page.wait_for_selector("text=You are unsubscribed")
                shoot(page, "web-unsubscribed.png")
            finally:
                page.close()

            httpx.post(
                f"{base}/api/subscribers/import",
                headers={**admin, "Content-Type": "text/csv"},
                content=b"control@example.org\n",
            )
            latest = date.fromisoformat(
                httpx.get(f"{base}/api/editions", headers=admin).json()[0]["date"]
            )
            httpx.post(
                f"{base}/api/editions",
                headers=admin,
                json={"date": (latest + timedelta(days=1)).isoformat(), "send": True},
            )
            mail_to(stack, "control@example.org", 1)
            stack.wait(stack.deliveries_settled, 30, "the deliveries to settle")
            assert len([m for m in stack.smtp.messages if "walker@example.org" in m.rcpt_tos]) == 2

"""The web front and operator API on a real database, through the ASGI app.

The task queue and the mail sender are fakes at the edge (the end-to-end test
in tests/e2e/test_subscribe_flow.py uses a real worker and SMTP server).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from brief import store
from brief.config import Settings
from brief.db import session_scope
from brief.editions import build_edition
from brief.models import Feed, Subscriber
from brief.ratelimit import MemoryRateLimiter
from brief.tokens import CONFIRM, MANAGE, UNSUBSCRIBE, make_token
from brief.web.app import create_app
from tests.factories import (
    CTX,
    NOW,
    RecordingQueue,
    RecordingSender,
    add_feed_with_articles,
    plan,
)
from tests.smtpserver import free_port

SECRET = "web-test-secret"
ADMIN = "operator-token-123"


@pytest.fixture
def queue() -> RecordingQueue:
    return RecordingQueue()


@pytest.fixture
def sender() -> RecordingSender:
    return RecordingSender()


def web_settings(engine: Engine, tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": tmp_path,
        "database_url": engine.url.render_as_string(hide_password=False),
        "base_url": "https://brief.test",
        "secret_key": SECRET,
        "admin_token": ADMIN,
        "sections": ["world", "business", "sport"],
        "edition_hour": 23,  # "today's edition" then covers the last hours, whenever this runs
    }
    return Settings(_env_file=None, **(values | overrides))  # type: ignore[call-arg]


@pytest.fixture
def client(
    engine: Engine, tmp_path: Path, queue: RecordingQueue, sender: RecordingSender
) -> Iterator[TestClient]:
    settings = web_settings(engine, tmp_path)
    app = create_app(settings, queue=queue, limiter=MemoryRateLimiter(), sender=sender)
    with TestClient(app, base_url="https://brief.test") as c:
        yield c


def form_token(client: TestClient, path: str = "/") -> str:
    page = client.get(path)
    assert page.status_code == 200
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert match, page.text
    return match.group(1)


def subscribe(client: TestClient, email: str, **extra: Any) -> Any:
    data = {
        "email": email,
        "csrf_token": form_token(client),
        "timezone": "Europe/Paris",
        "delivery_hour": "6",
        **extra,
    }
    return client.post("/subscribe", data=data)


def subscriber(engine: Engine, email: str) -> Subscriber | None:
    with session_scope(engine) as session:
        return store.find_subscriber(session, email)


def test_home_page_has_the_form_and_security_headers(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert 'action="/subscribe"' in page.text and 'name="website"' in page.text
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["referrer-policy"] == "no-referrer"


def test_subscribe_answers_the_same_whoever_asks(
    client: TestClient, engine: Engine, queue: RecordingQueue
) -> None:
    first = subscribe(client, "new@example.org")
    assert first.status_code == 200 and "Check your inbox" in first.text
    sub = subscriber(engine, "new@example.org")
    assert sub is not None and sub.status == "pending"
    assert (sub.timezone, sub.delivery_hour) == ("Europe/Paris", 6)
    assert queue.sent == [("brief.send_confirmation", (sub.id,))]
    # Pending again: the same page, and the confirmation again.
    again = subscribe(client, "NEW@example.org")
    assert again.text == first.text or "Check your inbox" in again.text
    assert queue.names() == ["brief.send_confirmation"] * 2
    # Active: the same page, and no email at all.
    with session_scope(engine) as session:
        store.add_subscriber(session, "active@example.org", now=NOW)
    active = subscribe(client, "active@example.org")
    assert active.status_code == 200 and "Check your inbox" in active.text
    assert queue.names() == ["brief.send_confirmation"] * 2


def test_confirmations_to_one_address_are_rate_limited(
    client: TestClient, queue: RecordingQueue
) -> None:
    for _ in range(6):
        assert subscribe(client, "eager@example.org").status_code == 200
    assert queue.names().count("brief.send_confirmation") == 3


def test_the_honeypot_stores_nothing(
    client: TestClient, engine: Engine, queue: RecordingQueue
) -> None:
    page = subscribe(client, "bot@example.org", website="http://spam.example")
    assert page.status_code == 200 and "Check your inbox" in page.text
    assert subscriber(engine, "bot@example.org") is None and queue.sent == []


def test_a_form_without_its_csrf_token_is_refused(client: TestClient, engine: Engine) -> None:
    client.get("/")
    page = client.post("/subscribe", data={"email": "x@example.org", "csrf_token": "forged"})
    assert page.status_code == 403
    assert subscriber(engine, "x@example.org") is None


@pytest.mark.parametrize(
    "email", ["not-an-address", "a@b.c\r\nBcc: x@evil.org", "a@b.c\nBcc: x@evil.org", ""]
)
def test_malformed_addresses_get_a_clear_400(
    client: TestClient, engine: Engine, queue: RecordingQueue, email: str
) -> None:
    page = subscribe(client, email)
    assert page.status_code in (400, 422)
    assert queue.sent == []
    with session_scope(engine) as session:
        assert store.list_subscribers(session) == []


def test_json_subscribe_and_its_errors(client: TestClient, queue: RecordingQueue) -> None:
    ok = client.post("/api/subscribe", json={"email": "json@example.org", "sections": ["world"]})
    assert ok.status_code == 202 and "Check your inbox" in ok.json()["detail"]
    bad = client.post("/api/subscribe", json={"email": "a@b.c\r\nBcc: x@evil.org"})
    assert bad.status_code == 400 and "invalid email address" in bad.json()["detail"]
    unknown = client.post("/api/subscribe", json={"email": "j2@example.org", "sections": ["x"]})
    assert unknown.status_code == 400 and "unknown section" in unknown.json()["detail"]
    assert queue.names() == ["brief.send_confirmation"]


def test_a_1mb_body_is_refused(client: TestClient) -> None:
    big = "x" * (1024 * 1024)
    assert client.post("/subscribe", data={"email": big}).status_code == 413
    assert (
        client.post(
            "/api/subscribe", content=big, headers={"content-type": "application/json"}
        ).status_code
        == 413
    )


def test_subscribing_works_with_redis_down(
    engine: Engine, tmp_path: Path, queue: RecordingQueue
) -> None:
    dead = f"redis://127.0.0.1:{free_port()}/0"  # the rate limits' Redis: nothing listens
    settings = web_settings(engine, tmp_path, redis_url=dead)
    with TestClient(create_app(settings, queue=queue), base_url="https://brief.test") as client:
        assert subscribe(client, "form@example.org").status_code == 200
        answer = client.post("/api/subscribe", json={"email": "json@example.org"})
        assert answer.status_code == 202
    assert queue.names() == ["brief.send_confirmation"] * 2


def test_a_1mb_chunked_body_is_refused_with_413(client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:  # no Content-Length: sent chunked
        for _ in range(64):
            yield b"x" * 16384

    for path in ("/subscribe", "/api/subscribe"):
        answer = client.post(
            path, content=chunks(), headers={"content-type": "application/x-www-form-urlencoded"}
        )
        assert answer.status_code == 413, path
    small = client.post(
        "/api/subscribe",
        content=iter([b'{"email": "chunked', b'@example.org"}']),
        headers={"content-type": "application/json"},
    )
    assert small.status_code == 202  # a small chunked body still gets through


def test_confirm_activates_and_queues_the_welcome(
    client: TestClient, engine: Engine, queue: RecordingQueue
) -> None:
    subscribe(client, "conf@example.org")
    sub = subscriber(engine, "conf@example.org")
    assert sub is not None
    page = client.get(f"/confirm/{make_token(SECRET, CONFIRM, sub.id)}")
    assert page.status_code == 200 and "confirmed" in page.text
    assert "conf@example.org" in page.text  # the preferences page
    after = subscriber(engine, "conf@example.org")
    assert after is not None and after.status == "active" and after.confirmed_at
    assert queue.sent[-1] == ("brief.send_welcome", (sub.id,))
    # A second click (or a mail scanner) changes nothing and sends nothing more.
    client.get(f"/confirm/{make_token(SECRET, CONFIRM, sub.id)}")
    assert queue.names().count("brief.send_welcome") == 1


@pytest.mark.parametrize(
    "token",
    [
        "forged-token",
        make_token("another-secret", CONFIRM, 1),
        make_token(SECRET, UNSUBSCRIBE, 1),  # the wrong purpose
    ],
)
def test_bad_confirm_tokens_change_nothing(client: TestClient, engine: Engine, token: str) -> None:
    subscribe(client, "tok@example.org")
    page = client.get(f"/confirm/{token}")
    assert page.status_code == 400 and "not valid" in page.text
    sub = subscriber(engine, "tok@example.org")
    assert sub is not None and sub.status == "pending"


@pytest.mark.parametrize("subject", ["abc", "1.5", "-1", "0", "²", "", str(2**70), 2**70, -5])
def test_no_token_content_gives_a_500(client: TestClient, subject: int | str) -> None:
    # Signed with the real secret: only the subject is odd.
    for purpose, path in (
        (CONFIRM, "confirm"),
        (MANAGE, "preferences"),
        (UNSUBSCRIBE, "unsubscribe"),
    ):
        token = make_token(SECRET, purpose, subject)
        page = client.get(f"/{path}/{token}")
        assert page.status_code == 400 and "not valid" in page.text, (path, subject)
    one_click = client.post(
        f"/unsubscribe/{make_token(SECRET, UNSUBSCRIBE, subject)}",
        content=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert one_click.status_code == 400


def test_an_expired_confirm_token_is_refused(
    client: TestClient, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    subscribe(client, "late@example.org")
    sub = subscriber(engine, "late@example.org")
    assert sub is not None
    token = make_token(SECRET, CONFIRM, sub.id)
    import time as time_module

    real = time_module.time
    monkeypatch.setattr(time_module, "time", lambda: real() + 49 * 3600)
    page = client.get(f"/confirm/{token}")
    assert page.status_code == 400 and "expired" in page.text
    after = subscriber(engine, "late@example.org")
    assert after is not None and after.status == "pending"


def test_preferences_change_sections_zone_hour_and_pause(
    client: TestClient, engine: Engine
) -> None:
    with session_scope(engine) as session:
        sub, _ = store.add_subscriber(session, "pref@example.org", now=NOW)
        sid = sub.id
    path = f"/preferences/{make_token(SECRET, MANAGE, sid)}"
    token = form_token(client, path)
    saved = client.post(
        path,
        data={
            "csrf_token": token,
            "sections": ["sport"],
            "timezone": "Asia/Tokyo",
            "delivery_hour": "5",
            "paused": "1",
        },
    )
    assert saved.status_code == 200 and "Saved." in saved.text
    sub_after = subscriber(engine, "pref@example.org")
    assert sub_after is not None
    assert (sub_after.sections, sub_after.timezone, sub_after.delivery_hour, sub_after.status) == (
        ["sport"],
        "Asia/Tokyo",
        5,
        "paused",
    )
    sprot = client.post(path, data={"csrf_token": token, "sections": ["sport", "sprot"]})
    assert sprot.status_code == 400 and "unknown section(s) sprot" in sprot.text
    assert subscriber(engine, "pref@example.org").sections == ["sport"]  # type: ignore[union-attr]
    bad_zone = client.post(
        path, data={"csrf_token": token, "timezone": "Mars/Base", "delivery_hour": "5"}
    )
    assert bad_zone.status_code == 400 and "unknown time zone" in bad_zone.text


def test_one_click_unsubscribe(client: TestClient, engine: Engine) -> None:
    with session_scope(engine) as session:
        sub, _ = store.add_subscriber(session, "bye@example.org", now=NOW)
        sid = sub.id
    path = f"/unsubscribe/{make_token(SECRET, UNSUBSCRIBE, sid)}"
    shown = client.get(path)
    assert shown.status_code == 200 and "<form" in shown.text
    still = subscriber(engine, "bye@example.org")
    assert still is not None and still.status == "active"  # GET changes nothing
    # As a mail provider does it: no cookie, no CSRF token.
    fresh = TestClient(client.app, base_url="https://brief.test")
    for _ in range(2):  # idempotent
        done = fresh.post(
            path,
            content=b"List-Unsubscribe=One-Click",
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        assert done.status_code == 200 and "unsubscribed" in done.text
        assert 'href="/"' in done.text  # the resubscribe link
    gone = subscriber(engine, "bye@example.org")
    assert gone is not None and gone.status == "unsubscribed"


def _edition(engine: Engine) -> int:
    with session_scope(engine) as session:
        add_feed_with_articles(session, "https://a.test/feed", "world", ["Quake in Chile"])
        edition, _ = build_edition(session, plan(), CTX, day=NOW.date(), now=NOW)
        return edition.id


def test_archive_edition_page_and_atom_feed(client: TestClient, engine: Engine) -> None:
    _edition(engine)
    assert NOW.date().isoformat() in client.get("/archive").text
    page = client.get(f"/editions/{NOW.date().isoformat()}")
    assert page.status_code == 200 and "Quake in Chile" in page.text
    assert client.get("/editions/1999-01-01").status_code == 404
    assert client.get("/editions/not-a-date").status_code == 404
    atom = client.get("/feed.xml")
    assert atom.headers["content-type"].startswith("application/atom+xml")
    assert "<entry>" in atom.text and "Quake in Chile" in atom.text
    assert "Quake in Chile" in client.get("/").text


def test_healthz(client: TestClient) -> None:
    health = client.get("/healthz")
    assert health.status_code == 200 and health.json() == {"database": "ok", "broker": "ok"}


def auth(token: str = ADMIN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize("headers", [{}, auth("wrong"), {"Authorization": "Basic eDp5"}])
def test_operator_api_needs_the_token(client: TestClient, headers: dict[str, str]) -> None:
    assert client.get("/api/stats", headers=headers).status_code == 401
    assert (
        client.post("/api/feeds", json={"url": "https://x.test/rss"}, headers=headers).status_code
        == 401
    )
    assert client.get("/api/feeds", headers=auth()).json() == []


def test_building_with_no_stories_says_why_and_is_not_a_client_error(
    client: TestClient, queue: RecordingQueue
) -> None:
    built = client.post("/api/editions", json={"send": True}, headers=auth())
    assert built.status_code == 200, built.text
    assert built.json()["edition"] is None and built.json()["created"] is False
    assert (
        "no edition made: there are no feeds" in built.json()["reason"]
        and built.json()["send_task_id"] is None
    )
    assert client.get("/api/editions", headers=auth()).json() == []
    assert queue.sent == []


def test_operator_builds_previews_sends_and_test_sends(
    client: TestClient, engine: Engine, queue: RecordingQueue, sender: RecordingSender
) -> None:
    # "Build now" uses the real clock: the articles are from the last hours, really.
    recent = datetime.now(UTC) - timedelta(hours=1)
    with session_scope(engine) as session:
        add_feed_with_articles(
            session, "https://a.test/feed", "world", ["Quake in Chile"], now=recent
        )
        store.add_subscriber(session, "reader@example.org", now=NOW)
    built = client.post("/api/editions", json={"send": True}, headers=auth())
    assert built.status_code == 201, built.text
    edition = built.json()["edition"]
    assert built.json()["created"] and built.json()["send_task_id"]
    assert queue.sent[-1] == ("brief.send_edition", (edition["id"],))
    preview = client.get(f"/api/editions/{edition['id']}/preview", headers=auth())
    assert preview.status_code == 200 and "<html" in preview.text.lower()
    tested = client.post(
        f"/api/editions/{edition['id']}/test-send",
        json={"to": ["editor@example.org"]},
        headers=auth(),
    )
    assert tested.status_code == 200 and tested.json()[0]["status"] == "sent"
    assert str(sender.messages[0]["Subject"]).startswith("[TEST] ")
    assert sender.messages[0]["List-Unsubscribe"] is None
    assert client.get(f"/api/editions/{edition['id']}", headers=auth()).json()["deliveries"] == {}
    bad = client.post(
        f"/api/editions/{edition['id']}/test-send",
        json={"to": ["x@y.z\r\nBcc: a@b.c"]},
        headers=auth(),
    )
    assert bad.status_code == 400
    sent = client.post(f"/api/editions/{edition['id']}/send", headers=auth())
    assert sent.status_code == 202 and sent.json()["progress_url"].endswith(str(edition["id"]))
    assert client.post("/api/editions/999/send", headers=auth()).status_code == 404


def test_operator_feeds_subscribers_import_and_stats(client: TestClient, engine: Engine) -> None:
    added = client.post(
        "/api/feeds", json={"url": "https://x.test/rss", "section": "sport"}, headers=auth()
    )
    assert added.status_code == 201 and added.json()["section"] == "sport"
    assert (
        client.post("/api/feeds", json={"url": "javascript:alert(1)"}, headers=auth()).status_code
        == 400
    )
    worl = client.post(
        "/api/feeds", json={"url": "https://y.test/rss", "section": "worl"}, headers=auth()
    )
    assert worl.status_code == 400 and "unknown section 'worl'" in worl.json()["detail"]
    imported = client.post(
        "/api/subscribers/import",
        headers={**auth(), "content-type": "text/csv"},
        content=b"email\na@example.org\nnope\nb@example.org,Asia/Tokyo\nc@example.org,,sprot\n",
    )
    assert imported.status_code == 200
    rejected = imported.json()["rejected"]
    assert imported.json()["added"] == 2 and [r["line"] for r in rejected] == [3, 5]
    assert "unknown section(s) sprot" in rejected[1]["reason"]
    listing = client.get("/api/subscribers?status=active&per_page=1&page=2", headers=auth())
    assert listing.json()["total"] == 2 and [s["email"] for s in listing.json()["items"]] == [
        "b@example.org"
    ]
    assert client.get("/api/subscribers?status=weird", headers=auth()).status_code == 400
    with session_scope(engine) as session:
        feed = session.scalars(select(Feed)).one()
        feed.error_count, feed.last_error = 3, "HTTP 500"
    stats = client.get("/api/stats", headers=auth()).json()
    assert stats["subscribers"] == {"active": 2}
    assert stats["failing_feeds"][0]["last_error"] == "HTTP 500"
    removed = client.delete("/api/feeds", params={"url": "https://x.test/rss"}, headers=auth())
    assert removed.status_code == 204
    assert client.get("/api/feeds", headers=auth()).json() == []


def test_operator_api_is_off_without_a_token(engine: Engine, tmp_path: Path) -> None:
    settings = Settings(
        _env_file=None,
        data_dir=tmp_path,  # type: ignore[call-arg]
        database_url=engine.url.render_as_string(hide_password=False),
    )
    app = create_app(settings, queue=RecordingQueue(), sender=RecordingSender())
    with TestClient(app) as c:
        assert c.get("/api/stats", headers=auth()).status_code == 403


def test_docs_are_served(client: TestClient) -> None:
    assert client.get("/docs").status_code == 200
    schema = client.get("/openapi.json").json()
    assert "/api/editions/{edition_id}/test-send" in schema["paths"]


@pytest.mark.parametrize(
    "path",
    [
        "/editions/..%2F..%2F..%2Fetc%2Fpasswd",
        "/editions/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        "/editions/....//....//etc/passwd",
        "/static/..%2F..%2Fbrief%2Fconfig.py",
        "/confirm/..%2F..%2Fetc%2Fpasswd",
        "/editions/2026-13-45",
        "/editions/" + "9" * 400,
    ],
)
def test_paths_that_try_to_leave_the_routes_get_a_4xx(client: TestClient, path: str) -> None:
    answer = client.get(path)
    assert 400 <= answer.status_code < 500, (path, answer.status_code)
    assert "root:" not in answer.text and "BaseSettings" not in answer.text

"""PostgreSQL down: `brief web` answers a plain 503 page, or 503 JSON under /api, and
serves again once it is back. A private PostgreSQL (tests/instances.py), stopped and
started while `brief web` runs in its own process."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from brief.db import make_engine, migrate, session_scope
from brief.models import Subscriber
from brief.tokens import UNSUBSCRIBE, make_token
from brief.types import SubscriberStatus
from tests.instances import PostgresInstance
from tests.wait import wait_until
from tests.webproc import brief_web

pytestmark = pytest.mark.slow
SECRET = "db-down-test-secret"
ADMIN = "db-down-admin-token"


@pytest.fixture
def postgres() -> Iterator[PostgresInstance]:
    with PostgresInstance() as instance:
        yield instance


def _statuses(base: str, token: str) -> dict[str, tuple[int, str]]:
    """Status and content type of the home page, the stats API and a one-click unsubscribe."""
    with httpx.Client(base_url=base, timeout=30) as client:
        answers = {
            "home": client.get("/"),
            "stats": client.get("/api/stats", headers={"Authorization": f"Bearer {ADMIN}"}),
            "unsubscribe": client.post(f"/unsubscribe/{token}"),
        }
    return {
        name: (a.status_code, a.headers.get("content-type", "").split(";")[0])
        for name, a in answers.items()
    }


def test_web_answers_503_while_the_database_is_down(
    tmp_path: Path, postgres: PostgresInstance
) -> None:
    engine = make_engine(postgres.url)
    migrate(engine)
    with session_scope(engine) as session:
        reader = Subscriber(email="reader@example.org", status=SubscriberStatus.ACTIVE)
        session.add(reader)
        session.flush()
        token = make_token(SECRET, UNSUBSCRIBE, reader.id)
    engine.dispose()

    settings = {
        "BRIEF_SECRET_KEY": SECRET,
        "BRIEF_ADMIN_TOKEN": ADMIN,
        "BRIEF_DATABASE_URL": postgres.url,
    }
    with brief_web(tmp_path, **settings) as web:
        before = _statuses(web.base, token)
        postgres.stop()
        down = _statuses(web.base, token)
        postgres.start()
        after = wait_until(
            lambda: (s := _statuses(web.base, token))["home"][0] == 200 and s,
            30,
            interval=0.5,
            what="brief web serving again",
        )
    log = web.output()
    assert {k: v[0] for k, v in before.items()} == {"home": 200, "stats": 200, "unsubscribe": 200}
    assert down == {
        "home": (503, "text/html"),
        "stats": (503, "application/json"),
        "unsubscribe": (503, "text/html"),
    }, log[-3000:]
    assert after["home"][0] == after["stats"][0] == 200
    assert " 500 " not in log  # no request was answered 500

"""Starting a subscription, the one function the web page, the API and inbound mail call."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine

from brief import store
from brief.db import session_scope
from brief.errors import InputError, NotFoundError
from brief.inbound import Request, act
from brief.ratelimit import MemoryRateLimiter
from brief.subscriptions import confirm, start_subscription, unsubscribe
from tests.factories import NOW, RecordingQueue


class CommitCheckingQueue(RecordingQueue):
    """Looks, from another session, for the subscriber a confirmation is queued for."""

    def __init__(self, engine: Engine) -> None:
        super().__init__()
        self.engine = engine

    def send(self, name: str, *args: Any) -> str:
        with session_scope(self.engine) as session:
            assert store.get_subscriber(session, args[0]).status == "pending"
        return super().send(name, *args)


def start(engine: Engine, email: str, queue: RecordingQueue, limiter: Any, **wish: Any) -> bool:
    with session_scope(engine) as session:
        return start_subscription(session, email, queue=queue, limiter=limiter, now=NOW, **wish)


def test_the_confirmation_is_queued_once_the_subscriber_is_committed(engine: Engine) -> None:
    queue = CommitCheckingQueue(engine)
    wish = {"timezone": "Asia/Tokyo", "sections": ["world", ""], "delivery_hour": 7}
    assert start(engine, "Ana@Example.org", queue, MemoryRateLimiter(), **wish)
    with session_scope(engine) as session:
        sub = store.find_subscriber(session, "ana@example.org")
        assert sub is not None
        assert (sub.status, sub.timezone, sub.sections, sub.delivery_hour) == (
            "pending",
            "Asia/Tokyo",
            ["world"],
            7,
        )
        assert queue.sent == [("brief.send_confirmation", (sub.id,))]


@pytest.mark.parametrize(
    "wish",
    [
        {"sections": ["world", "nope"], "known_sections": ["world"]},
        {"timezone": "Mars/Base"},
        {"delivery_hour": 24},
    ],
)
def test_a_bad_wish_writes_and_sends_nothing(engine: Engine, wish: dict[str, Any]) -> None:
    queue = RecordingQueue()
    with pytest.raises(InputError):
        start(engine, "ben@example.org", queue, MemoryRateLimiter(), **wish)
    with session_scope(engine) as session:
        assert store.find_subscriber(session, "ben@example.org") is None
    assert queue.sent == []


def test_an_active_address_is_sent_nothing(engine: Engine) -> None:
    with session_scope(engine) as session:
        store.add_subscriber(session, "cat@example.org", now=NOW)
    queue = RecordingQueue()
    assert not start(engine, "cat@example.org", queue, MemoryRateLimiter())
    assert queue.sent == []


def test_the_confirmation_limit_holds_whichever_way_an_address_asks(engine: Engine) -> None:
    queue, limiter = RecordingQueue(), MemoryRateLimiter()
    by_mail = Request("subscribe", "dan@example.org")
    results = [
        start(engine, "dan@example.org", queue, limiter),
        act(by_mail, engine=engine, queue=queue, limiter=limiter, now=NOW),
        start(engine, "DAN@example.org", queue, limiter),
        act(by_mail, engine=engine, queue=queue, limiter=limiter, now=NOW),
    ]
    assert results == [True, "confirmation queued", True, "nothing to do"]
    assert queue.names() == ["brief.send_confirmation"] * 3


def test_leaving_by_link_or_by_mail_is_the_same_and_idempotent(engine: Engine) -> None:
    with session_scope(engine) as session:
        sub, _ = store.add_subscriber(session, "eve@example.org", now=NOW)
        sid = sub.id
    with session_scope(engine) as session:
        assert unsubscribe(session, sid, NOW).status == "unsubscribed"
    leave = Request("unsubscribe", "eve@example.org")
    assert act(leave, engine=engine, queue=RecordingQueue(), limiter=MemoryRateLimiter()) == (
        "unsubscribed"
    )
    with session_scope(engine) as session:
        gone = store.get_subscriber(session, sid)
        assert (gone.status, gone.unsubscribed_at) == ("unsubscribed", NOW)
        with pytest.raises(NotFoundError):
            unsubscribe(session, sid + 1, NOW)
    unknown = Request("unsubscribe", "nobody@example.org")
    assert act(unknown, engine=engine, queue=RecordingQueue(), limiter=MemoryRateLimiter()) == (
        "unknown"
    )


@pytest.mark.parametrize(
    ("status", "reason"),
    [("bounced", "hard-bounce"), ("suspended", "soft-bounces"), ("unsubscribed", "complaint")],
)
def test_a_held_back_address_comes_back_only_by_its_owners_confirmation(
    engine: Engine, status: str, reason: str
) -> None:
    with session_scope(engine) as session:
        sub, _ = store.add_subscriber(session, "fay@example.org", now=NOW)
        sub.status, sub.status_reason = status, reason
        sid = sub.id
    queue = RecordingQueue()
    assert start(engine, "fay@example.org", queue, MemoryRateLimiter())
    assert queue.sent == [("brief.send_confirmation", (sid,))]
    with session_scope(engine) as session:
        waiting = store.get_subscriber(session, sid)
        assert (waiting.status, waiting.status_reason) == ("pending", reason)  # not mailed
    with session_scope(engine) as session:
        back, newly = confirm(session, sid, NOW)
        assert newly and (back.status, back.status_reason) == ("active", None)

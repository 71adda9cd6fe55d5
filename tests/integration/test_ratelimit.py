"""Rate limits: in memory for one process, in Redis when several web processes share them."""

from __future__ import annotations

import logging
import uuid

import pytest

from brief.ratelimit import MemoryRateLimiter, RedisRateLimiter
from tests.services import require_redis
from tests.smtpserver import free_port


def test_memory_limiter_counts_per_key_and_window() -> None:
    clock = [1000.0]
    limiter = MemoryRateLimiter(clock=lambda: clock[0])
    assert [limiter.hit("a", 2, 60) for _ in range(3)] == [True, True, False]
    assert limiter.hit("b", 2, 60)  # another key has its own count
    clock[0] += 60  # the next window starts afresh
    assert limiter.hit("a", 2, 60)


def test_redis_limiter_is_shared_between_processes() -> None:
    url = require_redis()
    key = f"test-{uuid.uuid4().hex}"
    one, two = RedisRateLimiter(url), RedisRateLimiter(url)  # two web processes
    assert one.hit(key, 3, 60) and two.hit(key, 3, 60) and one.hit(key, 3, 60)
    assert not two.hit(key, 3, 60)


def test_with_redis_down_limits_fall_back_to_memory(caplog: pytest.LogCaptureFixture) -> None:
    dead = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    limiter = RedisRateLimiter(dead)
    with caplog.at_level(logging.WARNING, logger="brief.redisguard"):
        answers = [limiter.hit("k", 2, 60) for _ in range(3)]
    assert answers == [True, True, False]  # still limited, in this process's memory
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1 and "rate limits: Redis does not answer" in warnings[0]

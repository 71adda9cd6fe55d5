"""Fixed-window rate limits: in Redis when there is one, else in this process's memory."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol

from brief.redisguard import CONNECT_TIMEOUT, RedisGuard


class RateLimiter(Protocol):
    def hit(self, key: str, limit: int, window_seconds: int) -> bool:
        """Count one event for `key`; False when it exceeds `limit` in the current window."""
        ...


class MemoryRateLimiter:
    """For one process (the default single-machine setup)."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._counts: dict[tuple[str, int], int] = {}
        self._lock = threading.Lock()
        self._clock = clock

    def hit(self, key: str, limit: int, window_seconds: int) -> bool:
        window = int(self._clock() // window_seconds)
        with self._lock:
            if len(self._counts) > 100_000:  # forget old windows; bounded memory
                self._counts = {k: v for k, v in self._counts.items() if k[1] >= window - 1}
            count = self._counts.get((key, window), 0) + 1
            self._counts[(key, window)] = count
        return count <= limit


class RedisRateLimiter:
    """Shared by every web process; INCR + EXPIRE on one key per window.

    While Redis does not answer, each process counts in its own memory (a warning
    is logged): subscribing keeps working, with limits per process meanwhile.
    """

    def __init__(self, url: str, prefix: str = "brief:rl:") -> None:
        import redis

        self._redis = redis.Redis.from_url(
            url, socket_connect_timeout=CONNECT_TIMEOUT, socket_timeout=CONNECT_TIMEOUT
        )
        self._prefix = prefix
        self._guard = RedisGuard("rate limits", redis.RedisError)
        self._memory = MemoryRateLimiter()

    def hit(self, key: str, limit: int, window_seconds: int) -> bool:
        count = self._guard.call(lambda: self._count(key, window_seconds))
        if count is None:
            return self._memory.hit(key, limit, window_seconds)
        return count <= limit

    def _count(self, key: str, window_seconds: int) -> int:
        window = int(time.time() // window_seconds)
        name = f"{self._prefix}{key}:{window_seconds}:{window}"
        pipe = self._redis.pipeline()
        pipe.incr(name)
        pipe.expire(name, window_seconds + 5)
        return int(pipe.execute()[0])


def make_rate_limiter(redis_url: str | None) -> RateLimiter:
    return RedisRateLimiter(redis_url) if redis_url else MemoryRateLimiter()

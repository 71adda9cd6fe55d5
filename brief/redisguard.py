"""Calls to Redis that give way to this process's memory while Redis does not answer.

Rate limits are a protection, not a reason to fail: with Redis down, a limit kept
per process is better than refusing every request (or every message) with a 500.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")

CONNECT_TIMEOUT = 0.5  # seconds: a dead Redis must not hold a web request up
RETRY_SECONDS = 5.0  # after a failure, memory only for this long, then Redis again


class RedisGuard:
    """Runs requests to Redis; None when it does not answer (then, for a while, no try).

    ``what`` names the feature in the log lines, which say once that Redis went
    away and once that it came back.
    """

    def __init__(
        self, what: str, error: type[Exception], retry_seconds: float = RETRY_SECONDS
    ) -> None:
        self.what, self.error, self.retry_seconds = what, error, retry_seconds
        self._retry_at = 0.0
        self._down = False
        self._lock = threading.Lock()

    @property
    def down(self) -> bool:
        return self._down

    def call(self, request: Callable[[], T]) -> T | None:
        if time.monotonic() < self._retry_at:
            return None
        try:
            answer = request()
        except self.error as exc:
            with self._lock:
                self._retry_at = time.monotonic() + self.retry_seconds
                if not self._down:
                    self._down = True
                    log.warning(
                        "%s: Redis does not answer (%s); kept in this process's memory "
                        "until it does",
                        self.what,
                        exc,
                    )
            return None
        if self._down:
            with self._lock:
                if self._down:
                    self._down = False
                    log.warning("%s: Redis answers again", self.what)
        return answer

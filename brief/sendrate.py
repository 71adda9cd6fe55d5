"""Sending rate limits shared by every worker: a global and a per-recipient-domain limit.

Two token buckets, both refilled continuously: the global one at ``rate`` messages
per second (all workers together), one per recipient domain at ``domain_rate``. Each
holds up to one second of tokens (at least 1), so an idle sender may start with that
burst. A rate of 0 turns its bucket off. ``acquire(domain, n)`` takes ``n`` tokens
from both buckets at once, or none.

A 421/451 from a domain is not the sender's rate: ``backoff(domain, seconds)`` makes
that domain alone wait. A second back-off after the first one ended doubles the
wait (up to ``MAX_BACKOFF``); back-offs during a wait belong to the same incident and
change nothing (parallel connections all see the same 421). ``succeeded(domain)``
after the wait forgets the doubling. An incident is forgotten anyway ``MAX_BACKOFF``
after its wait ended.

Where the state lives:

- ``RedisSendRate``: in Redis, shared by all workers. One round trip per
  ``acquire`` (a Lua script that reads the time from Redis, so the workers' clocks
  do not matter). The back-offs are also read into each process once a second, so
  with both rates off ``acquire`` costs a dictionary lookup, no round trip. When
  Redis does not answer, the limiter logs one warning, limits in this process's
  memory instead (each worker on its own: the global limit then applies per
  worker), and tries Redis again every ``RETRY_SECONDS``.
- ``MemorySendRate``: in this process (the embedded broker: one worker process).

How the batch sender uses it: one ``Allowance`` per SMTP connection thread, so the
shared limiter is asked once per chunk of messages, not once per message::

    allowance = Allowance(send_rate, chunk_size(rate, domain_rate))
    wait = allowance.take(domain, wanted=messages_left_for(domain))
    if wait:      # not now: sleep min(wait, ...) and ask again, or give the row
        ...       # back with not_before = now + wait (a long back-off)
    ...send...    # 421/451 -> send_rate.backoff(domain, 30.0); 250 -> send_rate.succeeded(domain)

A chunk is about ``CHUNK_SECONDS`` of the smaller rate: small enough that bursts
stay small, large enough that Redis sees a few dozen round trips a second. Tokens
taken for a chunk and not used (the batch ended, the domain backed off) are lost:
the limiter then sends a little under its rate, never over.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from brief.redisguard import RedisGuard

if TYPE_CHECKING:
    import redis

log = logging.getLogger(__name__)

BURST_SECONDS = 1.0  # a bucket holds this many seconds of tokens (at least one)
MAX_BACKOFF = 600.0  # a domain's back-off doubles up to this many seconds
CHUNK_SECONDS = 0.05  # an Allowance takes this many seconds of tokens at once
MAX_CHUNK = 100
RETRY_SECONDS = 1.0  # Redis down: try it again after this long
REFRESH_SECONDS = 1.0  # how often a process reads the back-offs other workers set
REDIS_TIMEOUT = 0.5  # seconds; a send never waits longer on Redis than about this
_MAX_KEYS = 10_000  # memory: forget full buckets and old back-offs beyond this many
_EPSILON = 1e-9
_US = 1_000_000  # Redis counts time in microseconds

T = TypeVar("T")


class SendRate(Protocol):
    def acquire(self, domain: str, n: int = 1) -> float:
        """Take `n` tokens for messages to `domain`: 0.0 when taken (send them now),
        else the seconds to wait before asking again (nothing taken)."""
        ...

    def backoff(self, domain: str, seconds: float) -> None:
        """`domain` answered 421/451: it alone waits `seconds`, doubled on a repeat."""
        ...

    def succeeded(self, domain: str) -> None:
        """A message to `domain` was accepted: forget its past back-offs (after the wait)."""
        ...

    def blocked_for(self, domain: str) -> float:
        """Seconds `domain` still waits after a back-off; 0.0 when it may be sent to."""
        ...


# The rules, as plain functions: MemorySendRate uses them, the Lua scripts mirror them.


def capacity(rate: float) -> float:
    return max(1.0, rate * BURST_SECONDS)


def refill(tokens: float, at: float, now: float, rate: float) -> float:
    """Tokens in a bucket that held `tokens` at time `at`."""
    return min(capacity(rate), tokens + max(0.0, now - at) * rate)


def shortfall(tokens: float, n: int, rate: float) -> float:
    """Seconds until `n` tokens are there (0.0: now).

    A chunk larger than the bucket passes when the bucket is full, leaving it in
    debt: the average rate holds, whatever the chunk. Waits are whole microseconds,
    as in Redis, and a token short by a rounding error is there.
    """
    need = min(float(n), capacity(rate)) - _EPSILON
    return 0.0 if tokens >= need else math.ceil((need - tokens) / rate * _US) / _US


@dataclass(frozen=True)
class Backoff:
    until: float  # the domain waits until then
    delay: float  # the length of that wait, doubled by the next incident


def next_backoff(
    current: Backoff | None, now: float, seconds: float, cap: float = MAX_BACKOFF
) -> Backoff:
    """A domain's back-off after a 421/451 at `now`; `current` is the one remembered."""
    seconds = min(seconds, cap)
    if current is not None and current.until > now:  # the same incident
        return Backoff(max(current.until, now + seconds), current.delay)
    if current is not None and now - current.until <= cap:  # again: double
        delay = min(cap, max(seconds, 2 * current.delay))
    else:
        delay = seconds
    return Backoff(now + delay, delay)


def chunk_size(rate: float, domain_rate: float) -> int:
    """Tokens an Allowance takes at once: ``CHUNK_SECONDS`` of the smaller rate."""
    rates = [r for r in (rate, domain_rate) if r > 0]
    if not rates:
        return MAX_CHUNK
    return max(1, min(MAX_CHUNK, int(min(rates) * CHUNK_SECONDS)))


class Allowance:
    """Tokens one sending thread took ahead, spent one message at a time.

    Not thread-safe: one per SMTP connection thread.
    """

    def __init__(self, rate: SendRate, chunk: int) -> None:
        self._rate = rate
        self._chunk = max(1, chunk)
        self._credit: dict[str, int] = {}

    def take(self, domain: str, wanted: int = 1) -> float:
        """0.0: send one message to `domain` now; else the seconds to wait.

        `wanted` is how many messages for `domain` this thread has left: a chunk
        never takes tokens for messages that are not there.
        """
        left = self._credit.get(domain, 0)
        if left:
            blocked = self._rate.blocked_for(domain)
            if blocked > 0:  # backed off since: these tokens are not for now
                del self._credit[domain]
                return blocked
            self._credit[domain] = left - 1
            return 0.0
        n = max(1, min(self._chunk, wanted))
        wait = self._rate.acquire(domain, n)
        if wait == 0.0 and n > 1:
            self._credit[domain] = n - 1
        return wait


class _Bucket:
    __slots__ = ("at", "tokens")

    def __init__(self, tokens: float, at: float) -> None:
        self.tokens = tokens
        self.at = at


class MemorySendRate:
    """Limits within this process. Thread-safe; the clock is monotonic seconds."""

    def __init__(
        self,
        *,
        rate: float,
        domain_rate: float,
        clock: Callable[[], float] = time.monotonic,
        max_backoff: float = MAX_BACKOFF,
    ) -> None:
        self._rate = rate
        self._domain_rate = domain_rate
        self._clock = clock
        self._max_backoff = max_backoff
        self._lock = threading.Lock()
        self._global = _Bucket(capacity(rate), clock())
        self._domains: dict[str, _Bucket] = {}
        self._backoffs: dict[str, Backoff] = {}

    def acquire(self, domain: str, n: int = 1) -> float:
        if not self._backoffs and self._rate <= 0 and self._domain_rate <= 0:
            return 0.0  # the fast path: nothing to count, nobody waits
        domain = domain.lower()
        with self._lock:
            now = self._clock()
            blocked = self._blocked(domain, now)
            if blocked > 0:
                return blocked
            buckets = [(self._global, self._rate)] if self._rate > 0 else []
            if self._domain_rate > 0:
                buckets.append((self._domain_bucket(domain, now), self._domain_rate))
            levels = [refill(b.tokens, b.at, now, r) for b, r in buckets]
            wait = max(
                (shortfall(t, n, r) for t, (_, r) in zip(levels, buckets, strict=True)),
                default=0.0,
            )
            if wait > 0:
                return wait
            for level, (bucket, _) in zip(levels, buckets, strict=True):
                bucket.tokens, bucket.at = level - n, now
            return 0.0

    def backoff(self, domain: str, seconds: float) -> None:
        domain = domain.lower()
        with self._lock:
            now = self._clock()
            if len(self._backoffs) > _MAX_KEYS:
                self._forget_backoffs(now)
            self._backoffs[domain] = next_backoff(
                self._backoffs.get(domain), now, seconds, self._max_backoff
            )

    def succeeded(self, domain: str) -> None:
        if not self._backoffs:
            return
        domain = domain.lower()
        with self._lock:
            current = self._backoffs.get(domain)
            if current is not None and current.until <= self._clock():
                del self._backoffs[domain]

    def blocked_for(self, domain: str) -> float:
        if not self._backoffs:
            return 0.0
        with self._lock:
            return self._blocked(domain.lower(), self._clock())

    def _blocked(self, domain: str, now: float) -> float:
        current = self._backoffs.get(domain)
        return max(0.0, current.until - now) if current is not None else 0.0

    def _domain_bucket(self, domain: str, now: float) -> _Bucket:
        bucket = self._domains.get(domain)
        if bucket is None:
            if len(self._domains) > _MAX_KEYS:  # a full bucket is the same as none
                cap = capacity(self._domain_rate)
                self._domains = {
                    d: b
                    for d, b in self._domains.items()
                    if refill(b.tokens, b.at, now, self._domain_rate) < cap
                }
            bucket = self._domains[domain] = _Bucket(capacity(self._domain_rate), now)
        return bucket

    def _forget_backoffs(self, now: float) -> None:
        self._backoffs = {
            d: b for d, b in self._backoffs.items() if now - b.until <= self._max_backoff
        }


# Redis: times in microseconds from Redis's TIME; a missing bucket is a full one
# (keys expire once they would be full again). Back-offs live in one hash,
# domain -> "until delay", so a process reads them all in one round trip.

_NOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
"""

_ACQUIRE = (
    _NOW
    + """
-- KEYS: global bucket, domain bucket, back-offs
-- ARGV: domain, n, rate, domain rate, BURST_SECONDS. As MemorySendRate.acquire().
local entry = redis.call('HGET', KEYS[3], ARGV[1])
if entry then
  local untl = tonumber(string.match(entry, '^(%d+)'))
  if untl > now then return untl - now end
end
local n = tonumber(ARGV[2])
local function cap(rate) return math.max(1, rate * tonumber(ARGV[5])) end
local buckets, wait = {}, 0
for i, rate in ipairs({tonumber(ARGV[3]), tonumber(ARGV[4])}) do
  if rate > 0 then
    local key = KEYS[i]
    local s = redis.call('HMGET', key, 'tokens', 'at')
    local tokens = cap(rate)
    if s[1] then
      tokens = math.min(cap(rate), tonumber(s[1]) + math.max(0, now - tonumber(s[2])) * rate / 1e6)
    end
    local need = math.min(n, cap(rate)) - 1e-9
    if tokens < need then wait = math.max(wait, math.ceil((need - tokens) * 1e6 / rate)) end
    buckets[#buckets + 1] = {key, rate, tokens}
  end
end
if wait > 0 then return wait end
for _, b in ipairs(buckets) do
  local left = b[3] - n
  redis.call('HSET', b[1], 'tokens', string.format('%.6f', left), 'at', string.format('%.0f', now))
  redis.call('PEXPIRE', b[1], math.ceil((cap(b[2]) - left) * 1000 / b[2]) + 1000)
end
return 0
"""
)

_BACKOFF = (
    _NOW
    + """
-- KEYS: back-offs; ARGV: domain, seconds (us), cap (us). As next_backoff().
local cap = tonumber(ARGV[3])
local seconds = math.min(tonumber(ARGV[2]), cap)
local untl, delay
local entry = redis.call('HGET', KEYS[1], ARGV[1])
if entry then
  local u, d = string.match(entry, '^(%d+) (%d+)$')
  untl, delay = tonumber(u), tonumber(d)
end
if untl and untl > now then
  untl = math.max(untl, now + seconds)
elseif untl and now - untl <= cap then
  delay = math.min(cap, math.max(seconds, 2 * delay))
  untl = now + delay
else
  delay = seconds
  untl = now + delay
end
redis.call('HSET', KEYS[1], ARGV[1], string.format('%.0f %.0f', untl, delay))
redis.call('PEXPIRE', KEYS[1], math.ceil(2 * cap / 1000) + 1000)
return {tostring(untl - now), tostring(delay)}
"""
)

_SUCCEEDED = (
    _NOW
    + """
-- KEYS: back-offs; ARGV: domain. Forget its back-offs once its wait is over.
local entry = redis.call('HGET', KEYS[1], ARGV[1])
if entry and tonumber(string.match(entry, '^(%d+)')) <= now then
  redis.call('HDEL', KEYS[1], ARGV[1])
end
return 0
"""
)

_SNAPSHOT = (
    _NOW
    + """
-- KEYS: back-offs; ARGV: cap (us). Every remembered back-off, as seconds from now.
local out = {}
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  local u, d = string.match(all[i + 1], '^(%d+) (%d+)$')
  if now - tonumber(u) > tonumber(ARGV[1]) then
    redis.call('HDEL', KEYS[1], all[i])
  else
    out[#out + 1] = all[i]
    out[#out + 1] = tostring(tonumber(u) - now)
    out[#out + 1] = d
  end
end
return out
"""
)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class RedisSendRate:
    """Limits shared by every worker through Redis; this process's memory while it is away."""

    def __init__(
        self,
        url: str,
        *,
        rate: float,
        domain_rate: float,
        prefix: str = "brief:sendrate:",
        max_backoff: float = MAX_BACKOFF,
        refresh_seconds: float = REFRESH_SECONDS,
        retry_seconds: float = RETRY_SECONDS,
        timeout: float = REDIS_TIMEOUT,
    ) -> None:
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        # One quick retry (a pooled connection dead after a Redis restart), then give up.
        self._redis: redis.Redis = redis.Redis.from_url(
            url,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 1),
        )
        self._guard = RedisGuard("send rate", redis.RedisError, retry_seconds)
        self._rate = rate
        self._domain_rate = domain_rate
        self._limited = rate > 0 or domain_rate > 0
        self._prefix = prefix
        self._backoff_key = f"{prefix}backoff"
        self._max_backoff = max_backoff
        self._refresh_seconds = refresh_seconds
        self._memory = MemorySendRate(rate=rate, domain_rate=domain_rate, max_backoff=max_backoff)
        self._acquire = self._redis.register_script(_ACQUIRE)
        self._backoff = self._redis.register_script(_BACKOFF)
        self._succeeded = self._redis.register_script(_SUCCEEDED)
        self._snapshot = self._redis.register_script(_SNAPSHOT)
        # Back-offs as last read from Redis, in time.monotonic() of this process.
        self._backoffs: dict[str, Backoff] = {}
        self._read_at = -math.inf
        self._reading = threading.Lock()
        self._state = threading.Lock()

    @property
    def degraded(self) -> bool:
        """True while Redis does not answer and this process limits on its own."""
        return self._guard.down

    def acquire(self, domain: str, n: int = 1) -> float:
        blocked = self.blocked_for(domain)
        if blocked > 0 or not self._limited:
            return blocked  # the fast path: no round trip
        domain = domain.lower()
        keys = [f"{self._prefix}global", f"{self._prefix}domain:{domain}", self._backoff_key]
        args: list[str | float] = [domain, n, self._rate, self._domain_rate, BURST_SECONDS]
        waited = self._call(lambda: self._acquire(keys=keys, args=args))
        if waited is None:
            return self._memory.acquire(domain, n)
        return int(waited) / _US

    def backoff(self, domain: str, seconds: float) -> None:
        domain = domain.lower()
        keys = [self._backoff_key]
        args: list[str | float] = [domain, round(seconds * _US), round(self._max_backoff * _US)]
        answer = self._call(lambda: self._backoff(keys=keys, args=args))
        if answer is None:
            self._memory.backoff(domain, seconds)
            return
        left, delay = (int(_text(v)) / _US for v in answer)
        with self._state:
            self._backoffs = {**self._backoffs, domain: Backoff(time.monotonic() + left, delay)}

    def succeeded(self, domain: str) -> None:
        self._memory.succeeded(domain)
        self._refresh()
        domain = domain.lower()
        current = self._backoffs.get(domain)
        if current is None or current.until > time.monotonic():
            return  # nothing to forget (the usual case: no round trip), or not yet
        if self._call(lambda: self._succeeded(keys=[self._backoff_key], args=[domain])) is None:
            return
        with self._state:
            self._backoffs = {d: b for d, b in self._backoffs.items() if d != domain}

    def blocked_for(self, domain: str) -> float:
        self._refresh()
        current = self._backoffs.get(domain.lower()) if self._backoffs else None
        shared = max(0.0, current.until - time.monotonic()) if current is not None else 0.0
        return max(shared, self._memory.blocked_for(domain))

    def _refresh(self) -> None:
        """Read the back-offs all workers set, at most every `refresh_seconds`."""
        if time.monotonic() - self._read_at < self._refresh_seconds:
            return
        if not self._reading.acquire(blocking=False):
            return  # another thread is reading them
        try:
            self._read_at = time.monotonic()
            keys, args = [self._backoff_key], [round(self._max_backoff * _US)]
            flat = self._call(lambda: self._snapshot(keys=keys, args=args))
            if flat is None:
                return
            now = time.monotonic()
            values = [_text(v) for v in flat]
            backoffs = {
                values[i]: Backoff(now + int(values[i + 1]) / _US, int(values[i + 2]) / _US)
                for i in range(0, len(values), 3)
            }
            with self._state:
                self._backoffs = backoffs
        finally:
            self._reading.release()

    def _call(self, request: Callable[[], T]) -> T | None:
        """One Redis request; None when Redis does not answer (then: memory, for a while)."""
        return self._guard.call(request)


def make_send_rate(*, rate: float, domain_rate: float, redis_url: str | None) -> SendRate:
    """In Redis when there is one (``Settings.rate_limit_redis_url``), else in memory."""
    if redis_url:
        return RedisSendRate(redis_url, rate=rate, domain_rate=domain_rate)
    return MemorySendRate(rate=rate, domain_rate=domain_rate)

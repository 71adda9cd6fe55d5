"""Send rate limits in Redis: shared by workers (processes), and surviving Redis going away.

The tests that stop Redis start their own redis-server on a free port; the shared
one (BRIEF_TEST_REDIS_URL) is never stopped.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from multiprocessing.synchronize import Event

import pytest
import redis

from brief.sendrate import RedisSendRate, make_send_rate
from tests.services import require_redis
from tests.smtpserver import free_port
from tests.wait import wait_until

pytestmark = pytest.mark.redis


@pytest.fixture
def prefix() -> Iterator[str]:
    """Keys of this test alone; removed afterwards from the shared Redis."""
    name = f"test:sendrate:{uuid.uuid4().hex}:"
    yield name
    client = redis.Redis.from_url(require_redis())
    keys = list(client.scan_iter(f"{name}*"))
    if keys:
        client.delete(*keys)


def shared(prefix: str, **kwargs: float) -> RedisSendRate:
    return RedisSendRate(require_redis(), prefix=prefix, **kwargs)


def send_for(rate: RedisSendRate, seconds: float, domain: str = "a.test") -> tuple[int, float]:
    """Messages a sender that sleeps as told gets out in `seconds`, and the time it took."""
    start = time.monotonic()
    sent = 0
    while (elapsed := time.monotonic() - start) < seconds:
        wait = rate.acquire(domain)
        if wait:
            time.sleep(min(wait, seconds - elapsed))
        else:
            sent += 1
    return sent, time.monotonic() - start


def test_the_global_rate_is_respected_over_time(prefix: str) -> None:
    rate = shared(prefix, rate=50, domain_rate=0)
    sent, elapsed = send_for(rate, 1.5)
    assert not rate.degraded
    assert sent <= 50 + 50 * elapsed + 1  # one second of burst, then 50/s: never more
    assert sent >= 0.8 * (50 + 50 * 1.5)  # and not much less


def test_domains_have_their_own_buckets_under_the_global_one(prefix: str) -> None:
    rate = shared(prefix, rate=5, domain_rate=2)
    assert [rate.acquire("a.test") for _ in range(2)] == [0.0, 0.0]
    assert 0 < rate.acquire("A.test") <= 0.5  # domains are case-insensitive
    assert rate.acquire("b.test", 2) == 0.0  # a.test's wait is its own
    assert rate.acquire("c.test") == 0.0  # the refused one above took no global token
    assert 0 < rate.acquire("d.test") <= 0.2  # 5 taken: the global limit holds
    client = redis.Redis.from_url(require_redis())
    # Keys expire once their bucket would be full again: a missing bucket is a full one.
    assert 0 < client.pttl(f"{prefix}domain:a.test") <= 2000
    assert 0 < client.pttl(f"{prefix}global") <= 2000


def test_two_limiters_share_one_bucket(prefix: str) -> None:
    one, two = shared(prefix, rate=5, domain_rate=0), shared(prefix, rate=5, domain_rate=0)
    assert one.acquire("a.test", 3) == 0.0
    assert two.acquire("b.test", 2) == 0.0
    assert one.acquire("c.test") > 0
    assert two.acquire("c.test") > 0


def test_a_backoff_is_seen_by_every_worker(prefix: str) -> None:
    one = shared(prefix, rate=0, domain_rate=0)
    limited = shared(prefix, rate=1000, domain_rate=100)
    unlimited = shared(prefix, rate=0, domain_rate=0, refresh_seconds=0.1)
    assert unlimited.blocked_for("slow.test") == 0.0
    one.backoff("slow.test", 5.0)
    assert 4.9 < one.blocked_for("slow.test") <= 5.0
    assert 4.9 < limited.acquire("slow.test") <= 5.0  # checked in the same round trip
    assert limited.acquire("fast.test") == 0.0
    # With no rates, a worker reads the back-offs every refresh_seconds: no round trip each.
    wait_until(lambda: unlimited.acquire("slow.test") > 4, 2.0, what="the back-off to be read")
    assert unlimited.acquire("fast.test") == 0.0


def test_backoff_doubles_per_incident_caps_and_resets_on_success(prefix: str) -> None:
    rate = shared(prefix, rate=0, domain_rate=0, max_backoff=0.8)
    other = shared(prefix, rate=0, domain_rate=0, max_backoff=0.8)
    waits = []
    for _ in range(4):
        rate.backoff("slow.test", 0.2)
        other.backoff("slow.test", 0.2)  # the same incident seen by another worker
        waits.append(rate.blocked_for("slow.test"))
        time.sleep(waits[-1] + 0.01)
    assert waits == [pytest.approx(w, abs=0.02) for w in (0.2, 0.4, 0.8, 0.8)]
    rate.succeeded("slow.test")
    rate.backoff("slow.test", 0.2)
    assert rate.blocked_for("slow.test") == pytest.approx(0.2, abs=0.02)


def test_success_during_the_wait_leaves_it(prefix: str) -> None:
    rate = shared(prefix, rate=0, domain_rate=0)
    rate.backoff("slow.test", 0.3)
    rate.succeeded("slow.test")
    assert rate.blocked_for("slow.test") > 0.2
    time.sleep(0.31)
    rate.succeeded("slow.test")
    rate.backoff("slow.test", 0.3)
    assert rate.blocked_for("slow.test") == pytest.approx(0.3, abs=0.02)  # not doubled


def test_make_send_rate_with_a_redis_url_shares_the_limits() -> None:
    assert isinstance(
        make_send_rate(rate=1, domain_rate=1, redis_url=require_redis()), RedisSendRate
    )


# Two worker processes on one limit.


def _worker(
    url: str,
    prefix: str,
    go: Event,
    seconds: float,
    out: multiprocessing.Queue[tuple[int, float, float]],
) -> None:
    rate = RedisSendRate(url, rate=100, domain_rate=0, prefix=prefix)
    go.wait()
    started = time.time()
    sent, _ = send_for(rate, seconds)
    out.put((sent, started, time.time()))


@pytest.mark.slow
def test_two_processes_share_one_global_limit(prefix: str) -> None:
    url = require_redis()
    ctx = multiprocessing.get_context("spawn")
    go, out = ctx.Event(), ctx.Queue()
    workers = [ctx.Process(target=_worker, args=(url, prefix, go, 2.0, out)) for _ in range(2)]
    for w in workers:
        w.start()
    time.sleep(1.0)  # both imported and waiting
    go.set()
    results = [out.get(timeout=30) for _ in workers]
    for w in workers:
        w.join(10)
    counts = [sent for sent, _, _ in results]
    span = max(end for _, _, end in results) - min(start for _, start, _ in results)
    # One bucket of 100/s holding 100 for both: about 300 in 2 s, not 300 each.
    assert all(c > 50 for c in counts), counts
    assert 0.8 * (100 + 100 * 2.0) <= sum(counts) <= 100 + 100 * span + 2, (counts, span)


# Redis going away: our own server, stopped and started again.


class OwnRedis:
    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                *("redis-server", "--port", str(self.port), "--bind", "127.0.0.1"),
                *("--save", "", "--appendonly", "no", "--daemonize", "no"),
            ],
            stdout=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port)
        wait_until(lambda: self._pings(client), 10.0, what=f"redis-server on port {self.port}")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port)

    @staticmethod
    def _pings(client: redis.Redis) -> bool:
        try:
            return bool(client.ping())
        except redis.ConnectionError:
            return False


@pytest.fixture
def own_redis() -> Iterator[OwnRedis]:
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    server = OwnRedis()
    server.start()
    try:
        yield server
    finally:
        if server.process is not None:
            os.kill(server.process.pid, signal.SIGCONT)  # in case a test left it stopped
        server.stop()


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "brief.redisguard" and r.levelno == logging.WARNING
    ]


def test_redis_stopped_mid_way_degrades_to_memory_and_comes_back(
    own_redis: OwnRedis, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="brief.redisguard")
    rate = RedisSendRate(own_redis.url, rate=20, domain_rate=0, retry_seconds=0.2)
    assert rate.acquire("a.test", 5) == 0.0
    assert own_redis.client().exists("brief:sendrate:global")

    own_redis.stop()
    started = time.monotonic()
    answers = [rate.acquire("a.test") for _ in range(30)]
    assert time.monotonic() - started < 1.0  # refused at once; no retry storm
    assert rate.degraded
    # The memory limiter takes over, with the same limit: 20 now, then waits.
    assert answers[:20] == [0.0] * 20
    assert all(a > 0 for a in answers[20:])
    rate.backoff("slow.test", 5.0)  # recorded in memory meanwhile
    assert rate.blocked_for("slow.test") > 4
    rate.succeeded("a.test")
    assert len(_warnings(caplog)) == 1, _warnings(caplog)
    assert "does not answer" in _warnings(caplog)[0]

    own_redis.start()  # an empty Redis: no script loaded, no bucket
    time.sleep(0.25)
    assert rate.acquire("b.test", 3) == 0.0
    assert not rate.degraded
    assert own_redis.client().exists("brief:sendrate:global")  # counted in Redis again
    assert rate.blocked_for("slow.test") > 4  # the back-off recorded meanwhile still holds
    assert _warnings(caplog)[1:] == ["send rate: Redis answers again"]


def test_a_hung_redis_delays_a_send_by_its_timeout_at_most(
    own_redis: OwnRedis, caplog: pytest.LogCaptureFixture
) -> None:
    rate = RedisSendRate(own_redis.url, rate=1000, domain_rate=0, timeout=0.2, retry_seconds=5)
    assert rate.acquire("a.test") == 0.0
    assert own_redis.process is not None
    os.kill(own_redis.process.pid, signal.SIGSTOP)
    try:
        started = time.monotonic()
        assert [rate.acquire("a.test") for _ in range(100)] == [0.0] * 100
        assert time.monotonic() - started < 1.0  # one timeout (+ one retry), then memory
        assert rate.degraded
    finally:
        os.kill(own_redis.process.pid, signal.SIGCONT)


def _commands(client: redis.Redis, name: str) -> int:
    stats = client.info("commandstats")
    return int(stats.get(f"cmdstat_{name}", {}).get("calls", 0))


def test_without_limits_acquire_makes_no_round_trip(own_redis: OwnRedis) -> None:
    rate = RedisSendRate(own_redis.url, rate=0, domain_rate=0)
    client = own_redis.client()
    started = time.monotonic()
    for i in range(20_000):
        assert rate.acquire(f"d{i % 50}.test") == 0.0
        rate.succeeded(f"d{i % 50}.test")
    seconds = time.monotonic() - started
    # Only the back-offs are read, about once a second: one script call each (and one
    # more the first time, refused with NOSCRIPT before the script is loaded).
    assert 1 <= _commands(client, "hgetall") <= seconds + 1
    assert _commands(client, "evalsha") <= _commands(client, "hgetall") + 1
    assert _commands(client, "hset") == _commands(client, "hmget") == 0


def test_with_limits_each_acquire_is_one_round_trip(own_redis: OwnRedis) -> None:
    rate = RedisSendRate(own_redis.url, rate=1e6, domain_rate=1e5)
    client = own_redis.client()
    rate.acquire("a.test")  # loads the script
    before = _commands(client, "evalsha")
    for i in range(500):
        assert rate.acquire(f"d{i % 50}.test", 10) == 0.0
    assert _commands(client, "evalsha") - before == 500

"""Send rate limits in memory, on an injected clock: the rules RedisSendRate shares."""

from __future__ import annotations

import threading

import pytest

from brief.sendrate import (
    MAX_BACKOFF,
    MAX_CHUNK,
    Allowance,
    Backoff,
    MemorySendRate,
    chunk_size,
    make_send_rate,
    next_backoff,
)


class Clock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def limiter(clock: Clock, rate: float = 0.0, domain_rate: float = 0.0) -> MemorySendRate:
    return MemorySendRate(rate=rate, domain_rate=domain_rate, clock=clock)


def sent_over(rate: MemorySendRate, clock: Clock, seconds: float, domain: str = "a.test") -> int:
    """Messages a sender that always waits as told gets out in `seconds`."""
    end, sent = clock.now + seconds, 0
    while clock.now <= end:
        wait = rate.acquire(domain)
        if wait:
            clock.now += wait
        else:
            sent += 1
    return sent


@pytest.mark.parametrize("per_second", [0.5, 3.0, 50.0, 1000.0])
def test_global_rate_is_respected_over_time(per_second: float) -> None:
    clock = Clock()
    rate = limiter(clock, rate=per_second)
    burst = max(1, int(per_second))  # one second of tokens, at least one
    sent = sent_over(rate, clock, 20.0)
    assert burst + int(per_second * 20) - 1 <= sent <= burst + int(per_second * 20) + 1


def test_a_full_bucket_allows_one_second_of_burst_then_waits() -> None:
    clock = Clock()
    rate = limiter(clock, rate=10)
    assert [rate.acquire("a.test") for _ in range(10)] == [0.0] * 10
    assert rate.acquire("a.test") == pytest.approx(0.1)  # nothing taken: ask again later
    assert rate.acquire("a.test") == pytest.approx(0.1)
    clock.now += 0.1
    assert rate.acquire("a.test") == 0.0


def test_chunks_take_n_tokens_at_once_or_none() -> None:
    clock = Clock()
    rate = limiter(clock, rate=10)
    assert rate.acquire("a.test", 6) == 0.0
    assert rate.acquire("a.test", 6) == pytest.approx(0.2)  # 4 left, 6 wanted
    assert rate.acquire("a.test", 4) == 0.0  # the refused chunk took nothing


def test_a_chunk_larger_than_the_bucket_passes_when_full_and_leaves_a_debt() -> None:
    clock = Clock()
    rate = limiter(clock, rate=10)
    assert rate.acquire("a.test", 30) == 0.0
    # 30 taken from 10: the next token comes after 2 s of debt + 0.1 s.
    assert rate.acquire("a.test") == pytest.approx(2.1)
    clock.now += 1.0
    assert rate.acquire("a.test", 30) == pytest.approx(2.0)  # needs a full bucket again
    assert sent_over(rate, clock, 10.0) == pytest.approx(10 * 10 - 10, abs=2)


def test_each_domain_has_its_own_bucket_under_the_global_one() -> None:
    clock = Clock()
    rate = limiter(clock, rate=5, domain_rate=2)
    assert [rate.acquire("a.test") for _ in range(3)] == [0.0, 0.0, pytest.approx(0.5)]
    assert rate.acquire("b.test") == 0.0  # a.test's wait is its own
    assert rate.acquire("B.Test") == 0.0  # domains are case-insensitive
    assert rate.acquire("c.test") == 0.0  # 5 global tokens taken by now
    assert rate.acquire("d.test") == pytest.approx(0.2)  # the global limit holds


def test_domain_rate_alone_limits_each_domain_and_nothing_else() -> None:
    clock = Clock()
    rate = limiter(clock, domain_rate=3)
    assert sent_over(rate, clock, 10.0, "a.test") == pytest.approx(3 + 30, abs=1)
    assert [rate.acquire(f"d{i}.test", 3) for i in range(100)] == [0.0] * 100


def test_a_domain_refused_by_its_bucket_takes_no_global_token() -> None:
    clock = Clock()
    rate = limiter(clock, rate=3, domain_rate=1)
    assert rate.acquire("a.test") == 0.0
    assert rate.acquire("a.test") == pytest.approx(1.0)
    assert rate.acquire("b.test", 2) == 0.0  # the refusal above took none of the 2 left


def test_with_no_limits_every_acquire_passes() -> None:
    rate = limiter(Clock())
    assert all(rate.acquire("a.test", 1000) == 0.0 for _ in range(10_000))
    assert rate.blocked_for("a.test") == 0.0


def test_threads_share_the_tokens_exactly() -> None:
    clock = Clock()  # frozen: exactly one bucket of tokens to share
    rate = limiter(clock, rate=500, domain_rate=300)
    taken: list[int] = []
    lock = threading.Lock()

    def worker() -> None:
        mine = sum(rate.acquire("a.test") == 0.0 for _ in range(200))
        with lock:
            taken.append(mine)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(taken) == 300


def test_backoff_makes_that_domain_alone_wait() -> None:
    clock = Clock()
    rate = limiter(clock, rate=100, domain_rate=10)
    rate.backoff("slow.test", 30.0)
    assert rate.blocked_for("slow.test") == 30.0
    assert rate.acquire("SLOW.test") == 30.0
    assert rate.acquire("fast.test") == 0.0
    clock.now += 29.5
    assert rate.acquire("slow.test") == pytest.approx(0.5)
    clock.now += 0.5
    assert rate.blocked_for("slow.test") == 0.0
    assert rate.acquire("slow.test") == 0.0


def test_backoff_applies_with_no_rate_limits_too() -> None:
    clock = Clock()
    rate = limiter(clock)
    rate.backoff("slow.test", 5.0)
    assert rate.acquire("slow.test") == 5.0
    assert rate.acquire("fast.test") == 0.0


def test_backoff_doubles_on_each_new_incident_up_to_the_cap() -> None:
    clock = Clock()
    rate = limiter(clock)
    waits = []
    for _ in range(12):
        rate.backoff("slow.test", 1.0)
        waits.append(rate.blocked_for("slow.test"))
        clock.now += waits[-1]  # the wait ends; the next attempt is refused again
    assert waits == [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, MAX_BACKOFF, MAX_BACKOFF]


def test_backoffs_during_a_wait_are_the_same_incident() -> None:
    clock = Clock()
    rate = limiter(clock)
    for _ in range(4):  # four connections see the same 421
        rate.backoff("slow.test", 10.0)
    assert rate.blocked_for("slow.test") == 10.0
    clock.now += 10.0
    rate.backoff("slow.test", 10.0)
    assert rate.blocked_for("slow.test") == 20.0


def test_success_after_the_wait_resets_the_doubling() -> None:
    clock = Clock()
    rate = limiter(clock)
    rate.backoff("slow.test", 10.0)
    clock.now += 5.0
    rate.succeeded("slow.test")  # a message accepted before the 421: the wait stands
    assert rate.blocked_for("slow.test") == 5.0
    clock.now += 5.0
    rate.succeeded("slow.test")
    rate.backoff("slow.test", 10.0)
    assert rate.blocked_for("slow.test") == 10.0  # not 20: the domain had recovered


def test_an_old_incident_is_forgotten_without_success() -> None:
    clock = Clock()
    rate = limiter(clock)
    rate.backoff("slow.test", 10.0)
    clock.now += 10.0 + MAX_BACKOFF + 1
    rate.backoff("slow.test", 10.0)
    assert rate.blocked_for("slow.test") == 10.0


@pytest.mark.parametrize(
    ("current", "now", "seconds", "expected"),
    [
        (None, 100.0, 30.0, Backoff(130.0, 30.0)),
        (None, 100.0, 5000.0, Backoff(100.0 + MAX_BACKOFF, MAX_BACKOFF)),
        (Backoff(130.0, 30.0), 110.0, 30.0, Backoff(140.0, 30.0)),  # longer ask: extends
        (Backoff(130.0, 30.0), 110.0, 5.0, Backoff(130.0, 30.0)),
        (Backoff(130.0, 30.0), 130.0, 30.0, Backoff(190.0, 60.0)),
        (Backoff(130.0, 30.0), 200.0, 100.0, Backoff(300.0, 100.0)),  # asked more than 2x
        (Backoff(130.0, 400.0), 130.0, 30.0, Backoff(130.0 + MAX_BACKOFF, MAX_BACKOFF)),
        (Backoff(130.0, 30.0), 131.0 + MAX_BACKOFF, 30.0, Backoff(161.0 + MAX_BACKOFF, 30.0)),
    ],
)
def test_next_backoff(
    current: Backoff | None, now: float, seconds: float, expected: Backoff
) -> None:
    assert next_backoff(current, now, seconds) == expected


@pytest.mark.parametrize(
    ("rate", "domain_rate", "chunk"),
    [
        (0, 0, MAX_CHUNK),
        (1000, 0, 50),
        (100_000, 0, MAX_CHUNK),
        (1000, 20, 1),
        (0, 200, 10),
        (14, 0, 1),
    ],
)
def test_chunk_size_is_a_twentieth_of_a_second_of_the_smaller_rate(
    rate: float, domain_rate: float, chunk: int
) -> None:
    assert chunk_size(rate, domain_rate) == chunk


class RecordingRate:
    """A SendRate that records what it is asked."""

    def __init__(self, limiter: MemorySendRate) -> None:
        self.limiter = limiter
        self.acquired: list[tuple[str, int]] = []

    def acquire(self, domain: str, n: int = 1) -> float:
        self.acquired.append((domain, n))
        return self.limiter.acquire(domain, n)

    def backoff(self, domain: str, seconds: float) -> None:
        self.limiter.backoff(domain, seconds)

    def succeeded(self, domain: str) -> None:
        self.limiter.succeeded(domain)

    def blocked_for(self, domain: str) -> float:
        return self.limiter.blocked_for(domain)


def test_an_allowance_asks_the_shared_limiter_once_per_chunk() -> None:
    clock = Clock()
    shared = RecordingRate(limiter(clock, rate=1000))
    allowance = Allowance(shared, chunk=50)
    assert [allowance.take("a.test", wanted=120 - i) for i in range(120)] == [0.0] * 120
    assert shared.acquired == [("a.test", 50), ("a.test", 50), ("a.test", 20)]


def test_an_allowance_never_takes_tokens_for_messages_not_there() -> None:
    clock = Clock()
    shared = RecordingRate(limiter(clock, rate=1000))
    allowance = Allowance(shared, chunk=50)
    assert allowance.take("a.test", wanted=3) == 0.0
    assert allowance.take("b.test") == 0.0
    assert shared.acquired == [("a.test", 3), ("b.test", 1)]


def test_an_allowance_waits_as_the_limiter_says() -> None:
    clock = Clock()
    allowance = Allowance(limiter(clock, rate=10), chunk=4)
    sent, end = 0, clock.now + 10.0
    while clock.now <= end:
        wait = allowance.take("a.test", wanted=1000)
        if wait:
            clock.now += wait
        else:
            sent += 1
    assert 10 + 100 - 4 <= sent <= 10 + 100 + 1


def test_an_allowance_drops_its_tokens_for_a_domain_that_backed_off() -> None:
    clock = Clock()
    shared = limiter(clock, rate=1000)
    allowance = Allowance(shared, chunk=10)
    assert allowance.take("slow.test", wanted=10) == 0.0
    shared.backoff("slow.test", 30.0)  # another connection got a 421
    assert allowance.take("slow.test", wanted=9) == 30.0
    clock.now += 30.0
    assert allowance.take("slow.test", wanted=9) == 0.0  # a fresh chunk, after the wait


def test_make_send_rate_without_redis_limits_in_memory() -> None:
    rate = make_send_rate(rate=1, domain_rate=0, redis_url=None)
    assert isinstance(rate, MemorySendRate)
    assert rate.acquire("a.test") == 0.0
    assert rate.acquire("a.test") > 0

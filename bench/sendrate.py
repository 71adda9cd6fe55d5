"""Send rate limiter cost: acquires per second, in memory and in Redis, limits off and on.

Each case calls ``acquire(domain, 1)`` (or ``Allowance.take``, which asks the limiter
once per chunk) in a loop for ``--seconds`` on ``--threads`` threads, over 4 domains,
and prints calls/s and messages/s (the calls that let a message through). "Limits on"
uses rates so high that nobody waits: the cost of counting alone. The last two cases
set a real global limit (``--limit`` msgs/s) and show the rate the limiter lets
through to senders that sleep as told: at most ``limit x (1 + 1/seconds)``, the full
bucket's one-second burst included, a little less for tokens taken in chunks and not
used. Keys go under a fresh prefix, deleted at the end.

    python bench/sendrate.py [--redis-url redis://127.0.0.1:6379/0] [--seconds 2]
                             [--threads 4] [--limit 1000]
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import redis

from brief.sendrate import (
    Allowance,
    MemorySendRate,
    RedisSendRate,
    SendRate,
    chunk_size,
)

UNLIMITED = 1e9  # limits on, but nobody ever waits: the cost of counting alone
DOMAINS = ("gmail.com", "outlook.com", "yahoo.com", "example.org")


def run(threads: int, seconds: float, call: Callable[[int], float]) -> tuple[int, int]:
    """Calls made and messages let through by `threads` threads in `seconds`."""
    counts: list[tuple[int, int]] = []
    lock = threading.Lock()
    start = threading.Barrier(threads)

    def loop(index: int) -> None:
        calls = sent = 0
        start.wait()
        end = time.perf_counter() + seconds
        while (now := time.perf_counter()) < end:
            wait = call(index + calls)
            calls += 1
            if wait:
                time.sleep(min(wait, end - now))
            else:
                sent += 1
        with lock:
            counts.append((calls, sent))

    workers = [threading.Thread(target=loop, args=(i,)) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return sum(c for c, _ in counts), sum(s for _, s in counts)


def acquire(rate: SendRate, n: int) -> Callable[[int], float]:
    return lambda i: rate.acquire(DOMAINS[i % len(DOMAINS)], n)


def through_allowances(rate: SendRate, chunk: int) -> Callable[[int], float]:
    local = threading.local()

    def take(i: int) -> float:
        if not hasattr(local, "allowance"):
            local.allowance = Allowance(rate, chunk)
        allowance: Allowance = local.allowance
        return allowance.take(DOMAINS[i % len(DOMAINS)], wanted=1_000_000)

    return take


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--redis-url", default=os.environ.get("BRIEF_REDIS_URL", "redis://127.0.0.1:6379/0")
    )
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--limit", type=float, default=1000.0)
    args = parser.parse_args()
    prefix = f"bench:sendrate:{uuid.uuid4().hex}:"

    def redis_rate(rate: float, domain_rate: float) -> RedisSendRate:
        return RedisSendRate(args.redis_url, rate=rate, domain_rate=domain_rate, prefix=prefix)

    big_chunk = chunk_size(UNLIMITED, 0)
    limit_chunk = chunk_size(args.limit, 0)
    cases: list[tuple[str, Callable[[], Callable[[int], float]]]] = [
        ("memory, limits off", lambda: acquire(MemorySendRate(rate=0, domain_rate=0), 1)),
        (
            "memory, limits on",
            lambda: acquire(MemorySendRate(rate=UNLIMITED, domain_rate=UNLIMITED), 1),
        ),
        ("redis, limits off", lambda: acquire(redis_rate(0, 0), 1)),
        ("redis, limits on, n=1", lambda: acquire(redis_rate(UNLIMITED, UNLIMITED), 1)),
        (
            f"redis, limits on, Allowance chunk={big_chunk}",
            lambda: through_allowances(redis_rate(UNLIMITED, UNLIMITED), big_chunk),
        ),
        (
            f"memory, limit {args.limit:g}/s, Allowance chunk={limit_chunk}",
            lambda: through_allowances(MemorySendRate(rate=args.limit, domain_rate=0), limit_chunk),
        ),
        (
            f"redis, limit {args.limit:g}/s, Allowance chunk={limit_chunk}",
            lambda: through_allowances(redis_rate(args.limit, 0), limit_chunk),
        ),
    ]
    print(f"{args.threads} threads, {args.seconds:g} s per case, Redis at {args.redis_url}")
    print(f"{'case':<44} {'calls/s':>12} {'messages/s':>12}")
    try:
        for name, make in cases:
            calls, sent = run(args.threads, args.seconds, make())
            print(f"{name:<44} {calls / args.seconds:>12,.0f} {sent / args.seconds:>12,.0f}")
    finally:
        client = redis.Redis.from_url(args.redis_url)
        keys = list(client.scan_iter(f"{prefix}*"))
        if keys:
            client.delete(*keys)


if __name__ == "__main__":
    main()

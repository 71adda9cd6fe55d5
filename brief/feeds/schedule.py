"""When to poll a feed next: pure decisions, no I/O (like reader's ``Decider``).

After a success the interval follows how often the feed really publishes: the newest
``RECENT`` entry dates span some time, so one entry comes every ``span / count`` on
average, where the span runs up to *now* (a feed that has gone quiet is polled less
and less). Without dated entries, the time since brief last found a new article
stands in. The feed's own hints are a floor: ``<ttl>`` and ``sy:updatePeriod`` say
"not more often than this". The result is kept between ``min_minutes`` and
``max_minutes``, and moved out of the feed's ``<skipHours>``.

After a failure the interval doubles with every consecutive error, from the minimum
up to the maximum; a server's Retry-After is honoured (up to the maximum).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

RECENT = 10  # entry dates used to estimate how often a feed publishes
FAILING_FOR = timedelta(days=3)  # `brief feeds list` flags feeds failing this long


@dataclass(frozen=True)
class PollPolicy:
    min_minutes: int = 15
    max_minutes: int = 24 * 60
    default_minutes: int = 60  # a feed we know nothing about yet

    def clamp(self, minutes: float) -> int:
        low, high = self.min_minutes, max(self.min_minutes, self.max_minutes)
        return int(min(high, max(low, round(minutes))))


@dataclass(frozen=True)
class FeedHints:
    """What a feed says about itself, and what its entries say about its pace.

    Stored as JSON on ``Feed.hints`` so a 304 (no body) can still use it.
    """

    ttl_minutes: int | None = None
    update_period_minutes: int | None = None
    skip_hours: tuple[int, ...] = ()  # UTC hours
    recent_oldest: datetime | None = None  # the oldest of the newest RECENT entry dates
    recent_count: int = 0  # how many dates that is

    def to_json(self) -> dict[str, Any]:
        return {
            "ttl_minutes": self.ttl_minutes,
            "update_period_minutes": self.update_period_minutes,
            "skip_hours": list(self.skip_hours),
            "recent_oldest": self.recent_oldest.isoformat() if self.recent_oldest else None,
            "recent_count": self.recent_count,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> FeedHints:
        if not data:
            return cls()
        oldest = data.get("recent_oldest")
        try:
            when = datetime.fromisoformat(oldest) if isinstance(oldest, str) else None
        except ValueError:
            when = None
        return cls(
            ttl_minutes=_positive(data.get("ttl_minutes")),
            update_period_minutes=_positive(data.get("update_period_minutes")),
            skip_hours=tuple(h for h in data.get("skip_hours") or () if _is_hour(h)),
            recent_oldest=when,
            recent_count=int(data.get("recent_count") or 0),
        )


def hints_from(
    *,
    ttl_minutes: int | None,
    update_period_minutes: int | None,
    skip_hours: Iterable[int],
    entry_dates: Iterable[datetime | None],
    now: datetime,
) -> FeedHints:
    """Hints from a freshly parsed feed: its own fields and its newest entry dates."""
    dates = sorted((d for d in entry_dates if d is not None and d <= now), reverse=True)[:RECENT]
    return FeedHints(
        ttl_minutes=_positive(ttl_minutes),
        update_period_minutes=_positive(update_period_minutes),
        skip_hours=tuple(sorted({h for h in skip_hours if _is_hour(h)})),
        recent_oldest=dates[-1] if dates else None,
        recent_count=len(dates),
    )


@dataclass(frozen=True)
class PollPlan:
    next_poll_at: datetime
    interval_minutes: int


def after_success(
    now: datetime,
    policy: PollPolicy,
    hints: FeedHints,
    last_new_article_at: datetime | None,
) -> PollPlan:
    """The next poll of a feed that just answered (200 or 304)."""
    if hints.recent_count >= 2 and hints.recent_oldest is not None:
        span = max(timedelta(0), now - hints.recent_oldest)
        estimate = span.total_seconds() / 60 / hints.recent_count
    elif last_new_article_at is not None:
        # Polling at half the time since the last new article finds the next one soon
        # after it appears, and slows down as the feed goes quiet.
        estimate = max(timedelta(0), now - last_new_article_at).total_seconds() / 60 / 2
    else:
        estimate = policy.default_minutes
    floor = max(hints.ttl_minutes or 0, hints.update_period_minutes or 0)
    interval = policy.clamp(max(estimate, floor))
    return PollPlan(outside_skip_hours(now + timedelta(minutes=interval), hints), interval)


def after_error(
    now: datetime,
    policy: PollPolicy,
    error_count: int,
    hints: FeedHints | None = None,
    retry_after: float | None = None,
) -> PollPlan:
    """The next poll after the ``error_count``-th consecutive failure (1 for the first)."""
    exponent = min(max(error_count, 1) - 1, 30)
    interval = policy.clamp(policy.min_minutes * 2**exponent)
    at = now + timedelta(minutes=interval)
    if retry_after is not None and retry_after > 0:
        wait = min(retry_after, policy.max_minutes * 60)
        at = max(at, now + timedelta(seconds=wait))
    return PollPlan(outside_skip_hours(at, hints or FeedHints()), interval)


def outside_skip_hours(at: datetime, hints: FeedHints) -> datetime:
    """``at``, or the start of the first hour after it that the feed does not skip."""
    skip = set(hints.skip_hours)
    if not skip or len(skip) >= 24:
        return at
    at = at.astimezone(UTC)
    hour_start = at.replace(minute=0, second=0, microsecond=0)
    moved = at
    while moved.hour in skip:
        hour_start += timedelta(hours=1)
        moved = hour_start
    return moved


def failing_since(
    error_count: int, last_success_at: datetime | None, created_at: datetime | None
) -> datetime | None:
    """When the current error streak began (at the latest), or None if the feed is healthy."""
    if not error_count:
        return None
    return last_success_at or created_at


def failing_for_days(
    error_count: int,
    last_success_at: datetime | None,
    created_at: datetime | None,
    now: datetime,
) -> bool:
    since = failing_since(error_count, last_success_at, created_at)
    return since is not None and now - since >= FAILING_FOR


def _positive(value: Any) -> int | None:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None


def _is_hour(value: Any) -> bool:
    return isinstance(value, int) and 0 <= value <= 23

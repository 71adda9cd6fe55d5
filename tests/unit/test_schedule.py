"""Polling decisions: pure functions of the feed's pace, hints and errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from brief.feeds.schedule import (
    FeedHints,
    PollPolicy,
    after_error,
    after_success,
    failing_for_days,
    hints_from,
    outside_skip_hours,
)

NOW = datetime(2025, 1, 31, 6, 0, tzinfo=UTC)
POLICY = PollPolicy(min_minutes=15, max_minutes=24 * 60, default_minutes=60)


def hourly(count: int, newest_hours_ago: float = 0.5) -> FeedHints:
    dates = [NOW - timedelta(hours=newest_hours_ago + i) for i in range(count)]
    return hints_from(
        ttl_minutes=None, update_period_minutes=None, skip_hours=(), entry_dates=dates, now=NOW
    )


def minutes(plan_at: datetime) -> float:
    return (plan_at - NOW).total_seconds() / 60


def test_pace_of_recent_entries() -> None:
    # Ten entries an hour apart, the newest half an hour old: about one an hour.
    plan = after_success(NOW, POLICY, hourly(10), None)
    assert plan.interval_minutes == 57
    assert minutes(plan.next_poll_at) == 57


def test_quiet_feed_is_polled_less() -> None:
    busy = after_success(NOW, POLICY, hourly(10, newest_hours_ago=0.5), None)
    quiet = after_success(NOW, POLICY, hourly(10, newest_hours_ago=20), None)
    assert quiet.interval_minutes > busy.interval_minutes
    dead = after_success(NOW, POLICY, hourly(10, newest_hours_ago=24 * 60), None)
    assert dead.interval_minutes == POLICY.max_minutes


def test_fast_feed_is_held_at_the_minimum() -> None:
    dates = [NOW - timedelta(minutes=i) for i in range(10)]
    hints = hints_from(
        ttl_minutes=None, update_period_minutes=None, skip_hours=(), entry_dates=dates, now=NOW
    )
    assert after_success(NOW, POLICY, hints, None).interval_minutes == 15


def test_undated_feed_uses_the_last_new_article() -> None:
    plan = after_success(NOW, POLICY, FeedHints(), NOW - timedelta(hours=4))
    assert plan.interval_minutes == 120
    assert after_success(NOW, POLICY, FeedHints(), None).interval_minutes == 60  # unknown


def test_future_dates_and_missing_dates_are_ignored() -> None:
    hints = hints_from(
        ttl_minutes=None,
        update_period_minutes=None,
        skip_hours=(),
        entry_dates=[None, NOW + timedelta(days=3), NOW - timedelta(hours=1)],
        now=NOW,
    )
    assert (hints.recent_count, hints.recent_oldest) == (1, NOW - timedelta(hours=1))


@pytest.mark.parametrize(
    ("ttl", "period", "expected"),
    [(180, None, 180), (None, 24 * 60, 24 * 60), (5, None, 57), (None, 10 * 24 * 60, 24 * 60)],
)
def test_feed_hints_are_a_floor_within_the_bounds(
    ttl: int | None, period: int | None, expected: int
) -> None:
    hints = hints_from(
        ttl_minutes=ttl,
        update_period_minutes=period,
        skip_hours=(),
        entry_dates=[NOW - timedelta(hours=0.5 + i) for i in range(10)],
        now=NOW,
    )
    assert after_success(NOW, POLICY, hints, None).interval_minutes == expected


def test_skip_hours_move_the_poll_out() -> None:
    hints = FeedHints(skip_hours=(6, 7, 8))
    at = outside_skip_hours(NOW + timedelta(minutes=20), hints)
    assert at == datetime(2025, 1, 31, 9, 0, tzinfo=UTC)
    assert outside_skip_hours(NOW + timedelta(hours=5), hints) == NOW + timedelta(hours=5)
    every_hour = FeedHints(skip_hours=tuple(range(24)))
    assert outside_skip_hours(NOW, every_hour) == NOW  # nonsense hint: ignored


def test_errors_back_off_exponentially_up_to_the_maximum() -> None:
    waits = [after_error(NOW, POLICY, n).interval_minutes for n in range(1, 10)]
    assert waits == [15, 30, 60, 120, 240, 480, 960, 1440, 1440]
    assert after_error(NOW, POLICY, 500).interval_minutes == 1440


def test_retry_after_is_honoured_within_the_maximum() -> None:
    assert after_error(NOW, POLICY, 1, retry_after=7200).next_poll_at == NOW + timedelta(hours=2)
    assert after_error(NOW, POLICY, 1, retry_after=60).next_poll_at == NOW + timedelta(minutes=15)
    capped = after_error(NOW, POLICY, 1, retry_after=30 * 24 * 3600).next_poll_at
    assert capped == NOW + timedelta(minutes=POLICY.max_minutes)


def test_hints_round_trip_through_json() -> None:
    hints = FeedHints(60, 120, (1, 2), NOW - timedelta(hours=3), 7)
    assert FeedHints.from_json(hints.to_json()) == hints
    assert FeedHints.from_json(None) == FeedHints()
    assert FeedHints.from_json({"ttl_minutes": "x", "skip_hours": [3, 99, "4"]}) == FeedHints(
        skip_hours=(3,)
    )


def test_failing_for_days() -> None:
    created = NOW - timedelta(days=10)
    assert not failing_for_days(0, None, created, NOW)
    assert not failing_for_days(3, NOW - timedelta(days=1), created, NOW)
    assert failing_for_days(9, NOW - timedelta(days=4), created, NOW)
    assert failing_for_days(9, None, created, NOW)  # never worked since it was added

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from brief.sendtime import delivery_time, is_due, next_edition_at

MADE = datetime(2026, 11, 25, 5, 0, tzinfo=UTC)  # 06:00 in Paris
PARIS, TOKYO, NY = ZoneInfo("Europe/Paris"), ZoneInfo("Asia/Tokyo"), ZoneInfo("America/New_York")


@pytest.mark.parametrize(
    ("zone", "hour", "expected"),
    [
        (PARIS, None, MADE),  # no hour chosen: as soon as it is made
        (PARIS, 7, datetime(2026, 11, 25, 6, 0, tzinfo=UTC)),  # later that morning
        (PARIS, 6, MADE),  # the same hour
        (PARIS, 4, MADE),  # passed 2 hours before: at once, not a day late
        (NY, 7, datetime(2026, 11, 25, 12, 0, tzinfo=UTC)),  # 07:00 in New York
        # 14:00 in Tokyo: their 07:00 passed more than CATCH_UP ago, so tomorrow 07:00.
        (TOKYO, 7, datetime(2026, 11, 25, 22, 0, tzinfo=UTC)),
    ],
)
def test_delivery_time(zone: ZoneInfo, hour: int | None, expected: datetime) -> None:
    assert delivery_time(MADE, zone, hour) == expected


def test_summer_time_is_the_local_hour() -> None:
    made = datetime(2026, 7, 1, 4, 0, tzinfo=UTC)  # 06:00 in Paris (UTC+2)
    assert delivery_time(made, PARIS, 8) == datetime(2026, 7, 1, 6, 0, tzinfo=UTC)


def test_is_due_between_delivery_time_and_staleness() -> None:
    assert not is_due(MADE + timedelta(minutes=59), MADE, PARIS, 7)
    assert is_due(MADE + timedelta(hours=1), MADE, PARIS, 7)
    assert is_due(MADE, MADE, PARIS, None)
    assert not is_due(MADE - timedelta(minutes=1), MADE, PARIS, None)
    assert not is_due(MADE + timedelta(hours=31), MADE, PARIS, None)  # the next one is due


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        # Before the hour: today; at or after it: tomorrow (local dates, Paris).
        (datetime(2026, 11, 25, 4, 59, tzinfo=UTC), datetime(2026, 11, 25, 5, 0, tzinfo=UTC)),
        (datetime(2026, 11, 25, 5, 0, tzinfo=UTC), datetime(2026, 11, 26, 5, 0, tzinfo=UTC)),
        (datetime(2026, 11, 25, 23, 30, tzinfo=UTC), datetime(2026, 11, 26, 5, 0, tzinfo=UTC)),
        # Across the change to summer time, 06:00 in Paris moves from 05:00 to 04:00 UTC.
        (datetime(2026, 3, 28, 12, 0, tzinfo=UTC), datetime(2026, 3, 29, 4, 0, tzinfo=UTC)),
    ],
)
def test_next_edition_at_is_the_next_edition_hour_in_the_home_zone(
    now: datetime, expected: datetime
) -> None:
    made = next_edition_at(now, PARIS, 6)
    assert made == expected and made.utcoffset() is not None and made > now

"""When each subscriber gets an edition: in their own morning (pure).

An edition is made once a day at the home edition hour. A subscriber who chose
a delivery hour gets it at that hour of their own time zone; one who chose none
gets it as soon as it is made.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

# If a subscriber's hour passed less than this before the edition was made, they get it
# at once rather than a day late (their morning has just begun).
CATCH_UP = timedelta(hours=6)
# An edition older than this is not sent by the schedule any more: the next one is due.
STALE_AFTER = timedelta(hours=30)


def delivery_time(made_at: datetime, zone: ZoneInfo, hour: int | None) -> datetime:
    """The moment a subscriber should get an edition made at `made_at` (aware)."""
    if hour is None:
        return made_at
    local = made_at.astimezone(zone)
    target = datetime.combine(local.date(), time(hour), zone)
    if target < local - CATCH_UP:
        target = datetime.combine(local.date() + timedelta(days=1), time(hour), zone)
    return max(target, made_at)


def next_edition_at(now: datetime, zone: ZoneInfo, hour: int, minute: int = 0) -> datetime:
    """The next time the daily edition is made: hour:minute in `zone`, after `now`."""
    local = now.astimezone(zone)
    made = datetime.combine(local.date(), time(hour, minute), zone)
    if made <= local:
        made = datetime.combine(local.date() + timedelta(days=1), time(hour, minute), zone)
    return made


def is_due(now: datetime, made_at: datetime, zone: ZoneInfo, hour: int | None) -> bool:
    return made_at <= now < made_at + STALE_AFTER and now >= delivery_time(made_at, zone, hour)

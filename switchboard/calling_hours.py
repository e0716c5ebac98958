"""Calling hours: whether a lead may be called now, and when it may be next.

A campaign calls within a window of local time, `[start, end)` (default 08:00–21:00),
in the lead's time zone. A lead whose zone is not known may be in any of the zones its
number rings in: the window must then be open in every one of them, so nobody is called
at night because we guessed. Local times are read through `zoneinfo`, so daylight
saving is the zone's own: on a spring-forward day a window opening inside the skipped
hour opens when the clock jumps, and an autumn day's repeated hour is inside the window
once, at its first pass (`fold=0`).

Pure functions of an aware UTC instant: the dialer passes its clock (DESIGN.md: wall
time plus `SWITCHBOARD_CLOCK_OFFSET_S`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

# A window shared by several zones may never be open in all of them at once (a number
# spanning Hawaii and Guam); looking further than this finds nothing new.
SEARCH_DAYS = 8


def is_open(now: datetime, zones: Sequence[str], start: time, end: time) -> bool:
    """Whether local time in every one of `zones` is within `[start, end)` at `now`."""
    return all(_open_in(now, ZoneInfo(zone), start, end) for zone in zones)


def next_opening(now: datetime, zones: Sequence[str], start: time, end: time) -> datetime | None:
    """The first instant at or after `now` when the window is open in all of `zones`
    (`now` itself if it is open); None if that never happens within `SEARCH_DAYS`."""
    candidate = now
    limit = now + timedelta(days=SEARCH_DAYS)
    while candidate <= limit:
        if is_open(candidate, zones, start, end):
            return candidate
        # The latest of the zones' next openings is the earliest moment all might be open.
        candidate = max(_next_start(candidate, ZoneInfo(zone), start, end) for zone in zones)
    return None


def _open_in(now: datetime, zone: ZoneInfo, start: time, end: time) -> bool:
    local = now.astimezone(zone)
    opens = _local_instant(local.date(), start, zone)
    closes = _local_instant(local.date(), end, zone)
    return opens <= now < closes


def _next_start(now: datetime, zone: ZoneInfo, start: time, end: time) -> datetime:
    """The next opening in `zone` after `now` (now, if the window is open there)."""
    if _open_in(now, zone, start, end):
        return now
    day = now.astimezone(zone).date()
    for offset in range(SEARCH_DAYS + 1):
        opens = _local_instant(day + timedelta(days=offset), start, zone)
        if opens > now:
            return opens
    return now + timedelta(days=SEARCH_DAYS + 1)  # not reached: every day has an opening


def _local_instant(day: date, at: time, zone: ZoneInfo) -> datetime:
    """The UTC instant of local `at` on `day` in `zone`. A local time a spring-forward
    jump skips maps to the jump: the first instant local time is at or past `at`."""
    local = datetime.combine(day, at, tzinfo=zone)
    instant = local.astimezone(UTC)
    if instant.astimezone(zone).replace(tzinfo=None) == local.replace(tzinfo=None):
        return instant
    # Skipped: fold=1 reads it with the offset before the jump (an instant before it),
    # fold=0 with the one after (past it). Jumps fall on whole minutes.
    moment = local.replace(fold=1).astimezone(UTC)
    while moment.astimezone(zone).time() < at and moment < instant:
        moment += timedelta(minutes=1)
    return moment

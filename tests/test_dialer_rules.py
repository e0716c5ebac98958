"""The dialer's rules as pure functions: calling hours in the lead's local time (time
zones, daylight saving, the window's edges, numbers spanning zones), pacing against
concurrency, rate and the ingress's free capacity, and the retry policy."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from deployments.dial_pacing import CampaignLoad, Pacing, calls_allowed
from deployments.dialer import dialer_clock
from deployments.retry_policy import after_attempt, retry_delay_s
from switchboard.calling_hours import is_open, next_opening

NINE, FIVE = time(9), time(17)
DAY = (time(8), time(21))


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


# Calling hours


@pytest.mark.parametrize(
    ("moment", "zone", "open_"),
    [
        (utc(2026, 12, 4, 13, 59), "America/New_York", False),  # 08:59 local
        (utc(2026, 12, 4, 14, 0), "America/New_York", True),  # 09:00: the start is in
        (utc(2026, 12, 4, 21, 59), "America/New_York", True),  # 16:59
        (utc(2026, 12, 4, 22, 0), "America/New_York", False),  # 17:00: the end is out
        (utc(2026, 12, 4, 15, 59), "Europe/Paris", True),  # 16:59 at UTC+01:00
        (utc(2026, 12, 4, 16, 0), "Europe/Paris", False),
        (utc(2026, 12, 4, 3, 30), "Asia/Kolkata", True),  # 09:00 at UTC+05:30
        (utc(2026, 12, 4, 3, 29), "Asia/Kolkata", False),
    ],
)
def test_the_window_is_read_in_the_leads_local_time_start_in_end_out(
    moment: datetime, zone: str, open_: bool
) -> None:
    assert is_open(moment, [zone], NINE, FIVE) is open_


def test_daylight_saving_moves_the_window_with_the_local_clock() -> None:
    # New York: 09:00 is 14:00 UTC in winter (EST) and 13:00 UTC in summer (EDT).
    assert is_open(utc(2026, 7, 1, 13, 0), ["America/New_York"], NINE, FIVE)
    assert not is_open(utc(2026, 12, 1, 13, 0), ["America/New_York"], NINE, FIVE)
    # The day the clocks go forward (8 March 2026) the window opens at 09:00 EDT.
    assert next_opening(utc(2026, 3, 8, 6, 0), ["America/New_York"], NINE, FIVE) == utc(
        2026, 3, 8, 13, 0
    )
    # The day they go back (1 November 2026) at 09:00 EST.
    assert next_opening(utc(2026, 11, 1, 6, 0), ["America/New_York"], NINE, FIVE) == utc(
        2026, 11, 1, 14, 0
    )


def test_a_window_opening_inside_the_skipped_hour_opens_at_the_jump() -> None:
    # 02:30 does not exist in New York on 8 March 2026: the clocks jump 02:00 -> 03:00
    # at 07:00 UTC, which is when a 02:30-05:00 window opens.
    opens = next_opening(utc(2026, 3, 8, 5, 0), ["America/New_York"], time(2, 30), time(5))
    assert opens == utc(2026, 3, 8, 7, 0)


def test_a_lead_outside_hours_is_due_at_the_next_opening_even_the_next_day() -> None:
    late = utc(2026, 12, 4, 23, 0)  # 18:00 in New York
    assert next_opening(late, ["America/New_York"], NINE, FIVE) == utc(2026, 12, 5, 14, 0)
    inside = utc(2026, 12, 4, 15, 0)
    assert next_opening(inside, ["America/New_York"], NINE, FIVE) == inside


def test_a_number_spanning_zones_is_called_only_when_all_of_them_are_in_hours() -> None:
    zones = ["America/New_York", "America/Los_Angeles"]
    # 13:00 UTC: 08:00 in New York, 05:00 in Los Angeles.
    assert not is_open(utc(2026, 12, 4, 13, 0), zones, *DAY)
    assert next_opening(utc(2026, 12, 4, 13, 0), zones, *DAY) == utc(2026, 12, 4, 16, 0)
    # Honolulu and Guam are 20 hours apart: 08:00-21:00 is never open in both at once
    # for long, 09:00-10:00 never.
    assert next_opening(utc(2026, 12, 4, 0, 0), ["Pacific/Honolulu", "Pacific/Guam"],
                        time(9), time(10)) is None  # fmt: skip


def test_the_dialers_clock_is_wall_time_moved_by_the_offset() -> None:
    moved = dialer_clock(3600)()
    assert abs((moved - datetime.now(UTC)) - timedelta(hours=1)) < timedelta(seconds=5)


# Pacing


@pytest.mark.parametrize(
    ("pacing", "load", "free", "allowed"),
    [
        (Pacing(3, 10), CampaignLoad(0, 0), 24, 3),  # concurrency
        (Pacing(3, 10), CampaignLoad(2, 0), 24, 1),
        (Pacing(5, 4), CampaignLoad(0, 3), 24, 1),  # the minute's rate
        (Pacing(5, 4), CampaignLoad(0, 4), 24, 0),
        (Pacing(5, 10), CampaignLoad(0, 0), 2, 2),  # the ingress's free capacity
        (Pacing(5, 10), CampaignLoad(0, 0), 0, 0),
        (Pacing(2, 10), CampaignLoad(4, 0), 24, 0),  # never negative
    ],
)
def test_calls_allowed_is_the_least_of_concurrency_rate_and_free_capacity(
    pacing: Pacing, load: CampaignLoad, free: int, allowed: int
) -> None:
    assert calls_allowed(pacing, load, free) == allowed


# Retries

NOW = utc(2026, 12, 4, 12, 0)


@pytest.mark.parametrize("status", ["no_answer", "busy", "failed", "voicemail"])
def test_unanswered_attempts_are_retried_with_growing_backoff(status: str) -> None:
    first = after_attempt(status, None, attempt=1, max_attempts=3, retry_after_s=60, now=NOW)
    second = after_attempt(status, None, attempt=2, max_attempts=3, retry_after_s=60, now=NOW)
    assert first.retry_at == NOW + timedelta(seconds=60)
    assert second.retry_at == NOW + timedelta(seconds=120)
    assert [retry_delay_s(60, n) for n in (1, 2, 3)] == [60, 120, 240]


def test_the_last_attempt_finishes_the_lead_whatever_happened() -> None:
    assert after_attempt("no_answer", None, attempt=3, max_attempts=3, retry_after_s=60,
                         now=NOW).finished  # fmt: skip


@pytest.mark.parametrize(
    ("outcome", "finished"),
    [("qualified", True), ("opted_out", True), ("transferred", True), ("nurture", True),
     ("disqualified", True), ("voicemail", False), ("abandoned", False), (None, False)],
)
def test_answered_calls_finish_the_lead_unless_they_reached_no_outcome(
    outcome: str | None, finished: bool
) -> None:
    lead = after_attempt("completed", outcome, attempt=1, max_attempts=3, retry_after_s=60,
                         now=NOW)  # fmt: skip
    assert lead.finished is finished

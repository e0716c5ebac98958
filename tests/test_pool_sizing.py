"""The warm pool's size follows the calls' arrival: floor, burst, ceiling, fall-back."""

from __future__ import annotations

import pytest

from actors.pool_sizing import DEFAULT_START_S, PoolSizing


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def test_a_quiet_line_keeps_the_floor(clock: Clock) -> None:
    sizing = PoolSizing(clock=clock)
    assert sizing.target(floor=3, ceiling=12) == 3


def test_a_burst_raises_the_target_by_the_calls_arriving_within_one_start(clock: Clock) -> None:
    sizing = PoolSizing(clock=clock)
    for _ in range(4):
        sizing.arrived()
        clock.now += 1.0
    # Four calls within the last five seconds (one start): four more are expected.
    assert sizing.target(floor=2, ceiling=12) == 6


def test_the_target_never_passes_the_ceiling(clock: Clock) -> None:
    sizing = PoolSizing(clock=clock)
    for _ in range(30):
        sizing.arrived()
    assert sizing.target(floor=2, ceiling=8) == 8


def test_slower_starts_look_further_back_for_arrivals(clock: Clock) -> None:
    sizing = PoolSizing(clock=clock)
    for seconds in (12.0, 11.0, 13.0):
        sizing.started(seconds)
    assert sizing.start_s == 12.0
    for _ in range(10):  # a call a second, for ten seconds
        sizing.arrived()
        clock.now += 1.0
    # All ten arrived within one start time (12 s): all ten are expected again.
    assert sizing.target(floor=2, ceiling=20) == 12


def test_a_burst_size_is_held_then_falls_back_to_the_floor(clock: Clock) -> None:
    sizing = PoolSizing(hold_s=120.0, clock=clock)
    for _ in range(5):
        sizing.arrived()
    clock.now += 60.0
    assert sizing.target(floor=2, ceiling=12) == 7  # held through a lull
    clock.now += 61.0
    assert sizing.target(floor=2, ceiling=12) == 2


def test_a_later_smaller_wave_keeps_the_target_until_the_larger_one_expires(clock: Clock) -> None:
    sizing = PoolSizing(hold_s=100.0, clock=clock)
    for _ in range(6):
        sizing.arrived()
    clock.now += 50.0
    for _ in range(2):
        sizing.arrived()
    assert sizing.target(floor=1, ceiling=12) == 7
    clock.now += 51.0  # the first wave's hold is over; the second's is not
    assert sizing.target(floor=1, ceiling=12) == 3


def test_a_floor_of_zero_means_no_pool(clock: Clock) -> None:
    sizing = PoolSizing(clock=clock)
    for _ in range(5):
        sizing.arrived()
    assert sizing.target(floor=0, ceiling=12) == 0


def test_the_start_estimate_is_the_median_of_recent_starts(clock: Clock) -> None:
    sizing = PoolSizing(clock=clock)
    assert sizing.start_s == DEFAULT_START_S
    for seconds in (3.0, 30.0, 4.0):  # one outlier (a start beside a busy call)
        sizing.started(seconds)
    assert sizing.start_s == 4.0


def test_calls_ending_as_fast_as_new_ones_arrive_need_no_new_actors(clock: Clock) -> None:
    sizing = PoolSizing(clock=clock)
    for _ in range(6):  # a call ends and the next begins on its actor, every second
        sizing.returned()
        sizing.arrived()
        clock.now += 1.0
    assert sizing.target(floor=2, ceiling=12) == 2


def test_actors_coming_back_offset_only_part_of_a_burst(clock: Clock) -> None:
    sizing = PoolSizing(clock=clock)
    sizing.returned()
    for _ in range(4):
        sizing.arrived()
    # Four arrivals within one start time, one actor back: three more are expected.
    assert sizing.target(floor=2, ceiling=12) == 5


def test_returns_older_than_one_start_offset_nothing(clock: Clock) -> None:
    sizing = PoolSizing(clock=clock)
    for _ in range(3):
        sizing.returned()
    clock.now += DEFAULT_START_S + 1
    for _ in range(3):
        sizing.arrived()
    assert sizing.target(floor=1, ceiling=12) == 4

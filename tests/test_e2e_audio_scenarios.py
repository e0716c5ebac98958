"""Against a real `serve run`: every public scenario over audio, through the orchestrator,
reaches its outcome and facts, with the agents' transitions and the tier decisions in
the record. (`qualified-ops-director` runs in the fast tier, `test_e2e_audio_calls`.)

An audio call takes as long as its lines and replies take to say (from 18 s to 84 s
here, one at a time), and the server mostly waits meanwhile: the calls are placed
together when the module starts, `AT_ONCE` at a time, longest first, and each test
checks its own."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from load_tests.bench_callers import call_until_taken
from switchboard.scenario import Scenario, load_scenario
from tests.chaos import warm_pool
from tests.e2e import (
    SCENARIO_FILES,
    RunningSwitchboard,
    assert_report_meets_expectations,
    premium_granted,
)

pytestmark = pytest.mark.slow

FAST_TIER = {"qualified-ops-director"}
SLOW_TIER = [p for p in SCENARIO_FILES if p.stem not in FAST_TIER]
#: Audio calls in flight at once: with four at a time on 2 cores, bench_voice's replies
#: came 0.74 s after the caller stopped (median), 1.12 s at the 99th percentile, well
#: inside the default turn timeout that would make a turn a fallback.
AT_ONCE = 3


@pytest.fixture(scope="module")
async def reports(switchboard: RunningSwitchboard
                  ) -> AsyncIterator[dict[str, asyncio.Task[tuple[Scenario, dict]]]]:
    """Each scenario's call, placed over audio as this module starts: its scenario and
    its record, by the scenario's name."""
    gate = asyncio.Semaphore(AT_ONCE)

    async def place(scenario: Scenario) -> tuple[Scenario, dict]:
        async with gate:
            # A call placed as another ends can find no session free yet: answered
            # busy, it rings again, as the benchmark's callers do.
            result = await call_until_taken(switchboard, scenario, text=False)
            return scenario, await switchboard.report(result.call_sid)

    await warm_pool(switchboard, AT_ONCE)  # the pool fills after the server is ready

    scenarios = [load_scenario(path) for path in SLOW_TIER]
    # The most lines first: the longest calls do not start last.
    scenarios.sort(key=lambda scenario: len(scenario.lines), reverse=True)
    tasks = {scenario.name: asyncio.create_task(place(scenario)) for scenario in scenarios}
    yield tasks
    for task in tasks.values():
        task.cancel()
    await asyncio.gather(*tasks.values(), return_exceptions=True)


@pytest.mark.parametrize("path", SLOW_TIER, ids=lambda p: p.stem)
async def test_public_scenario_reaches_its_outcome_over_audio(
    reports: dict[str, asyncio.Task[tuple[Scenario, dict]]], path: Path
) -> None:
    scenario, report = await reports[load_scenario(path).name]
    assert_report_meets_expectations(report, scenario)
    assert report["fallback_turns"] == 0, report["errors"]
    if premium_granted(report):
        assert report["tier_history"][0]["trigger"] in ("qualification_score", "stated_budget")

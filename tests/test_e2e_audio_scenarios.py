"""Against a real `serve run`: every public scenario over audio, through the orchestrator,
reaches its outcome and facts, with the agents' transitions and the tier decisions in
the record. (`qualified-ops-director` runs in the fast tier, `test_e2e_audio_calls`.)"""

from __future__ import annotations

import pytest

from switchboard.scenario import load_scenario
from tests.e2e import (
    SCENARIO_FILES,
    RunningSwitchboard,
    assert_report_meets_expectations,
    premium_granted,
)

pytestmark = pytest.mark.slow

FAST_TIER = {"qualified-ops-director"}


@pytest.mark.parametrize(
    "path", [p for p in SCENARIO_FILES if p.stem not in FAST_TIER], ids=lambda p: p.stem
)
async def test_public_scenario_reaches_its_outcome_over_audio(
    switchboard: RunningSwitchboard, path
) -> None:
    scenario = load_scenario(path)
    result = await switchboard.call(scenario, text=False)
    report = await switchboard.report(result.call_sid)
    assert_report_meets_expectations(report, scenario)
    assert report["fallback_turns"] == 0, report["errors"]
    if premium_granted(report):
        assert report["tier_history"][0]["trigger"] in ("qualification_score", "stated_budget")

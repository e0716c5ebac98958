"""Against a real `serve run`: every public scenario over audio, through the orchestrator,
reaches its outcome and facts, with the agents' transitions and the tier decisions in
the record. (`qualified-ops-director` runs in the fast tier, `test_e2e_audio_calls`.)"""

from __future__ import annotations

import json

import pytest

from switchboard.scenario import load_scenario
from tests.e2e import SCENARIOS, RunningSwitchboard

pytestmark = pytest.mark.slow

FAST_TIER = {"qualified-ops-director"}
SCENARIO_FILES = (
    [p for p in sorted(SCENARIOS.glob("*.yaml")) if p.stem not in FAST_TIER]
    if SCENARIOS.exists()
    else []
)
FACT_KEYS = ("budget_usd", "decision_maker", "timeline_months")


@pytest.mark.parametrize("path", SCENARIO_FILES, ids=lambda p: p.stem)
async def test_public_scenario_reaches_its_outcome_over_audio(
    switchboard: RunningSwitchboard, path
) -> None:
    scenario = load_scenario(path)
    result = await switchboard.call(scenario, text=False)
    report = await switchboard.report(result.call_sid)
    expect = scenario.expect
    heard = json.dumps([(t["user_text"], t["agent_text"]) for t in report["turns"]], indent=1)
    assert report["outcome"] == expect.outcome, heard
    for key in FACT_KEYS:
        wanted = getattr(expect, key)
        if wanted is not None:
            assert report["facts"][key] == wanted, f"{key}: {heard}"
    assert report["fallback_turns"] == 0, report["errors"]
    assert report["transitions"][0]["from_agent"] == "start"
    premium = any(d["approved"] and d["tier"] == "premium" for d in report["tier_history"])
    if expect.premium is not None:
        assert premium == expect.premium, report["tier_history"]
    if premium:
        assert report["tier_history"][0]["trigger"] in ("qualification_score", "stated_budget")

"""The public caller scenarios, driven through the templated script (the direct path).

Text lines go to `on_text`, key presses to `on_dtmf`, `silence_s: N` is N // 6
reprompt intervals of `on_silence`, and `hangup` (or the end of the lines) ends
the call with `on_hangup`. Lines after the agent ends the call are never heard.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml

from graph.workflow.policy import wants_premium
from graph.workflow.script import QualificationScript
from graph.workflow.state import ConversationState
from switchboard.models import Outcome
from switchboard.settings import AgentIntegrationSettings, QualificationPolicy
from tests.e2e import SCENARIO_FILES

REPROMPT_S = AgentIntegrationSettings().reprompt_after_s


def as_recognised(line: str) -> str:
    """A line as a speech recogniser gives it: lower case, no punctuation."""
    return re.sub(r"[^\w\s']", "", line).lower()


def drive(
    script: QualificationScript, scenario: dict[str, Any], *, recognised: bool = False
) -> tuple[ConversationState, Outcome, list[str]]:
    """Play a scenario's caller against the script; (final state, outcome, agent turns)."""
    state, reply = script.start(scenario.get("direction", "inbound"))
    spoken = [reply.text] if reply else []
    for line in scenario["lines"]:
        if state.ended:
            break
        if isinstance(line, str):
            state, reply = script.on_text(state, as_recognised(line) if recognised else line)
        elif "dtmf" in line:
            state, reply = script.on_dtmf(state, str(line["dtmf"]))
        elif "silence_s" in line:
            for _ in range(int(line["silence_s"] // REPROMPT_S)):
                state, reply = script.on_silence(state)
                spoken.append(reply.text)
            continue
        elif line.get("hangup"):
            break
        spoken.append(reply.text)
    return state, script.on_hangup(state), spoken


@pytest.fixture
def script() -> QualificationScript:
    return QualificationScript(
        QualificationPolicy(),
        transfer_number="+15557650100",
        company_name="Switchboard",
        agent_name="Alex",
        today=lambda: date(2025, 3, 12),
    )


@pytest.mark.parametrize("recognised", [False, True], ids=["typed", "recognised"])
@pytest.mark.parametrize("path", SCENARIO_FILES, ids=lambda path: path.stem)
def test_public_scenario_reaches_its_expected_outcome_and_facts(
    script: QualificationScript, path: Path, recognised: bool
) -> None:
    scenario = yaml.safe_load(path.read_text())
    expect = scenario["expect"]
    state, outcome, spoken = drive(script, scenario, recognised=recognised)

    assert outcome == Outcome(expect["outcome"])
    for fact in ("budget_usd", "decision_maker", "need", "timeline_months", "meeting_time"):
        if fact in expect:
            assert getattr(state.facts, fact) == expect[fact], fact
    if expect.get("premium"):
        assert wants_premium(state.facts, script.policy)
    assert all(text.strip() for text in spoken), "every agent turn says something"

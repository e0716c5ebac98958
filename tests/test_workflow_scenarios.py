"""The public caller scenarios through the LangGraph workflow (the orchestrator, no LLM).

Turns are driven as the script's scenario tests drive them (`tests.test_graph_scenarios`):
a `start` event, then each line as a `text`, `dtmf` or `silence` event (`silence_s: N`
is N // 6 reprompt intervals), and a `hangup` at the end. Each scenario must reach its
expected outcome and facts, and say, turn by turn, exactly what the direct path says.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
import yaml

from graph.workflow.orchestrator import AgentOrchestrator
from graph.workflow.script import QualificationScript
from switchboard.models import Outcome
from switchboard.settings import VoiceAgentIntegrationConfig, load_settings
from tests.e2e import SCENARIO_FILES
from tests.test_graph_scenarios import REPROMPT_S, as_recognised

WEDNESDAY = date(2025, 3, 12)
TRANSFER = "+15557650100"


def settings_for(prefix: str) -> VoiceAgentIntegrationConfig:
    return load_settings(transfer_number=TRANSFER, redis_prefix=prefix)


@pytest.fixture
async def orchestrator(redis_client: aioredis.Redis, redis_prefix: str
                       ) -> AsyncIterator[AgentOrchestrator]:
    running = AgentOrchestrator(settings_for(redis_prefix), redis=redis_client, llm=None,
                                today=lambda: WEDNESDAY)
    yield running
    await running.aclose()


def events(scenario: dict[str, Any], *, recognised: bool) -> list[tuple[str, str]]:
    """The caller's events, in order, as (kind, text)."""
    found = [("start", "")]
    for line in scenario["lines"]:
        if isinstance(line, str):
            found.append(("text", as_recognised(line) if recognised else line))
        elif "dtmf" in line:
            found.append(("dtmf", str(line["dtmf"])))
        elif "silence_s" in line:
            found += [("silence", "")] * int(line["silence_s"] // REPROMPT_S)
        elif line.get("hangup"):
            break
    return [*found, ("hangup", "")]


async def play(orchestrator: AgentOrchestrator, call_id: str, scenario: dict[str, Any],
               *, recognised: bool = False) -> list[dict[str, Any]]:
    """Each turn's result until the agent ends the call (or the caller hangs up)."""
    metadata = {"direction": scenario.get("direction", "inbound")}
    results = []
    for kind, text in events(scenario, recognised=recognised):
        if results and results[-1]["end_call"] | results[-1]["transfer"] and kind != "hangup":
            continue  # the agent has ended the call: the caller is not heard any more
        results.append(await orchestrator.process_voice_input(
            call_id, text, {**metadata, "event": kind}))
    return results


def script_turns(scenario: dict[str, Any], *, recognised: bool) -> list[tuple[list[str], list]]:
    """What the direct path says and which handoffs it makes, turn by turn."""
    script = QualificationScript(
        settings_for("unused").qualification, transfer_number=TRANSFER,
        company_name="Switchboard", agent_name="Alex", today=lambda: WEDNESDAY)
    state, reply = script.start(scenario.get("direction", "inbound"))
    turns = [(reply.sentences if reply else [], reply.transitions if reply else [])]
    for kind, text in events(scenario, recognised=recognised)[1:-1]:
        if state.ended:
            break
        if kind == "text":
            state, reply = script.on_text(state, text)
        elif kind == "dtmf":
            state, reply = script.on_dtmf(state, text)
        else:
            state, reply = script.on_silence(state)
        turns.append((reply.sentences, reply.transitions))
    return turns


@pytest.mark.parametrize("recognised", [False, True], ids=["typed", "recognised"])
@pytest.mark.parametrize("path", SCENARIO_FILES, ids=lambda path: path.stem)
async def test_public_scenario_reaches_its_outcome_through_the_graph_as_the_script_does(
    orchestrator: AgentOrchestrator, path: Path, recognised: bool
) -> None:
    scenario = yaml.safe_load(path.read_text())
    expect = scenario["expect"]
    results = await play(orchestrator, f"CA{uuid.uuid4().hex}", scenario, recognised=recognised)

    final = results[-1]
    assert final["outcome"] == Outcome(expect["outcome"]).value
    for fact in ("budget_usd", "decision_maker", "need", "timeline_months", "meeting_time"):
        if fact in expect:
            assert final["facts"][fact] == expect[fact], fact
    if expect.get("premium"):
        assert any(result["wants_premium"] for result in results)
    assert not any(result["fallback"] or result["errors"] for result in results)

    # the graph says what the direct path says, and hands off where it does
    spoken = [(result["sentences"],
               [(t["from_agent"], t["to_agent"], t["trigger"]) for t in result["transitions"]])
              for result in results[:-1]]  # the last is the hang-up: nothing is said
    assert spoken == script_turns(scenario, recognised=recognised)
    assert all(t["context_preserved"] for result in results for t in result["transitions"])
    handoffs = [t for result in results for t in result["transitions"]]
    assert handoffs[0]["from_agent"] == "start"  # the record starts with start -> first agent

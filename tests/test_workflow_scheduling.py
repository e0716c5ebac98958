"""A counter-proposal to the scheduler's time through the LangGraph workflow (no LLM).

The call qualifies, the scheduler proposes a time, and the caller asks for another:
the workflow books it and the call ends qualified, never nurtured as a callback.
"""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis
from langgraph.graph.state import CompiledStateGraph

from graph.checkpointer import RedisCheckpointSaver
from graph.workflow.agents import VoiceAgents
from graph.workflow.turn_graph import compile_workflow
from switchboard.settings import load_settings
from tests.test_workflow_graph import WEDNESDAY, handoffs, thread, turn

QUALIFYING = [
    "Hi, Bea here.",
    "go for it",
    "Honestly our follow up is terrible, leads go cold.",
    "Somewhere in the low six figures.",
    "It's me and my partner.",
    "within the quarter",
]


@pytest.fixture
def workflow(redis_client: aioredis.Redis, redis_prefix: str) -> CompiledStateGraph:
    agents = VoiceAgents(load_settings(transfer_number="+15557650100"),
                         today=lambda: WEDNESDAY)
    return compile_workflow(agents, RedisCheckpointSaver(redis_client, prefix=redis_prefix))


@pytest.mark.parametrize(
    ("counter", "booked"),
    [("Could we do Wednesday at three instead?", "Wednesday at 3 PM"),
     ("How about three?", "Thursday at 3 PM")],
)
async def test_a_counter_proposal_through_the_graph_is_read_back_then_booked(
    workflow: CompiledStateGraph, counter: str, booked: str,
) -> None:
    config = thread()
    await turn(workflow, config, "start", direction="inbound")
    for line in QUALIFYING:
        state, _ = await turn(workflow, config, "text", line, direction="inbound")
    assert state["conversation"].current_agent == "scheduler"

    state, streamed = await turn(workflow, config, "text", counter, direction="inbound")
    assert state["conversation"].pending_meeting == booked
    assert state["conversation"].facts.meeting_time is None
    assert streamed[-1]["sentence"] == "Is that right?"
    state, streamed = await turn(workflow, config, "text", "Yes.", direction="inbound")

    assert handoffs(state) == [("scheduler", "wrap_up", "meeting_booked")]
    assert state["conversation"].facts.meeting_time == booked
    assert not state["conversation"].callback_requested
    assert any("booked" in item["sentence"] for item in streamed)
    state, _ = await turn(workflow, config, "hangup", direction="inbound")
    assert state["outcome"] == "qualified"

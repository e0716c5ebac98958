"""The workflow itself: its agents, handoffs by `Command`, and one checkpoint per turn."""

from __future__ import annotations

import logging
import uuid
from datetime import date
from typing import Any

import pytest
import redis.asyncio as aioredis
from langchain_core.runnables import RunnableConfig
from langgraph.graph.state import CompiledStateGraph

from graph.checkpointer import RedisCheckpointSaver
from graph.workflow.agents import VoiceAgents
from graph.workflow.state import ConversationState
from graph.workflow.turn_graph import AGENTS, ROUTER, compile_workflow
from switchboard.models import AgentTransition
from switchboard.settings import load_settings

WEDNESDAY = date(2025, 3, 12)
OBJECTION = "No, I'm not interested."
EVERYTHING = ("Okay fine. We miss calls after hours, we spend fifty thousand dollars a year, "
              "I decide, and we need it this month.")


@pytest.fixture
def workflow(redis_client: aioredis.Redis, redis_prefix: str) -> CompiledStateGraph:
    agents = VoiceAgents(load_settings(transfer_number="+15557650100"),
                         today=lambda: WEDNESDAY)
    return compile_workflow(agents, RedisCheckpointSaver(redis_client, prefix=redis_prefix))


def thread() -> RunnableConfig:
    return {"configurable": {"thread_id": f"CA{uuid.uuid4().hex}"}}


async def turn(workflow: CompiledStateGraph, config: RunnableConfig, kind: str, text: str = "",
               direction: str = "outbound") -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """One caller turn: the final state and the sentences streamed, in order."""
    streamed, final = [], {}
    async for mode, chunk in workflow.astream(
        {"event": {"kind": kind, "text": text}, "direction": direction}, config,
        stream_mode=["custom", "values"], durability="exit",
    ):
        if mode == "custom":
            streamed.append(chunk)
        else:
            final = chunk
    return final, streamed


def handoffs(state: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [(t.from_agent, t.to_agent, t.trigger) for t in state["transitions"]]


def test_the_graph_has_a_router_and_the_seven_agents() -> None:
    agents = VoiceAgents(load_settings(), today=lambda: WEDNESDAY)
    drawn = compile_workflow(agents).get_graph()

    assert set(drawn.nodes) == {"__start__", "__end__", ROUTER, *AGENTS}
    assert AGENTS == ("greeter", "qualifier", "objection_handler", "scheduler", "handoff",
                      "wrap_up", "voicemail")
    # the router dispatches and agents hand off by Command: to any other agent, or the end
    assert {(e.source, e.target) for e in drawn.edges if not e.conditional} == {
        ("__start__", ROUTER)}
    for node in (ROUTER, *AGENTS):
        targets = {edge.target for edge in drawn.edges if edge.source == node}
        assert targets == {*AGENTS, "__end__"} - {node}, node


async def test_each_agent_speaks_its_own_part_of_a_turn_that_changes_hands(
    workflow: CompiledStateGraph,
) -> None:
    config = thread()
    await turn(workflow, config, "start")
    state, streamed = await turn(workflow, config, "text", "Hi, this is Sam.")

    assert handoffs(state) == [("start", "greeter", "caller_answered"),
                               ("greeter", "qualifier", "caller_identified")]
    assert [(item["agent"], item["sentence"]) for item in streamed] == [
        ("greeter", "Hi Sam, this is Alex from Switchboard."),
        ("greeter", "This call may be recorded."),
        ("greeter", "Switchboard answers every call and qualifies your leads, day and night."),
        ("qualifier", "Do you have two minutes for a few quick questions?"),
    ]
    assert state["sentences"] == [item["sentence"] for item in streamed]
    assert state["conversation"].current_agent == "qualifier"


async def test_one_turn_can_pass_through_several_agents(workflow: CompiledStateGraph) -> None:
    config = thread()
    for kind, text in [("start", ""), ("text", "This is Sam."), ("text", OBJECTION)]:
        state, _ = await turn(workflow, config, kind, text)
    assert handoffs(state) == [("qualifier", "objection_handler", "objection")]

    state, streamed = await turn(workflow, config, "text", EVERYTHING)

    assert handoffs(state) == [("objection_handler", "qualifier", "objection_resolved"),
                               ("qualifier", "scheduler", "bant_complete")]
    assert {item["agent"] for item in streamed} == {"scheduler"}
    assert state["conversation"].current_agent == "scheduler"
    assert state["outcome"] == "qualified"
    for transition in state["transitions"]:
        assert isinstance(transition, AgentTransition)
        assert transition.context_preserved
        assert transition.transition_duration_ms >= 0
        assert transition.timestamp > 0


async def test_a_turn_without_handoffs_records_no_transitions(
    workflow: CompiledStateGraph,
) -> None:
    config = thread()
    for kind, text in [("start", ""), ("text", "This is Sam."), ("text", "Sure.")]:
        state, _ = await turn(workflow, config, kind, text)

    assert state["transitions"] == []
    assert state["sentences"] == [
        "What's your biggest challenge with handling calls or leads today?"]


async def test_each_turn_is_one_checkpoint_under_the_call_sid(
    workflow: CompiledStateGraph, caplog: pytest.LogCaptureFixture,
) -> None:
    config = thread()
    with caplog.at_level(logging.WARNING):
        for kind, text in [("start", ""), ("text", "This is Sam."), ("text", "Sure.")]:
            await turn(workflow, config, kind, text)
        history = [snapshot async for snapshot in workflow.aget_state_history(config)]
        latest = await workflow.aget_state(config)

    assert len(history) == 3
    assert latest.config["configurable"]["thread_id"] == config["configurable"]["thread_id"]
    assert isinstance(latest.values["conversation"], ConversationState)
    assert latest.values["conversation"].caller_name == "Sam"
    assert latest.values["history"][-1] == {
        "caller": "Sure.",
        "agent": "What's your biggest challenge with handling calls or leads today?"}
    # the state's classes are on the checkpointer's allowlist: nothing blocked or warned
    assert not [r for r in caplog.records if "deserializ" in r.getMessage().lower()]

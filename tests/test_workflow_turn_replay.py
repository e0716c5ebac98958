"""A replayed caller turn is processed at most once, also in the orchestrator's checkpoints.

After a session actor dies, its replacement replays the caller's turns since the
session's last checkpoint; the orchestrator may have run some of them already. Turns
carry the session's number (`metadata["turn"]`), and the workflow's checkpoints record
the turn they ran, so a turn sent again is answered from the checkpoint, re-run from
the state before it when the caller's event differs, or refused when it is stale.
Real Redis, a prefix per test; no LLM (the rules and templates answer).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as aioredis
from langgraph.types import StateSnapshot

from deployments.orchestrator_deployment import OrchestratorDeployment
from graph.workflow.orchestrator import (
    FALLBACK_SENTENCES,
    AgentOrchestrator,
    plan_turn,
    turn_fingerprint,
)
from graph.workflow.turn_graph import CallerTurn
from switchboard.metrics import VoiceAgentIntegrationMetrics
from tests.db_fixtures import redis_url
from tests.test_workflow_orchestrator import DANA, new_call, orchestrator_on, settings_for

INBOUND = {"direction": "inbound"}


def asks_budget(result: dict[str, Any]) -> bool:
    return any("budget" in sentence.lower() for sentence in result["sentences"])


@pytest.fixture
async def orchestrator(redis_client: aioredis.Redis, redis_prefix: str
                       ) -> AsyncIterator[AgentOrchestrator]:
    running = orchestrator_on(redis_client, redis_prefix)
    yield running
    await running.aclose()


def events_of(lines: list[str]) -> list[tuple[str, str]]:
    """The `start` event, then each line said."""
    return [("start", ""), *(("text", line) for line in lines)]


async def send(orchestrator: AgentOrchestrator, call_id: str, number: int | None, kind: str,
               text: str = "") -> dict[str, Any]:
    metadata: dict[str, Any] = {**INBOUND, "event": kind}
    if number is not None:
        metadata["turn"] = number
    return await orchestrator.process_voice_input(call_id, text, metadata)


async def play(orchestrator: AgentOrchestrator, call_id: str, events: list[tuple[str, str]],
               *, numbered: bool = True) -> list[dict[str, Any]]:
    """Send `events` as turns 0, 1, 2, ... (or without numbers)."""
    return [await send(orchestrator, call_id, number if numbered else None, kind, text)
            for number, (kind, text) in enumerate(events)]


async def latest(orchestrator: AgentOrchestrator, call_id: str) -> StateSnapshot:
    return await orchestrator.graph.aget_state(orchestrator._config(call_id))


async def checkpoints(orchestrator: AgentOrchestrator, call_id: str) -> int:
    return len([snapshot async for snapshot in
                orchestrator.graph.aget_state_history(orchestrator._config(call_id))])


def checkpoint_id(snapshot: StateSnapshot) -> str:
    return snapshot.config["configurable"]["checkpoint_id"]


def answer(result: dict[str, Any]) -> dict[str, Any]:
    """What a turn's answer says, without what differs from run to run."""
    return {key: value for key, value in result.items()
            if key not in ("call_id", "latency_ms", "replayed")}


def handoffs(result: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [(t["from_agent"], t["to_agent"], t["trigger"]) for t in result["transitions"]]


# --- the same turn twice ---------------------------------------------------------------


async def test_the_same_turn_sent_twice_is_answered_once_and_the_budget_is_not_asked_again(
    redis_prefix: str,
) -> None:
    # The turn that gives the budget lands on one replica; the replacement actor's replay
    # of it lands on another. Both answer alike; the conversation moves on once.
    first = orchestrator_on(aioredis.from_url(redis_url()), redis_prefix)
    second = orchestrator_on(aioredis.from_url(redis_url()), redis_prefix)
    try:
        call_id, reference = new_call(), new_call()
        ran = await play(first, call_id, events_of(DANA[:4]))  # turn 4 states the budget
        before = await latest(first, call_id)
        count = await checkpoints(first, call_id)

        again = await send(second, call_id, 4, "text", DANA[3])

        after = await latest(second, call_id)
        assert await checkpoints(second, call_id) == count  # nothing ran, nothing written
        following = await send(second, call_id, 5, "text", DANA[4])
        straight = await play(first, reference, events_of(DANA[:5]))
    finally:
        for orchestrator in (first, second):
            await orchestrator.redis.aclose()

    assert asks_budget(ran[3]) and not asks_budget(ran[4])
    assert again["replayed"] and not ran[4]["replayed"]
    assert again["turn"] == ran[4]["turn"] == 4 and not again["fallback"]
    assert answer(again) == answer(ran[4])  # sentences, transitions, facts, tokens, outcome
    assert again["facts"]["budget_usd"] == 50000
    assert checkpoint_id(after) == checkpoint_id(before)
    assert after.values["turn"] == 4
    assert after.values["conversation"].turns == 4  # four lines heard, the budget once
    # the next turn continues as if the budget had been given once: no second ask
    assert following["sentences"] == straight[5]["sentences"]
    assert not asks_budget(following)
    assert answer(following)["facts"] == answer(straight[5])["facts"]


async def test_the_start_turn_replayed_gives_the_same_greeting(
    orchestrator: AgentOrchestrator,
) -> None:
    call_id = new_call()
    greeting = await send(orchestrator, call_id, 0, "start")
    replayed = await send(orchestrator, call_id, 0, "start")

    assert greeting["sentences"][0].startswith("Thanks for calling")
    assert replayed["replayed"] and replayed["sentences"] == greeting["sentences"]
    assert handoffs(replayed) == handoffs(greeting) == [("start", "greeter", "call_started")]
    assert await checkpoints(orchestrator, call_id) == 1


async def test_a_replayed_turn_streams_its_sentences_then_its_result(
    orchestrator: AgentOrchestrator,
) -> None:
    call_id = new_call()
    outbound = {"direction": "outbound", "event": "text", "turn": 1}
    await orchestrator.process_voice_input(call_id, "", {**outbound, "event": "start",
                                                         "turn": 0})
    # a turn passing through two agents: the greeter's words, then the qualifier's
    live = [item async for item in orchestrator.stream_voice_input(
        call_id, "Hi, this is Sam.", outbound)]
    replay = [item async for item in orchestrator.stream_voice_input(
        call_id, "Hi, this is Sam.", outbound)]

    assert {item.get("agent") for item in live[:-1]} == {"greeter", "qualifier"}
    assert [item["type"] for item in replay] == [item["type"] for item in live]
    assert replay[-1]["type"] == "result" and replay[-1]["result"]["replayed"]
    assert [(item["text"], item["agent"]) for item in replay[:-1]] == [
        (item["text"], item["agent"]) for item in live[:-1]]
    assert [item["text"] for item in replay[:-1]] == replay[-1]["result"]["sentences"]


# --- the same number, another event ----------------------------------------------------


async def test_a_turn_resent_with_another_event_runs_again_from_the_state_before_it(
    orchestrator: AgentOrchestrator,
) -> None:
    call_id, reference = new_call(), new_call()
    await play(orchestrator, call_id, events_of(DANA[:2]))
    before_turn_3 = await latest(orchestrator, call_id)
    # the dead actor's turn 3 was silence; the replacement heard the caller's words
    silent = await send(orchestrator, call_id, 3, "silence")
    spoken = await send(orchestrator, call_id, 3, "text", DANA[2])
    straight = await play(orchestrator, reference, events_of(DANA[:3]))

    assert silent["sentences"][0] == "Are you still there?"
    assert not spoken["replayed"] and spoken["turn"] == 3
    assert answer(spoken) == answer(straight[3])
    state = await latest(orchestrator, call_id)
    # only the words' effect: no reprompt counted, no silence in the history
    assert state.values["conversation"] == (await latest(orchestrator, reference)
                                            ).values["conversation"]
    assert state.values["conversation"].reprompts == 0
    assert "[silence]" not in [exchange["caller"] for exchange in state.values["history"]]
    # the re-run forked from the checkpoint before turn 3: the silent run is a dead branch
    assert state.parent_config["configurable"]["checkpoint_id"] == checkpoint_id(before_turn_3)
    # and the re-run is now the turn a further replay is answered from
    replayed = await send(orchestrator, call_id, 3, "text", DANA[2])
    assert replayed["replayed"] and replayed["sentences"] == spoken["sentences"]


async def test_the_first_turn_resent_with_another_event_starts_the_call_afresh(
    orchestrator: AgentOrchestrator,
) -> None:
    # A session restored mid-call sends no start: its first turn may be the caller's words.
    call_id = new_call()
    silent = await send(orchestrator, call_id, 0, "silence")
    assert silent["sentences"] and not silent["fallback"]
    greeting = await send(orchestrator, call_id, 0, "start")
    reference = await send(orchestrator, new_call(), 0, "start")

    assert greeting["sentences"] == reference["sentences"]
    assert handoffs(greeting) == handoffs(reference) == [("start", "greeter", "call_started")]
    assert greeting["facts"] == reference["facts"] and not greeting["replayed"]
    state = await latest(orchestrator, call_id)
    assert state.values["conversation"].reprompts == 0
    assert await checkpoints(orchestrator, call_id) == 1


# --- stale turns -----------------------------------------------------------------------


async def test_a_stale_turn_changes_nothing_and_is_answered_with_the_fallback(
    orchestrator: AgentOrchestrator,
) -> None:
    call_id, reference = new_call(), new_call()
    await play(orchestrator, call_id, events_of(DANA[:3]))
    before = await latest(orchestrator, call_id)

    stale = await send(orchestrator, call_id, 2, "text", "Actually, never mind.")

    after = await latest(orchestrator, call_id)
    assert stale["fallback"] and stale["sentences"] == FALLBACK_SENTENCES
    assert stale["error"].startswith("StaleTurnError") and "turn 2 is stale" in stale["error"]
    assert stale["turn"] == 2 and not stale["replayed"]
    assert checkpoint_id(after) == checkpoint_id(before)
    assert after.values == before.values
    # the call carries on from where it was
    following = await send(orchestrator, call_id, 4, "text", DANA[3])
    straight = await play(orchestrator, reference, events_of(DANA[:4]))
    assert answer(following) == answer(straight[4])


# --- numbers with gaps, and the direct path's state ------------------------------------


async def test_turns_the_session_answered_itself_leave_gaps_and_the_next_turn_runs(
    orchestrator: AgentOrchestrator,
) -> None:
    call_id = new_call()
    await play(orchestrator, call_id, events_of(DANA[:2]))
    # the orchestrator was down for turns 3 and 4; the session's direct path answered
    state = await orchestrator.get_conversation(call_id)
    assert state is not None
    for line in DANA[2:4]:
        state, _ = orchestrator.agents.script.on_text(state, line)
    await orchestrator.adopt_conversation(call_id, state.model_dump(mode="json"))

    result = await send(orchestrator, call_id, 5, "text", DANA[4])
    replayed = await send(orchestrator, call_id, 5, "text", DANA[4])

    assert not result["replayed"] and result["turn"] == 5
    assert result["facts"]["budget_usd"] == 50000 and result["facts"]["decision_maker"]
    assert result["sentences"] == ["Great, thanks.",
                                   "When would you want something like this in place?"]
    assert replayed["replayed"] and answer(replayed) == answer(result)


# --- without numbers -------------------------------------------------------------------


async def test_turns_without_a_number_behave_as_before(orchestrator: AgentOrchestrator) -> None:
    call_id = new_call()
    results = await play(orchestrator, call_id, events_of(DANA[:1]), numbered=False)
    again = await send(orchestrator, call_id, None, "start")
    silent = [await send(orchestrator, call_id, None, "silence") for _ in range(2)]

    assert [r["turn"] for r in (*results, again, *silent)] == [None] * 5
    assert not any(r["replayed"] for r in (*results, again, *silent))
    assert again["sentences"] == [] and again["transitions"] == []  # a repeated start
    # the same event twice is two turns: the second silence is a second reprompt
    assert silent[0]["sentences"] != silent[1]["sentences"]
    state = await latest(orchestrator, call_id)
    assert state.values["conversation"].reprompts == 2
    assert await checkpoints(orchestrator, call_id) == 5
    assert state.values["turn"] is None


# --- the rule, case by case ------------------------------------------------------------


def snapshot_of(values: dict[str, Any], *, unfinished: bool = False) -> StateSnapshot:
    config = {"configurable": {"thread_id": "CA1", "checkpoint_ns": "", "checkpoint_id": "2"}}
    parent = {"configurable": {"thread_id": "CA1", "checkpoint_ns": "", "checkpoint_id": "1"}}
    return StateSnapshot(values=values, next=("qualifier",) if unfinished else (),
                         config=config, metadata=None, created_at=None,
                         parent_config=parent, tasks=(), interrupts=())


def test_what_happens_to_a_numbered_turn_depends_on_the_turn_the_checkpoint_ran() -> None:
    words = turn_fingerprint(CallerTurn(kind="text", text="Tuesday at ten."))
    ran_7 = {"turn": 7, "turn_event": words}

    assert plan_turn(0, words, snapshot_of({})) == "run"  # a new call
    assert plan_turn(3, words, snapshot_of({"turn": None, "turn_event": words})) == "run"
    assert plan_turn(8, words, snapshot_of(ran_7)) == "run"
    assert plan_turn(12, words, snapshot_of(ran_7)) == "run"  # numbers may skip
    assert plan_turn(7, words, snapshot_of(ran_7)) == "replay"
    assert plan_turn(7, turn_fingerprint(CallerTurn(kind="silence", text="")),
                     snapshot_of(ran_7)) == "rerun"
    assert plan_turn(7, words, snapshot_of(ran_7, unfinished=True)) == "rerun"  # it failed
    assert plan_turn(6, words, snapshot_of(ran_7)) == "stale"
    # the session handed its own state over since turn 7 ran: that state is the one
    # turn 7 is answered from, and an older turn is still stale
    adopted = {"turn": 7, "turn_event": None}
    assert plan_turn(7, words, snapshot_of(adopted)) == "run"
    assert plan_turn(6, words, snapshot_of(adopted)) == "stale"


def test_the_fingerprint_is_the_event_kind_and_its_words_not_their_spacing() -> None:
    def fingerprint(kind: str, text: str) -> str:
        return turn_fingerprint(CallerTurn(kind=kind, text=text))  # type: ignore[typeddict-item]

    assert fingerprint("text", "Tuesday at ten") == fingerprint("text", "  tuesday  AT ten ")
    assert fingerprint("text", "Tuesday at ten") != fingerprint("text", "Monday at ten")
    assert fingerprint("dtmf", "1") != fingerprint("text", "1")
    assert fingerprint("silence", "") != fingerprint("start", "")


async def test_an_invalid_turn_number_is_a_failed_turn(orchestrator: AgentOrchestrator) -> None:
    result = await orchestrator.process_voice_input(new_call(), "", {"event": "start",
                                                                     "turn": "first"})
    assert result["fallback"] and "turn must be a non-negative integer" in result["error"]


# --- metrics ---------------------------------------------------------------------------


class RecordedMetrics(VoiceAgentIntegrationMetrics):
    """The deployment's metrics, also written down for the test to read."""

    def __init__(self) -> None:
        super().__init__()
        self.turns: list[tuple[str, int]] = []
        self.sync_failures: list[str] = []

    def agent_turn(self, agent: str, latency_ms: float, transitions: list[dict]) -> None:
        super().agent_turn(agent, latency_ms, transitions)
        self.turns.append((agent, len(transitions)))

    def state_sync_failed(self, operation: str) -> None:
        super().state_sync_failed(operation)
        self.sync_failures.append(operation)


async def test_the_deployment_counts_a_replayed_turn_once_in_the_agent_metrics(
    redis_prefix: str,
) -> None:
    deployment = OrchestratorDeployment.func_or_class(settings_for(redis_prefix))
    deployment._metrics = metrics = RecordedMetrics()
    try:
        call_id = new_call()
        first = await deployment.process_voice_input(call_id, "", {"event": "start", "turn": 0})
        again = await deployment.process_voice_input(call_id, "", {"event": "start", "turn": 0})
        nxt = await deployment.process_voice_input(call_id, DANA[0], {"event": "text",
                                                                      "turn": 1})
        stale = await deployment.process_voice_input(call_id, "", {"event": "start", "turn": 0})
    finally:
        await deployment._orchestrator.aclose()

    assert not first["replayed"] and again["replayed"] and not nxt["replayed"]
    assert stale["fallback"]
    assert metrics.turns == [("greeter", 1), ("qualifier", 1)]  # the replay is not counted
    assert metrics.sync_failures == ["turn"]  # the stale turn

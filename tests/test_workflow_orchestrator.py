"""`AgentOrchestrator`: turns of a call through the workflow, state only in Redis."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import pytest
import redis.asyncio as aioredis

from graph.workflow.orchestrator import FALLBACK_SENTENCES, AgentOrchestrator
from graph.workflow.state import AgentReply, ConversationState
from switchboard.local_services import server_port
from switchboard.models import CallFacts, VoiceAgentIntegrationContext
from switchboard.settings import VoiceAgentIntegrationConfig, load_settings
from tests.db_fixtures import redis_url

WEDNESDAY = date(2025, 3, 12)
DANA = [
    "Yes, this is Dana speaking.",
    "Sure, I have a few minutes.",
    "We lose a lot of leads because nobody answers the phone after hours.",
    "Our budget for this is around fifty thousand dollars a year.",
    "I run operations, so the decision is mine.",
    "We want something live within three months.",
    "Tuesday at ten in the morning works for me.",
    "No, that is all. Thank you.",
]


def settings_for(prefix: str, **overrides: Any) -> VoiceAgentIntegrationConfig:
    return load_settings(transfer_number="+15557650100", redis_prefix=prefix, **overrides)


def orchestrator_on(client: aioredis.Redis, prefix: str, **overrides: Any) -> AgentOrchestrator:
    return AgentOrchestrator(settings_for(prefix, **overrides), redis=client, llm=None,
                             today=lambda: WEDNESDAY)


@pytest.fixture
async def orchestrator(redis_client: aioredis.Redis, redis_prefix: str
                       ) -> AsyncIterator[AgentOrchestrator]:
    running = orchestrator_on(redis_client, redis_prefix)
    yield running
    await running.aclose()


def new_call() -> str:
    return f"CA{uuid.uuid4().hex}"


async def converse(orchestrators: list[AgentOrchestrator], call_id: str, lines: list[str],
                   metadata: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Start the call and say `lines`, turn i served by orchestrators[i % n]."""
    metadata = metadata or {"direction": "inbound"}
    events = [("start", ""), *(("text", line) for line in lines)]
    return [
        await orchestrators[index % len(orchestrators)].process_voice_input(
            call_id, text, {**metadata, "event": kind})
        for index, (kind, text) in enumerate(events)
    ]


async def test_turns_served_by_different_replicas_continue_one_conversation(
    redis_prefix: str,
) -> None:
    replica_a = orchestrator_on(aioredis.from_url(redis_url()), redis_prefix)
    replica_b = orchestrator_on(aioredis.from_url(redis_url()), redis_prefix)
    alone = orchestrator_on(aioredis.from_url(redis_url()), redis_prefix)
    try:
        shared, single = new_call(), new_call()
        alternating = await converse([replica_a, replica_b], shared, DANA)
        one_replica = await converse([alone], single, DANA)
    finally:
        for replica in (replica_a, replica_b, alone):
            await replica.redis.aclose()

    def strip(result: dict[str, Any]) -> dict[str, Any]:
        return {key: value for key, value in result.items()
                if key not in ("call_id", "latency_ms", "transitions")}

    assert [strip(r) for r in alternating] == [strip(r) for r in one_replica]
    final = alternating[-1]
    assert final["outcome"] == "qualified"
    assert final["facts"]["budget_usd"] == 50000
    assert final["facts"]["meeting_time"] == "Tuesday at 10 AM"
    assert final["end_call"] and final["agent"] == "wrap_up"
    # the second replica knew the caller's name the first one learned
    assert alternating[2]["sentences"] == ["What's your biggest challenge with handling calls "
                                           "or leads today?"]
    # the time was read back; "No, that is all" let it stand, and closed the call
    assert alternating[-1]["sentences"] == [
        "Perfect, you're booked for Tuesday at ten in the morning.",
        "A specialist will send you an invite.", "Thanks for your time, Dana.",
        "Talk soon. Goodbye."]
    handoffs = [(t["from_agent"], t["to_agent"], t["trigger"])
                for result in alternating for t in result["transitions"]]
    assert handoffs == [("start", "greeter", "call_started"),
                        ("greeter", "qualifier", "caller_identified"),
                        ("qualifier", "scheduler", "bant_complete"),
                        ("scheduler", "wrap_up", "meeting_booked")]


async def test_a_repeated_start_does_not_greet_again(orchestrator: AgentOrchestrator) -> None:
    call_id = new_call()
    first = await orchestrator.process_voice_input(call_id, "", {"event": "start"})
    again = await orchestrator.process_voice_input(call_id, "", {"event": "start"})

    assert first["sentences"][0].startswith("Thanks for calling")
    assert again["sentences"] == [] and again["transitions"] == []
    assert again["agent"] == "greeter"


async def test_an_inbound_call_restored_without_a_start_is_answered_by_the_greeter(
    orchestrator: AgentOrchestrator,
) -> None:
    # a session restored mid-call sends no start: the call opens on the caller's line
    result = await orchestrator.process_voice_input(new_call(), "Yes, this is Dana speaking.",
                                                    {"event": "text"})

    assert not result["fallback"]
    assert result["conversation"]["caller_name"] == "Dana" and result["agent"] == "qualifier"


async def test_a_machine_answering_gets_a_voicemail_and_the_call_ends(
    orchestrator: AgentOrchestrator,
) -> None:
    result = await orchestrator.process_voice_input(
        new_call(), "", {"event": "start", "direction": "outbound", "answered_by": "machine_start"})

    assert result["agent"] == "voicemail" and result["end_call"]
    assert result["outcome"] == "voicemail"
    assert any("Sorry we missed you." in sentence for sentence in result["sentences"])


async def test_asking_for_a_person_transfers_the_call(orchestrator: AgentOrchestrator) -> None:
    results = await converse([orchestrator], new_call(),
                             ["Hello?", "Can I just talk to a real person please?"])

    assert results[-1]["transfer"] and results[-1]["agent"] == "handoff"
    assert results[-1]["outcome"] == "transferred"
    assert results[-1]["transitions"][0]["trigger"] == "human_requested"


async def test_a_key_press_and_silence_are_turns_too(orchestrator: AgentOrchestrator) -> None:
    call_id = new_call()
    await converse([orchestrator], call_id, ["Yes, this is Priya."])
    silent = await orchestrator.process_voice_input(call_id, "", {"event": "silence"})
    pressed = await orchestrator.process_voice_input(call_id, "1", {"event": "dtmf"})

    assert silent["sentences"][0] == "Are you still there?"
    assert pressed["sentences"] == [
        "What's your biggest challenge with handling calls or leads today?"]


async def test_hanging_up_gives_the_final_outcome(orchestrator: AgentOrchestrator) -> None:
    early = new_call()
    await converse([orchestrator], early, ["Hello, who is calling?"])
    hung_up = await orchestrator.process_voice_input(early, "", {"event": "stop"})
    never_started = await orchestrator.process_voice_input(new_call(), "", {"event": "hangup"})

    assert hung_up["outcome"] == "abandoned" and hung_up["sentences"] == []
    assert never_started["outcome"] == "abandoned"
    after = await orchestrator.process_voice_input(early, "Wait, come back.", {"event": "text"})
    assert after["sentences"] == []  # a call that ended stays ended


async def test_tier_escalation_is_needed_at_a_high_score_or_a_big_budget(
    orchestrator: AgentOrchestrator,
) -> None:
    def needed(tier: str = "economy", **facts: Any) -> bool:
        conversation = ConversationState(direction="inbound", facts=CallFacts(**facts))
        return orchestrator._check_tier_escalation_needed(
            {"conversation": conversation, "tier": tier})  # type: ignore[arg-type]

    assert needed(budget_usd=50_000)
    assert needed(budget_usd=20_000, decision_maker=True, need="missed calls")  # 0.75
    assert not needed(budget_usd=20_000, decision_maker=True)  # 0.5, under $50k
    assert not needed(budget_usd=49_999)
    assert not needed("premium", budget_usd=90_000)  # already escalated
    assert not orchestrator._check_tier_escalation_needed({})  # type: ignore[arg-type]


async def test_wants_premium_is_reported_once_the_budget_is_stated(
    orchestrator: AgentOrchestrator,
) -> None:
    results = await converse([orchestrator], new_call(), DANA[:4])
    assert [r["wants_premium"] for r in results] == [False, False, False, False, True]
    premium = await orchestrator.process_voice_input(
        results[0]["call_id"], DANA[4], {"event": "text", "tier": "premium"})
    assert premium["tier"] == "premium" and not premium["wants_premium"]
    assert premium["qualification_score"] == 0.75


async def test_the_voice_context_is_kept_in_redis_for_any_replica(
    orchestrator: AgentOrchestrator, redis_client: aioredis.Redis, redis_prefix: str,
) -> None:
    call_id = new_call()
    await orchestrator.process_voice_input(call_id, "", {"event": "start",
                                                         "voice_session": "actor-7"})
    context = await orchestrator._get_or_create_voice_context(call_id, {})

    assert context == VoiceAgentIntegrationContext.model_validate(context.model_dump())
    assert context.voice_session == "actor-7" and context.workflow_context == call_id
    assert context.sync_status == "in_sync" and context.last_sync_timestamp is not None
    assert not context.fallback_active and context.error_count == 0
    fresh = await orchestrator._get_or_create_voice_context(new_call(), {})
    assert fresh.sync_status == "pending"


async def test_every_key_of_a_call_expires(
    orchestrator: AgentOrchestrator, redis_client: aioredis.Redis, redis_prefix: str,
) -> None:
    await converse([orchestrator], new_call(), DANA[:3])
    keys = [key async for key in redis_client.scan_iter(match=f"{redis_prefix}:*")]
    ttl = orchestrator.settings.performance.session_ttl_s
    assert keys
    for key in keys:
        assert 0 < await redis_client.ttl(key) <= ttl, key


async def test_a_turn_that_cannot_run_gets_a_holding_line_not_an_exception(
    redis_prefix: str,
) -> None:
    dead = aioredis.from_url(f"redis://127.0.0.1:{server_port()}/0")  # nobody listens there
    orchestrator = orchestrator_on(dead, redis_prefix)
    try:
        result = await orchestrator.process_voice_input(new_call(), "hello", {"event": "text"})
    finally:
        await dead.aclose()

    assert result["fallback"] and result["sentences"] == FALLBACK_SENTENCES
    assert result["error"].startswith("ConnectionError")
    assert not result["end_call"] and result["tokens"] == {}


async def test_a_failed_turn_counts_against_the_call_and_changes_nothing(
    orchestrator: AgentOrchestrator,
) -> None:
    call_id = new_call()
    await converse([orchestrator], call_id, ["This is Sam."])
    broken = await orchestrator.process_voice_input(call_id, "x", {"event": "shout"})
    context = await orchestrator._get_or_create_voice_context(call_id, {})
    assert broken["fallback"] and "unknown caller event" in broken["error"]
    assert context.error_count == 1 and context.fallback_active
    assert context.sync_status == "failed"

    recovered = await orchestrator.process_voice_input(call_id, "Sure, go ahead.",
                                                       {"event": "text"})
    assert not recovered["fallback"]
    assert recovered["sentences"] == [
        "What's your biggest challenge with handling calls or leads today?"]
    context = await orchestrator._get_or_create_voice_context(call_id, {})
    assert not context.fallback_active and context.error_count == 1


async def test_the_agents_continue_where_the_direct_path_left_the_caller(
    orchestrator: AgentOrchestrator,
) -> None:
    call_id = new_call()
    await converse([orchestrator], call_id, DANA[:2])
    # the orchestrator was down for two turns; the session's direct path answered them
    script = orchestrator.agents.script
    state = await orchestrator.get_conversation(call_id)
    assert state is not None
    for line in DANA[2:4]:
        state, _ = script.on_text(state, line)
    await orchestrator.adopt_conversation(call_id, state.model_dump(mode="json"))

    result = await orchestrator.process_voice_input(call_id, DANA[4], {"event": "text"})

    assert result["facts"]["budget_usd"] == 50000 and result["facts"]["decision_maker"]
    assert result["sentences"] == ["Great, thanks.",
                                   "When would you want something like this in place?"]
    reply = AgentReply.from_orchestrator(result)
    assert reply.text == "Great, thanks. When would you want something like this in place?"
    assert reply.agent == "qualifier" and not reply.end_call

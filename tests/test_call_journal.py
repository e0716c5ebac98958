"""A call's journal: its record and checkpoints reach Redis in order, outages are waited
out without holding anything up, and a replaced actor's journal stops writing."""

from __future__ import annotations

import asyncio
import json

import pytest
import redis.asyncio as redis

from actors.checkpoint import SessionCheckpoint, SessionCheckpoints, WirePosition
from actors.conversation import TurnOutcome
from actors.journal import CallJournal
from actors.registry import CallIdentity, CallRegistry
from actors.responder import CallerEvent
from db.outbox import FencedOutbox
from graph.workflow.state import AgentReply
from switchboard.local_services import LocalRedis, private_directory
from switchboard.models import CallSession
from switchboard.redis_client import connect


def _turn(number: int, text: str) -> TurnOutcome:
    return TurnOutcome(
        event=CallerEvent("text", text),
        reply=AgentReply(sentences=[f"answer {number}"], agent="qualifier"),
        latency_ms=5.0,
        turn=number,
        reply_number=number + 1,
        consumed=number * 10,
    )


async def _journal(client: redis.Redis, prefix: str, call_sid: str, *, generation: int = 1):
    registry = CallRegistry(client, prefix, ttl_s=300)
    if generation == 1:
        await registry.claim_new(CallIdentity(call_sid=call_sid, mode="text", direction="inbound"))
    fence = registry.fence(call_sid, generation)
    session = CallSession(call_sid=call_sid, mode="text")
    stale: list[bool] = []
    checkpointed: list[WirePosition] = []
    journal = CallJournal(
        FencedOutbox(client, prefix, fence_key=fence.key, generation=generation),
        SessionCheckpoints(client, prefix, ttl_s=300),
        fence,
        session,
        on_stale=lambda: stale.append(True),
        on_checkpointed=checkpointed.append,
    )
    return journal, session, registry, stale, checkpointed


async def _types(client: redis.Redis, prefix: str) -> list[str]:
    return [fields[b"type"].decode() for _, fields in await client.xrange(f"{prefix}:outbox")]


async def test_events_and_the_latest_checkpoint_are_written_in_order(
    redis_client: redis.Redis, redis_prefix: str, call_sid: str
) -> None:
    journal, session, _, _, checkpointed = await _journal(redis_client, redis_prefix, call_sid)
    journal.started()
    for number in (1, 2, 3):
        journal.turn(_turn(number, f"line {number}"), fallback=False)
        wire = WirePosition(turn=number, reply=number + 1, consumed=number * 10, stream="s")
        journal.checkpoint(SessionCheckpoint(session=session, wire=wire))
    await journal.error("something covered")
    assert await journal.flush(5)
    assert await _types(redis_client, redis_prefix) == ["call_started", "turn", "turn", "turn",
                                                        "error"]
    saved = await SessionCheckpoints(redis_client, redis_prefix, 300).load(call_sid)
    assert saved is not None and saved.wire.turn == 3 and saved.session.turns_taken == 3
    # Checkpoints not yet written when a newer one came were skipped, never reordered.
    assert [wire.turn for wire in checkpointed] == sorted(wire.turn for wire in checkpointed)
    assert checkpointed[-1].turn == 3
    await journal.close()


async def test_a_replaced_generations_journal_stops_and_says_so(
    redis_client: redis.Redis, redis_prefix: str, call_sid: str
) -> None:
    journal, session, registry, stale, _ = await _journal(redis_client, redis_prefix, call_sid)
    journal.started()
    assert await journal.flush(5)
    await registry.take_over(call_sid)
    journal.turn(_turn(1, "said to a replaced actor"), fallback=False)
    assert not await journal.flush(5)
    assert stale == [True] and journal.stale
    journal.turn(_turn(2, "never queued"), fallback=False)
    assert journal.pending == 0
    assert await _types(redis_client, redis_prefix) == ["call_started"]
    await journal.close()


@pytest.fixture
async def private_redis():
    server = LocalRedis(private_directory("switchboard-journal-")).start()
    try:
        yield server
    finally:
        server.stop()


async def test_a_redis_outage_delays_the_record_and_loses_nothing(
    private_redis: LocalRedis,
) -> None:
    client = connect(private_redis.url)
    prefix, call_sid = "journal-outage", "CA" + "1" * 32
    journal, session, _, _, _ = await _journal(client, prefix, call_sid)
    journal.started()
    assert await journal.flush(5)
    private_redis.stop()
    for number in (1, 2):
        journal.turn(_turn(number, f"line {number}"), fallback=number == 2)
        journal.checkpoint(SessionCheckpoint(session=session))
    # Nothing waits on Redis: the session's state moved on at once.
    assert session.turns_taken == 2 and session.fallback_turns == 1
    async with asyncio.timeout(20):  # the client's own retries come first
        while journal.failed_writes == 0:
            await asyncio.sleep(0.1)
    assert journal.pending > 0
    private_redis.start()
    assert await journal.flush(30)
    assert await _types(client, prefix) == ["call_started", "turn", "turn"]
    turns = [
        json.loads(fields[b"data"])["turn"]["seq"]
        for _, fields in await client.xrange(f"{prefix}:outbox")
        if fields[b"type"] == b"turn"
    ]
    assert turns == [1, 2]
    await journal.close()
    await client.aclose()

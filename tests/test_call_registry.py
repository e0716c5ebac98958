"""The call registry on real Redis: claims, takeovers, generations fencing every write."""

from __future__ import annotations

import time

import pytest
import redis.asyncio as redis

from actors.checkpoint import SessionCheckpoint, SessionCheckpoints
from actors.registry import CallIdentity, CallRegistry
from db.outbox import FencedOutbox, StaleWriter
from switchboard.models import CallSession


def _identity(call_sid: str, mode: str = "text") -> CallIdentity:
    return CallIdentity(call_sid=call_sid, mode=mode, direction="inbound", from_number="+1555")


@pytest.fixture
def registry(redis_client: redis.Redis, redis_prefix: str) -> CallRegistry:
    return CallRegistry(redis_client, redis_prefix, ttl_s=300)


async def test_a_callsid_is_claimed_once(registry: CallRegistry, call_sid: str) -> None:
    assert await registry.claim_new(_identity(call_sid))
    assert not await registry.claim_new(_identity(call_sid))
    entry = await registry.entry(call_sid)
    assert entry is not None and entry.generation == 1 and entry.live
    assert entry.identity.from_number == "+1555"
    assert await registry.live_calls() == 1


async def test_each_takeover_is_a_new_generation_and_fences_out_the_old_one(
    registry: CallRegistry, call_sid: str
) -> None:
    await registry.claim_new(_identity(call_sid))
    first = registry.fence(call_sid, 1)
    assert await registry.heartbeat(first, call_sid, actor="session-a", pid=11)
    assert await registry.take_over(call_sid) == 2
    assert not await registry.heartbeat(first, call_sid)
    assert not await registry.end(first, call_sid)
    second = registry.fence(call_sid, 2)
    assert await registry.heartbeat(second, call_sid, actor="session-b", pid=12)
    entry = await registry.entry(call_sid)
    assert entry is not None and (entry.generation, entry.actor, entry.pid) == (2, "session-b", 12)


async def test_an_ended_call_is_neither_taken_over_nor_heartbeaten(
    registry: CallRegistry, call_sid: str
) -> None:
    await registry.claim_new(_identity(call_sid))
    fence = registry.fence(call_sid, 1)
    assert await registry.end(fence, call_sid)
    assert await registry.take_over(call_sid) is None
    assert not await registry.heartbeat(fence, call_sid)
    entry = await registry.entry(call_sid)
    assert entry is not None and entry.state == "ended"
    assert await registry.live_calls() == 0


async def test_a_sweep_takes_over_only_calls_nobody_heartbeats(
    registry: CallRegistry, call_sid: str
) -> None:
    await registry.claim_new(_identity(call_sid))
    before = time.time() - 60
    assert await registry.stale(before) == []
    assert await registry.take_over(call_sid, stale_before=before) is None
    # Nobody has heartbeaten since a moment from now: stale.
    later = time.time() + 1
    assert await registry.stale(later) == [call_sid]
    assert await registry.take_over(call_sid, stale_before=later) == 2
    # Another sweeper, a moment later, finds it heartbeaten by the first one's takeover.
    assert await registry.take_over(call_sid, stale_before=time.time() - 1) is None


async def test_a_replaced_generation_can_write_neither_record_nor_checkpoint(
    redis_client: redis.Redis, redis_prefix: str, registry: CallRegistry, call_sid: str
) -> None:
    await registry.claim_new(_identity(call_sid))
    old = FencedOutbox(
        redis_client, redis_prefix, fence_key=registry.key(call_sid), generation=1
    )
    await old.error(call_sid, "written while it served the call")
    checkpoints = SessionCheckpoints(redis_client, redis_prefix, ttl_s=300)
    checkpoint = SessionCheckpoint(session=CallSession(call_sid=call_sid))
    await checkpoints.save(checkpoint, registry.fence(call_sid, 1))

    await registry.take_over(call_sid)
    with pytest.raises(StaleWriter):
        await old.error(call_sid, "written after it was replaced")
    with pytest.raises(StaleWriter):
        await checkpoints.save(checkpoint, registry.fence(call_sid, 1))
    new = FencedOutbox(redis_client, redis_prefix, fence_key=registry.key(call_sid), generation=2)
    await new.error(call_sid, "written by the replacement")
    entries = await redis_client.xrange(old.key)
    assert [e[1][b"type"] for e in entries] == [b"error", b"error"]
    assert b"replaced" not in b"".join(e[1][b"data"] for e in entries)

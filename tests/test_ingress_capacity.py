"""The ingress's capacity is counted across its replicas, in Redis: the replicas alive
times `max_calls_per_replica`, against every replica's live calls and the places the
dialer holds for calls still ringing. Against a real Redis; and against a real
`serve run`, an inbound call finds the ingress full while a campaign holds its places."""

from __future__ import annotations

import time

import httpx
import redis.asyncio as redis

from actors.registry import CallIdentity, CallRegistry
from deployments.dial_capacity import DialCapacity
from deployments.ingress_capacity import REPLICA_TTL_S, IngressCapacity
from switchboard.caller.twilio_protocol import (
    CallParties,
    EndAnswer,
    StreamAnswer,
    new_sid,
    status_callback_params,
    voice_webhook_params,
)
from switchboard.caller.webhooks import STATUS_PATH, post_status_callback
from switchboard.settings import PerformanceSettings
from tests.e2e import RunningSwitchboard, voice_webhook

TTL_S = 3600


def _identity() -> CallIdentity:
    return CallIdentity(call_sid=new_sid("CA"), mode="audio", direction="inbound")


async def test_capacity_is_the_replicas_alive_times_calls_per_replica(
    redis_client: redis.Redis, redis_prefix: str
) -> None:
    capacity = IngressCapacity(redis_client, redis_prefix, live_ttl_s=TTL_S)
    assert await capacity.total(24) == 24  # none announced yet: the first is starting
    await capacity.announce("replica-a")
    await capacity.announce("replica-b")
    assert await capacity.total(24) == 48
    # A replica silent past the TTL (stopped, or its node lost) no longer counts.
    await redis_client.zadd(capacity.replicas_key, {"replica-b": time.time() - REPLICA_TTL_S - 1})
    assert await capacity.total(24) == 24


async def test_live_calls_of_every_replica_and_the_dialers_places_fill_it(
    redis_client: redis.Redis, redis_prefix: str
) -> None:
    capacity = IngressCapacity(redis_client, redis_prefix, live_ttl_s=TTL_S)
    await capacity.announce("replica-a")
    registry = CallRegistry(redis_client, redis_prefix, TTL_S)
    dialer = DialCapacity(capacity, capacity=lambda: capacity.total(3), hold_s=90)
    for _ in range(2):
        assert await registry.claim_new(_identity())
    assert await capacity.in_use() == 2 and await capacity.has_room(3)
    assert await dialer.reserve("attempt-1")  # the third place: a campaign's call rings
    assert await capacity.in_use() == 3
    assert not await capacity.has_room(3)  # an inbound call now finds it full
    assert not await dialer.reserve("attempt-2")  # and so does the next dial
    await dialer.release("attempt-1")
    assert await capacity.has_room(3)


async def test_a_lapsed_reservation_frees_its_place(
    redis_client: redis.Redis, redis_prefix: str
) -> None:
    capacity = IngressCapacity(redis_client, redis_prefix, live_ttl_s=TTL_S)
    await redis_client.zadd(capacity.reserved_key, {"crashed-dialers-attempt": time.time() - 1})
    assert await capacity.in_use() == 0


async def test_an_inbound_call_is_answered_busy_while_a_campaign_holds_every_place(
    switchboard: RunningSwitchboard, redis_client: redis.Redis
) -> None:
    capacity = IngressCapacity(redis_client, switchboard.redis_prefix, live_ttl_s=TTL_S)
    # The server runs the default max_calls_per_replica.
    total = await capacity.total(PerformanceSettings().max_calls_per_replica)
    free = total - await capacity.in_use()
    assert free > 0  # the shared server has room before the campaign takes it
    held = {f"test-hold-{new_sid('CA')}-{n}": time.time() + 60 for n in range(free)}
    await redis_client.zadd(capacity.reserved_key, held)
    try:
        parties = CallParties(new_sid("CA"), switchboard.account_sid, "inbound", "+15553", "+15552")
        refused = await voice_webhook(switchboard, voice_webhook_params(parties))
        assert isinstance(refused, EndAnswer), refused
        assert (refused.kind, refused.reason) == ("reject", "busy")
    finally:
        await redis_client.zrem(capacity.reserved_key, *held)

    parties = CallParties(new_sid("CA"), switchboard.account_sid, "inbound", "+15553", "+15552")
    answered = await voice_webhook(switchboard, voice_webhook_params(parties))
    assert isinstance(answered, StreamAnswer), answered
    # The caller hangs up while it rings: its warm actor goes back to the pool.
    async with httpx.AsyncClient() as http:
        problem = await post_status_callback(
            http, switchboard.base_url + STATUS_PATH, switchboard.auth_token,
            status_callback_params(parties, "canceled", 0),
        )  # fmt: skip
    assert problem is None

"""How many calls the ingress holds across its replicas, and whether it has room for one
more.

A Twilio webhook lands on one ingress replica and the call's media stream may land on
another, so no replica's own count can say whether the ingress is full (DESIGN.md:
capacity is counted across replicas, in Redis). Each replica announces itself every
`ANNOUNCE_EVERY_S` (a sorted set scored by the time, like the call registry's live
set); the ingress's capacity is the replicas heard from within `REPLICA_TTL_S` times
`performance.max_calls_per_replica`. What is in use is every replica's live calls (the
registry's live set) and the places the dialer has reserved for calls still ringing
(`deployments.dial_capacity`), so inbound calls and a campaign share one count.
"""

from __future__ import annotations

import asyncio
import logging
import time

import redis.asyncio as aioredis

from actors.registry import CallRegistry

logger = logging.getLogger("ray.serve")

ANNOUNCE_EVERY_S = 5.0
# Three announcements missed: the replica is gone (stopped, or its node lost).
REPLICA_TTL_S = 3 * ANNOUNCE_EVERY_S


def reservations_key(prefix: str) -> str:
    """The dialer's reservations: attempt keys scored by when they lapse."""
    return f"{prefix}:dialer:reserved"


class IngressCapacity:
    """The ingress's capacity and use, across its replicas."""

    def __init__(self, redis: aioredis.Redis, prefix: str, *, live_ttl_s: float) -> None:
        self._redis = redis
        self._live_ttl_s = live_ttl_s
        self.replicas_key = f"{prefix}:ingress:replicas"
        self.reserved_key = reservations_key(prefix)
        self.live_key = CallRegistry(redis, prefix, int(live_ttl_s)).live_key

    async def announce(self, replica: str) -> None:
        now = time.time()
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.zadd(self.replicas_key, {replica: now})
            pipe.zremrangebyscore(self.replicas_key, "-inf", now - REPLICA_TTL_S)
            await pipe.execute()

    async def withdraw(self, replica: str) -> None:
        await self._redis.zrem(self.replicas_key, replica)

    async def announce_forever(self, replica: str) -> None:
        while True:
            try:
                await self.announce(replica)
            except Exception as exc:  # Redis away: the webhook falls back to its own count
                logger.warning(f"could not announce this ingress replica: {exc!r}")
            await asyncio.sleep(ANNOUNCE_EVERY_S)

    async def replicas(self) -> int:
        return int(await self._redis.zcount(self.replicas_key, time.time() - REPLICA_TTL_S, "+inf"))

    async def total(self, per_replica: int) -> int:
        """Calls the ingress holds at once; one replica's worth while none has announced
        itself yet (the first one is starting)."""
        return max(1, await self.replicas()) * per_replica

    async def in_use(self) -> int:
        now = time.time()
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.zcount(self.live_key, now - self._live_ttl_s, "+inf")
            pipe.zcount(self.reserved_key, now, "+inf")
            live, reserved = await pipe.execute()
        return int(live) + int(reserved)

    async def has_room(self, per_replica: int) -> bool:
        return await self.in_use() < await self.total(per_replica)

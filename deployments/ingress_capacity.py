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


# KEYS: reservations, live calls. ARGV: now, capacity, attempt key, lapse time, the
# oldest heartbeat a live call may have. Returns 1 if reserved (or already held), 0 if no
# place is free. One script: the check and the add cannot be split by another dialer.
_RESERVE = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZSCORE', KEYS[1], ARGV[3]) then return 1 end
local used = redis.call('ZCARD', KEYS[1]) + redis.call('ZCOUNT', KEYS[2], ARGV[5], '+inf')
if used >= tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[4], ARGV[3])
return 1
"""


class IngressCapacity:
    """The ingress's capacity and use, across its replicas, and places held in it."""

    def __init__(self, redis: aioredis.Redis, prefix: str, *, live_ttl_s: float) -> None:
        self._redis = redis
        self._live_ttl_s = live_ttl_s
        self.replicas_key = f"{prefix}:ingress:replicas"
        self.reserved_key = reservations_key(prefix)
        # The live calls of every ingress replica, scored by their last heartbeat; the
        # registry owns the set (and trims it), this only counts it.
        self.live_key = CallRegistry(redis, prefix, int(live_ttl_s)).live_key
        self._reserve = redis.register_script(_RESERVE)

    async def announce(self, replica: str) -> None:
        now = time.time()
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.zadd(self.replicas_key, {replica: now})
            pipe.zremrangebyscore(self.replicas_key, "-inf", now - REPLICA_TTL_S)
            await pipe.execute()

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
        return _total(await self.replicas(), per_replica)

    async def in_use(self) -> int:
        live, reserved, _ = await self._counts()
        return live + reserved

    async def has_room(self, per_replica: int) -> bool:
        live, reserved, replicas = await self._counts()
        return live + reserved < _total(replicas, per_replica)

    async def reserve(self, attempt_key: str, capacity: int, hold_s: float) -> bool:
        """Hold a place for `hold_s` (a call ringing) if fewer than `capacity` are used."""
        now = time.time()
        held = await self._reserve(
            keys=[self.reserved_key, self.live_key],
            args=[now, capacity, attempt_key, now + hold_s, now - self._live_ttl_s],
        )
        return bool(held)

    async def release(self, attempt_key: str) -> None:
        await self._redis.zrem(self.reserved_key, attempt_key)

    async def _counts(self) -> tuple[int, int, int]:
        """Live calls, places held, replicas alive: one round trip."""
        now = time.time()
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.zcount(self.live_key, now - self._live_ttl_s, "+inf")
            pipe.zcount(self.reserved_key, now, "+inf")
            pipe.zcount(self.replicas_key, now - REPLICA_TTL_S, "+inf")
            live, reserved, replicas = await pipe.execute()
        return int(live), int(reserved), int(replicas)


def _total(replicas: int, per_replica: int) -> int:
    return max(1, replicas) * per_replica

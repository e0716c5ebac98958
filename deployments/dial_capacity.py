"""The ingress's free capacity for outbound calls, and the dialer's reservations of it.

The ingress counts live calls across its replicas in Redis (the call registry's live
set), and its capacity from the replicas alive (`deployments.ingress_capacity`, which
also counts these reservations when it answers an inbound call). A call the dialer
placed is not live until the lead answers, so each dial first reserves a place
(DESIGN.md: "The dialer reserves capacity before it dials"): a member of a sorted set,
scored by when it lapses. A reservation is released when its attempt settles, and
lapses on its own after `hold_s` (the ring time and then some), so a crashed dialer's
reservations cannot hold capacity for good. While a call is both reserved and live it
counts twice: for a moment the dialer dials less, never more.

Reserving is one Lua script: the check and the add cannot be split by another dialer.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

import redis.asyncio as aioredis

from actors.registry import CallRegistry
from deployments.ingress_capacity import reservations_key

# A fixed number of calls, or how to learn it (the ingress's replicas alive, each
# `max_calls_per_replica`).
Capacity = int | Callable[[], Awaitable[int]]

# KEYS: reservations, live calls. ARGV: now, capacity, attempt key, lapse time, live TTL.
# Returns 1 if reserved (or already held), 0 if no place is free.
_RESERVE = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZSCORE', KEYS[1], ARGV[3]) then return 1 end
redis.call('ZREMRANGEBYSCORE', KEYS[2], 0, tonumber(ARGV[1]) - tonumber(ARGV[5]))
local used = redis.call('ZCARD', KEYS[1]) + redis.call('ZCARD', KEYS[2])
if used >= tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[4], ARGV[3])
return 1
"""


class DialCapacity:
    """Places for outbound calls within `capacity` calls at once, live ones included."""

    def __init__(
        self, redis: aioredis.Redis, prefix: str, *, capacity: Capacity, live_ttl_s: int,
        hold_s: float,
    ) -> None:
        self._redis = redis
        self._capacity = capacity
        self._live_ttl_s = live_ttl_s
        self._hold_s = hold_s
        self.key = reservations_key(prefix)
        # The live calls of every ingress replica, scored by their last heartbeat.
        self.live_key = CallRegistry(redis, prefix, live_ttl_s).live_key
        self._reserve = redis.register_script(_RESERVE)

    async def free(self) -> int:
        """Places free now (a hint for pacing; `reserve` decides)."""
        now = time.time()
        await self._redis.zremrangebyscore(self.key, "-inf", now)
        await self._redis.zremrangebyscore(self.live_key, 0, now - self._live_ttl_s)
        used = int(await self._redis.zcard(self.key)) + int(await self._redis.zcard(self.live_key))
        return max(0, await self._places() - used)

    async def reserve(self, attempt_key: str) -> bool:
        now = time.time()
        held = await self._reserve(
            keys=[self.key, self.live_key],
            args=[now, await self._places(), attempt_key, now + self._hold_s, self._live_ttl_s],
        )
        return bool(held)

    async def _places(self) -> int:
        return self._capacity if isinstance(self._capacity, int) else await self._capacity()

    async def release(self, attempt_key: str) -> None:
        await self._redis.zrem(self.key, attempt_key)

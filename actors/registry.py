"""The call registry in Redis: which session actor serves which CallSid.

Pool actors are anonymous until a call takes one; binding writes `CallSid → actor
name` here, and a replacement actor after a failure overwrites it. Entries expire
with the session TTL so a registry never outlives its calls.
"""

from __future__ import annotations

import time

import redis.asyncio as aioredis


class CallRegistry:
    """CallSid → session actor name, plus the set of live calls."""

    def __init__(self, redis: aioredis.Redis, prefix: str, ttl_s: int) -> None:
        self._redis = redis
        self._prefix = prefix
        self._ttl_s = ttl_s

    def _key(self, call_sid: str) -> str:
        return f"{self._prefix}:call:{call_sid}"

    @property
    def _live(self) -> str:
        return f"{self._prefix}:calls:live"

    async def bind(self, call_sid: str, actor_name: str, *, node: str = "", pid: int = 0) -> None:
        now = time.time()
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(
                self._key(call_sid),
                mapping={"actor": actor_name, "node": node, "pid": pid, "bound_at": now},
            )
            pipe.hincrby(self._key(call_sid), "generation", 1)
            pipe.expire(self._key(call_sid), self._ttl_s)
            pipe.zadd(self._live, {call_sid: now})
            await pipe.execute()

    async def lookup(self, call_sid: str) -> str | None:
        actor = await self._redis.hget(self._key(call_sid), "actor")
        return actor.decode() if isinstance(actor, bytes) else actor

    async def release(self, call_sid: str) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.delete(self._key(call_sid))
            pipe.zrem(self._live, call_sid)
            await pipe.execute()

    async def live_calls(self) -> int:
        # Entries older than the TTL belong to calls whose actor died unreported.
        await self._redis.zremrangebyscore(self._live, 0, time.time() - self._ttl_s)
        return int(await self._redis.zcard(self._live))

"""The call registry in Redis: which session actor serves which CallSid, and since when.

Pool actors are anonymous until a call takes one. The ingress claims a new CallSid
here (generation 1), and takes a call over when it must move it to another actor (a
crash, a new media stream after a reconnect): every takeover increments the call's
`generation`. The actor serving a generation writes its checkpoints and outbox entries
fenced by it (`Fence`), so an actor that was replaced — a hung one that wakes up, one
on a partitioned node — can no longer write anything for the call.

The serving actor heartbeats the call, and so does the ingress holding the call's
socket (a sorted set of live calls scored by the last sign of life); a call nobody
heartbeats for a grace period — its actor and its socket both gone — is finalised by
the sweeper (`actors.call_sweeper`). An ended call keeps its entry, marked `ended`, for a while,
so a late reconnect is answered `<Hangup/>` instead of being resumed.

Every check-and-change is one Lua script, so two ingress replicas racing for a call
(a reconnect, a sweep) cannot both win.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis

# An ended call's entry is kept this long, for late reconnects and status callbacks.
ENDED_TTL_S = 600

# KEYS: entry, live set. ARGV: now, ttl, then field/value pairs of the call's identity.
# Returns 1 when the CallSid was free, 0 when it is already known.
_CLAIM_NEW = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'generation', 1, 'state', 'live', 'heartbeat_at', ARGV[1],
           'claimed_at', ARGV[1], 'resumes', 0)
for i = 3, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
redis.call('EXPIRE', KEYS[1], ARGV[2])
-- ARGV[3] is 'call_sid', ARGV[4] its value (claim_new passes it first)
redis.call('ZADD', KEYS[2], ARGV[1], ARGV[4])
return 1
"""

# KEYS: entry, live set. ARGV: now, ttl, call_sid, stale_before ('' for any).
# Returns the new generation, or 0 when the call is unknown, ended, or (for a sweep)
# was heartbeaten since `stale_before`.
_TAKE_OVER = """
if redis.call('HGET', KEYS[1], 'state') ~= 'live' then return 0 end
if ARGV[4] ~= '' then
  local seen = tonumber(redis.call('ZSCORE', KEYS[2], ARGV[3]) or '0')
  if seen > tonumber(ARGV[4]) then return 0 end
end
local generation = redis.call('HINCRBY', KEYS[1], 'generation', 1)
redis.call('HSET', KEYS[1], 'heartbeat_at', ARGV[1])
redis.call('HDEL', KEYS[1], 'actor', 'node', 'pid')
redis.call('EXPIRE', KEYS[1], ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[1], ARGV[3])
return generation
"""

# KEYS: entry, live set. ARGV: generation, now, ttl, call_sid, then field/value pairs.
# Returns 1, or 0 when the generation is not the call's current one.
_FENCED_HEARTBEAT = """
if redis.call('HGET', KEYS[1], 'generation') ~= ARGV[1]
   or redis.call('HGET', KEYS[1], 'state') ~= 'live' then return 0 end
redis.call('HSET', KEYS[1], 'heartbeat_at', ARGV[2])
for i = 5, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
redis.call('EXPIRE', KEYS[1], ARGV[3])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[4])
return 1
"""

# KEYS: entry, live set. ARGV: generation, now, ended ttl, call_sid.
_FENCED_END = """
if redis.call('HGET', KEYS[1], 'generation') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'state', 'ended', 'ended_at', ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[3])
redis.call('ZREM', KEYS[2], ARGV[4])
return 1
"""


@dataclass(frozen=True)
class Fence:
    """The registry entry and generation a call's writes are checked against."""

    key: str
    generation: int


@dataclass(frozen=True)
class CallIdentity:
    """Who is calling whom: what a takeover needs to rebuild a call's stream."""

    call_sid: str
    mode: str
    direction: str
    from_number: str = ""
    to_number: str = ""
    answered_by: str | None = None


@dataclass(frozen=True)
class CallEntry:
    """A call as the registry knows it."""

    identity: CallIdentity
    generation: int
    state: str  # live | ended
    actor: str | None
    node: str | None
    pid: int | None
    ingress_pid: int | None
    heartbeat_at: float
    resumes: int

    @property
    def live(self) -> bool:
        return self.state == "live"


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class CallRegistry:
    """CallSid → the actor serving it, its generation and its heartbeat."""

    def __init__(self, redis: aioredis.Redis, prefix: str, ttl_s: int) -> None:
        self._redis = redis
        self._prefix = prefix
        self._ttl_s = ttl_s
        self._claim_new = redis.register_script(_CLAIM_NEW)
        self._take_over = redis.register_script(_TAKE_OVER)
        self._heartbeat = redis.register_script(_FENCED_HEARTBEAT)
        self._end = redis.register_script(_FENCED_END)

    def key(self, call_sid: str) -> str:
        return f"{self._prefix}:call:{call_sid}"

    @property
    def live_key(self) -> str:
        return f"{self._prefix}:calls:live"

    def fence(self, call_sid: str, generation: int) -> Fence:
        return Fence(self.key(call_sid), generation)

    # Claiming and taking over

    async def claim_new(self, identity: CallIdentity) -> bool:
        """Register a new call (generation 1); False if the CallSid is already known."""
        fields: list[str] = ["call_sid", identity.call_sid, "mode", identity.mode,
                             "direction", identity.direction,
                             "from_number", identity.from_number,
                             "to_number", identity.to_number,
                             "answered_by", identity.answered_by or "",
                             "started_at", repr(time.time())]
        claimed = await self._claim_new(
            keys=[self.key(identity.call_sid), self.live_key],
            args=[repr(time.time()), self._ttl_s, *fields],
        )
        return bool(claimed)

    async def take_over(self, call_sid: str, *, stale_before: float | None = None) -> int | None:
        """Move a live call to a new generation; its new number, or None if it has ended.

        With `stale_before`, only a call not heartbeaten since then is taken (a sweep)."""
        generation = await self._take_over(
            keys=[self.key(call_sid), self.live_key],
            args=[repr(time.time()), self._ttl_s, call_sid,
                  "" if stale_before is None else repr(stale_before)],
        )
        return int(generation) or None

    async def count_resume(self, call_sid: str) -> int:
        """One more reconnect of the call; how many there have been."""
        return int(await self._redis.hincrby(self.key(call_sid), "resumes", 1))

    # The serving actor

    async def heartbeat(self, fence: Fence, call_sid: str, **fields: str | int | float) -> bool:
        """The actor of `fence` still serves the call; False once it has been replaced."""
        pairs: list[str | int | float] = []
        for name, value in fields.items():
            pairs += [name, value]
        alive = await self._heartbeat(
            keys=[fence.key, self.live_key],
            args=[fence.generation, repr(time.time()), self._ttl_s, call_sid, *pairs],
        )
        return bool(alive)

    async def touch(self, call_sids: list[str]) -> None:
        """The ingress still holds these calls' sockets (live calls only)."""
        if call_sids:
            now = time.time()
            await self._redis.zadd(self.live_key, dict.fromkeys(call_sids, now), xx=True)

    async def end(self, fence: Fence, call_sid: str) -> bool:
        """The call is over (the entry stays, marked ended); False if replaced."""
        ended = await self._end(
            keys=[fence.key, self.live_key],
            args=[fence.generation, repr(time.time()), ENDED_TTL_S, call_sid],
        )
        return bool(ended)

    # Reading

    async def entry(self, call_sid: str) -> CallEntry | None:
        raw = await self._redis.hgetall(self.key(call_sid))
        if not raw:
            return None
        fields = {_text(k): _text(v) for k, v in raw.items()}

        def number(name: str) -> int | None:
            value = fields.get(name)
            return int(value) if value else None

        return CallEntry(
            identity=CallIdentity(
                call_sid=call_sid,
                mode=fields.get("mode", "audio"),
                direction=fields.get("direction", "inbound"),
                from_number=fields.get("from_number", ""),
                to_number=fields.get("to_number", ""),
                answered_by=fields.get("answered_by") or None,
            ),
            generation=int(fields.get("generation", 0)),
            state=fields.get("state", "live"),
            actor=fields.get("actor") or None,
            node=fields.get("node") or None,
            pid=number("pid"),
            ingress_pid=number("ingress_pid"),
            heartbeat_at=float(fields.get("heartbeat_at", 0)),
            resumes=int(fields.get("resumes", 0)),
        )

    async def lookup(self, call_sid: str) -> str | None:
        """The name of the actor serving a live call, if any."""
        entry = await self.entry(call_sid)
        return entry.actor if entry is not None and entry.live else None

    async def stale(self, before: float, limit: int = 100) -> list[str]:
        """Live calls nobody has heartbeaten since `before`."""
        members = await self._redis.zrangebyscore(self.live_key, "-inf", before, 0, limit)
        return [_text(member) for member in members]

    async def live_call_sids(self, limit: int = 100) -> list[str]:
        """Up to `limit` live calls, the most recently heartbeaten first (the console's
        live view); calls whose entry has expired are left out."""
        members = await self._redis.zrevrangebyscore(
            self.live_key, "+inf", time.time() - self._ttl_s, 0, limit
        )
        return [_text(member) for member in members]

    async def live_calls(self) -> int:
        # Entries older than the TTL belong to calls whose entry has expired.
        await self._redis.zremrangebyscore(self.live_key, 0, time.time() - self._ttl_s)
        return int(await self._redis.zcard(self.live_key))

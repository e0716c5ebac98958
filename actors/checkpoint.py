"""Session checkpoints in Redis: what another actor needs to carry a call on.

A checkpoint is written after the greeting and after every finished turn (agent
transitions happen inside turns, so they are in it too). It holds the `CallSession`,
the responder's conversation state, and where the conversation stood on the wire:
the number of the last caller turn, the number of the agent's last reply, and how far
into the caller's messages that turn reached, so a replacement actor replays exactly
what the caller said since. Writes are fenced by the call's generation: once a call
was taken over, its old actor's checkpoints are refused (`StaleWriter`).
"""

from __future__ import annotations

import time

import redis.asyncio as aioredis
from pydantic import BaseModel, Field

from actors.registry import Fence
from db.outbox import StaleWriter
from switchboard.models import CallSession

# KEYS: the call's registry entry, the checkpoint. ARGV: generation, payload, ttl.
_FENCED_SET = """
if redis.call('HGET', KEYS[1], 'generation') ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[2], ARGV[2], 'EX', ARGV[3])
return 1
"""


class WirePosition(BaseModel):
    """Where the conversation stood on the wire when the checkpoint was taken."""

    # The last caller turn answered (0: none yet) and the agent's last reply (the
    # greeting is reply 1); a reply's number names its turn-end mark.
    turn: int = 0
    reply: int = 0
    # The caller's messages up to this index (as the ingress numbered them on `stream`)
    # are in the conversation; a replacement actor replays only what follows.
    consumed: int = 0
    stream: str = ""


class SessionCheckpoint(BaseModel):
    """Everything a replacement actor restores a call from."""

    session: CallSession
    responder: dict = Field(default_factory=dict)
    wire: WirePosition = Field(default_factory=WirePosition)
    # The budget's last premium ask (qualification score, stated budget), so a
    # replacement does not ask again for what was already refused.
    premium_asked_for: tuple[float, float | None] | None = None
    # The failures this call has survived, by the id the ingress gave each: a failure
    # that needed two replacement actors still counts once in `recovered`.
    failures: list[str] = Field(default_factory=list)


class SessionCheckpoints:
    """Save (fenced by generation) and load the checkpoint of a call."""

    def __init__(self, redis: aioredis.Redis, prefix: str, ttl_s: int) -> None:
        self._redis = redis
        self._prefix = prefix
        self._ttl_s = ttl_s
        self._set = redis.register_script(_FENCED_SET)

    def key(self, call_sid: str) -> str:
        return f"{self._prefix}:session:{call_sid}"

    async def save(self, checkpoint: SessionCheckpoint, fence: Fence) -> float:
        """Write `checkpoint` if `fence` still serves the call; raises `StaleWriter` if not."""
        session = checkpoint.session
        session.last_state_sync = time.time()
        saved = await self._set(
            keys=[fence.key, self.key(session.call_sid)],
            args=[fence.generation, checkpoint.model_dump_json(), self._ttl_s],
        )
        if not saved:
            raise StaleWriter(f"generation {fence.generation} no longer serves the call")
        return session.last_state_sync

    async def load(self, call_sid: str) -> SessionCheckpoint | None:
        raw = await self._redis.get(self.key(call_sid))
        if raw is None:
            return None
        return SessionCheckpoint.model_validate_json(raw)

    async def delete(self, call_sid: str) -> None:
        await self._redis.delete(self.key(call_sid))

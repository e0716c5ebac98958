"""Session checkpoints in Redis: the `CallSession` and its responder's state, saved
after every turn so that another actor can pick the call up after a failure."""

from __future__ import annotations

import json
import time

import redis.asyncio as aioredis

from switchboard.models import CallSession


class SessionCheckpoints:
    """Save and load the state of a call."""

    def __init__(self, redis: aioredis.Redis, prefix: str, ttl_s: int) -> None:
        self._redis = redis
        self._prefix = prefix
        self._ttl_s = ttl_s

    def _key(self, call_sid: str) -> str:
        return f"{self._prefix}:session:{call_sid}"

    async def save(self, session: CallSession, responder_state: dict) -> float:
        session.last_state_sync = time.time()
        payload = json.dumps(
            {"session": session.model_dump(mode="json"), "responder": responder_state}
        )
        await self._redis.set(self._key(session.call_sid), payload, ex=self._ttl_s)
        return session.last_state_sync

    async def load(self, call_sid: str) -> tuple[CallSession, dict] | None:
        raw = await self._redis.get(self._key(call_sid))
        if raw is None:
            return None
        data = json.loads(raw)
        return CallSession.model_validate(data["session"]), data["responder"]

    async def delete(self, call_sid: str) -> None:
        await self._redis.delete(self._key(call_sid))

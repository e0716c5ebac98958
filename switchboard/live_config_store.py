"""What the replicas of one application tell each other and its calls through Redis
about their live settings: the last good `user_config` block, and the kill switch.

A replica that starts with a block it must refuse takes the last good one from here,
so a bad deploy never leaves a new replica on the environment's defaults. The kill
switch is the one setting live calls follow (on their next turn), so it is kept where
their session actors can read it.
"""

from __future__ import annotations

import json
from typing import Any

import redis.asyncio as aioredis

from switchboard.live_config import LiveConfig


class LiveConfigStore:
    """Redis keys `{prefix}:live:{app}:config` and `{prefix}:live:{app}:kill_switch`."""

    def __init__(self, redis: aioredis.Redis, prefix: str, app: str) -> None:
        self._redis = redis
        self._config_key = f"{prefix}:live:{app}:config"
        self._kill_key = f"{prefix}:live:{app}:kill_switch"

    async def publish(self, live: LiveConfig) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.set(self._config_key, json.dumps(live.block))
            if live.kill_switch:
                pipe.set(self._kill_key, live.version)
            else:
                pipe.delete(self._kill_key)
            await pipe.execute()

    async def last_good(self) -> dict[str, Any] | None:
        raw = await self._redis.get(self._config_key)
        return json.loads(raw) if raw else None

    async def kill_switch(self) -> bool:
        return bool(await self._redis.exists(self._kill_key))

"""The one way Switchboard opens Redis: a client that rides out a Redis restart.

`redis.asyncio.from_url` alone never retries, so the first command after a restart
would fail a call; these clients retry connection errors with jittered backoff.
"""

from __future__ import annotations

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import ConnectionError, TimeoutError


def connect(url: str) -> aioredis.Redis:
    # Wait for a free connection rather than fail when many calls share a client.
    pool = aioredis.BlockingConnectionPool.from_url(
        url,
        max_connections=200,
        timeout=5,
        retry=Retry(ExponentialWithJitterBackoff(base=0.05, cap=1.0), 10),
        retry_on_error=[ConnectionError, TimeoutError],
        health_check_interval=30,
    )
    return aioredis.Redis.from_pool(pool)

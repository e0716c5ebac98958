"""The one way Switchboard opens Redis: a client that rides out a Redis restart.

`redis.asyncio.from_url` alone never retries, so the first command after a restart
would fail a call; these clients retry connection errors with jittered backoff.

Background work that must stay short whatever Redis does (the circuit breaker's state
sync) asks for a fail-fast client instead: few retries and socket timeouts, so one
attempt ends quickly and the next attempt is the caller's own, later.
"""

from __future__ import annotations

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import ConnectionError, TimeoutError


def connect(url: str, *, retries: int = 10, timeout_s: float | None = None) -> aioredis.Redis:
    """A client on its own connection pool.

    `retries` is how often a command is retried on a connection error or timeout;
    `timeout_s`, when given, bounds connecting, each socket read/write, and waiting for
    a free connection (otherwise only the wait for a connection is bounded, at 5 s).
    """
    # Wait for a free connection rather than fail when many calls share a client.
    pool = aioredis.BlockingConnectionPool.from_url(
        url,
        max_connections=200,
        timeout=5 if timeout_s is None else timeout_s,
        retry=Retry(ExponentialWithJitterBackoff(base=0.05, cap=1.0), retries),
        retry_on_error=[ConnectionError, TimeoutError],
        health_check_interval=30,
        socket_timeout=timeout_s,
        socket_connect_timeout=timeout_s,
    )
    return aioredis.Redis.from_pool(pool)

"""`RecorderDeployment`: the Serve deployment that drains the outbox into PostgreSQL.

Session actors append call events to a Redis stream; this deployment applies them to
PostgreSQL (`db.recorder.Recorder`), so a PostgreSQL hiccup delays records instead of
losing them. It migrates the schema up on start (under an advisory lock, so replicas
starting together do not race) and reports unhealthy if its loop stops, so Serve
restarts it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket

from ray import serve

from db.migrate import migrate
from db.pool import create_pool
from db.recorder import Recorder
from switchboard.logging_setup import setup_replica_logging
from switchboard.redis_client import connect as connect_redis
from switchboard.settings import get_settings

logger = logging.getLogger("ray.serve")


@serve.deployment
class RecorderDeployment:
    async def __init__(self) -> None:
        settings = get_settings()
        setup_replica_logging(settings.monitoring.log_level)
        await migrate(settings.database_url, "up", None)
        self._pool = await create_pool(settings.database_url)
        self._redis = connect_redis(settings.redis_url)
        self._recorder = Recorder(
            self._pool,
            self._redis,
            settings.redis_prefix,
            consumer=f"{socket.gethostname()}-{os.getpid()}",
        )
        self._stop = asyncio.Event()
        self._task = asyncio.create_task(self._recorder.run(self._stop))
        logger.info("recorder draining the outbox")

    async def check_health(self) -> None:
        if self._task.done():
            error = self._task.exception() if not self._task.cancelled() else None
            raise RuntimeError(f"recorder loop stopped: {error}")

    def __del__(self) -> None:
        self._stop.set()

"""`RecorderDeployment`: the Serve deployment that drains the outbox into PostgreSQL.

Session actors append call events to a Redis stream; this deployment applies them to
PostgreSQL (`db.recorder.Recorder`), so a PostgreSQL hiccup delays records instead of
losing them. With `SWITCHBOARD_WEBHOOKS` set, it also delivers the post-call webhooks
(`switchboard.webhook_delivery`). It migrates the schema up on start (under an
advisory lock, so replicas starting together do not race) and reports unhealthy if a
loop stops, so Serve restarts it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket

from ray import serve

from db.migrate import migrate
from db.outbox_watch import OutboxWatch
from db.pool import create_pool
from db.recorder import Recorder
from switchboard.logging_setup import setup_replica_logging
from switchboard.redis_client import connect as connect_redis
from switchboard.settings import get_settings
from switchboard.tracing import setup_tracing
from switchboard.webhook_delivery import WebhookDeliverer

logger = logging.getLogger("ray.serve")


@serve.deployment
class RecorderDeployment:
    async def __init__(self) -> None:
        settings = get_settings()
        setup_replica_logging(settings.monitoring.log_level)
        setup_tracing("recorder")
        await migrate(settings.database_url, "up", None)
        self._pool = await create_pool(settings.database_url)
        self._redis = connect_redis(settings.redis_url)
        self._recorder = Recorder(
            self._pool,
            self._redis,
            settings.redis_prefix,
            consumer=f"{socket.gethostname()}-{os.getpid()}",
            webhooks=settings.webhooks,
        )
        self._stop = asyncio.Event()
        self._task = asyncio.create_task(self._recorder.run(self._stop))
        logger.info("recorder draining the outbox")
        # The backlog and the oldest event's age, as metrics (docs/observability.md).
        self._watch_task = asyncio.create_task(
            OutboxWatch(self._redis, settings.redis_prefix).run(self._stop)
        )
        # Post-call webhooks go out from here: the events are made by the recorder, and
        # every replica's worker shares the due deliveries (SKIP LOCKED in PostgreSQL).
        self._webhook_task: asyncio.Task[None] | None = None
        if settings.webhooks:
            deliverer = WebhookDeliverer(self._pool, settings.webhooks, settings.webhook_delivery)
            self._webhook_task = asyncio.create_task(deliverer.run(self._stop))
            logger.info("delivering webhooks to %d endpoint(s)", len(settings.webhooks))

    async def check_health(self) -> None:
        if self._task.done():
            error = self._task.exception() if not self._task.cancelled() else None
            raise RuntimeError(f"recorder loop stopped: {error}")
        if self._webhook_task is not None and self._webhook_task.done():
            error = self._webhook_task.exception() if not self._webhook_task.cancelled() else None
            raise RuntimeError(f"webhook delivery loop stopped: {error}")

    def __del__(self) -> None:
        self._stop.set()

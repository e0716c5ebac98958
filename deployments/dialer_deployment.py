"""`DialerDeployment`: the Serve deployment that places campaigns' calls (one replica).

It runs `deployments.dialer.Dialer` every `campaigns.dialer_tick_s` while it holds the
dialer lease (`dialer_lease`), so that however many replicas a deploy runs for a
moment, one dials. Everything it knows is in PostgreSQL (attempts, written before each
call) and Redis (capacity reservations, the lease): a replica killed mid-campaign is
replaced by Serve, and its successor resumes without dialling any attempt twice.

A tick that fails (PostgreSQL or Twilio down) is logged and tried again on the next:
the deployment's health does not depend on them, or an outage would make Serve
replace a replica that would fail the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket

from ray import serve

from actors.outbound_calls import OutboundCalls
from db.pool import create_pool
from deployments.dial_capacity import DialCapacity
from deployments.dialer import Dialer, dialer_clock
from deployments.dialer_lease import DialerLease
from deployments.dialer_metrics import DialerMetrics
from deployments.ingress_capacity import IngressCapacity
from switchboard.logging_setup import setup_replica_logging
from switchboard.redis_client import connect as connect_redis
from switchboard.settings import get_settings
from switchboard.tracing import setup_tracing

logger = logging.getLogger("ray.serve")

# A reservation outlives the ring time by this much before it lapses on its own.
RESERVATION_MARGIN_S = 60.0


@serve.deployment
class DialerDeployment:
    async def __init__(self) -> None:
        settings = get_settings()
        setup_replica_logging(settings.monitoring.log_level)
        setup_tracing("dialer")
        campaigns = settings.campaigns
        self._tick_s = campaigns.dialer_tick_s
        # The recorder migrates the schema; the pool may open before PostgreSQL is up.
        self._pool = await create_pool(settings.database_url, min_size=0, max_size=4)
        self._redis = connect_redis(settings.redis_url)
        ingress = IngressCapacity(
            self._redis, settings.redis_prefix, live_ttl_s=settings.performance.session_ttl_s
        )
        per_replica = settings.performance.max_calls_per_replica
        capacity = DialCapacity(
            ingress,
            # A cap of its own for campaigns, or what the ingress's replicas hold.
            capacity=campaigns.ingress_capacity or (lambda: ingress.total(per_replica)),
            hold_s=campaigns.ring_timeout_s + RESERVATION_MARGIN_S,
        )
        self._calls = OutboundCalls.from_settings(settings)
        self._dialer = Dialer(
            self._pool,
            self._calls,
            capacity,
            settings=campaigns,
            public_url=settings.public_url,
            clock=dialer_clock(settings.clock_offset_s),
            metrics=DialerMetrics(),
        )
        holder = f"{socket.gethostname()}-{os.getpid()}"
        self._lease = DialerLease(self._redis, settings.redis_prefix, holder, campaigns.lease_s)
        self._stop = asyncio.Event()
        self._task = asyncio.create_task(self._run(), name="dialer")
        logger.info(f"dialer {holder} started (a tick every {self._tick_s:g} s)")

    async def _run(self) -> None:
        holding = False
        while not self._stop.is_set():
            try:
                held = await self._lease.hold()
                if held != holding:
                    logger.info("dialer lease " + ("taken: dialling" if held else "lost: waiting"))
                    holding = held
                if held:
                    await self._dialer.tick()
            except Exception:
                logger.exception("dialer tick failed; trying again")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self._tick_s)
        with contextlib.suppress(Exception):
            await self._lease.release()

    async def check_health(self) -> None:
        if self._task.done():
            error = self._task.exception() if not self._task.cancelled() else None
            raise RuntimeError(f"dialer loop stopped: {error}")

    def __del__(self) -> None:
        # The loop lets go of the lease as it stops, if it gets the time; else the
        # lease lapses after `lease_s` and the next dialer takes it then.
        self._stop.set()

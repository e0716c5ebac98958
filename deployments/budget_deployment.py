"""`BudgetDeployment`: the budget ledger as a singleton Serve deployment.

Handles call its async methods (`await handle.request_premium.remote(...)`). One
replica is enough and keeps the budget one thing to watch, but nothing depends on it
being one: the counters live in Redis and every change is one atomic script, so a
restarted replica (or an accidental second one) continues from the same totals.
Each request is one or two short Redis round trips, so one replica takes many at once.

Premium holds are leases (see `actors.budget_ledger`): a background loop releases the expired
ones every `release_interval_s`. Two replicas running it at once is harmless, since each
release is checked and made in one script. The loop outlives any error (a Redis outage
is logged and waited out), and `check_health` fails only if the loop itself has stopped:
it does not ping Redis, because Serve would replace a replica that fails three checks,
and a Redis outage is not cured by a new replica (DESIGN.md).

Prices, caps and the qualification policy are live settings (`reconfigure()`). A call's
usage and premium requests carry the version it started with, and are counted by it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from ray import serve

from actors.budget_ledger import (
    BudgetLedger,
    CallBudget,
    CallCost,
    DayTotals,
    Reason,
    UsageDelta,
    UsageResult,
    reason_code,
)
from deployments.live_settings import LiveSettings, PerVersion, application_name
from switchboard import tracing
from switchboard.live_config_store import LiveConfigStore
from switchboard.logging_setup import setup_replica_logging
from switchboard.metrics import BudgetDayMetrics, VoiceAgentIntegrationMetrics
from switchboard.models import Tier, TierDecision
from switchboard.redis_client import connect as connect_redis
from switchboard.settings import VoiceAgentIntegrationConfig, get_settings

logger = logging.getLogger("ray.serve")

# Well inside the default 90 s lease, so a dead call's hold is back within seconds of it.
RELEASE_INTERVAL_S = 5.0


@serve.deployment(
    num_replicas=1,
    # Each request is brief and holds at most one Redis connection at a time; the pool of
    # `switchboard.redis_client.connect` has 100 and raises when they are all in use, so
    # requests beyond this wait in Serve's queue instead.
    max_ongoing_requests=64,
    health_check_period_s=5,
    ray_actor_options={"num_cpus": 0.05},
)
class BudgetDeployment:
    def __init__(
        self,
        settings: VoiceAgentIntegrationConfig | None = None,
        release_interval_s: float = RELEASE_INTERVAL_S,
    ) -> None:
        if release_interval_s <= 0:
            raise ValueError("release_interval_s must be more than zero")
        settings = settings or get_settings()
        setup_replica_logging(settings.monitoring.log_level)
        tracing.setup_tracing("budget")
        self._redis = redis = connect_redis(settings.redis_url)
        app = application_name()
        self._live = LiveSettings(
            settings, app=app, store=LiveConfigStore(redis, settings.redis_prefix, app)
        )
        self._ledgers = PerVersion(
            self._live,
            lambda live: BudgetLedger.from_settings(redis, live),
            env=BudgetLedger.from_settings(redis, settings),
        )
        self._metrics = VoiceAgentIntegrationMetrics.get()
        self._day_metrics = BudgetDayMetrics()
        self._release_interval_s = release_interval_s
        self._stop = asyncio.Event()
        # Serve runs a synchronous constructor on the replica's event loop.
        self._releasing = asyncio.get_running_loop().create_task(self._release_loop())
        logger.info("budget ledger on %s (prefix %s)", settings.redis_url, settings.redis_prefix)

    async def reconfigure(self, user_config: dict) -> None:
        await self._live.reconfigure(user_config)

    @property
    def _ledger(self) -> BudgetLedger:
        """For requests that carry no call's settings: what this replica serves now."""
        return self._ledgers.current()

    async def record_usage(
        self,
        call_sid: str,
        usage: UsageDelta,
        update_id: str | None = None,
        config: dict[str, Any] | None = None,
        trace: dict[str, str] | None = None,
    ) -> UsageResult:
        ledger = self._ledgers.for_call(config)
        # `trace`: the calling turn's span (`switchboard.tracing`), this one's parent.
        with tracing.span("budget.record_usage", trace, kind=tracing.SpanKind.SERVER,
                          attributes={"call.sid": call_sid}):
            result = await ledger.record_usage(call_sid, usage, update_id=update_id)
        if result.downgrade is not None:
            self._count(result.downgrade)
        return result

    async def request_premium(
        self,
        call_sid: str,
        *,
        trigger: str,
        qualification_score: float,
        budget_usd: float | None,
        config: dict[str, Any] | None = None,
        trace: dict[str, str] | None = None,
    ) -> TierDecision:
        with tracing.span("budget.request_premium", trace, kind=tracing.SpanKind.SERVER,
                          attributes={"call.sid": call_sid, "trigger": trigger}) as span:
            decision = await self._ledgers.for_call(config).request_premium(
                call_sid,
                trigger=trigger,
                qualification_score=qualification_score,
                budget_usd=budget_usd,
            )
            if span is not None:
                span.set_attribute("approved", decision.approved)
        self._count(decision)
        return decision

    async def force_tier(self, call_sid: str, tier: Tier, reason: str) -> TierDecision:
        decision = await self._ledger.force_tier(call_sid, tier, reason)
        self._count(decision)
        return decision

    async def renew_hold(self, call_sid: str) -> Tier:
        return await self._ledger.renew_hold(call_sid)

    async def end_call(self, call_sid: str, trace: dict[str, str] | None = None) -> CallCost:
        with tracing.span("budget.end_call", trace, kind=tracing.SpanKind.SERVER,
                          attributes={"call.sid": call_sid}):
            return await self._ledger.end_call(call_sid)

    async def call_cost(self, call_sid: str) -> CallCost:
        return await self._ledger.call_cost(call_sid)

    async def call_budget(self, call_sid: str) -> CallBudget:
        return await self._ledger.call_budget(call_sid)

    async def day_totals(self, day: str | None = None) -> DayTotals:
        return await self._ledger.day_totals(day)

    async def check_health(self) -> None:
        # Not a Redis ping: see the module docstring.
        if self._releasing.done():
            error = None if self._releasing.cancelled() else self._releasing.exception()
            raise RuntimeError(f"budget: the lease release loop stopped: {error!r}")

    async def aclose(self) -> None:
        """Stop the release loop and close the Redis client (Serve calls `__del__`)."""
        self._stop_releasing()
        with contextlib.suppress(asyncio.CancelledError):
            await self._releasing
        await self._redis.aclose()

    def __del__(self) -> None:
        self._stop_releasing()

    # Leases

    async def _release_loop(self) -> None:
        failing = False
        while not self._stop.is_set():
            failing = await self._release_once(failing)
            with contextlib.suppress(TimeoutError):  # woken early when asked to stop
                await asyncio.wait_for(self._stop.wait(), self._release_interval_s)

    def _stop_releasing(self) -> None:
        # The flag as well as the cancel: redis-py 8.1 turns a cancellation that lands
        # inside a command into a ConnectionError, which our client then retries, so the
        # cancellation can be lost; the loop must end anyway.
        if not hasattr(self, "_releasing"):  # the constructor failed before the loop
            return
        self._stop.set()
        with contextlib.suppress(RuntimeError):  # the event loop may be closed already
            self._releasing.cancel()

    async def _release_once(self, failing: bool) -> bool:
        """One pass of the loop; whether it failed. Logs an outage once, and its end."""
        try:
            released = await self._ledger.release_expired_holds()
            self._count_lease_releases(len(released))
            # The day's spend against its cap, for the budget-near-cap alert.
            day = await self._ledger.day_totals()
            self._day_metrics.show(float(day.committed), float(day.budget))
        except Exception as exc:
            if not failing:
                logger.warning("budget: releasing expired holds failed, will retry: %r", exc)
            return True
        if failing:
            logger.info("budget: releasing expired holds again")
        if released:
            logger.info("budget: released %d expired holds: %s", len(released), released)
        return False

    def _count(self, decision: TierDecision) -> None:
        self._metrics.tier_decided(decision, reason_code(decision).value)

    def _count_lease_releases(self, count: int) -> None:
        # The decisions themselves went to the outbox; the metric only needs their kind.
        released = TierDecision(
            tier="economy", trigger="lease", approved=True, reason=Reason.LEASE_EXPIRED.value
        )
        for _ in range(count):
            self._metrics.tier_decided(released, Reason.LEASE_EXPIRED.value)

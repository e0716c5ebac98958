"""`BudgetDeployment`: the budget ledger as a singleton Serve deployment.

Handles call its async methods (`await handle.request_premium.remote(...)`). One
replica is enough and keeps the budget one thing to watch, but nothing depends on it
being one: the counters live in Redis and every change is one atomic script, so a
restarted replica (or an accidental second one) continues from the same totals.
Each request is one or two short Redis round trips, so one replica takes many at once.
"""

from __future__ import annotations

import logging

from ray import serve

from actors.budget import (
    BudgetLedger,
    CallBudget,
    CallCost,
    DayTotals,
    UsageDelta,
    UsageResult,
    reason_code,
)
from switchboard.metrics import VoiceAgentIntegrationMetrics
from switchboard.models import Tier, TierDecision
from switchboard.redis_client import connect as connect_redis
from switchboard.settings import VoiceAgentIntegrationConfig, get_settings

logger = logging.getLogger("ray.serve")


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
    def __init__(self, settings: VoiceAgentIntegrationConfig | None = None) -> None:
        settings = settings or get_settings()
        self._redis = connect_redis(settings.redis_url)
        self._ledger = BudgetLedger.from_settings(self._redis, settings)
        self._metrics = VoiceAgentIntegrationMetrics.get()
        logger.info("budget ledger on %s (prefix %s)", settings.redis_url, settings.redis_prefix)

    async def record_usage(
        self, call_sid: str, usage: UsageDelta, update_id: str | None = None
    ) -> UsageResult:
        result = await self._ledger.record_usage(call_sid, usage, update_id=update_id)
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
    ) -> TierDecision:
        decision = await self._ledger.request_premium(
            call_sid,
            trigger=trigger,
            qualification_score=qualification_score,
            budget_usd=budget_usd,
        )
        self._count(decision)
        return decision

    async def force_tier(self, call_sid: str, tier: Tier, reason: str) -> TierDecision:
        decision = await self._ledger.force_tier(call_sid, tier, reason)
        self._count(decision)
        return decision

    async def end_call(self, call_sid: str) -> CallCost:
        return await self._ledger.end_call(call_sid)

    async def call_cost(self, call_sid: str) -> CallCost:
        return await self._ledger.call_cost(call_sid)

    async def call_budget(self, call_sid: str) -> CallBudget:
        return await self._ledger.call_budget(call_sid)

    async def day_totals(self, day: str | None = None) -> DayTotals:
        return await self._ledger.day_totals(day)

    async def check_health(self) -> None:
        # Without Redis the budget can decide nothing: let Serve restart the replica.
        await self._redis.ping()

    def _count(self, decision: TierDecision) -> None:
        self._metrics.tier_decided(decision, reason_code(decision).value)

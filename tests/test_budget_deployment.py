"""`BudgetDeployment`: made from settings, and answering through a Serve handle."""

from __future__ import annotations

from decimal import Decimal

import pytest
import redis.asyncio as redis
from ray import serve

from actors.budget_ledger import CallCost, DayTotals, Reason, UsageDelta, reason_code
from deployments.budget_deployment import BudgetDeployment
from switchboard.settings import load_settings
from tests.test_budget_support import outbox_decisions


def test_it_is_a_singleton_with_a_fraction_of_a_cpu() -> None:
    assert BudgetDeployment.num_replicas == 1
    assert 0 < BudgetDeployment.ray_actor_options["num_cpus"] < 1


async def test_the_class_behind_the_deployment_decides_from_settings(
    redis_client: redis.Redis, redis_prefix: str
) -> None:
    settings = load_settings(redis_prefix=redis_prefix)
    budget = BudgetDeployment.func_or_class(settings)
    try:
        await budget.check_health()

        await budget.record_usage("CA-direct", UsageDelta(telephony_ms=60_000))
        decision = await budget.request_premium(
            "CA-direct", trigger="stated_budget", qualification_score=0.5, budget_usd=90_000
        )
        assert reason_code(decision) is Reason.GRANTED
        assert await budget.renew_hold("CA-direct") == "premium"
        assert (await budget.call_cost("CA-direct")).total == Decimal("0.0085")
        assert (await budget.end_call("CA-direct")).total == Decimal("0.0085")
        assert (await budget.day_totals()).granted == 1
        assert len(await outbox_decisions(redis_client, redis_prefix)) == 1
    finally:
        await budget.aclose()


@pytest.mark.slow
@pytest.mark.parallel_safe
async def test_handles_reach_the_ledger_through_serve(
    local_ray: None, redis_client: redis.Redis, redis_prefix: str
) -> None:
    settings = load_settings(redis_prefix=redis_prefix)
    handle = serve.run(
        BudgetDeployment.bind(settings), name="budget-test", route_prefix=None
    )

    usage = await handle.record_usage.remote("CA-served", UsageDelta(tts_characters=2_000))
    assert usage.cost.total == Decimal("0.03")
    decision = await handle.request_premium.remote(
        "CA-served", trigger="qualification_score", qualification_score=0.75, budget_usd=None
    )
    assert decision.approved
    forced = await handle.force_tier.remote("CA-served", "economy", "test")
    assert forced.reason == "admin: test"
    cost: CallCost = await handle.call_cost.remote("CA-served")
    totals: DayTotals = await handle.day_totals.remote()
    assert cost.total == totals.cost.total == Decimal("0.03")
    assert (totals.granted, totals.revoked, totals.held) == (1, 1, 0)
    assert len(await outbox_decisions(redis_client, redis_prefix)) == 2

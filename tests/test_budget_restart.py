"""A restarted ledger, or a restarted Redis (with AOF), continues from the same totals."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
import redis.asyncio as redis

from actors.budget_ledger import BudgetLedger, Reason, UsageDelta, reason_code
from switchboard.local_services import LocalRedis
from switchboard.redis_client import connect
from switchboard.settings import TierEscalationSettings
from tests.test_budget_support import make_ledger, outbox_decisions, separate_clients

TIERS = TierEscalationSettings(daily_budget_usd=0.30)  # three reservations of $0.10
ASK = {"trigger": "qualification_score", "qualification_score": 1.0, "budget_usd": None}


async def _spend_a_day(ledger: BudgetLedger) -> None:
    """Two grants, usage on both, a refusal-free day with one grant left."""
    await ledger.record_usage("CA-a", UsageDelta(telephony_ms=125_000, economy_tokens=2_000))
    assert (await ledger.request_premium("CA-a", **ASK)).approved
    await ledger.record_usage("CA-a", UsageDelta(premium_tokens=3_000))
    assert (await ledger.request_premium("CA-b", **ASK)).approved
    await ledger.record_usage("CA-b", UsageDelta(stt_ms=4_321, tts_characters=777))


async def _assert_the_day_continues(ledger: BudgetLedger) -> None:
    a, b = await ledger.call_cost("CA-a"), await ledger.call_cost("CA-b")
    # 125 s × $0.0085/min, 2k economy tokens, 3k premium tokens; 4.321 s STT, 777 chars.
    assert a.total == Decimal("0.017708") + Decimal("0.0012") + Decimal("0.03")
    assert b.total == Decimal("0.000432") + Decimal("0.011655")
    totals = await ledger.day_totals()
    assert totals.cost.total == a.total + b.total
    assert (totals.granted, totals.premium_spent, totals.held) == (
        2, Decimal("0.03"), Decimal("0.17")
    )
    # A retried request finds the grant; the third grant fits, a fourth does not.
    assert reason_code(await ledger.request_premium("CA-a", **ASK)) is Reason.ALREADY_PREMIUM
    assert (await ledger.request_premium("CA-c", **ASK)).approved
    assert reason_code(await ledger.request_premium("CA-d", **ASK)) is Reason.DAILY_BUDGET
    # Usage adds to the same totals, and decision numbers continue.
    await ledger.record_usage("CA-b", UsageDelta(tts_characters=1_000))
    assert (await ledger.call_cost("CA-b")).total == b.total + Decimal("0.015")
    await ledger.force_tier("CA-a", "economy", "after restart")
    assert (await ledger.call_budget("CA-a")).decisions == 2


async def test_a_new_ledger_instance_continues_from_the_same_totals(
    redis_client: redis.Redis, redis_prefix: str
) -> None:
    async with separate_clients(1) as (first,):
        await _spend_a_day(make_ledger(first, redis_prefix, tiers=TIERS))
    async with separate_clients(1) as (second,):
        await _assert_the_day_continues(make_ledger(second, redis_prefix, tiers=TIERS))

    seqs = [(e.call_sid, e.seq) for e in await outbox_decisions(redis_client, redis_prefix)]
    assert ("CA-a", 0) in seqs and ("CA-a", 1) in seqs


@pytest.mark.slow
@pytest.mark.parallel_safe
async def test_the_totals_survive_a_redis_crash_with_aof(tmp_path: Path) -> None:
    server = LocalRedis(tmp_path, appendfsync="always")
    server.start()
    prefix = "budget-restart"
    before = connect(server.url)
    try:
        ledger = make_ledger(before, prefix, tiers=TIERS)
        await _spend_a_day(ledger)
        recorded = len(await outbox_decisions(before, prefix))

        server.restart(kill=True)  # like a crash: only the AOF is left

        after = connect(server.url)
        try:
            await _assert_the_day_continues(make_ledger(after, prefix, tiers=TIERS))
            assert len(await outbox_decisions(after, prefix)) == recorded + 3
        finally:
            await after.aclose()
        # The ledger that was running before the crash reconnects and sees the same day.
        assert (await ledger.day_totals()).granted == 3
        assert (await ledger.call_budget("CA-a")).tier == "economy"
    finally:
        await before.aclose()
        server.stop()

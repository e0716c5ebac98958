"""Usage becomes exact cost, per call and per day; the per-call cap and the daily budget
end a premium grant when they are reached."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
import redis.asyncio as redis
from redis.exceptions import ResponseError

from actors.budget_ledger import Reason, UsageDelta, reason_code
from actors.usage import CallUsage
from switchboard.settings import TierEscalationSettings
from tests.test_budget_support import expected_cost, make_ledger, outbox_decisions

ASK = {"trigger": "qualification_score", "qualification_score": 1.0, "budget_usd": None}


async def test_usage_is_priced_exactly_per_category(
    redis_client: redis.Redis, redis_prefix: str
) -> None:
    ledger = make_ledger(redis_client, redis_prefix)
    result = await ledger.record_usage(
        "CA-priced",
        UsageDelta.of(
            telephony_seconds=90,  # 1.5 min × $0.0085
            stt_seconds=12.345,  # × $0.0001 = $0.0012345, half-up to the µ$
            tts_characters=1_001,  # × $0.000015
            llm_tokens={"economy": 1_234, "premium": 777},  # $0.0007404 + $0.00777
        ),
    )
    assert result.cost.breakdown == {
        "telephony": Decimal("0.012750"),
        "stt": Decimal("0.001235"),
        "llm": Decimal("0.008510"),
        "tts": Decimal("0.015015"),
    }
    assert result.cost.total == Decimal("0.037510")
    assert result.day_total == Decimal("0.037510")
    assert result.tier == "economy"
    assert await ledger.call_cost("CA-priced") == result.cost
    total, breakdown = await ledger.call_cost("CA-priced")
    assert total == sum(breakdown.values())


async def test_many_small_updates_cost_exactly_what_one_update_of_their_sum_costs(
    redis_client: redis.Redis, redis_prefix: str
) -> None:
    ledger = make_ledger(redis_client, redis_prefix)
    # 40 ms of telephony costs 5.67 µ$: rounding each piece would make 1,000 of them
    # cost 6,000 µ$ instead of the 5,667 µ$ that 40 s cost.
    # (In batches of 50 concurrent updates: the client's pool has 100 connections.)
    for _batch in range(20):
        await asyncio.gather(*(
            ledger.record_usage("CA-small", UsageDelta(telephony_ms=40, stt_ms=20))
            for _ in range(50)
        ))
    await ledger.record_usage("CA-big", UsageDelta(telephony_ms=40_000, stt_ms=20_000))

    small, big = await ledger.call_cost("CA-small"), await ledger.call_cost("CA-big")
    assert small == big
    assert small.breakdown["telephony"] == Decimal("0.005667")
    assert small.total == expected_cost(
        UsageDelta(telephony_ms=40_000, stt_ms=20_000), TierEscalationSettings()
    )
    assert (await ledger.day_totals()).cost.total == small.total + big.total


async def test_an_update_applied_twice_counts_once(
    redis_client: redis.Redis, redis_prefix: str
) -> None:
    ledger = make_ledger(redis_client, redis_prefix)
    usage = UsageDelta(economy_tokens=10_000)
    results = await asyncio.gather(*(
        ledger.record_usage("CA-retry", usage, update_id="turn-7") for _ in range(5)
    ))
    assert sorted(result.duplicate for result in results) == [False, True, True, True, True]
    assert {result.cost.total for result in results} == {Decimal("0.006")}
    assert (await ledger.day_totals()).cost.total == Decimal("0.006")


async def test_snapshots_of_a_sessions_usage_add_up_to_its_last_snapshot(
    redis_client: redis.Redis, redis_prefix: str
) -> None:
    ledger = make_ledger(redis_client, redis_prefix)
    snapshots = [
        CallUsage(),
        CallUsage(call_seconds=10.0004, stt_seconds=1.1, tts_characters=40,
                  llm_tokens={"economy": 300, "premium": 0}),
        CallUsage(call_seconds=20.0008, stt_seconds=2.2, tts_characters=95,
                  llm_tokens={"economy": 300, "premium": 450}),
        CallUsage(call_seconds=65.4321, stt_seconds=7.77, tts_characters=310,
                  llm_tokens={"economy": 900, "premium": 1_450}),
    ]
    for before, after in zip(snapshots, snapshots[1:], strict=False):
        await ledger.record_usage("CA-session", UsageDelta.between(before, after))

    whole = UsageDelta.between(CallUsage(), snapshots[-1])
    assert whole == UsageDelta(telephony_ms=65_432, stt_ms=7_770, tts_characters=310,
                               economy_tokens=900, premium_tokens=1_450)
    assert (await ledger.call_cost("CA-session")).total == expected_cost(
        whole, TierEscalationSettings()
    )


async def test_usage_of_several_calls_adds_up_in_the_days_total(
    redis_client: redis.Redis, redis_prefix: str
) -> None:
    ledger = make_ledger(redis_client, redis_prefix)
    a = await ledger.record_usage("CA-one", UsageDelta(telephony_ms=60_000))
    b = await ledger.record_usage("CA-two", UsageDelta(tts_characters=1_000))
    assert (a.day_total, b.day_total) == (Decimal("0.0085"), Decimal("0.0235"))
    totals = await ledger.day_totals()
    assert totals.cost.breakdown == {
        "telephony": Decimal("0.0085"), "stt": 0, "llm": 0, "tts": Decimal("0.015"),
    }


def test_usage_cannot_go_backwards() -> None:
    with pytest.raises(ValueError, match="tts_characters"):
        UsageDelta(tts_characters=-1)
    with pytest.raises(ValueError, match="unknown tiers"):
        UsageDelta.of(llm_tokens={"deluxe": 5})


async def test_a_call_that_has_spent_the_cap_is_refused_premium(
    redis_client: redis.Redis, redis_prefix: str
) -> None:
    ledger = make_ledger(redis_client, redis_prefix)
    # 2,500 s of speech at $0.0001 is exactly the $0.25 cap; a second less is below it.
    await ledger.record_usage("CA-at-cap", UsageDelta.of(stt_seconds=2_500))
    await ledger.record_usage("CA-below-cap", UsageDelta.of(stt_seconds=2_499))

    refused = await ledger.request_premium("CA-at-cap", **ASK)
    assert not refused.approved
    assert reason_code(refused) is Reason.PER_CALL_CAP
    assert "0.2500 USD of its 0.2500 USD cap" in refused.reason
    assert (await ledger.request_premium("CA-below-cap", **ASK)).approved

    totals = await ledger.day_totals()
    assert (totals.granted, totals.refused) == (1, 1)
    assert totals.held == Decimal("0.10")  # only the granted call reserved


async def test_a_premium_call_reaching_the_cap_goes_back_to_economy(
    redis_client: redis.Redis, redis_prefix: str
) -> None:
    ledger = make_ledger(redis_client, redis_prefix)
    assert (await ledger.request_premium("CA-capped", **ASK)).approved

    below = await ledger.record_usage("CA-capped", UsageDelta.of(stt_seconds=2_000))
    assert (below.tier, below.downgrade) == ("premium", None)
    reached = await ledger.record_usage("CA-capped", UsageDelta.of(stt_seconds=500))
    assert reached.tier == "economy"
    assert reached.downgrade is not None
    assert (reached.downgrade.tier, reached.downgrade.approved) == ("economy", True)
    assert reason_code(reached.downgrade) is Reason.PER_CALL_CAP

    call = await ledger.call_budget("CA-capped")
    assert (call.tier, call.held) == ("economy", 0)
    totals = await ledger.day_totals()
    assert (totals.held, totals.downgraded) == (0, 1)
    # It stays in economy: a new request is refused at the cap.
    again = await ledger.request_premium("CA-capped", **ASK)
    assert reason_code(again) is Reason.PER_CALL_CAP

    seqs = [(e.seq, e.decision.tier, e.decision.approved)
            for e in await outbox_decisions(redis_client, redis_prefix)]
    assert seqs == [(0, "premium", True), (1, "economy", True), (2, "premium", False)]


async def test_premium_ends_when_its_reservation_is_spent_and_the_day_is_committed(
    redis_client: redis.Redis, redis_prefix: str
) -> None:
    # A budget of one reservation: the grant commits the whole day.
    tiers = TierEscalationSettings(daily_budget_usd=0.10)
    ledger = make_ledger(redis_client, redis_prefix, tiers=tiers)
    assert (await ledger.request_premium("CA-spender", **ASK)).approved

    half = await ledger.record_usage("CA-spender", UsageDelta(premium_tokens=5_000))
    assert (half.tier, half.downgrade) == ("premium", None)
    assert (await ledger.call_budget("CA-spender")).held == Decimal("0.05")

    spent = await ledger.record_usage("CA-spender", UsageDelta(premium_tokens=5_000))
    assert spent.tier == "economy"
    assert spent.downgrade is not None
    assert reason_code(spent.downgrade) is Reason.DAILY_BUDGET
    totals = await ledger.day_totals()
    assert (totals.premium_spent, totals.held, totals.remaining) == (Decimal("0.10"), 0, 0)


async def test_premium_continues_past_its_reservation_while_the_day_has_room(
    redis_client: redis.Redis, redis_prefix: str
) -> None:
    ledger = make_ledger(redis_client, redis_prefix)  # $50 a day
    assert (await ledger.request_premium("CA-chatty", **ASK)).approved
    result = await ledger.record_usage("CA-chatty", UsageDelta(premium_tokens=15_000))
    assert (result.tier, result.downgrade) == ("premium", None)
    totals = await ledger.day_totals()
    assert (totals.premium_spent, totals.held) == (Decimal("0.15"), 0)


async def test_usage_too_large_to_price_exactly_is_refused_and_changes_nothing(
    redis_client: redis.Redis, redis_prefix: str
) -> None:
    ledger = make_ledger(redis_client, redis_prefix)
    await ledger.record_usage("CA-huge", UsageDelta(telephony_ms=60_000))
    with pytest.raises(ResponseError, match="too large to price exactly"):
        await ledger.record_usage(
            "CA-huge", UsageDelta(tts_characters=5, premium_tokens=10**15), update_id="huge"
        )
    assert (await ledger.call_cost("CA-huge")).total == Decimal("0.0085")
    assert (await ledger.day_totals()).cost.total == Decimal("0.0085")
    # Nothing marked the update as applied: a corrected retry with its id counts.
    fixed = await ledger.record_usage("CA-huge", UsageDelta(tts_characters=5), update_id="huge")
    assert not fixed.duplicate
    assert fixed.cost.total == Decimal("0.008575")

"""Concurrent escalation requests never overspend the daily budget (issue 3's "Must show").

Requests run concurrently through several ledger instances, each with its own Redis
connections, as retries and replicas would, against the real Redis.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable
from decimal import Decimal
from typing import TypeVar

import redis.asyncio as redis

from actors.budget_ledger import Reason, UsageDelta, UsageResult, reason_code
from deployments.budget_deployment import BudgetDeployment
from switchboard.models import TierDecision
from switchboard.settings import TierEscalationSettings
from tests.test_budget_support import (
    CENT,
    expected_breakdown,
    expected_cost,
    make_ledger,
    outbox_decisions,
    separate_clients,
    split,
)

RESERVATION = "0.10"
MAX_ONGOING = BudgetDeployment.max_ongoing_requests
# Exactly fifty reservations of $0.10.
TIERS = TierEscalationSettings(daily_budget_usd=5.00)
T = TypeVar("T")


async def bounded(slot: asyncio.Semaphore, work: Awaitable[T]) -> T:
    async with slot:
        return await work


def usage_of(index: int) -> UsageDelta:
    """A different, awkward amount of economy usage for each call."""
    return UsageDelta(
        telephony_ms=31_337 + 977 * index,
        stt_ms=9_001 + 113 * index,
        tts_characters=151 + 7 * index,
        economy_tokens=803 + 31 * index,
    )


async def test_200_concurrent_requests_against_a_budget_for_50_grant_exactly_50(
    redis_client: redis.Redis, redis_prefix: str
) -> None:
    calls = [f"CA{index:032d}" for index in range(200)]
    usages = [usage_of(index) for index in range(200)]
    async with separate_clients(4) as clients:
        ledgers = [
            make_ledger(client, redis_prefix, tiers=TIERS, reservation=RESERVATION)
            for client in clients
        ]
        # As Serve's max_ongoing_requests bounds each replica (and so its Redis pool).
        slots = [asyncio.Semaphore(MAX_ONGOING) for _ in ledgers]
        work = []
        for index, call_sid in enumerate(calls):
            replica = index % len(ledgers)
            ledger = ledgers[replica]
            # Usage arrives while the requests are decided: it must neither be lost nor
            # change who gets premium (economy usage is not premium spend).
            work += [
                bounded(slots[replica], ledger.record_usage(call_sid, piece))
                for piece in split(usages[index], 3)
            ]
            work.append(
                bounded(
                    slots[replica],
                    ledger.request_premium(
                        call_sid, trigger="qualification_score", qualification_score=1.0,
                        budget_usd=75_000,
                    ),
                )
            )
        random.Random(3).shuffle(work)
        results = await asyncio.gather(*work)
        totals = await ledgers[0].day_totals()
        costs = await asyncio.gather(
            *(bounded(slots[1], ledgers[1].call_cost(call_sid)) for call_sid in calls)
        )

    decisions = [result for result in results if isinstance(result, TierDecision)]
    assert len(decisions) == 200
    granted = [d for d in decisions if d.approved]
    refused = [d for d in decisions if not d.approved]
    assert len(granted) == 50
    assert len(refused) == 150
    assert {reason_code(d) for d in granted} == {Reason.GRANTED}
    assert {reason_code(d) for d in refused} == {Reason.DAILY_BUDGET}
    assert all("daily budget" in d.reason for d in refused)

    assert (totals.granted, totals.refused) == (50, 150)
    assert totals.reserved == totals.held == Decimal("5.00")
    assert totals.committed == totals.budget
    assert totals.remaining == 0

    # Every cost is exact: the day's total is the sum of what each call's usage costs.
    expected_total = sum((expected_cost(u, TIERS) for u in usages), Decimal(0))
    assert totals.cost.total == expected_total
    assert totals.cost.total.quantize(CENT) == expected_total.quantize(CENT)
    assert sum((cost.total for cost in costs), Decimal(0)) == totals.cost.total
    for name in ("telephony", "stt", "llm", "tts"):
        expected_part = sum((expected_breakdown(u, TIERS)[name] for u in usages), Decimal(0))
        assert totals.cost.breakdown[name] == expected_part
    for cost, usage in zip(costs, usages, strict=True):
        assert cost.breakdown == expected_breakdown(usage, TIERS)

    recorded = await outbox_decisions(redis_client, redis_prefix)
    assert len(recorded) == 200
    assert sum(event.decision.approved for event in recorded) == 50
    assert {event.seq for event in recorded} == {0}
    assert {event.call_sid for event in recorded} == set(calls)


async def test_retried_requests_for_one_call_reserve_once(
    redis_client: redis.Redis, redis_prefix: str
) -> None:
    async with separate_clients(4) as clients:
        ledgers = [make_ledger(c, redis_prefix, reservation=RESERVATION) for c in clients]
        decisions = await asyncio.gather(*(
            ledgers[index % 4].request_premium(
                "CA-retried", trigger="stated_budget", qualification_score=0.25,
                budget_usd=60_000,
            )
            for index in range(20)
        ))
        totals = await ledgers[0].day_totals()

    assert all(d.approved and d.tier == "premium" for d in decisions)
    assert [reason_code(d) for d in decisions].count(Reason.GRANTED) == 1
    assert [reason_code(d) for d in decisions].count(Reason.ALREADY_PREMIUM) == 19
    assert totals.granted == 1
    assert totals.reserved == Decimal(RESERVATION)
    recorded = await outbox_decisions(redis_client, redis_prefix)
    assert [(e.seq, reason_code(e.decision)) for e in recorded] == [(0, Reason.GRANTED)]


async def test_concurrent_premium_spend_draws_on_reservations_without_overspending(
    redis_prefix: str,
) -> None:
    async with separate_clients(3) as clients:
        ledgers = [
            make_ledger(c, redis_prefix, tiers=TIERS, reservation=RESERVATION) for c in clients
        ]
        calls = [f"CA-premium-{index}" for index in range(80)]
        decisions = await asyncio.gather(*(
            ledgers[index % 3].request_premium(
                call_sid, trigger="qualification_score", qualification_score=0.75,
                budget_usd=None,
            )
            for index, call_sid in enumerate(calls)
        ))
        premium = [sid for sid, d in zip(calls, decisions, strict=True) if d.approved]
        # Each premium call spends 6,000 premium tokens ($0.06 of its $0.10) in 4 updates.
        results: list[UsageResult] = await asyncio.gather(*(
            ledgers[index % 3].record_usage(call_sid, UsageDelta(premium_tokens=1_500))
            for index, call_sid in enumerate(premium * 4)
        ))
        totals = await ledgers[0].day_totals()

    assert len(premium) == 50
    assert all(result.tier == "premium" and result.downgrade is None for result in results)
    assert totals.premium_spent == Decimal("3.00")
    assert totals.held == Decimal("2.00")
    assert totals.committed == Decimal("5.00")
    assert totals.cost.breakdown["llm"] == Decimal("3.00")


async def test_a_reservation_released_at_the_end_of_a_call_is_granted_to_the_next(
    redis_client: redis.Redis, redis_prefix: str
) -> None:
    tiers = TierEscalationSettings(daily_budget_usd=0.25)
    ledger = make_ledger(redis_client, redis_prefix, tiers=tiers, reservation=RESERVATION)
    ask = {"trigger": "qualification_score", "qualification_score": 1.0, "budget_usd": None}
    assert (await ledger.request_premium("CA-a", **ask)).approved
    assert (await ledger.request_premium("CA-b", **ask)).approved
    assert reason_code(await ledger.request_premium("CA-c", **ask)) is Reason.DAILY_BUDGET

    # CA-a spent $0.04 of its $0.10; ending it gives the other $0.06 back.
    await ledger.record_usage("CA-a", UsageDelta(premium_tokens=4_000))
    released = await ledger.end_call("CA-a")
    assert released.breakdown["llm"] == Decimal("0.04")
    totals = await ledger.day_totals()
    assert (totals.premium_spent, totals.held) == (Decimal("0.04"), Decimal("0.10"))

    assert (await ledger.request_premium("CA-c", **ask)).approved
    assert reason_code(await ledger.request_premium("CA-d", **ask)) is Reason.DAILY_BUDGET
    assert (await ledger.day_totals()).committed == Decimal("0.24")
    # An ended call asks no more.
    assert reason_code(await ledger.request_premium("CA-a", **ask)) is Reason.CALL_ENDED

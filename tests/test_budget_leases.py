"""A premium hold is a lease: a call that stops renewing it (its session died without
`end_call`) gives its reservation back to the day, and nothing is ever released twice.

Leases run on a `FakeClock`, so they expire without the tests sleeping; the
deployment's loop runs on real time against holds granted at `T0`, long past.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from decimal import Decimal
from pathlib import Path

import pytest
import redis.asyncio as redis

from actors.budget_ledger import BudgetLedger, Reason, UsageDelta, reason_code
from deployments.budget_deployment import BudgetDeployment
from switchboard.local_services import LocalRedis
from switchboard.redis_client import connect
from switchboard.settings import TierEscalationSettings, load_settings
from tests.test_budget_support import (
    DAY,
    T0,
    FakeClock,
    make_ledger,
    outbox_decisions,
    separate_clients,
)

LEASE = TierEscalationSettings().hold_lease_s
TIERS = TierEscalationSettings(daily_budget_usd=0.20)  # room for two holds of $0.10
ASK = {"trigger": "qualification_score", "qualification_score": 1.0, "budget_usd": None}
LOOP_DEADLINE_S = 10.0


async def grant(ledger: BudgetLedger, call_sid: str) -> None:
    decision = await ledger.request_premium(call_sid, **ASK)
    assert reason_code(decision) is Reason.GRANTED


async def lease_decisions(client: redis.Redis, prefix: str) -> dict[str, list]:
    """The lease releases in the outbox, by call."""
    found: dict[str, list] = {}
    for event in await outbox_decisions(client, prefix):
        if event.decision.trigger == "lease":
            found.setdefault(event.call_sid, []).append(event)
    return found


def test_the_lease_is_a_setting_of_90_seconds_that_must_be_positive() -> None:
    assert LEASE == 90
    with pytest.raises(ValueError, match="hold_lease_s"):
        TierEscalationSettings(hold_lease_s=0)


async def test_an_unrenewed_hold_goes_back_to_the_day_after_its_lease(
    redis_client: redis.Redis, redis_prefix: str
) -> None:
    clock = FakeClock()
    ledger = make_ledger(redis_client, redis_prefix, tiers=TIERS, clock=clock)
    await grant(ledger, "CA-gone")
    await grant(ledger, "CA-other")
    await ledger.record_usage("CA-gone", UsageDelta(premium_tokens=4_000))  # $0.04 of it
    assert reason_code(await ledger.request_premium("CA-next", **ASK)) is Reason.DAILY_BUDGET

    clock.advance(LEASE - 1)
    assert await ledger.release_expired_holds() == []
    clock.advance(1)  # the lease of both ends now: CA-gone renewed it at T0 with its usage
    assert sorted(await ledger.release_expired_holds()) == ["CA-gone", "CA-other"]

    call = await ledger.call_budget("CA-gone")
    assert (call.tier, call.held, call.hold_expires) == ("economy", 0, None)
    totals = await ledger.day_totals()
    # What it spent stays spent; the unspent $0.06 and CA-other's $0.10 came back.
    assert (totals.premium_spent, totals.held, totals.expired) == (Decimal("0.04"), 0, 2)
    assert totals.reserved == Decimal("0.20")
    assert (await ledger.request_premium("CA-next", **ASK)).approved
    assert await ledger.release_expired_holds() == []  # released once only


async def test_a_hold_goes_back_to_the_day_it_was_taken_from_after_midnight(
    redis_client: redis.Redis, redis_prefix: str
) -> None:
    clock = FakeClock(T0 + 12 * 3600 - 30)  # 23:59:30 UTC
    ledger = make_ledger(redis_client, redis_prefix, clock=clock)
    await grant(ledger, "CA-late")
    clock.advance(LEASE)
    assert ledger.today() != DAY

    assert await ledger.release_expired_holds() == ["CA-late"]
    granted_day, release_day = await ledger.day_totals(DAY), await ledger.day_totals()
    assert (granted_day.held, granted_day.reserved) == (0, Decimal("0.10"))
    assert (release_day.held, release_day.reserved, release_day.expired) == (0, 0, 1)


async def test_a_renewed_hold_is_not_released(
    redis_client: redis.Redis, redis_prefix: str
) -> None:
    clock = FakeClock()
    ledger = make_ledger(redis_client, redis_prefix, clock=clock)
    await grant(ledger, "CA-alive")
    assert (await ledger.call_budget("CA-alive")).hold_expires == T0 + LEASE

    clock.advance(LEASE - 10)
    assert await ledger.renew_hold("CA-alive") == "premium"
    clock.advance(LEASE - 10)  # past the first lease, inside the renewed one
    assert await ledger.release_expired_holds() == []
    call = await ledger.call_budget("CA-alive")
    assert (call.tier, call.held, call.hold_expires) == (
        "premium", Decimal("0.10"), T0 + 2 * LEASE - 10
    )
    assert (await ledger.day_totals()).held == Decimal("0.10")

    clock.advance(10)
    assert await ledger.release_expired_holds() == ["CA-alive"]
    assert await ledger.renew_hold("CA-alive") == "economy"  # the call learns it lost premium
    assert (await ledger.call_budget("CA-alive")).hold_expires is None


async def test_usage_and_repeated_requests_renew_the_lease(
    redis_client: redis.Redis, redis_prefix: str
) -> None:
    clock = FakeClock()
    ledger = make_ledger(redis_client, redis_prefix, clock=clock)
    await grant(ledger, "CA-talking")
    await grant(ledger, "CA-asking")

    clock.advance(60)
    await ledger.record_usage("CA-talking", UsageDelta(telephony_ms=60_000))
    again = await ledger.request_premium("CA-asking", **ASK)
    assert reason_code(again) is Reason.ALREADY_PREMIUM
    clock.advance(60)
    assert await ledger.release_expired_holds() == []
    for call_sid in ("CA-talking", "CA-asking"):
        assert (await ledger.call_budget(call_sid)).hold_expires == T0 + 60 + LEASE


async def test_a_renewal_never_shortens_a_lease(
    redis_client: redis.Redis, redis_prefix: str
) -> None:
    ahead = make_ledger(redis_client, redis_prefix, clock=T0 + 30)
    behind = make_ledger(redis_client, redis_prefix, clock=T0)  # a replica whose clock lags
    await grant(ahead, "CA-skew")
    assert await behind.renew_hold("CA-skew") == "premium"
    assert (await behind.call_budget("CA-skew")).hold_expires == T0 + 30 + LEASE


async def test_end_call_ends_the_lease(redis_client: redis.Redis, redis_prefix: str) -> None:
    clock = FakeClock()
    ledger = make_ledger(redis_client, redis_prefix, clock=clock)
    await grant(ledger, "CA-done")
    await ledger.end_call("CA-done")
    assert (await ledger.call_budget("CA-done")).hold_expires is None
    assert (await ledger.day_totals()).held == 0

    # Late renewals and usage of an ended call take no new lease.
    await ledger.renew_hold("CA-done")
    await ledger.record_usage("CA-done", UsageDelta(premium_tokens=1_000))
    assert (await ledger.call_budget("CA-done")).hold_expires is None
    clock.advance(2 * LEASE)
    assert await ledger.release_expired_holds() == []
    totals = await ledger.day_totals()
    assert (totals.held, totals.expired) == (0, 0)
    assert await lease_decisions(redis_client, redis_prefix) == {}


async def test_releases_are_recorded_as_decisions_with_trigger_lease(
    redis_client: redis.Redis, redis_prefix: str
) -> None:
    clock = FakeClock()
    ledger = make_ledger(redis_client, redis_prefix, clock=clock)
    await grant(ledger, "CA-crashed")
    clock.advance(LEASE + 5)
    await ledger.release_expired_holds()

    events = await outbox_decisions(redis_client, redis_prefix)
    assert [(e.call_sid, e.seq) for e in events] == [("CA-crashed", 0), ("CA-crashed", 1)]
    released = events[1].decision
    assert (released.tier, released.trigger, released.approved) == ("economy", "lease", True)
    assert reason_code(released) is Reason.LEASE_EXPIRED
    assert released.reason.startswith("lease_expired: ")
    assert "2025-10-09 12:01:30 UTC" in released.reason
    assert "0.1000 USD went back to 2025-10-09" in released.reason
    assert released.at == T0 + LEASE + 5
    assert (await ledger.call_budget("CA-crashed")).decisions == 2


async def test_an_admins_premium_also_expires_unless_renewed(
    redis_client: redis.Redis, redis_prefix: str
) -> None:
    clock = FakeClock()
    ledger = make_ledger(redis_client, redis_prefix, clock=clock)
    await ledger.force_tier("CA-vip", "premium", "key account")
    await ledger.force_tier("CA-vip-live", "premium", "key account")
    clock.advance(LEASE - 1)
    assert await ledger.renew_hold("CA-vip-live") == "premium"
    clock.advance(1)

    assert await ledger.release_expired_holds() == ["CA-vip"]
    call = await ledger.call_budget("CA-vip")
    assert (call.tier, call.pinned, call.held) == ("economy", False, 0)
    assert (await ledger.call_budget("CA-vip-live")).pinned
    (event,) = (await lease_decisions(redis_client, redis_prefix))["CA-vip"]
    assert "an admin's premium was not renewed" in event.decision.reason
    assert (await ledger.day_totals()).held == Decimal("0.10")
    # Unpinned, the call is under the policy again if it turns out to be alive.
    assert (await ledger.request_premium("CA-vip", **ASK)).approved


async def test_call_budget_gives_a_replacement_actor_the_usage_and_the_lease(
    redis_client: redis.Redis, redis_prefix: str
) -> None:
    ledger = make_ledger(redis_client, redis_prefix)
    first = UsageDelta(telephony_ms=61_234, stt_ms=5_001, tts_characters=321,
                       economy_tokens=1_500)
    second = UsageDelta(telephony_ms=30_000, stt_ms=2_000, tts_characters=79,
                        economy_tokens=500, premium_tokens=2_222)
    await ledger.record_usage("CA-resumed", first)
    assert (await ledger.call_budget("CA-resumed")).hold_expires is None
    await grant(ledger, "CA-resumed")
    await ledger.record_usage("CA-resumed", second)

    call = await ledger.call_budget("CA-resumed")
    assert call.units == UsageDelta(
        telephony_ms=91_234, stt_ms=7_001, tts_characters=400, economy_tokens=2_000,
        premium_tokens=2_222,
    )
    assert (call.tier, call.hold_expires) == ("premium", T0 + LEASE)
    assert (await ledger.call_budget("CA-unknown")).units == UsageDelta()


async def test_concurrent_release_and_renewal_never_release_a_hold_twice(
    redis_client: redis.Redis, redis_prefix: str
) -> None:
    tiers = TierEscalationSettings(daily_budget_usd=6.00)
    calls = [f"CA-lease-{index:03d}" for index in range(60)]
    async with separate_clients(4) as clients:
        granting = make_ledger(clients[0], redis_prefix, tiers=tiers)
        await asyncio.gather(*(grant(granting, call_sid) for call_sid in calls))
        # Every lease granted at T0 has run out for these ledgers.
        ledgers = [
            make_ledger(client, redis_prefix, tiers=tiers, clock=T0 + LEASE + 1)
            for client in clients
        ]
        releases = [ledgers[i % 4].release_expired_holds(batch=7) for i in range(8)]
        renewals = [ledgers[i % 4].renew_hold(sid) for i, sid in enumerate(calls[::2])]
        spends = [
            ledgers[i % 4].record_usage(sid, UsageDelta(premium_tokens=2_500))
            for i, sid in enumerate(calls[1::3])
        ]
        work = [*releases, *renewals, *spends]
        order = list(range(len(work)))
        random.Random(7).shuffle(order)
        watching = asyncio.Event()
        held_seen: list[Decimal] = []

        async def watch_the_day() -> None:
            while not watching.is_set():
                held_seen.append((await granting.day_totals()).held)
                await asyncio.sleep(0)

        watcher = asyncio.create_task(watch_the_day())
        results = await asyncio.gather(*(work[i] for i in order))
        watching.set()
        await watcher

    by_work = dict(zip(order, results, strict=True))
    released = [sid for i in range(len(releases)) for sid in by_work[i]]
    renewed = [by_work[len(releases) + i] for i in range(len(renewals))]
    spent = [by_work[len(releases) + len(renewals) + i] for i in range(len(spends))]
    kept = {sid for sid, tier in zip(calls[::2], renewed, strict=True) if tier == "premium"}
    kept |= {
        sid for sid, result in zip(calls[1::3], spent, strict=True) if result.tier == "premium"
    }

    assert len(released) == len(set(released))  # no hold released twice
    assert kept.isdisjoint(released)  # a renewal that answered premium was never undone
    assert kept | set(released) == set(calls)
    assert held_seen and min(held_seen) >= 0

    budgets = {sid: await granting.call_budget(sid) for sid in calls}
    totals = await granting.day_totals()
    assert totals.held == sum((b.held for b in budgets.values()), Decimal(0))
    assert totals.expired == len(released)
    for sid, budget in budgets.items():
        assert (budget.tier == "premium") is (sid in kept)
        assert (budget.hold_expires is not None) is (sid in kept)
    decided = await lease_decisions(redis_client, redis_prefix)
    assert set(decided) == set(released)
    assert all(len(events) == 1 for events in decided.values())

    # When the renewed leases run out too, every hold is back and the day holds nothing.
    last = make_ledger(redis_client, redis_prefix, tiers=tiers, clock=T0 + 3 * LEASE)
    assert set(await last.release_expired_holds(batch=7)) == kept
    after = await last.day_totals()
    assert (after.held, after.reserved, after.expired) == (0, Decimal("6.00"), len(calls))
    assert after.premium_spent == totals.premium_spent


async def _wait_for_economy(budget: BudgetDeployment, call_sid: str) -> None:
    deadline = time.monotonic() + LOOP_DEADLINE_S
    while (await budget.call_budget(call_sid)).tier != "economy":
        assert time.monotonic() < deadline, "the loop did not release the expired hold"
        await asyncio.sleep(0.05)


async def test_the_deployments_loop_releases_an_expired_hold(
    redis_client: redis.Redis, redis_prefix: str
) -> None:
    budget = BudgetDeployment.func_or_class(
        load_settings(redis_prefix=redis_prefix), release_interval_s=0.05
    )
    try:
        # Granted at T0 (in 2025), so its lease ended long before the loop's real clock.
        await grant(make_ledger(redis_client, redis_prefix), "CA-abandoned")
        await _wait_for_economy(budget, "CA-abandoned")
        assert (await budget.day_totals(DAY)).held == 0
        assert list(await lease_decisions(redis_client, redis_prefix)) == ["CA-abandoned"]
        await budget.check_health()
    finally:
        await budget.aclose()
    with pytest.raises(RuntimeError, match="release loop stopped"):
        await budget.check_health()


@pytest.mark.slow
@pytest.mark.parallel_safe
async def test_the_deployment_stays_healthy_through_a_redis_outage_and_resumes(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server = LocalRedis(tmp_path).start()
    prefix = "budget-leases-outage"
    budget = BudgetDeployment.func_or_class(
        load_settings(redis_url=server.url, redis_prefix=prefix), release_interval_s=0.05
    )
    client = connect(server.url)
    try:
        with caplog.at_level(logging.WARNING, logger="ray.serve"):
            server.stop()
            # The client retries for several seconds before the loop sees the error.
            deadline = time.monotonic() + 30
            while "releasing expired holds failed" not in caplog.text:
                assert time.monotonic() < deadline, "the loop never met the outage"
                await asyncio.sleep(0.2)
        await budget.check_health()  # Redis is down, the replica is not

        server.start()
        await grant(make_ledger(client, prefix), "CA-outage")
        await _wait_for_economy(budget, "CA-outage")
        await budget.check_health()
    finally:
        await budget.aclose()
        await client.aclose()
        server.stop()

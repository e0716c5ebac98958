"""Tier decisions: DESIGN.md's policy, an admin forcing or revoking premium, and every
decision reaching the outbox and, through the recorder, the call report."""

from __future__ import annotations

from decimal import Decimal

import asyncpg
import pytest
import redis.asyncio as redis

from actors.budget_ledger import Reason, UsageDelta, reason_code, wants_premium_tier
from db.queries import call_report
from db.recorder import Recorder
from graph.workflow.policy import qualification_score, wants_premium
from switchboard.models import CallFacts
from switchboard.settings import QualificationPolicy, TierEscalationSettings
from tests.test_budget_support import T0, make_ledger, outbox_decisions

POLICY = QualificationPolicy()


@pytest.mark.parametrize(
    ("score", "budget_usd", "asked"),
    [
        (0.0, None, False),
        (0.5, None, False),
        (0.5, 49_999, False),
        (0.75, None, True),
        (1.0, 5_000, True),
        (0.25, 50_000, True),
        (0.0, 1_000_000, True),
    ],
)
def test_premium_is_asked_for_at_score_075_or_budget_50k(
    score: float, budget_usd: float | None, asked: bool
) -> None:
    assert wants_premium_tier(POLICY, qualification_score=score, budget_usd=budget_usd) is asked


@pytest.mark.parametrize(
    "facts",
    [
        CallFacts(),
        CallFacts(budget_usd=60_000),
        CallFacts(budget_usd=20_000, need="missed calls"),
        CallFacts(budget_usd=20_000, need="missed calls", decision_maker=True),
        CallFacts(need="missed calls", decision_maker=True, timeline_months=2),
        CallFacts(budget_usd=5_000, need="x", decision_maker=True, timeline_months=12),
    ],
)
def test_the_ledgers_rule_agrees_with_the_workflows(facts: CallFacts) -> None:
    score = qualification_score(facts, POLICY)
    assert wants_premium_tier(
        POLICY, qualification_score=score, budget_usd=facts.budget_usd
    ) is wants_premium(facts, POLICY)


async def test_a_request_the_policy_does_not_support_is_refused_and_reserves_nothing(
    redis_client: redis.Redis, redis_prefix: str
) -> None:
    ledger = make_ledger(redis_client, redis_prefix)
    decision = await ledger.request_premium(
        "CA-lukewarm", trigger="qualification_score", qualification_score=0.5,
        budget_usd=20_000,
    )
    assert (decision.tier, decision.approved) == ("premium", False)
    assert reason_code(decision) is Reason.NOT_ELIGIBLE
    assert "0.5 is below 0.75" in decision.reason
    assert "20,000 USD" in decision.reason
    totals = await ledger.day_totals()
    assert (totals.granted, totals.refused, totals.held) == (0, 1, 0)
    assert (await ledger.call_budget("CA-lukewarm")).tier == "economy"


async def test_the_policy_numbers_come_from_settings(
    redis_client: redis.Redis, redis_prefix: str
) -> None:
    policy = QualificationPolicy(premium_score=0.5, premium_budget_usd=20_000)
    ledger = make_ledger(redis_client, redis_prefix, policy=policy)
    by_score = await ledger.request_premium(
        "CA-half", trigger="qualification_score", qualification_score=0.5, budget_usd=None
    )
    by_budget = await ledger.request_premium(
        "CA-20k", trigger="stated_budget", qualification_score=0.0, budget_usd=20_000
    )
    below = await ledger.request_premium(
        "CA-quarter", trigger="qualification_score", qualification_score=0.25, budget_usd=19_999
    )
    assert (by_score.approved, by_budget.approved, below.approved) == (True, True, False)


async def test_an_admin_forces_premium_past_policy_and_budget(
    redis_client: redis.Redis, redis_prefix: str
) -> None:
    ledger = make_ledger(redis_client, redis_prefix, tiers=TierEscalationSettings(
        daily_budget_usd=0.10
    ))
    ask = {"trigger": "qualification_score", "qualification_score": 1.0, "budget_usd": None}
    assert (await ledger.request_premium("CA-first", **ask)).approved  # the day is committed

    forced = await ledger.force_tier("CA-vip", "premium", "key account")
    assert (forced.tier, forced.approved, forced.trigger) == ("premium", True, "admin")
    assert forced.reason == "admin: key account"
    call = await ledger.call_budget("CA-vip")
    assert (call.tier, call.pinned, call.held) == ("premium", True, Decimal("0.10"))
    totals = await ledger.day_totals()
    # The forced grant still reserves: the books show the day past its budget.
    assert (totals.forced, totals.committed) == (1, Decimal("0.20"))

    # A forced call keeps premium past the per-call cap.
    capped = await ledger.record_usage("CA-vip", UsageDelta.of(stt_seconds=3_000))
    assert (capped.tier, capped.downgrade) == ("premium", None)


async def test_an_admin_revokes_premium_and_later_requests_leave_it_revoked(
    redis_client: redis.Redis, redis_prefix: str
) -> None:
    ledger = make_ledger(redis_client, redis_prefix)
    ask = {"trigger": "stated_budget", "qualification_score": 0.5, "budget_usd": 80_000}
    assert (await ledger.request_premium("CA-revoked", **ask)).approved
    assert (await ledger.day_totals()).held == Decimal("0.10")

    revoked = await ledger.force_tier("CA-revoked", "economy", "caller complained")
    assert (revoked.tier, revoked.approved, revoked.reason) == (
        "economy", True, "admin: caller complained"
    )
    totals = await ledger.day_totals()
    assert (totals.held, totals.revoked) == (0, 1)  # the reservation went back
    call = await ledger.call_budget("CA-revoked")
    assert (call.tier, call.pinned) == ("economy", True)

    again = await ledger.request_premium("CA-revoked", **ask)
    assert not again.approved
    assert reason_code(again) is Reason.PINNED


async def test_an_admin_cannot_change_the_tier_of_an_ended_call(
    redis_client: redis.Redis, redis_prefix: str
) -> None:
    ledger = make_ledger(redis_client, redis_prefix)
    await ledger.record_usage("CA-over", UsageDelta(telephony_ms=1_000))
    await ledger.end_call("CA-over")
    decision = await ledger.force_tier("CA-over", "premium", "too late")
    assert not decision.approved
    assert reason_code(decision) is Reason.CALL_ENDED
    assert (await ledger.call_budget("CA-over")).tier == "economy"


async def test_decisions_reach_the_outbox_in_order_with_their_fields(
    redis_client: redis.Redis, redis_prefix: str
) -> None:
    ledger = make_ledger(redis_client, redis_prefix)
    await ledger.request_premium(
        "CA-story", trigger="qualification_score", qualification_score=0.25, budget_usd=None
    )
    await ledger.request_premium(
        "CA-story", trigger="stated_budget", qualification_score=0.25, budget_usd=50_000
    )
    await ledger.request_premium(  # already premium: answered, not recorded
        "CA-story", trigger="stated_budget", qualification_score=0.25, budget_usd=50_000
    )
    await ledger.force_tier("CA-story", "economy", "supervisor")

    events = await outbox_decisions(redis_client, redis_prefix)
    assert [(e.call_sid, e.seq) for e in events] == [("CA-story", 0), ("CA-story", 1),
                                                     ("CA-story", 2)]
    assert [
        (e.decision.tier, e.decision.trigger, e.decision.approved, reason_code(e.decision))
        for e in events
    ] == [
        ("premium", "qualification_score", False, Reason.NOT_ELIGIBLE),
        ("premium", "stated_budget", True, Reason.GRANTED),
        ("economy", "admin", True, Reason.ADMIN),
    ]
    assert {e.decision.at for e in events} == {T0}


async def test_decisions_become_the_calls_tier_history(
    redis_client: redis.Redis,
    redis_prefix: str,
    recorder: Recorder,
    db_pool: asyncpg.Pool,
    call_sid: str,
) -> None:
    ledger = make_ledger(redis_client, redis_prefix)
    await ledger.request_premium(
        call_sid, trigger="stated_budget", qualification_score=0.5, budget_usd=75_000
    )
    await ledger.force_tier(call_sid, "economy", "supervisor")
    while await recorder.drain_once():
        pass

    report = await call_report(db_pool, call_sid)
    assert report is not None
    history = report["tier_history"]
    assert [(h["tier"], h["trigger"], h["approved"]) for h in history] == [
        ("premium", "stated_budget", True),
        ("economy", "admin", True),
    ]
    assert history[0]["reason"].startswith("granted: reserved 0.1000 USD")
    assert history[1]["reason"] == "admin: supervisor"
    assert report["tier_escalation_trigger"] == "stated_budget"

"""The call sweeper on real Redis and PostgreSQL: a call nobody serves ends `failed` with
what its last checkpoint knew, exactly once, and never overwrites a call that ended."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
import redis.asyncio as redis

from actors.call_sweeper import CallSweeper
from actors.checkpoint import SessionCheckpoint, SessionCheckpoints
from actors.registry import CallIdentity, CallRegistry
from db.outbox import Outbox
from db.queries import call_report
from db.recorder import Recorder
from graph.workflow.state import ConversationState
from switchboard.models import CallFacts, CallSession, CallStatus, Outcome
from switchboard.settings import RecoverySettings, load_settings

GRACE_S = 2.0


@pytest.fixture
def sweeper(redis_client: redis.Redis, redis_prefix: str) -> CallSweeper:
    settings = load_settings(
        redis_prefix=redis_prefix, recovery=RecoverySettings(resume_grace_s=GRACE_S)
    )
    return CallSweeper(redis_client, settings)


async def _live_call(
    redis_client: redis.Redis, redis_prefix: str, call_sid: str, *, facts: CallFacts | None,
    live_config: dict | None = None,
) -> None:
    registry = CallRegistry(redis_client, redis_prefix, ttl_s=300)
    await registry.claim_new(CallIdentity(call_sid=call_sid, mode="audio", direction="inbound"))
    await Outbox(redis_client, redis_prefix).call_started(CallSession(call_sid=call_sid))
    if facts is None:
        return
    conversation = ConversationState(direction="inbound", current_agent="scheduler", facts=facts)
    session = CallSession(call_sid=call_sid, turns_taken=4, recovered=1, current_agent="scheduler",
                          **({"config_version": live_config["version"], "live_config": live_config}
                             if live_config else {}))
    await SessionCheckpoints(redis_client, redis_prefix, 300).save(
        SessionCheckpoint(session=session, responder={"conversation": conversation.model_dump()}),
        registry.fence(call_sid, 1),
    )


QUALIFIED = CallFacts(budget_usd=80_000, decision_maker=True, need="missed calls",
                      timeline_months=2)


async def test_a_call_nobody_serves_ends_failed_with_its_checkpoints_outcome(
    sweeper: CallSweeper,
    recorder: Recorder,
    db_pool: asyncpg.Pool,
    redis_client: redis.Redis,
    redis_prefix: str,
    call_sid: str,
) -> None:
    await _live_call(redis_client, redis_prefix, call_sid, facts=QUALIFIED)
    assert await sweeper.sweep_once() == []  # heartbeaten just now
    await asyncio.sleep(GRACE_S + 0.2)
    assert await sweeper.sweep_once() == [call_sid]
    assert await sweeper.sweep_once() == []  # once
    await recorder.drain_once()
    report = await call_report(db_pool, call_sid)
    assert report is not None
    assert report["status"] == "failed" and report["final"]
    assert report["outcome"] == "qualified"  # all four criteria met before it was lost
    assert report["facts"]["budget_usd"] == 80_000
    assert report["recovered"] == 1 and report["current_agent"] == "scheduler"
    assert any("not resumed" in error for error in report["errors"])
    entry = await sweeper.registry.entry(call_sid)
    assert entry is not None and entry.state == "ended"
    assert await SessionCheckpoints(redis_client, redis_prefix, 300).load(call_sid) is None


async def test_a_swept_call_is_judged_by_the_live_settings_it_started_with(
    sweeper: CallSweeper,
    recorder: Recorder,
    db_pool: asyncpg.Pool,
    redis_client: redis.Redis,
    redis_prefix: str,
    call_sid: str,
) -> None:
    # The same facts that qualify by the environment's policy fall short of this block's.
    block = {"version": "7", "qualification": {"min_budget_usd": 100_000}}
    await _live_call(redis_client, redis_prefix, call_sid, facts=QUALIFIED, live_config=block)
    await asyncio.sleep(GRACE_S + 0.2)
    assert await sweeper.sweep_once() == [call_sid]
    await recorder.drain_once()
    report = await call_report(db_pool, call_sid)
    assert report is not None and report["status"] == "failed"
    assert report["outcome"] != "qualified"


async def test_without_a_checkpoint_the_record_keeps_what_it_had(
    sweeper: CallSweeper,
    recorder: Recorder,
    db_pool: asyncpg.Pool,
    redis_client: redis.Redis,
    redis_prefix: str,
    call_sid: str,
) -> None:
    await _live_call(redis_client, redis_prefix, call_sid, facts=None)
    outbox = Outbox(redis_client, redis_prefix)
    await outbox.call_updated(
        call_sid, current_agent="qualifier", facts=CallFacts(budget_usd=5_000),
        qualification_score=0.25, outcome=None, tier="economy",
    )
    assert await sweeper.finalise(call_sid, "its checkpoint was lost")
    assert not await sweeper.finalise(call_sid, "a second time")
    await recorder.drain_once()
    report = await call_report(db_pool, call_sid)
    assert report is not None and report["status"] == "failed"
    assert report["outcome"] == "abandoned" and report["facts"]["budget_usd"] == 5_000
    assert report["errors"] == ["call failed: its checkpoint was lost"]


async def test_a_failure_arriving_after_the_call_ended_changes_nothing(
    sweeper: CallSweeper,
    recorder: Recorder,
    db_pool: asyncpg.Pool,
    redis_client: redis.Redis,
    redis_prefix: str,
    call_sid: str,
) -> None:
    await _live_call(redis_client, redis_prefix, call_sid, facts=QUALIFIED)
    outbox = Outbox(redis_client, redis_prefix)
    session = CallSession(
        call_sid=call_sid, status=CallStatus.COMPLETED, outcome=Outcome.QUALIFIED
    )
    await outbox.call_ended(
        session, facts=QUALIFIED, qualification_score=1.0, cost_usd=0.01, cost_breakdown={}
    )
    # A sweep that raced the end (its takeover came first, its event last).
    assert await sweeper.finalise(call_sid, "raced the end")
    await recorder.drain_once()
    report = await call_report(db_pool, call_sid)
    assert report is not None
    assert (report["status"], report["outcome"], report["errors"]) == ("completed", "qualified", [])


async def test_a_call_taken_over_while_it_is_finalised_is_left_to_its_new_generation(
    sweeper: CallSweeper,
    recorder: Recorder,
    db_pool: asyncpg.Pool,
    redis_client: redis.Redis,
    redis_prefix: str,
    call_sid: str,
) -> None:
    # Twilio's status callback finalises a call whose actor just died, while the relay
    # moves the call to a replacement actor: the replacement's takeover comes between
    # the finaliser's takeover and its write.
    await _live_call(redis_client, redis_prefix, call_sid, facts=QUALIFIED)
    finalising = await sweeper.registry.take_over(call_sid)
    replacement = await sweeper.registry.take_over(call_sid)
    assert finalising is not None and replacement is not None and replacement > finalising
    assert not await sweeper.finalise(call_sid, "raced a replacement", generation=finalising)
    await recorder.drain_once()
    report = await call_report(db_pool, call_sid)
    assert report is not None and report["status"] != "failed" and report["errors"] == []
    entry = await sweeper.registry.entry(call_sid)
    assert entry is not None and entry.live and entry.generation == replacement
    assert await SessionCheckpoints(redis_client, redis_prefix, 300).load(call_sid) is not None

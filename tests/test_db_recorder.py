"""Outbox → recorder → call report, on real Redis and PostgreSQL.

Covers the round trip, re-delivery after a crash, out-of-order delivery, poison events
and the 5-second deadline for a final report.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from datetime import UTC, datetime

import asyncpg
import redis.asyncio as redis

from db.apply import apply_event
from db.events import decode
from db.outbox import Outbox, dead_letter_key, outbox_key
from db.queries import call_report
from db.recorder import GROUP, Recorder
from switchboard.models import (
    AgentTransition,
    CallFacts,
    CallSession,
    CallStatus,
    FollowUp,
    Outcome,
    TierDecision,
    TurnRecord,
)

pytest_plugins = ["tests.db_fixtures"]

T0 = 1_760_000_000.0  # fixed times make the report's timestamps predictable


def iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, tz=UTC).isoformat()


FACTS = CallFacts(
    budget_usd=50_000,
    decision_maker=True,
    need="faster support triage",
    timeline_months=3,
    meeting_time="Tuesday 10am",
)
TRANSITIONS = [
    AgentTransition(from_agent="start", to_agent="greeter", timestamp=T0, trigger="call_started"),
    AgentTransition(
        from_agent="greeter",
        to_agent="qualifier",
        timestamp=T0 + 5,
        trigger="caller_engaged",
        transition_duration_ms=3.5,
    ),
    AgentTransition(
        from_agent="qualifier",
        to_agent="scheduler",
        timestamp=T0 + 30,
        trigger="qualified",
        context_preserved=False,
        transition_duration_ms=4.25,
    ),
]
TURNS = [
    TurnRecord(
        seq=0,
        user_text="Yes, this is Dana.",
        agent_text="Hi Dana!",
        agent="greeter",
        latency_ms=420.0,
        at=T0 + 4,
    ),
    TurnRecord(
        seq=1,
        user_text="About fifty thousand a year.",
        agent_text="Great.",
        agent="qualifier",
        latency_ms=610.5,
        fallback=True,
        at=T0 + 20,
    ),
    TurnRecord(
        seq=2,
        user_text="Tuesday works.",
        agent_text="Booked for Tuesday 10am.",
        agent="scheduler",
        latency_ms=None,
        at=T0 + 40,
    ),
]
TIERS = [
    TierDecision(
        tier="premium",
        at=T0 + 21,
        trigger="budget>=50000",
        approved=False,
        reason="daily budget exhausted",
    ),
    TierDecision(
        tier="premium", at=T0 + 31, trigger="score>=0.75", approved=True, reason="within caps"
    ),
]
ERRORS = ["orchestrator timeout on turn 1", "tts retried"]
COST = {"telephony": 0.0085, "stt": 0.006, "llm": 0.0021, "tts": 0.0009}


def session(call_sid: str, **changes: object) -> CallSession:
    base = CallSession(
        call_sid=call_sid,
        direction="outbound",
        mode="text",
        from_number="+15557650000",
        to_number="+15551230001",
        started_at=T0,
        workflow_context_id=f"wf-{call_sid}",
    )
    return base.model_copy(update=changes)


async def record_whole_call(outbox: Outbox, call_sid: str) -> None:
    """Every kind of event a call produces, in the order a session sends them."""
    await outbox.call_started(session(call_sid))
    for seq, transition in enumerate(TRANSITIONS):
        await outbox.transition(call_sid, seq, transition)
    for turn in TURNS:
        await outbox.turn(call_sid, turn)
    for seq, decision in enumerate(TIERS):
        await outbox.tier_decision(call_sid, seq, decision)
    await outbox.call_updated(
        call_sid,
        current_agent="scheduler",
        facts=FACTS,
        qualification_score=1.0,
        outcome=Outcome.QUALIFIED,
        tier="premium",
    )
    await outbox.error(call_sid, ERRORS[0])
    await outbox.call_ended(
        session(
            call_sid,
            status=CallStatus.COMPLETED,
            outcome=Outcome.QUALIFIED,
            current_agent="scheduler",
            tier="premium",
            fallback_turns=1,
            recovered=1,
            errors=ERRORS,
        ),
        facts=FACTS,
        qualification_score=1.0,
        cost_usd=sum(COST.values()),
        cost_breakdown=COST,
    )


def expected_report(call_sid: str) -> dict[str, object]:
    return {
        "call_sid": call_sid,
        "status": "completed",
        "outcome": "qualified",
        "qualification_score": 1.0,
        "facts": {
            "budget_usd": 50_000.0,
            "decision_maker": True,
            "need": "faster support triage",
            "timeline_months": 3.0,
            "meeting_time": "Tuesday 10am",
        },
        "current_agent": "scheduler",
        "transitions": [
            {
                "from_agent": t.from_agent,
                "to_agent": t.to_agent,
                "trigger": t.trigger,
                "timestamp": iso(t.timestamp),
                "transition_duration_ms": t.transition_duration_ms,
                "context_preserved": t.context_preserved,
            }
            for t in TRANSITIONS
        ],
        "tier_history": [
            {
                "tier": d.tier,
                "at": iso(d.at),
                "trigger": d.trigger,
                "approved": d.approved,
                "reason": d.reason,
            }
            for d in TIERS
        ],
        "cost_usd": round(sum(COST.values()), 6),
        "cost_breakdown": COST,
        "turns": [
            {
                "user_text": t.user_text,
                "agent_text": t.agent_text,
                "agent": t.agent,
                "latency_ms": t.latency_ms,
                "fallback": t.fallback,
            }
            for t in TURNS
        ],
        "fallback_turns": 1,
        "recovered": 1,
        "errors": ERRORS,
    }


async def test_a_recorded_call_reads_back_as_the_full_call_report(
    outbox: Outbox, recorder: Recorder, db_pool: asyncpg.Pool, call_sid: str
) -> None:
    await record_whole_call(outbox, call_sid)
    assert await recorder.drain_once() == 12

    report = await call_report(db_pool, call_sid)
    assert report is not None
    expected = expected_report(call_sid)
    assert {key: report[key] for key in expected} == expected
    assert report["direction"] == "outbound"
    assert report["from"] == "+15557650000" and report["to"] == "+15551230001"
    assert report["started_at"] == iso(T0)
    assert report["ended_at"] is not None and report["final"] is True
    assert report["workflow_context_id"] == f"wf-{call_sid}"
    json.dumps(report)  # JSON-ready as it is
    assert await recorder.backlog() == 0


async def test_calls_row_keeps_transition_count_and_escalation_trigger_in_step(
    outbox: Outbox, recorder: Recorder, db_pool: asyncpg.Pool, call_sid: str
) -> None:
    await record_whole_call(outbox, call_sid)
    await recorder.drain_once()
    row = await db_pool.fetchrow(
        "SELECT agent_transition_count, tier_escalation_trigger, tier FROM calls "
        "WHERE call_sid = $1",
        call_sid,
    )
    # The denied request does not count: the approved one is what escalated the call.
    assert tuple(row) == (3, "score>=0.75", "premium")


async def test_outbox_events_are_json_with_a_type(
    outbox: Outbox, redis_client: redis.Redis, redis_prefix: str, call_sid: str
) -> None:
    await outbox.turn(call_sid, TURNS[0])
    [(_, fields)] = await redis_client.xrange(outbox_key(redis_prefix))
    data = json.loads(fields[b"data"])
    assert fields[b"type"] == b"turn" and data["type"] == "turn"
    assert data["turn"]["user_text"] == "Yes, this is Dana."


async def test_a_turn_arriving_before_call_started_is_kept(
    outbox: Outbox, recorder: Recorder, db_pool: asyncpg.Pool, call_sid: str
) -> None:
    await outbox.turn(call_sid, TURNS[0])
    await outbox.transition(call_sid, 0, TRANSITIONS[0])
    assert await recorder.drain_once() == 2
    early = await call_report(db_pool, call_sid)
    assert early is not None and len(early["turns"]) == 1 and early["status"] == "in_progress"

    await outbox.call_started(session(call_sid))
    await recorder.drain_once()
    report = await call_report(db_pool, call_sid)
    assert report is not None
    assert report["from"] == "+15557650000" and report["direction"] == "outbound"
    # The skeleton row was stamped on arrival; the session's start is earlier and wins.
    assert report["started_at"] == iso(T0)
    assert len(report["turns"]) == 1 and len(report["transitions"]) == 1


async def test_events_redelivered_after_a_crash_between_commit_and_ack_add_nothing(
    outbox: Outbox,
    recorder: Recorder,
    db_pool: asyncpg.Pool,
    redis_client: redis.Redis,
    redis_prefix: str,
    call_sid: str,
) -> None:
    await record_whole_call(outbox, call_sid)
    stream = outbox_key(redis_prefix)
    await redis_client.xgroup_create(stream, GROUP, id="0", mkstream=True)

    # A recorder reads everything, commits every event, and dies before any XACK.
    [(_, entries)] = await redis_client.xreadgroup(GROUP, "crashed", {stream: ">"})
    for entry_id, fields in entries:
        event = decode({k.decode(): v.decode() for k, v in fields.items()})
        async with db_pool.acquire() as conn, conn.transaction():
            await apply_event(conn, event, entry_id.decode())
    first = await call_report(db_pool, call_sid)

    # Its entries are still pending: another recorder claims and re-applies them all.
    survivor = Recorder(db_pool, redis_client, redis_prefix, "recorder-2", claim_idle_ms=0)
    assert await survivor.drain_once() == 12
    second = await call_report(db_pool, call_sid)
    assert second is not None and second == first
    assert len(second["turns"]) == 3 and len(second["transitions"]) == 3
    assert len(second["tier_history"]) == 2 and second["errors"] == ERRORS
    assert (await redis_client.xpending(stream, GROUP))["pending"] == 0
    assert await survivor.backlog() == 0


async def test_an_old_snapshot_delivered_late_does_not_overwrite_the_final_state(
    outbox: Outbox,
    db_pool: asyncpg.Pool,
    redis_client: redis.Redis,
    redis_prefix: str,
    call_sid: str,
) -> None:
    stream = outbox_key(redis_prefix)
    await outbox.call_updated(
        call_sid,
        current_agent="qualifier",
        facts=CallFacts(need="triage"),
        qualification_score=0.25,
        outcome=None,
        tier="economy",
    )
    await outbox.call_ended(
        session(
            call_sid, status=CallStatus.COMPLETED, outcome=Outcome.NURTURE, current_agent="wrap_up"
        ),
        facts=CallFacts(need="triage", timeline_months=12),
        qualification_score=0.5,
        cost_usd=0.01,
        cost_breakdown=COST,
    )
    await redis_client.xgroup_create(stream, GROUP, id="0", mkstream=True)
    # A recorder takes the snapshot and stalls; another one applies the call's end.
    await redis_client.xreadgroup(GROUP, "stalled", {stream: ">"}, count=1)
    live = Recorder(db_pool, redis_client, redis_prefix, "recorder-2")
    assert await live.drain_once() == 1
    # Later the stalled snapshot is claimed and applied after the end.
    claimer = Recorder(db_pool, redis_client, redis_prefix, "recorder-3", claim_idle_ms=0)
    assert await claimer.drain_once() == 1

    report = await call_report(db_pool, call_sid)
    assert report is not None
    assert (report["outcome"], report["current_agent"]) == ("nurture", "wrap_up")
    assert report["facts"]["timeline_months"] == 12.0
    assert report["qualification_score"] == 0.5


async def test_a_newer_snapshot_wins_whatever_order_they_are_applied_in(
    outbox: Outbox,
    db_pool: asyncpg.Pool,
    redis_client: redis.Redis,
    redis_prefix: str,
    call_sid: str,
) -> None:
    older = await outbox.call_updated(
        call_sid,
        current_agent="greeter",
        facts=CallFacts(),
        qualification_score=0,
        outcome=None,
        tier="economy",
    )
    newer = await outbox.call_updated(
        call_sid,
        current_agent="qualifier",
        facts=CallFacts(budget_usd=20_000),
        qualification_score=0.25,
        outcome=None,
        tier="economy",
    )
    entries = dict(await redis_client.xrange(outbox_key(redis_prefix)))
    for entry_id in (newer, older):
        fields = {k.decode(): v.decode() for k, v in entries[entry_id.encode()].items()}
        async with db_pool.acquire() as conn, conn.transaction():
            await apply_event(conn, decode(fields), entry_id)
    report = await call_report(db_pool, call_sid)
    assert report is not None
    assert report["current_agent"] == "qualifier" and report["facts"]["budget_usd"] == 20_000.0


async def test_poison_events_go_to_the_dead_letter_stream_and_the_next_event_applies(
    outbox: Outbox,
    recorder: Recorder,
    db_pool: asyncpg.Pool,
    redis_client: redis.Redis,
    redis_prefix: str,
    call_sid: str,
) -> None:
    stream = outbox_key(redis_prefix)
    bad_json = await redis_client.xadd(stream, {"type": "turn", "data": "{not json"})
    await redis_client.xadd(stream, {"type": "mystery", "data": '{"type": "mystery"}'})
    await redis_client.xadd(stream, {"something": "else"})
    # Valid JSON and a known type, but PostgreSQL rejects it (negative seq).
    await outbox.turn(call_sid, TURNS[0].model_copy(update={"seq": -1}))
    await outbox.turn(call_sid, TURNS[0])

    assert await recorder.drain_once() == 5
    report = await call_report(db_pool, call_sid)
    assert report is not None and [t["user_text"] for t in report["turns"]] == [
        "Yes, this is Dana."
    ]
    dead = await redis_client.xrange(dead_letter_key(redis_prefix))
    assert len(dead) == 4
    first = dead[0][1]
    assert first[b"original_id"] == bad_json and first[b"data"] == b"{not json"
    assert b"not JSON" in first[b"error"]
    assert b"CheckViolation" in dead[3][1][b"error"]
    # Nothing left to retry.
    assert await recorder.drain_once() == 0
    assert await recorder.backlog() == 0


async def test_the_report_is_final_within_five_seconds_of_the_call_ending(
    outbox: Outbox, recorder: Recorder, db_pool: asyncpg.Pool, call_sid: str
) -> None:
    stop = asyncio.Event()
    running = asyncio.create_task(recorder.run(stop))
    try:
        await record_whole_call(outbox, call_sid)
        ended = time.monotonic()
        while time.monotonic() - ended < 5:
            report = await call_report(db_pool, call_sid)
            if report is not None and report["final"]:
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("call report not final 5 s after the call ended")
        assert report["outcome"] == "qualified" and len(report["turns"]) == 3
    finally:
        stop.set()
        await asyncio.wait_for(running, timeout=5)


async def test_a_call_twilio_could_not_connect_is_recorded_as_failed_once(
    outbox: Outbox,
    recorder: Recorder,
    db_pool: asyncpg.Pool,
    redis_client: redis.Redis,
    redis_prefix: str,
    call_sid: str,
) -> None:
    params = {
        "CallSid": call_sid,
        "CallStatus": "no-answer",
        "Direction": "outbound-api",
        "From": "+15557650000",
        "To": "+15551230002",
    }
    entry_id = await outbox.status_callback(call_sid, "no-answer", params)
    [(_, fields)] = await redis_client.xrange(outbox_key(redis_prefix))
    assert await recorder.drain_once() == 1
    # Delivered again, as after a crash before XACK.
    event = decode({k.decode(): v.decode() for k, v in fields.items()})
    async with db_pool.acquire() as conn, conn.transaction():
        await apply_event(conn, event, entry_id)

    report = await call_report(db_pool, call_sid)
    assert report is not None
    assert (report["status"], report["direction"], report["to"]) == (
        "failed",
        "outbound",
        "+15551230002",
    )
    assert report["ended_at"] is not None
    stored = await db_pool.fetch(
        "SELECT call_status, params FROM call_status_events WHERE call_sid = $1", call_sid
    )
    assert [(r["call_status"], r["params"]["Direction"]) for r in stored] == [
        ("no-answer", "outbound-api")
    ]


async def test_a_completed_status_callback_does_not_finish_the_report_before_the_session(
    outbox: Outbox, recorder: Recorder, db_pool: asyncpg.Pool, call_sid: str
) -> None:
    await outbox.call_started(session(call_sid))
    await outbox.status_callback(call_sid, "completed", {"CallStatus": "completed"})
    await recorder.drain_once()
    report = await call_report(db_pool, call_sid)
    assert report is not None and report["status"] == "in_progress" and not report["final"]


async def test_the_same_error_delivered_twice_is_listed_once(
    outbox: Outbox,
    db_pool: asyncpg.Pool,
    redis_client: redis.Redis,
    redis_prefix: str,
    call_sid: str,
) -> None:
    entry_id = await outbox.error(call_sid, "stt stalled")
    [(_, fields)] = await redis_client.xrange(outbox_key(redis_prefix))
    event = decode({k.decode(): v.decode() for k, v in fields.items()})
    for _ in range(2):
        async with db_pool.acquire() as conn, conn.transaction():
            await apply_event(conn, event, entry_id)
    report = await call_report(db_pool, call_sid)
    assert report is not None and report["errors"] == ["stt stalled"]


async def test_two_recorders_at_once_keep_the_call_counters_exact(
    outbox: Outbox, db_pool: asyncpg.Pool, redis_client: redis.Redis, redis_prefix: str
) -> None:
    # Each call's two transitions and two turns go to different recorders (batches of
    # one), which apply them at the same moment.
    call_sids = [f"CA{uuid.uuid4().hex}" for _ in range(20)]
    for call_sid in call_sids:
        for seq in range(2):
            await outbox.transition(
                call_sid,
                seq,
                AgentTransition(from_agent="greeter", to_agent="qualifier", trigger=f"step {seq}"),
            )
        for seq in range(2):
            await outbox.turn(
                call_sid,
                TurnRecord(
                    seq=seq, user_text="hm", agent_text="ok", agent="qualifier", fallback=True
                ),
            )
    recorders = [
        Recorder(db_pool, redis_client, redis_prefix, f"recorder-{n}", batch_size=1)
        for n in range(2)
    ]
    stop = asyncio.Event()
    tasks = [asyncio.create_task(r.run(stop)) for r in recorders]
    try:
        deadline = time.monotonic() + 10
        while await recorders[0].backlog() and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
    finally:
        stop.set()
        await asyncio.gather(*tasks)
    rows = await db_pool.fetch(
        "SELECT agent_transition_count, fallback_turns FROM calls WHERE call_sid = ANY($1)",
        call_sids,
    )
    assert sorted(tuple(row) for row in rows) == [(2, 2)] * len(call_sids)


async def test_a_follow_up_reads_back_in_the_report_and_is_null_without_one(
    outbox: Outbox, recorder: Recorder, db_pool: asyncpg.Pool, call_sid: str
) -> None:
    await record_whole_call(outbox, call_sid)
    other = f"CA{uuid.uuid4().hex}"
    await outbox.call_started(session(other))
    await outbox.follow_up(other, FollowUp(kind="sms_link", to="+15551230001",
                                           status="pending", link="https://x.example/d",
                                           requested_at=T0, updated_at=T0))
    await outbox.follow_up(other, FollowUp(kind="sms_link", to="+15551230001", status="sent",
                                           message_sid="SM" + "a" * 32,
                                           link="https://x.example/d",
                                           requested_at=T0, updated_at=T0 + 1))
    await recorder.drain_once()

    assert (await call_report(db_pool, call_sid))["follow_up"] is None  # type: ignore[index]
    report = await call_report(db_pool, other)
    assert report is not None
    assert report["follow_up"] == {
        "kind": "sms_link", "to": "+15551230001", "status": "sent",
        "message_sid": "SM" + "a" * 32, "link": "https://x.example/d", "error": None,
        "requested_at": iso(T0), "updated_at": iso(T0 + 1),
    }


async def test_a_follow_up_sent_is_never_taken_back_to_pending_by_a_late_event(
    outbox: Outbox,
    db_pool: asyncpg.Pool,
    redis_client: redis.Redis,
    redis_prefix: str,
    call_sid: str,
) -> None:
    pending = await outbox.follow_up(call_sid, FollowUp(kind="sms_link", status="pending"))
    sent = await outbox.follow_up(call_sid, FollowUp(kind="sms_link", status="sent",
                                                     message_sid="SM" + "b" * 32))
    entries = dict(await redis_client.xrange(outbox_key(redis_prefix)))
    for entry_id in (sent, pending, sent):  # late, and delivered twice
        fields = {k.decode(): v.decode() for k, v in entries[entry_id.encode()].items()}
        async with db_pool.acquire() as conn, conn.transaction():
            await apply_event(conn, decode(fields), entry_id)
    report = await call_report(db_pool, call_sid)
    assert report is not None
    assert report["follow_up"]["status"] == "sent"
    assert report["follow_up"]["message_sid"] == "SM" + "b" * 32


async def test_the_sessions_last_word_on_a_follow_up_is_kept_with_the_final_record(
    outbox: Outbox, recorder: Recorder, db_pool: asyncpg.Pool, call_sid: str
) -> None:
    # the follow-up's own event never made it; the final record carries it anyway
    failed = FollowUp(kind="sms_link", to="+15551230001", status="failed",
                      error="HTTP 400 (code 21211)")
    await outbox.call_ended(
        session(call_sid, status=CallStatus.COMPLETED, outcome=Outcome.NURTURE,
                follow_up=failed),
        facts=CallFacts(), qualification_score=0, cost_usd=0, cost_breakdown={},
    )
    await recorder.drain_once()
    report = await call_report(db_pool, call_sid)
    assert report is not None and report["outcome"] == "nurture"
    assert report["follow_up"]["status"] == "failed"
    assert report["follow_up"]["error"] == "HTTP 400 (code 21211)"

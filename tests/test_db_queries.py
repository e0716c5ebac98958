"""The API's reads: the calls list, the do-not-call list, an unknown call."""

from __future__ import annotations

import uuid

import asyncpg

from db.analytics import CallFilters, list_calls
from db.outbox import Outbox
from db.queries import add_do_not_call, call_report, is_do_not_call
from db.recorder import Recorder
from switchboard.models import CallFacts, CallSession, CallStatus, Outcome

pytest_plugins = ["tests.db_fixtures"]

# Later than any other test's calls, so these are the most recent in the shared database.
FUTURE = 4_000_000_000.0


def unique_number() -> str:
    return "+1555" + str(uuid.uuid4().int)[:7]


async def finished_call(outbox: Outbox, started_at: float, outcome: Outcome) -> str:
    call_sid = "CA" + uuid.uuid4().hex
    session = CallSession(call_sid=call_sid, from_number=unique_number(), started_at=started_at)
    await outbox.call_started(session)
    await outbox.call_ended(
        session.model_copy(update={"status": CallStatus.COMPLETED, "outcome": outcome}),
        facts=CallFacts(),
        qualification_score=0.0,
        cost_usd=0.002,
        cost_breakdown={"telephony": 0.002},
    )
    return call_sid


async def test_the_calls_list_is_newest_first_and_filters_by_outcome(
    outbox: Outbox, recorder: Recorder, db_pool: asyncpg.Pool
) -> None:
    oldest = await finished_call(outbox, FUTURE, Outcome.NURTURE)
    middle = await finished_call(outbox, FUTURE + 60, Outcome.ABANDONED)
    newest = await finished_call(outbox, FUTURE + 120, Outcome.NURTURE)
    await recorder.drain_once()

    latest = (await list_calls(db_pool, CallFilters(), after=None, limit=3)).calls
    assert [c["call_sid"] for c in latest] == [newest, middle, oldest]
    assert latest[0]["status"] == "completed" and latest[0]["cost_usd"] == 0.002

    nurtured = (
        await list_calls(db_pool, CallFilters(outcome="nurture"), after=None, limit=2)
    ).calls
    assert [c["call_sid"] for c in nurtured] == [newest, oldest]


async def test_a_number_added_in_any_format_is_on_the_do_not_call_list(
    db_pool: asyncpg.Pool, call_sid: str
) -> None:
    digits = str(uuid.uuid4().int)[:7]
    number = f"+1555{digits}"
    assert not await is_do_not_call(db_pool, number)
    assert await add_do_not_call(db_pool, f"+1 (555) {digits[:3]}-{digits[3:]}", call_sid)
    assert await is_do_not_call(db_pool, number)
    assert not await add_do_not_call(db_pool, number, None)  # already there


async def test_an_opt_out_recorded_through_the_outbox_blocks_the_number(
    outbox: Outbox, recorder: Recorder, db_pool: asyncpg.Pool, call_sid: str
) -> None:
    number = unique_number()
    await outbox.do_not_call(number, call_sid)
    await outbox.do_not_call(number, call_sid)  # said twice: one entry
    assert await recorder.drain_once() == 2
    assert await is_do_not_call(db_pool, number)
    rows = await db_pool.fetch("SELECT source_call_sid FROM do_not_call WHERE number = $1", number)
    assert [r["source_call_sid"] for r in rows] == [call_sid]


async def test_the_report_of_an_unknown_call_is_none(db_pool: asyncpg.Pool) -> None:
    assert await call_report(db_pool, "CA" + uuid.uuid4().hex) is None


async def test_the_report_of_a_call_in_progress_has_defaults_not_gaps(
    outbox: Outbox, recorder: Recorder, db_pool: asyncpg.Pool, call_sid: str
) -> None:
    await outbox.call_started(CallSession(call_sid=call_sid, from_number=unique_number()))
    await recorder.drain_once()
    report = await call_report(db_pool, call_sid)
    assert report is not None
    assert report["status"] == "in_progress" and report["outcome"] is None
    assert report["facts"] == dict.fromkeys(
        ("budget_usd", "decision_maker", "need", "timeline_months", "meeting_time")
    )
    assert report["cost_breakdown"] == {"telephony": 0.0, "stt": 0.0, "llm": 0.0, "tts": 0.0}
    assert (report["turns"], report["transitions"], report["tier_history"]) == ([], [], [])
    assert (report["fallback_turns"], report["recovered"], report["errors"]) == (0, 0, [])
    assert report["current_agent"] == "start" and report["final"] is False


async def test_the_report_shows_the_version_flags_and_code_a_call_ran_on(
    outbox: Outbox, recorder: Recorder, db_pool: asyncpg.Pool, call_sid: str
) -> None:
    session = CallSession(
        call_sid=call_sid,
        from_number=unique_number(),
        config_version="7",
        live_config={"version": "7"},
        flags={"integration_enabled": True, "new_greeting": False},
        app="switchboard-canary",
        app_version="0.1.0+gabc",
    )
    await outbox.call_started(session)
    # The kill switch took the agents off mid-call; the end is recorded by the session...
    ended = session.model_copy(update={"status": CallStatus.COMPLETED,
                                       "outcome": Outcome.NURTURE, "integration_enabled": False})
    await outbox.call_ended(ended, facts=CallFacts(), qualification_score=0.0, cost_usd=0.0,
                            cost_breakdown={})
    # ...and a later event made without the call's config changes none of it.
    await outbox.call_started(CallSession(call_sid=call_sid, from_number=session.from_number))
    await recorder.drain_once()
    report = await call_report(db_pool, call_sid)
    assert report is not None
    assert report["config_version"] == "7"
    assert report["flags"] == {"integration_enabled": True, "new_greeting": False}
    assert report["app"] == "switchboard-canary" and report["app_version"] == "0.1.0+gabc"
    assert report["trace_id"] is None
    assert report["integration_enabled"] is False
    assert report["experiment"] is None and report["variant"] is None  # in none


async def test_the_report_shows_the_experiment_and_variant_the_call_was_given(
    outbox: Outbox, recorder: Recorder, db_pool: asyncpg.Pool, call_sid: str
) -> None:
    session = CallSession(call_sid=call_sid, from_number=unique_number(), config_version="3",
                          experiment="opening", variant="warm")
    await outbox.call_started(session)
    ended = session.model_copy(update={"status": CallStatus.COMPLETED,
                                       "outcome": Outcome.QUALIFIED})
    await outbox.call_ended(ended, facts=CallFacts(), qualification_score=1.0, cost_usd=0.0,
                            cost_breakdown={})
    # A later event made without the call's config (the sweeper's) leaves them as set.
    await outbox.call_started(CallSession(call_sid=call_sid, from_number=session.from_number))
    await recorder.drain_once()
    report = await call_report(db_pool, call_sid)
    assert report is not None
    assert (report["experiment"], report["variant"]) == ("opening", "warm")

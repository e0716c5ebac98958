"""Campaigns, leads and the do-not-call list on a real PostgreSQL: creating a campaign
from a lead list, its state machine, its counts, a lead's history, the call report's
campaign fields, admin changes to the list with their audit, and migration 0005."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest

from db.campaigns import (
    ADMIN_ACTIONS,
    ATTEMPT_STATUSES,
    OUTCOMES,
    STATES,
    TRANSITIONS,
    StateConflict,
    campaign_status,
    change_state,
    create_campaign,
)
from db.leads import do_not_call_audit, lead_history, put_do_not_call, remove_do_not_call
from db.migrate import migrate
from db.queries import add_do_not_call, call_report, is_do_not_call
from switchboard.lead_import import parse_leads
from switchboard.settings import CampaignSettings

pytest_plugins = ["tests.db_fixtures"]


def unique_number() -> str:
    """A fictional US number (+1 555 ...) no other test uses."""
    return "+1555" + str(uuid.uuid4().int)[:7]


async def new_campaign(pool: asyncpg.Pool, numbers: list[str], **pacing: object):
    body = "number,name\n" + "".join(f"{n},Lead {i}\n" for i, n in enumerate(numbers))
    leads = parse_leads(body.encode(), max_leads=100)
    return await create_campaign(pool, "Spring", CampaignSettings(**pacing), leads)


async def test_a_campaign_loads_its_leads_less_those_on_the_do_not_call_list(
    db_pool: asyncpg.Pool,
) -> None:
    good, listed, other = unique_number(), unique_number(), unique_number()
    await add_do_not_call(db_pool, listed, "CAoptedout")
    created = await new_campaign(
        db_pool, [good, listed, "nope", good, other], max_attempts=5, window="09:00-17:30"
    )
    assert created.accepted == 2
    assert [(r.row, r.reason) for r in created.rejected] == [
        (2, "do_not_call"), (3, "invalid_number"), (4, "duplicate"),
    ]
    row = await db_pool.fetchrow("SELECT * FROM campaigns WHERE id = $1", created.id)
    assert row["state"] == "draft" and row["max_attempts"] == 5
    assert (str(row["window_start"]), str(row["window_end"])) == ("09:00:00", "17:30:00")
    leads = await db_pool.fetch(
        "SELECT row_number, number, name, data FROM leads WHERE campaign_id = $1 ORDER BY id",
        created.id,
    )
    assert [(r["row_number"], r["number"], r["name"]) for r in leads] == [
        (1, good, "Lead 0"), (5, other, "Lead 4"),
    ]
    assert created.as_json()["rejected"][0] == {
        "row": 2, "number": listed, "reason": "do_not_call"
    }


async def test_states_change_only_along_the_allowed_transitions(db_pool: asyncpg.Pool) -> None:
    created = await new_campaign(db_pool, [unique_number()])
    cid = created.id
    with pytest.raises(StateConflict, match="is draft: pause needs it to be running"):
        await change_state(db_pool, cid, "pause")
    assert (await change_state(db_pool, cid, "start"))["state"] == "running"
    with pytest.raises(StateConflict):
        await change_state(db_pool, cid, "start")
    assert (await change_state(db_pool, cid, "pause"))["state"] == "paused"
    assert (await change_state(db_pool, cid, "resume"))["state"] == "running"
    assert (await change_state(db_pool, cid, "cancel"))["state"] == "cancelled"
    for action in ADMIN_ACTIONS:  # cancelled is for good
        with pytest.raises(StateConflict):
            await change_state(db_pool, cid, action)
    row = await db_pool.fetchrow("SELECT started_at, finished_at FROM campaigns WHERE id = $1", cid)
    assert row["started_at"] is not None and row["finished_at"] >= row["started_at"]
    assert await change_state(db_pool, 10**15, "start") is None


def test_the_transitions_cover_every_state() -> None:
    reached = {target for _, target in TRANSITIONS.values()} | {"draft"}
    assert reached == set(STATES)
    assert {s for sources, _ in TRANSITIONS.values() for s in sources} == {
        "draft", "running", "paused"
    }  # cancelled and completed are final


async def test_two_admins_starting_at_once_cannot_both_win(db_pool: asyncpg.Pool) -> None:
    cid = (await new_campaign(db_pool, [unique_number()])).id
    results = await asyncio.gather(
        *(change_state(db_pool, cid, "start") for _ in range(4)), return_exceptions=True
    )
    assert sum(isinstance(r, dict) for r in results) == 1
    assert sum(isinstance(r, StateConflict) for r in results) == 3


async def record_attempt(
    pool: asyncpg.Pool, campaign_id: int, number: str, attempt: int, status: str,
    *, outcome: str | None = None, call_sid: str | None = None,
) -> None:
    """What the dialer will write: one row of `call_attempts`."""
    await pool.execute(
        """
        INSERT INTO call_attempts (lead_id, campaign_id, attempt, idempotency_key, call_sid,
                                   status, outcome)
        SELECT id, campaign_id, $3, $4, $5, $6, $7 FROM leads
        WHERE campaign_id = $1 AND number = $2
        """,
        campaign_id, number, attempt, f"{campaign_id}:{number}:{attempt}", call_sid, status,
        outcome,
    )


async def insert_call(pool: asyncpg.Pool, call_sid: str, outcome: str | None) -> None:
    await pool.execute(
        "INSERT INTO calls (call_sid, direction, outcome) VALUES ($1, 'outbound', $2)",
        call_sid, outcome,
    )


async def test_status_counts_attempts_by_status_and_outcome(
    db_pool: asyncpg.Pool, call_sid: str
) -> None:
    first, second = unique_number(), unique_number()
    cid = (await new_campaign(db_pool, [first, second])).id
    await insert_call(db_pool, call_sid, "qualified")
    await record_attempt(db_pool, cid, first, 1, "no_answer")
    # The dialer has not copied the outcome yet: the call's counts.
    await record_attempt(db_pool, cid, first, 2, "completed", call_sid=call_sid)
    await record_attempt(db_pool, cid, second, 1, "voicemail", outcome="voicemail")
    status = await campaign_status(db_pool, cid)
    assert status["id"] == cid and status["name"] == "Spring" and status["leads"] == 2
    assert set(status["attempts"]) == set(ATTEMPT_STATUSES)
    assert {k: n for k, n in status["attempts"].items() if n} == {
        "no_answer": 1, "completed": 1, "voicemail": 1
    }
    assert set(status["outcomes"]) == set(OUTCOMES)
    assert {k: n for k, n in status["outcomes"].items() if n} == {"qualified": 1, "voicemail": 1}
    assert await campaign_status(db_pool, 10**15) is None


async def test_an_attempt_is_made_once_per_idempotency_key(db_pool: asyncpg.Pool) -> None:
    number = unique_number()
    cid = (await new_campaign(db_pool, [number])).id
    await record_attempt(db_pool, cid, number, 1, "queued")
    with pytest.raises(asyncpg.UniqueViolationError):
        await record_attempt(db_pool, cid, number, 1, "dialing")


async def test_a_leads_history_spans_campaigns_and_reports_carry_the_campaign(
    db_pool: asyncpg.Pool, call_sid: str
) -> None:
    number = unique_number()
    spring = (await new_campaign(db_pool, [number])).id
    summer = (await new_campaign(db_pool, [number])).id
    await insert_call(db_pool, call_sid, "opted_out")
    await record_attempt(db_pool, spring, number, 1, "busy")
    await record_attempt(db_pool, summer, number, 1, "completed", call_sid=call_sid)
    await add_do_not_call(db_pool, number, call_sid)
    history = await lead_history(db_pool, number)
    assert history == {
        "number": number,
        "do_not_call": True,
        "attempts": [
            {"campaign_id": spring, "attempt": 1, "call_sid": None, "status": "busy",
             "outcome": None},
            {"campaign_id": summer, "attempt": 1, "call_sid": call_sid, "status": "completed",
             "outcome": "opted_out"},
        ],
    }
    report = await call_report(db_pool, call_sid)
    assert (report["campaign_id"], report["attempt"]) == (summer, 1)
    stranger = unique_number()
    assert await lead_history(db_pool, stranger) == {
        "number": stranger, "do_not_call": False, "attempts": []
    }


async def test_an_inbound_calls_report_has_no_campaign(
    db_pool: asyncpg.Pool, call_sid: str
) -> None:
    await insert_call(db_pool, call_sid, None)
    report = await call_report(db_pool, call_sid)
    assert report["campaign_id"] is None and report["attempt"] is None


async def test_admin_changes_to_the_do_not_call_list_are_audited(db_pool: asyncpg.Pool) -> None:
    number = unique_number()
    entry, added = await put_do_not_call(db_pool, number, "asked by email")
    assert added and entry["source"] == "api" and entry["reason"] == "asked by email"
    again, added = await put_do_not_call(db_pool, number, "another reason")
    assert not added and again == entry  # the first reason stands
    assert await is_do_not_call(db_pool, number)
    removed = await remove_do_not_call(db_pool, number, "added by mistake")
    assert removed == entry
    assert not await is_do_not_call(db_pool, number)
    assert await remove_do_not_call(db_pool, number, None) is None
    audit = await do_not_call_audit(db_pool, number)
    assert [(a["action"], a["actor"], a["entry_source"], a["reason"]) for a in audit] == [
        ("added", "api", "api", "asked by email"),
        ("removed", "api", "api", "added by mistake"),
    ]


async def test_an_opt_out_entry_names_its_call_as_the_source(
    db_pool: asyncpg.Pool, call_sid: str
) -> None:
    number = unique_number()
    await add_do_not_call(db_pool, number, call_sid)  # what the recorder writes
    entry, added = await put_do_not_call(db_pool, number, None)
    assert not added and entry["source"] == call_sid
    removed = await remove_do_not_call(db_pool, number, "consent given again")
    assert removed["source"] == call_sid
    audit = await do_not_call_audit(db_pool, number)
    assert [(a["action"], a["entry_source"]) for a in audit] == [("removed", call_sid)]


async def test_rolling_back_campaigns_keeps_the_do_not_call_list(fresh_database: str) -> None:
    dsn = fresh_database
    await migrate(dsn, "up", steps=4)  # up to 0004: the list as it was
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            "INSERT INTO do_not_call (number, source_call_sid) VALUES ('+15550100001', 'CA1')"
        )
        await migrate(dsn, "up", steps=1)  # 0005
        row = await conn.fetchrow("SELECT source, reason FROM do_not_call")
        assert tuple(row) == ("CA1", None)
        await conn.execute("INSERT INTO do_not_call (number) VALUES ('+15550100002')")
        assert await conn.fetchval(
            "SELECT source FROM do_not_call WHERE number = '+15550100002'"
        ) == "api"
        await migrate(dsn, "down", steps=1)
        columns = await conn.fetch(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_name = 'do_not_call' ORDER BY ordinal_position"
        )
        assert [c["column_name"] for c in columns] == ["number", "added_at", "source_call_sid"]
        assert await conn.fetchval("SELECT count(*) FROM do_not_call") == 2
        assert await conn.fetchval("SELECT to_regclass('campaigns')") is None
    finally:
        await conn.close()

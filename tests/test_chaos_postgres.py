"""Chaos: PostgreSQL crashes for 30 s under 10 concurrent calls, and every record lands
exactly once.

Session actors never write PostgreSQL: they append call events to the Redis outbox,
which the recorder applies idempotently. Against a real `switchboard serve` whose
database is a private PostgreSQL, this test crashes that PostgreSQL (an immediate
shutdown) while ten text-mode calls are in progress, keeps it down for 30 s, and starts
it again. It proves that:

- the calls go on while the database is away: every line every caller says is answered,
  each call has turns answered during the outage, and two calls end (one of them opting
  out) while it is still down;
- once it is back every report becomes final, and each record holds exactly what
  happened, once: the caller's turns in order, an unbroken chain of agent transitions
  from `start`, the tier decisions (premium granted to every big budget), one
  do-not-call row for the caller who opted out, no duplicate rows in any table;
- the outbox is drained and nothing was dead-lettered.
"""

from __future__ import annotations

import asyncio
import io
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import redis.asyncio as aioredis

from db.outbox import dead_letter_key, outbox_key
from db.phone import normalize_number
from switchboard.caller import CallResult, run_call
from switchboard.local_services import LocalPostgres
from switchboard.scenario import Scenario, parse_scenario
from tests.e2e import (
    RunningSwitchboard,
    assert_report_meets_expectations,
    run_switchboard,
)

pytestmark = [pytest.mark.slow, pytest.mark.parallel_safe]

CALLS = 10
OUTAGE_S = 30.0
# Calls start this far apart, and the database goes down this long after the last one
# started: every call is under way, none is over.
STAGGER_S = 0.5
OUTAGE_AFTER_S = 3.0
# Under the 6 s after which the agent reprompts: a pause adds time to a call, no turn.
PAUSE = {"silence_s": 5.5}
REPORTS_WITHIN_S = 60.0
WARM_WITHIN_S = 150.0
AGENT_NUMBER = "+15557650000"
DATABASE = "switchboard_pgchaos"

# (name, need, budget line, budget, role, timeline): eight leads with big budgets.
QUALIFYING_LEADS = (
    (
        "Avery",
        "Half our calls go to voice mail and we lose the jobs.",
        "We can put about ninety thousand dollars a year into it.",
        90_000,
        "I own the company, the call is mine.",
        "We want it running within two months.",
    ),
    (
        "Blake",
        "The front desk is swamped, we miss a lot of bookings.",
        "Roughly sixty thousand dollars a year.",
        60_000,
        "I make the decision here.",
        "In the next month if we can.",
    ),
    (
        "Casey",
        "Nobody answers the phone after five, so leads go cold.",
        "Our budget is around one hundred thousand dollars a year.",
        100_000,
        "I'm the owner, I decide.",
        "Within three months.",
    ),
    (
        "Drew",
        "We are short staffed and calls go unanswered.",
        "About seventy thousand dollars a year.",
        70_000,
        "It's my decision, I run the place.",
        "Sometime in the next two months.",
    ),
    (
        "Emery",
        "Our sales team is overwhelmed and prospects slip through the cracks.",
        "We have set aside eighty thousand dollars for the year.",
        80_000,
        "I'm the managing director, so I sign off.",
        "Within four months.",
    ),
    (
        "Finley",
        "We keep missing calls from new patients.",
        "Around one hundred and twenty thousand dollars a year.",
        120_000,
        "I decide on this myself.",
        "As soon as possible, within a month.",
    ),
    (
        "Gray",
        "Our receptionist quit and the phones never stop ringing.",
        "Maybe seventy five thousand dollars a year.",
        75_000,
        "I'm the founder and I decide.",
        "Within six weeks.",
    ),
    (
        "Harper",
        "We lose customers because nobody picks up on weekends.",
        "Our budget is about sixty five thousand dollars a year.",
        65_000,
        "The decision is mine, I'm the owner.",
        "In the next three months.",
    ),
)


@dataclass(frozen=True)
class PlannedCall:
    scenario: Scenario
    starts_after_s: float


@dataclass(frozen=True)
class PlacedCall:
    result: CallResult
    ended_at: float  # time.monotonic() when the conversation ended
    transcript: str  # what the caller printed, for failure messages


def _number(index: int) -> str:
    return f"+1555606{index:04d}"


def _qualifying(index: int) -> Scenario:
    name, need, budget_line, budget, role, timeline = QUALIFYING_LEADS[index]
    return parse_scenario(
        {
            "name": f"pgchaos-qualified-{name.lower()}",
            "from": _number(index),
            "to": AGENT_NUMBER,
            "lines": [
                PAUSE,  # after the greeting
                f"Hello, this is {name}.",
                PAUSE,
                "Yes, I have a moment.",
                PAUSE,
                need,
                PAUSE,
                budget_line,
                PAUSE,
                role,
                PAUSE,
                timeline,
                PAUSE,
                {"dtmf": "1"},
                PAUSE,
                "No, that covers it, thanks.",
                {"hangup": True},
            ],
            "expect": {"outcome": "qualified", "budget_usd": budget, "premium": True},
        }
    )


def _opting_out(index: int) -> Scenario:
    return parse_scenario(
        {
            "name": "pgchaos-opt-out",
            "from": _number(index),
            "to": AGENT_NUMBER,
            "lines": [
                PAUSE,  # after the greeting
                "Hi, who's calling?",
                PAUSE,
                "Hmm, okay.",
                PAUSE,
                "Wait, is this a sales call?",
                PAUSE,
                "Then please stop calling this number and take me off your list.",
                {"hangup": True},
            ],
            "expect": {"outcome": "opted_out", "premium": False},
        }
    )


def _disqualified(index: int) -> Scenario:
    return parse_scenario(
        {
            "name": "pgchaos-disqualified",
            "from": _number(index),
            "to": AGENT_NUMBER,
            "lines": [
                PAUSE,  # after the greeting
                "Hey, Jesse here.",
                PAUSE,
                "Okay, what is it about?",
                PAUSE,
                "It's just me and my brother, we don't really have that problem.",
                PAUSE,
                "And there's no budget for something like that anyway.",
                PAUSE,
                "No, thank you.",
                {"hangup": True},
            ],
            "expect": {"outcome": "disqualified", "premium": False},
        }
    )


def _plan() -> list[PlannedCall]:
    """Eight big budgets, one opt-out and one disqualified, interleaved."""
    scenarios = [_qualifying(i) for i in range(len(QUALIFYING_LEADS))]
    scenarios.insert(2, _opting_out(len(QUALIFYING_LEADS)))
    scenarios.insert(5, _disqualified(len(QUALIFYING_LEADS) + 1))
    assert len(scenarios) == CALLS
    return [PlannedCall(s, i * STAGGER_S) for i, s in enumerate(scenarios)]


@pytest.fixture
def private_postgres(tmp_path: Path) -> Iterator[LocalPostgres]:
    directory = tmp_path / "postgres"
    postgres = LocalPostgres(directory).start()
    try:
        yield postgres
    finally:
        postgres.cleanup()  # stopped, its data removed
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def switchboard_on_private_postgres(
    tmp_path: Path, private_postgres: LocalPostgres
) -> Iterator[RunningSwitchboard]:
    # `switchboard serve` creates the database and migrates it up as it starts.
    database_url = f"postgresql://postgres@127.0.0.1:{private_postgres.port}/{DATABASE}"
    workdir = tmp_path / "serve"
    workdir.mkdir()
    with run_switchboard(
        workdir,
        DATABASE_URL=database_url,
        # One warm session actor per call: calls start as they would on a sized replica.
        SWITCHBOARD_PERFORMANCE__WARM_POOL_SIZE=str(CALLS),
    ) as server:
        yield server


async def _wait_warm(server: RunningSwitchboard, count: int) -> None:
    deadline = time.monotonic() + WARM_WITHIN_S
    async with httpx.AsyncClient(base_url=server.base_url, timeout=5) as client:
        while True:
            health = (await client.get("/healthz")).json()
            if health["warm"] >= count:
                return
            assert time.monotonic() < deadline, f"only {health['warm']} warm actors"
            await asyncio.sleep(1.0)


async def _api_status(server: RunningSwitchboard, call_sid: str) -> int:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=15) as client:
        response = await client.get(
            f"/v1/calls/{call_sid}", headers={"Authorization": f"Bearer {server.api_token}"}
        )
    return response.status_code


async def _place(server: RunningSwitchboard, planned: PlannedCall) -> PlacedCall:
    await asyncio.sleep(planned.starts_after_s)
    started = time.monotonic()
    transcript = io.StringIO()
    # `switchboard call --text`; after the call it polls the record for up to 10 s.
    result = await run_call(
        planned.scenario,
        base_url=server.base_url,
        text=True,
        json_path=None,
        auth_token=server.auth_token,
        api_token=server.api_token,
        account_sid=server.account_sid,
        out=transcript,
    )
    return PlacedCall(result, started + result.duration_s, transcript.getvalue())


def _said(result: CallResult) -> list[str]:
    """What the caller said (lines and key presses), as the call record writes it."""
    said = []
    for timing in result.timings:
        pressed = timing.line.startswith("[") and timing.line.endswith("]")
        said.append(f"[pressed {timing.line[1:-1]}]" if pressed else timing.line)
    return said


def _assert_record_exactly_once(
    report: dict[str, Any], result: CallResult, *, premium: bool
) -> None:
    """The report holds each thing that happened on the call once, nothing missing."""
    name = result.call_sid
    user_texts = [turn["user_text"] for turn in report["turns"]]
    assert user_texts == _said(result), f"{name}: turns {user_texts}"

    transitions = [(t["from_agent"], t["to_agent"], t["timestamp"]) for t in report["transitions"]]
    assert transitions and transitions[0][0] == "start", f"{name}: {transitions}"
    assert len(set(transitions)) == len(transitions), f"{name}: duplicated {transitions}"
    # Unbroken: each transition leaves the agent the one before arrived at.
    for before, after in zip(transitions, transitions[1:], strict=False):
        assert after[0] == before[1], f"{name}: a transition is missing in {transitions}"
    assert report["current_agent"] == transitions[-1][1]
    assert report["agent_transition_count"] == len(transitions)

    decisions = [tuple(sorted(d.items())) for d in report["tier_history"]]
    assert len(set(decisions)) == len(decisions), f"{name}: duplicated {decisions}"
    grants = [d for d in report["tier_history"] if d["approved"] and d["tier"] == "premium"]
    assert len(grants) == (1 if premium else 0), f"{name}: {report['tier_history']}"
    assert report["recovered"] == 0 and report["errors"] == [], report["errors"]


async def _duplicates(conn: asyncpg.Connection, table: str) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"SELECT call_sid, seq, count(*) FROM {table} GROUP BY 1, 2 HAVING count(*) > 1"
    )


async def _assert_tables_exactly_once(
    server: RunningSwitchboard, results: list[CallResult], opted_out: tuple[str, str]
) -> None:
    """No duplicate row in any child table, no turn lost, and one do-not-call row:
    `opted_out` is (the number, the call_sid of the call that opted out)."""
    conn = await asyncpg.connect(server.database_url)
    try:
        for table in ("turns", "agent_transitions", "tier_escalation_events"):
            assert await _duplicates(conn, table) == [], f"duplicate rows in {table}"
        # Each call's turns are numbered 1..n without a gap.
        for result in results:
            seqs = await conn.fetch(
                "SELECT seq FROM turns WHERE call_sid = $1 ORDER BY seq", result.call_sid
            )
            assert [r["seq"] for r in seqs] == list(range(1, len(result.timings) + 1))
        assert await conn.fetchval("SELECT count(*) FROM calls WHERE finalized") == CALLS
        do_not_call = await conn.fetch("SELECT number, source_call_sid FROM do_not_call")
        number, call_sid = opted_out
        assert [tuple(row) for row in do_not_call] == [(normalize_number(number), call_sid)]
    finally:
        await conn.close()


async def _assert_outbox_drained(server: RunningSwitchboard) -> None:
    """Everything applied (applied entries leave the stream), nothing dead-lettered."""
    redis = aioredis.from_url(server.redis_url)
    try:
        deadline = time.monotonic() + 15
        while await redis.xlen(outbox_key(server.redis_prefix)) > 0:
            assert time.monotonic() < deadline, "the outbox still holds events"
            await asyncio.sleep(0.25)
        assert await redis.xlen(dead_letter_key(server.redis_prefix)) == 0
    finally:
        await redis.aclose()


def _ended_early(placing: list[asyncio.Task[PlacedCall]]) -> str:
    """What the calls that are already over went through (for a failure message)."""
    over = []
    for task in placing:
        if task.done():
            error = task.exception()
            over.append(repr(error) if error else task.result().transcript)
    return "\n".join(over)


@pytest.mark.timeout(360)
async def test_a_30s_postgres_crash_under_10_calls_loses_and_duplicates_no_record(
    switchboard_on_private_postgres: RunningSwitchboard, private_postgres: LocalPostgres
) -> None:
    server = switchboard_on_private_postgres
    began = time.monotonic()
    plan = _plan()
    await _wait_warm(server, CALLS)
    print(f"{CALLS} session actors warm after {time.monotonic() - began:.0f} s")
    calls_began = time.monotonic()
    placing = [asyncio.create_task(_place(server, planned)) for planned in plan]
    try:
        await asyncio.sleep(plan[-1].starts_after_s + OUTAGE_AFTER_S)
        assert not any(task.done() for task in placing), _ended_early(placing)

        await asyncio.to_thread(private_postgres.stop, immediate=True)
        down_at = time.monotonic()
        # The API says the records are unavailable; it neither hangs nor fails otherwise.
        assert await _api_status(server, "CAnotrecordedyet") == 503
        await asyncio.sleep(OUTAGE_S - (time.monotonic() - down_at))
        await asyncio.to_thread(private_postgres.start)
        up_at = time.monotonic()

        placed = await asyncio.gather(*placing)
    finally:
        for task in placing:
            task.cancel()
        await asyncio.gather(*placing, return_exceptions=True)
    print(
        f"from the first call: PostgreSQL down {down_at - calls_began:.0f}-"
        f"{up_at - calls_began:.0f} s, calls ended at "
        + ", ".join(f"{c.ended_at - calls_began:.0f}" for c in placed)
    )

    # The calls went on while the database was away: every line was answered, including
    # lines said during the outage, and the two short calls ended then.
    for call in placed:
        timings = call.result.timings
        assert timings, f"the caller said nothing:\n{call.transcript}"
        unanswered = [t.line for t in timings if t.latency_ms is None]
        assert unanswered == [], f"no answer to {unanswered}:\n{call.transcript}"
        assert any(down_at <= t.ended_at <= up_at for t in timings), (
            f"no turn during the outage:\n{call.transcript}"
        )
    ended_while_down = [
        p.scenario.name for p, c in zip(plan, placed, strict=True) if c.ended_at < up_at
    ]
    assert sorted(ended_while_down) == ["pgchaos-disqualified", "pgchaos-opt-out"]

    deadline = time.monotonic() + REPORTS_WITHIN_S
    for planned, call in zip(plan, placed, strict=True):
        report = await server.report(
            call.result.call_sid, timeout_s=max(1.0, deadline - time.monotonic())
        )
        expect = planned.scenario.expect
        assert expect is not None
        assert_report_meets_expectations(report, planned.scenario)  # outcome, premium
        _assert_record_exactly_once(report, call.result, premium=bool(expect.premium))
    print(f"all reports final {time.monotonic() - up_at:.1f} s after PostgreSQL was back")

    results = [call.result for call in placed]
    opted_out = next(
        (p.scenario.from_number, r.call_sid)
        for p, r in zip(plan, results, strict=True)
        if p.scenario.name == "pgchaos-opt-out"
    )
    await _assert_tables_exactly_once(server, results, opted_out)
    await _assert_outbox_drained(server)

"""The analytics queries (`db.analytics`) on a real PostgreSQL.

Calls are recorded the way the recorder records them (`db.apply.apply_event` with the
session's events), except what the recorder does not write yet: the experiment and
variant (assignment is issue 13's item 1) and campaign attempts (the dialler's), which
are set with SQL matching the schema. Each answer is compared with a count made here,
in Python, from the calls as they were generated. Then the calls list's filters and
keyset pagination, and the query plans over generated rows (the indexes are used).
"""

from __future__ import annotations

import itertools
import json
import math
import random
from collections import Counter, defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from db import analytics
from db.analytics import CallFilters, CallKey
from db.apply import apply_event
from db.events import (
    CallEnded,
    CallStarted,
    CallUpdated,
    Event,
    StatusCallback,
    TransitionRecorded,
    TurnRecorded,
)
from db.migrate import migrate
from db.pool import create_pool
from load_tests.analytics_seed import EXPERIMENT, seed_calls
from switchboard.conversion_stats import two_proportion_z_test, wilson_interval
from switchboard.models import (
    AgentTransition,
    CallFacts,
    CallSession,
    CallStatus,
    Outcome,
    TurnRecord,
)
from tests.db_fixtures import temporary_database

pytest_plugins = ["tests.db_fixtures"]

BASE = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
# Every generated call starts in [WINDOW_START, WINDOW_END); day 2 has none.
WINDOW_START, WINDOW_END = BASE, BASE + timedelta(days=5)
WINDOW = CallFilters(since=WINDOW_START, until=WINDOW_END)

QUESTIONS = {
    # An earlier question in the same turn: the last one is what the caller heard last.
    "greeter": ("Hi there, got a minute? I'm Sam from Switchboard.", "Who am I speaking with?"),
    "qualifier": ("Thanks.", "What budget do you have in mind?"),
    "objection_handler": ("I understand.", "Would a short demo help?"),
    "scheduler": ("Great.", "Does Tuesday at 10 work for you?"),
    "wrap_up": ("Thanks for your time.", "Anything else?"),
    "handoff": ("One moment.", "Can you hold?"),
    "voicemail": ("Sorry I missed you.", "Could you call back?"),
}
REASONS = {
    "qualified": "meeting_booked", "nurture": "callback_requested",
    "disqualified": "disqualified", "opted_out": "opt_out", "transferred": "human_requested",
    "voicemail": "voicemail_detected", "abandoned": "caller_answered",
}
FINAL_AGENT = {
    "qualified": "wrap_up", "nurture": "wrap_up", "disqualified": "wrap_up",
    "opted_out": "wrap_up", "transferred": "handoff", "voicemail": "voicemail",
}


@dataclass
class GeneratedCall:
    """A call as generated: what the analytics should find in its record."""

    call_sid: str
    started_at: datetime
    direction: str
    answered: bool
    answered_by: str | None = None
    ended: bool = True
    outcome: str | None = None
    agent: str = "start"
    # (agent, text, latency_ms, fallback)
    turns: list[tuple[str, str, float | None, bool]] = field(default_factory=list)
    # (from, to, trigger)
    transitions: list[tuple[str, str, str]] = field(default_factory=list)
    tier: str = "economy"
    cost: float = 0.0
    recovered: int = 0
    meeting_time: str | None = None
    experiment: str | None = None
    variant: str | None = None
    campaign: bool = False

    @property
    def human(self) -> bool:
        machine = self.answered_by is not None and (
            self.answered_by.startswith("machine") or self.answered_by == "fax"
        )
        return self.answered and self.outcome != "voicemail" and not machine

    @property
    def qualified(self) -> bool:
        return self.human and self.outcome == "qualified"

    @property
    def booked(self) -> bool:
        return self.qualified and self.meeting_time is not None

    @property
    def reason(self) -> str | None:
        return self.transitions[-1][2] if self.transitions else None


def generate_calls(count: int, seed: int = 13) -> list[GeneratedCall]:
    rng = random.Random(seed)
    calls = []
    for i in range(count):
        day = [0, 1, 3, 4][i % 4]  # nothing on day 2
        started = BASE + timedelta(days=day, minutes=7 * i, seconds=rng.randint(0, 59))
        direction = "outbound" if rng.random() < 0.7 else "inbound"
        call = GeneratedCall(f"CAan{i:04d}{rng.randrange(16**6):06x}", started, direction,
                             answered=rng.random() < 0.85)
        calls.append(call)
        if not call.answered:
            continue
        call.ended = rng.random() > 0.08
        outcome = rng.choice([*REASONS, "qualified", "qualified", "abandoned"])
        if outcome == "voicemail" and direction == "inbound":
            outcome = "abandoned"
        if direction == "outbound":
            call.answered_by = "machine_end_beep" if outcome == "voicemail" else "human"
        agent = FINAL_AGENT.get(outcome) or rng.choice(
            ["greeter", "qualifier", "objection_handler", "scheduler"]
        )
        turn_agents = ["greeter"] * rng.randint(1, 2) + ["qualifier"] * rng.randint(0, 3)
        for turn_agent in [*turn_agents, agent]:
            lead, question = QUESTIONS[turn_agent]
            latency = None if rng.random() < 0.1 else round(rng.uniform(300, 2500), 3)
            call.turns.append((turn_agent, f"{lead} {question}", latency, rng.random() < 0.1))
        call.transitions.append(("start", "greeter", "call_started"))
        if agent != "greeter":
            call.transitions.append(("greeter", agent, REASONS[outcome]))
        call.agent = agent
        call.tier = "premium" if rng.random() < 0.25 else "economy"
        if call.ended:
            call.outcome = outcome
            call.cost = round(rng.uniform(0.01, 0.3), 6)
            call.recovered = 1 if rng.random() < 0.1 else 0
            if outcome == "qualified" and rng.random() < 0.7:
                call.meeting_time = "2026-04-01T10:00:00"
        if rng.random() < 0.8:
            call.experiment = "greeting"
            call.variant = "a" if i % 2 else "b"
        call.campaign = direction == "outbound" and rng.random() < 0.5
    return calls


class Recording:
    """Applies events as the recorder does, each in its own transaction, with stream ids
    in order."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self._ids = itertools.count(1)

    async def apply(self, event: Event) -> None:
        async with self._pool.acquire() as conn, conn.transaction():
            await apply_event(conn, event, f"1700000000000-{next(self._ids)}")

    async def call(self, call: GeneratedCall, campaign_id: int) -> None:
        start = call.started_at.timestamp()
        ours, lead = "+15550100000", "+1555" + call.call_sid[-7:].translate(
            str.maketrans("abcdef", "123456"))
        from_number, to_number = (ours, lead) if call.direction == "outbound" else (lead, ours)
        if not call.answered:
            await self.apply(StatusCallback(
                call_sid=call.call_sid, call_status="no-answer", at=start + 30,
                params={"Direction": "outbound-api" if call.direction == "outbound"
                        else "inbound", "From": from_number, "To": to_number},
            ))
            # A status callback carries no start time: the recorder stamps the row when
            # it applies it. Put it where the generated call started.
            await self._pool.execute("UPDATE calls SET started_at = $2 WHERE call_sid = $1",
                                     call.call_sid, call.started_at)
        else:
            session = CallSession(
                call_sid=call.call_sid, mode="text", direction=call.direction,
                from_number=from_number, to_number=to_number, answered_by=call.answered_by,
                started_at=start,
            )
            await self.apply(CallStarted(session=session, at=start))
            for seq, (agent, text, latency, fallback) in enumerate(call.turns, start=1):
                await self.apply(TurnRecorded(call_sid=call.call_sid, turn=TurnRecord(
                    seq=seq, user_text="words", agent_text=text, agent=agent,
                    latency_ms=latency, fallback=fallback, at=start + 10 * seq)))
            for seq, (source, target, trigger) in enumerate(call.transitions, start=1):
                await self.apply(TransitionRecorded(
                    call_sid=call.call_sid, seq=seq, transition=AgentTransition(
                        from_agent=source, to_agent=target, trigger=trigger,
                        timestamp=start + seq)))
            facts = CallFacts(meeting_time=call.meeting_time)
            if call.ended:
                parts = {"telephony": call.cost / 2, "stt": call.cost / 4, "llm": call.cost / 8,
                         "tts": call.cost / 8}
                await self.apply(CallEnded(
                    session=session.model_copy(update={
                        "status": CallStatus.COMPLETED, "outcome": Outcome(call.outcome),
                        "current_agent": call.agent, "tier": call.tier,
                        "recovered": call.recovered,
                    }),
                    facts=facts, qualification_score=0.5, cost_usd=call.cost,
                    cost_breakdown=parts, at=start + 300,
                ))
            else:
                await self.apply(CallUpdated(
                    call_sid=call.call_sid, current_agent=call.agent, facts=facts,
                    qualification_score=0.2, outcome=None, tier=call.tier))
        # Not written by the recorder yet: the experiment (item 1) and the dialler's attempt.
        await self._pool.execute(
            "UPDATE calls SET experiment = $2, variant = $3 WHERE call_sid = $1",
            call.call_sid, call.experiment, call.variant,
        )
        if call.campaign:
            await add_attempt(self._pool, campaign_id, call.call_sid)


async def new_campaign(pool: asyncpg.Pool) -> int:
    return await pool.fetchval(
        """
        INSERT INTO campaigns (name, max_concurrent, calls_per_minute, max_attempts,
                               retry_after_s, window_start, window_end)
        VALUES ('analytics', 1, 1, 1, 0, '09:00', '17:00') RETURNING id
        """
    )


async def add_attempt(pool: asyncpg.Pool, campaign_id: int, call_sid: str) -> None:
    number = "+1555" + str(abs(hash(call_sid)))[:7]
    lead_id = await pool.fetchval(
        "INSERT INTO leads (campaign_id, row_number, number) VALUES ($1, 1, $2) RETURNING id",
        campaign_id, number,
    )
    await pool.execute(
        """
        INSERT INTO call_attempts (lead_id, campaign_id, attempt, idempotency_key, call_sid,
                                   status)
        VALUES ($1, $2, 1, $3, $3, 'completed')
        """,
        lead_id, campaign_id, call_sid,
    )


@dataclass
class Recorded:
    pool: asyncpg.Pool
    calls: list[GeneratedCall]
    campaign_id: int
    recording: Recording


@pytest.fixture(scope="module")
async def recorded() -> AsyncIterator[Recorded]:
    """A database of this module's own (the answers count every call in it), with 60
    generated calls recorded."""
    async with temporary_database() as dsn:
        await migrate(dsn, "up")
        pool = await create_pool(dsn, max_size=4)
        try:
            campaign_id = await new_campaign(pool)
            recording = Recording(pool)
            calls = generate_calls(60)
            for call in calls:
                await recording.call(call, campaign_id)
            yield Recorded(pool, calls, campaign_id, recording)
        finally:
            await pool.close()


def _share(part: float, whole: float) -> float | None:
    return part / whole if whole else None


# --- each question against a count of the generated calls -------------------------------

async def test_funnel_counts_each_stage_as_the_records_say(recorded: Recorded) -> None:
    for filters, calls in (
        (WINDOW, recorded.calls),
        (CallFilters(direction="outbound"), [c for c in recorded.calls
                                             if c.direction == "outbound"]),
    ):
        answer = await analytics.funnel(recorded.pool, filters)
        counts = [len(calls), sum(c.answered for c in calls), sum(c.human for c in calls),
                  sum(c.qualified for c in calls), sum(c.booked for c in calls)]
        assert [s["stage"] for s in answer["stages"]] == list(analytics.FUNNEL_STAGES)
        assert [s["calls"] for s in answer["stages"]] == counts
        assert [s["of_previous"] for s in answer["stages"]] == [
            1.0, *(_share(b, a) for a, b in itertools.pairwise(counts))]
        assert all(n > 0 for n in counts), "every stage has calls: a real check"


async def test_outcomes_and_their_reasons_are_the_records(recorded: Recorded) -> None:
    answer = await analytics.outcomes(recorded.pool, WINDOW)
    expected = Counter((c.outcome, c.reason) for c in recorded.calls)
    assert Counter({(r["outcome"], r["reason"]): r["calls"] for r in answer["rows"]}) == expected
    by_outcome = Counter(c.outcome for c in recorded.calls)
    assert {o["outcome"]: o["calls"] for o in answer["outcomes"]} == by_outcome
    assert answer["calls"] == len(recorded.calls)
    assert len(by_outcome) >= 6, "most outcomes are present: a real check"


async def test_costs_per_call_and_per_qualified_lead_by_tier(recorded: Recorded) -> None:
    answer = await analytics.costs(recorded.pool, WINDOW)
    for tier, line in [(None, answer["total"]), *((t["tier"], t) for t in answer["tiers"])]:
        calls = [c for c in recorded.calls if tier is None or c.tier == tier]
        cost = sum(c.cost for c in calls)
        qualified = sum(c.qualified for c in calls)
        assert (line["calls"], line["qualified"]) == (len(calls), qualified)
        assert line["cost_usd"] == pytest.approx(cost, abs=1e-6)
        assert line["cost_per_call_usd"] == pytest.approx(cost / len(calls))
        assert line["cost_per_qualified_lead_usd"] == pytest.approx(cost / qualified)
        assert line["breakdown_usd"]["telephony"] == pytest.approx(cost / 2, abs=1e-5)
    assert {t["tier"] for t in answer["tiers"]} == {"economy", "premium"}


def _percentile_cont(values: list[float], fraction: float) -> float:
    """PostgreSQL's percentile_cont: linear interpolation at fraction * (n - 1)."""
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


async def test_latency_percentiles_fallbacks_escalations_and_recoveries(
    recorded: Recorded,
) -> None:
    answer = await analytics.latency(recorded.pool, WINDOW)
    calls = recorded.calls
    turns = [t for c in calls for t in c.turns]
    timed = [t[2] for t in turns if t[2] is not None]
    overall = answer["turn_latency"]
    assert (overall["turns"], overall["timed_turns"]) == (len(turns), len(timed))
    for fraction in analytics.LATENCY_PERCENTILES:
        key = f"p{round(fraction * 100)}_ms"
        assert overall[key] == pytest.approx(_percentile_cont(timed, fraction)), key
    assert overall["fallback_turns"] == sum(t[3] for t in turns)
    assert answer["calls_with_fallback"] == sum(any(t[3] for t in c.turns) for c in calls)
    assert answer["escalated_calls"] == sum(c.tier == "premium" for c in calls)
    assert answer["recovered_calls"] == sum(c.recovered > 0 for c in calls) > 0
    assert answer["recoveries"] == sum(c.recovered for c in calls)


async def test_drop_off_names_the_last_agent_and_question_before_a_hang_up(
    recorded: Recorded,
) -> None:
    answer = await analytics.drop_off(recorded.pool, WINDOW)
    ended = [c for c in recorded.calls if c.answered and c.ended]
    hang_ups = [c for c in ended if c.outcome == "abandoned"]
    assert (answer["ended_calls"], answer["hang_ups"]) == (len(ended), len(hang_ups))
    expected = Counter((c.agent, QUESTIONS[c.turns[-1][0]][1]) for c in hang_ups)
    assert Counter({(r["agent"], r["question"]): r["hang_ups"] for r in answer["rows"]}) == (
        expected
    )
    assert {a["agent"]: a["hang_ups"] for a in answer["by_agent"]} == Counter(
        c.agent for c in hang_ups)
    assert len(expected) >= 2


async def test_trends_count_each_utc_day_and_list_days_without_calls(
    recorded: Recorded,
) -> None:
    answer = await analytics.trends(recorded.pool, WINDOW)
    by_day: dict[str, list[GeneratedCall]] = defaultdict(list)
    for call in recorded.calls:
        by_day[call.started_at.date().isoformat()].append(call)
    days = {d["day"]: d for d in answer["days"]}
    assert list(days) == [(BASE + timedelta(days=n)).date().isoformat() for n in range(5)]
    empty = (BASE + timedelta(days=2)).date().isoformat()
    assert days[empty]["calls"] == 0 and empty not in by_day
    for day, calls in by_day.items():
        assert days[day]["calls"] == len(calls)
        assert days[day]["qualified"] == sum(c.qualified for c in calls)
        assert days[day]["meeting_booked"] == sum(c.booked for c in calls)
        assert days[day]["cost_usd"] == pytest.approx(sum(c.cost for c in calls), abs=1e-6)


async def test_experiment_variants_convert_as_recorded_with_interval_and_test(
    recorded: Recorded,
) -> None:
    answer = await analytics.experiment(recorded.pool, "greeting", WINDOW)
    counts = {}
    for variant in ("a", "b"):
        calls = [c for c in recorded.calls if c.variant == variant]
        ended = [c for c in calls if c.ended and c.answered]
        counts[variant] = (sum(c.outcome == "qualified" for c in ended), len(ended))
    got = {v["variant"]: v for v in answer["variants"]}
    assert set(got) == {"a", "b"} and answer["test"]["reference_variant"] == "a"
    for variant, (conversions, ended) in counts.items():
        assert (got[variant]["conversions"], got[variant]["ended"]) == (conversions, ended)
        interval = wilson_interval(conversions, ended)
        assert interval is not None
        assert (got[variant]["ci_low"], got[variant]["ci_high"]) == (interval.low, interval.high)
    test = two_proportion_z_test(*counts["a"], *counts["b"])
    assert test is not None
    assert (got["b"]["z"], got["b"]["p_value"]) == (test.z, test.p_value)
    assert got["a"]["z"] is None
    assert "pooled" in answer["test"]["name"] and answer["interval"]["method"] == "Wilson score"
    nothing = await analytics.experiment(recorded.pool, "no-such-experiment", WINDOW)
    assert nothing["variants"] == [] and nothing["test"]["reference_variant"] is None


# --- the calls list ----------------------------------------------------------------------

async def _all_pages(pool: asyncpg.Pool, filters: CallFilters, limit: int) -> list[str]:
    seen, after = [], None
    while True:
        page = await analytics.list_calls(pool, filters, after=after, limit=limit)
        seen += [c["call_sid"] for c in page.calls]
        if page.next_key is None:
            return seen
        after = page.next_key


async def test_each_filter_selects_exactly_the_matching_calls(recorded: Recorded) -> None:
    calls = recorded.calls
    middle = BASE + timedelta(days=1, hours=12)
    cases: list[tuple[CallFilters, list[GeneratedCall]]] = [
        (CallFilters(since=middle, until=WINDOW_END),
         [c for c in calls if c.started_at >= middle]),
        (CallFilters(since=WINDOW_START, until=middle),
         [c for c in calls if c.started_at < middle]),
        (CallFilters(outcome="qualified"), [c for c in calls if c.outcome == "qualified"]),
        (CallFilters(direction="inbound"), [c for c in calls if c.direction == "inbound"]),
        (CallFilters(campaign_id=recorded.campaign_id), [c for c in calls if c.campaign]),
        (CallFilters(experiment="greeting"), [c for c in calls if c.experiment]),
        (CallFilters(experiment="greeting", variant="b"), [c for c in calls if c.variant == "b"]),
        (CallFilters(agent="qualifier"),
         [c for c in calls if any(t[0] == "qualifier" for t in c.turns)]),
        (CallFilters(direction="outbound", outcome="abandoned", since=middle),
         [c for c in calls if c.direction == "outbound" and c.outcome == "abandoned"
          and c.started_at >= middle]),
    ]
    for filters, expected in cases:
        assert expected, filters
        newest_first = sorted(expected, key=lambda c: (c.started_at, c.call_sid), reverse=True)
        assert await _all_pages(recorded.pool, filters, limit=1000) == [
            c.call_sid for c in newest_first], filters
    page = await analytics.list_calls(
        recorded.pool, CallFilters(campaign_id=recorded.campaign_id), after=None, limit=1)
    assert page.calls[0]["campaign_id"] == recorded.campaign_id
    assert page.calls[0]["attempt"] == 1


async def test_pages_neither_skip_nor_repeat_a_call_while_calls_are_recorded(
    recorded: Recorded,
) -> None:
    # In a window of its own, so the other tests' counts stay as generated.
    start = datetime(2025, 6, 1, tzinfo=UTC)
    window = CallFilters(since=start, until=start + timedelta(days=1))
    before = [GeneratedCall(f"CApage{i:03d}", start + timedelta(minutes=10 * i), "inbound",
                            answered=False) for i in range(30)]
    # Two calls share a start: the call_sid settles their order.
    before[11].started_at = before[12].started_at
    for call in before:
        await recorded.recording.call(call, recorded.campaign_id)
    seen: list[str] = []
    after: CallKey | None = None
    added = 0
    while True:
        page = await analytics.list_calls(recorded.pool, window, after=after, limit=4)
        seen += [c["call_sid"] for c in page.calls]
        # Newer calls arrive, and a late record of an older one.
        for started in (start + timedelta(hours=20), start + timedelta(minutes=1)):
            await recorded.recording.call(
                GeneratedCall(f"CApagenew{added:03d}", started, "inbound", answered=False),
                recorded.campaign_id)
            added += 1
        if page.next_key is None:
            break
        after = page.next_key
    assert len(seen) == len(set(seen)), "a call was listed twice"
    assert {c.call_sid for c in before} <= set(seen), "a call was skipped"


# --- query plans -------------------------------------------------------------------------

@pytest.fixture(scope="module")
async def generated_dsn() -> AsyncIterator[str]:
    """A database of its own with 10,000 generated calls over 100 days."""
    async with temporary_database() as dsn:
        await migrate(dsn, "up")
        conn = await asyncpg.connect(dsn)
        try:
            await seed_calls(conn, 10_000, end=datetime(2026, 6, 1, tzinfo=UTC), days=100)
        finally:
            await conn.close()
        yield dsn


def _plan_nodes(plan: dict[str, Any]) -> list[dict[str, Any]]:
    return [plan, *(n for child in plan.get("Plans", []) for n in _plan_nodes(child))]


async def _indexes_used(conn: asyncpg.Connection, sql: str, params: list[Any]) -> set[str]:
    """The indexes the plan of `sql` reads; it must not read all of `calls` or `turns`."""
    (document,) = json.loads(await conn.fetchval(f"EXPLAIN (FORMAT JSON) {sql}", *params))
    nodes = _plan_nodes(document["Plan"])
    scanned = {n["Relation Name"] for n in nodes if n["Node Type"] == "Seq Scan"}
    assert not scanned & {"calls", "turns"}, f"whole tables read: {scanned}"
    return {n["Index Name"] for n in nodes if "Index Name" in n}


async def test_every_question_over_a_time_range_is_planned_on_the_indexes(
    generated_dsn: str,
) -> None:
    two_days = CallFilters(since=datetime(2026, 5, 10, tzinfo=UTC),
                           until=datetime(2026, 5, 12, tzinfo=UTC))
    calls = "calls_started_at_call_sid_idx"
    # Each question's indexes: every one of the first set, and one of the second.
    expected: dict[str, tuple[set[str], set[str]]] = {
        "funnel": ({calls}, set()),
        "outcomes": ({calls, "agent_transitions_pkey"}, set()),
        "costs": ({calls}, set()),
        # The turns of the range by their time, or of each call by its key.
        "latency": ({calls}, {"turns_at_idx", "turns_pkey"}),
        "drop_off": ({calls, "turns_pkey"}, set()),
        "trends": ({calls}, set()),
    }
    conn = await asyncpg.connect(generated_dsn)
    try:
        for name, (every, one_of) in expected.items():
            params: list[Any] = []
            sql = getattr(analytics, f"{name}_sql")(two_days, params)
            used = await _indexes_used(conn, sql, params)
            assert every <= used, (name, used)
            assert not one_of or one_of & used, (name, used)
        params = []
        sql = analytics.experiment_sql(replace(two_days, experiment=EXPERIMENT), params)
        assert {"calls_experiment_idx", calls} & await _indexes_used(conn, sql, params)
        params = []
        after = CallKey(datetime(2026, 5, 11, tzinfo=UTC), "CAseed")
        sql = analytics.calls_sql(CallFilters(), after, 51, params)
        assert "calls_started_at_call_sid_idx" in await _indexes_used(conn, sql, params)
    finally:
        await conn.close()


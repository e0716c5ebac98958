"""What the analytics API asks PostgreSQL: the calls list and one query per question
(funnel, outcomes, costs, latency, drop-off, trends, an experiment's variants).

Every question runs over the same scope, the calls a `CallFilters` selects (a
`started_at` range, outcome, direction, campaign, experiment, variant, agent). Only the
filters given become SQL conditions, so the planner sees plain range and equality
predicates it can answer from the indexes of migrations 0008 and 0009, never
`$n IS NULL OR ...`, which a generic plan cannot.

Definitions the numbers rest on (columns of `calls` unless said otherwise):

- answered: a session took the call, so `mode` is set (only a session's events set it;
  a call Twilio reports busy, unanswered or failed before any session has none);
- human: answered and neither a voicemail (`outcome` `voicemail`) nor answered by a
  machine or fax by Twilio's `answered_by`;
- qualified: human with `outcome` `qualified`;
- meeting booked: qualified with a `meeting_time`;
- hang-up: an answered call that ended (`status` not `in_progress`) as `abandoned`,
  i.e. before it reached any outcome;
- ended: `status` is not `in_progress` (an open call has no outcome yet);
- escalated: the call reached the premium tier (`tier_escalation_trigger` or `tier`);
- a campaign's calls: those with an attempt of it in `call_attempts`.

Results are JSON-ready (floats, ints, ISO 8601 strings); each carries its rows as a
list the API can also give as CSV.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any

import asyncpg

from db.queries import COST_PARTS, float_or_none, iso_or_none
from switchboard.conversion_stats import (
    SIGNIFICANCE_LEVEL,
    TEST_NAME,
    Z_95,
    two_proportion_z_test,
    wilson_interval,
)

LATENCY_PERCENTILES = (0.5, 0.9, 0.95, 0.99)
FUNNEL_STAGES = ("dialled", "answered", "human", "qualified", "meeting_booked")
WORK_MEM = "64MB"
MAX_CALL_LENGTH = timedelta(days=1)

_ANSWERED = "c.mode IS NOT NULL"
_HUMAN = (
    f"{_ANSWERED} AND c.outcome IS DISTINCT FROM 'voicemail' "
    "AND NOT coalesce(c.answered_by LIKE 'machine%' OR c.answered_by = 'fax', false)"
)
_QUALIFIED = f"{_HUMAN} AND c.outcome = 'qualified'"
_BOOKED = f"{_QUALIFIED} AND c.meeting_time IS NOT NULL"
_ENDED = "c.status <> 'in_progress'"
# The funnel's stages after the first, as counts over the calls `c` (funnel and trends).
_FUNNEL_COUNTS = (f"count(*) FILTER (WHERE {_ANSWERED}) AS answered, "
                  f"count(*) FILTER (WHERE {_HUMAN}) AS human, "
                  f"count(*) FILTER (WHERE {_QUALIFIED}) AS qualified, "
                  f"count(*) FILTER (WHERE {_BOOKED}) AS meeting_booked")


@dataclass(frozen=True)
class CallFilters:
    """Which calls a question is about; None means any. `since` is inclusive, `until`
    exclusive, both on `started_at`."""

    since: datetime | None = None
    until: datetime | None = None
    outcome: str | None = None
    direction: str | None = None
    campaign_id: int | None = None
    experiment: str | None = None
    variant: str | None = None
    # Calls this agent answered at least one turn of.
    agent: str | None = None

    def where(self, params: list[Any]) -> str:
        """The SQL condition on `calls c`, appending its values to `params`."""

        def bind(value: Any) -> str:
            params.append(value)
            return f"${len(params)}"

        conditions = ["true"]
        if self.since is not None:
            conditions.append(f"c.started_at >= {bind(self.since)}")
        if self.until is not None:
            conditions.append(f"c.started_at < {bind(self.until)}")
        for column in ("outcome", "direction", "experiment", "variant"):
            value = getattr(self, column)
            if value is not None:
                conditions.append(f"c.{column} = {bind(value)}")
        if self.campaign_id is not None:
            conditions.append(
                "EXISTS (SELECT 1 FROM call_attempts a WHERE a.call_sid = c.call_sid "
                f"AND a.campaign_id = {bind(self.campaign_id)})"
            )
        if self.agent is not None:
            conditions.append(
                "EXISTS (SELECT 1 FROM turns t WHERE t.call_sid = c.call_sid "
                f"AND t.agent = {bind(self.agent)})"
            )
        return " AND ".join(conditions)


@dataclass(frozen=True)
class CallKey:
    """Where a page of the calls list ends: the order is (started_at, call_sid), newest
    first, a key no insert can move, so a page never skips or repeats a call. (One
    exception: a row made from an event that arrived before the call's start event is
    stamped on arrival, and moves back to the call's start when that event comes.)"""

    started_at: datetime
    call_sid: str


@dataclass
class CallsPage:
    calls: list[dict[str, Any]] = field(default_factory=list)
    # The key of the last call when more may follow, else None.
    next_key: CallKey | None = None


async def _fetch(pool: asyncpg.Pool, sql: str, params: list[Any]) -> list[asyncpg.Record]:
    async with pool.acquire() as conn, conn.transaction(readonly=True):
        # JIT compiles these mid-sized aggregates for longer than they then run (half a
        # second of 0.7 s, measured), and the latency percentiles sort every turn of the
        # range: in memory rather than on disk.
        await conn.execute(f"SET LOCAL jit = off; SET LOCAL work_mem = '{WORK_MEM}'")
        return await conn.fetch(sql, *params)


# --- the calls list ----------------------------------------------------------------------

# A listed call: each field, the column it is read from, and how it becomes JSON (the
# order is the CSV's).
_CALL_FIELDS: tuple[tuple[str, str, Callable[[Any], Any] | None], ...] = (
    ("call_sid", "c.call_sid", None),
    ("started_at", "c.started_at", iso_or_none),
    ("ended_at", "c.ended_at", iso_or_none),
    ("direction", "c.direction", None),
    ("mode", "c.mode", None),
    ("from", "c.from_number", None),
    ("to", "c.to_number", None),
    ("status", "c.status", None),
    ("outcome", "c.outcome", None),
    ("qualification_score", "c.qualification_score", float),
    ("current_agent", "c.current_agent", None),
    ("tier", "c.tier", None),
    ("cost_usd", "c.cost_usd", float),
    ("answered_by", "c.answered_by", None),
    ("meeting_time", "c.meeting_time", None),
    ("fallback_turns", "c.fallback_turns", None),
    ("recovered", "c.recovered", None),
    ("campaign_id", "a.campaign_id", None),
    ("attempt", "a.attempt", None),
    ("experiment", "c.experiment", None),
    ("variant", "c.variant", None),
)
CALL_COLUMNS = tuple(name for name, _, _ in _CALL_FIELDS)
_CALL_SELECT = ", ".join(f'{column} AS "{name}"' for name, column, _ in _CALL_FIELDS)


def calls_sql(
    filters: CallFilters, after: CallKey | None, limit: int, params: list[Any]
) -> str:
    where = filters.where(params)
    if after is not None:
        params += [after.started_at, after.call_sid]
        # A row comparison, so the (started_at DESC, call_sid DESC) index bounds the scan.
        where += f" AND (c.started_at, c.call_sid) < (${len(params) - 1}, ${len(params)})"
    params.append(limit)
    return f"""
        SELECT {_CALL_SELECT}
        FROM calls c LEFT JOIN call_attempts a ON a.call_sid = c.call_sid
        WHERE {where}
        ORDER BY c.started_at DESC, c.call_sid DESC
        LIMIT ${len(params)}
    """


async def list_calls(
    pool: asyncpg.Pool, filters: CallFilters, *, after: CallKey | None, limit: int
) -> CallsPage:
    """Up to `limit` calls of `filters` after `after`, newest first."""
    params: list[Any] = []
    # One more than asked: whether another page follows, without counting.
    rows = await _fetch(pool, calls_sql(filters, after, limit + 1, params), params)
    page = CallsPage(calls=[_call_summary(row) for row in rows[:limit]])
    if len(rows) > limit:
        last = rows[limit - 1]
        page.next_key = CallKey(last["started_at"], last["call_sid"])
    return page


def _call_summary(row: asyncpg.Record) -> dict[str, Any]:
    return {name: row[name] if to_json is None or row[name] is None else to_json(row[name])
            for name, _, to_json in _CALL_FIELDS}


# --- the questions -----------------------------------------------------------------------

def funnel_sql(filters: CallFilters, params: list[Any]) -> str:
    return f"""
        SELECT count(*) AS dialled, {_FUNNEL_COUNTS}
        FROM calls c WHERE {filters.where(params)}
    """


async def funnel(pool: asyncpg.Pool, filters: CallFilters) -> dict[str, Any]:
    """Calls at each stage: dialled (every call of the scope, placed or received) →
    answered → human → qualified → meeting booked (see the module's definitions; each
    stage is part of the one before)."""
    params: list[Any] = []
    (row,) = await _fetch(pool, funnel_sql(filters, params), params)
    dialled = row["dialled"]
    stages, previous = [], dialled
    for stage in FUNNEL_STAGES:
        calls = row[stage]
        stages.append({
            "stage": stage,
            "calls": calls,
            "of_previous": _ratio(calls, previous),
            "of_dialled": _ratio(calls, dialled),
        })
        previous = calls
    return {"stages": stages}


def outcomes_sql(filters: CallFilters, params: list[Any]) -> str:
    return f"""
        WITH scope AS (SELECT c.call_sid, c.outcome FROM calls c WHERE {filters.where(params)})
        SELECT s.outcome, last.trigger AS reason, count(*) AS calls
        FROM scope s
        LEFT JOIN LATERAL (
            SELECT t.trigger FROM agent_transitions t
            WHERE t.call_sid = s.call_sid ORDER BY t.seq DESC LIMIT 1
        ) last ON true
        GROUP BY s.outcome, last.trigger
        ORDER BY s.outcome NULLS LAST, calls DESC, reason NULLS LAST
    """


async def outcomes(pool: asyncpg.Pool, filters: CallFilters) -> dict[str, Any]:
    """Calls by outcome, and each outcome by its reason: the trigger of the call's last
    agent transition (`meeting_booked`, `disqualified`, `opt_out`, `callback_requested`,
    ...), i.e. why the call moved to where it ended; null when it never moved. Calls
    still open have outcome null."""
    params: list[Any] = []
    rows = await _fetch(pool, outcomes_sql(filters, params), params)
    total = sum(row["calls"] for row in rows)
    by_outcome: dict[str | None, dict[str, Any]] = {}
    for row in rows:
        entry = by_outcome.setdefault(
            row["outcome"], {"outcome": row["outcome"], "calls": 0, "reasons": []}
        )
        entry["calls"] += row["calls"]
        entry["reasons"].append({"reason": row["reason"], "calls": row["calls"]})
    listed = sorted(by_outcome.values(), key=lambda e: (-e["calls"], e["outcome"] or "~"))
    for entry in listed:
        entry["share"] = _ratio(entry["calls"], total)
    return {
        "calls": total,
        "outcomes": listed,
        "rows": [
            {"outcome": row["outcome"], "reason": row["reason"], "calls": row["calls"]}
            for row in rows
        ],
    }


def costs_sql(filters: CallFilters, params: list[Any]) -> str:
    parts = ", ".join(
        f"coalesce(sum((c.cost_breakdown ->> '{part}')::numeric), 0) AS {part}"
        for part in COST_PARTS
    )
    return f"""
        SELECT c.tier, GROUPING(c.tier) = 1 AS overall, count(*) AS calls,
               coalesce(sum(c.cost_usd), 0) AS cost_usd,
               count(*) FILTER (WHERE {_QUALIFIED}) AS qualified, {parts}
        FROM calls c WHERE {filters.where(params)}
        GROUP BY GROUPING SETS ((c.tier), ())
        ORDER BY overall, c.tier
    """


async def costs(pool: asyncpg.Pool, filters: CallFilters) -> dict[str, Any]:
    """Cost per call and per qualified lead (all costs of the scope's calls over its
    qualified ones), overall and by the tier each call ended on, with the breakdown."""
    params: list[Any] = []
    rows = await _fetch(pool, costs_sql(filters, params), params)

    def entry(row: asyncpg.Record) -> dict[str, Any]:
        cost = float(row["cost_usd"])
        return {
            "tier": None if row["overall"] else row["tier"],
            "calls": row["calls"],
            "qualified": row["qualified"],
            "cost_usd": cost,
            "cost_per_call_usd": _ratio(cost, row["calls"]),
            "cost_per_qualified_lead_usd": _ratio(cost, row["qualified"]),
            "breakdown_usd": {part: float(row[part]) for part in COST_PARTS},
        }

    overall = next(entry(row) for row in rows if row["overall"])
    return {"total": overall, "tiers": [entry(row) for row in rows if not row["overall"]]}


def latency_sql(filters: CallFilters, params: list[Any]) -> str:
    percentiles = ", ".join(str(p) for p in LATENCY_PERCENTILES)
    where = filters.where(params)
    # The calls' turns by their own time as well, so a short range reads its turns from
    # turns_at_idx instead of hashing the whole table: a turn is never before its call's
    # start, nor more than a day after it (Twilio ends a call at 24 hours at most).
    turn_range = ["true"]
    if filters.since is not None:
        params.append(filters.since)
        turn_range.append(f"t.at >= ${len(params)}")
    if filters.until is not None:
        params.append(filters.until + MAX_CALL_LENGTH)
        turn_range.append(f"t.at < ${len(params)}")
    # Two scans of the scope rather than one materialised CTE: each can then run in
    # parallel, and the turns' one feeds a single percentile sort.
    return f"""
        WITH per_call AS (
            SELECT count(*) AS calls,
                   count(*) FILTER (WHERE c.tier_escalation_trigger IS NOT NULL
                                       OR c.tier = 'premium') AS escalated,
                   count(*) FILTER (WHERE c.fallback_turns > 0) AS with_fallback,
                   count(*) FILTER (WHERE c.recovered > 0) AS recovered_calls,
                   coalesce(sum(c.recovered), 0) AS recoveries
            FROM calls c WHERE {where}
        ),
        per_turn AS (
            SELECT count(*) AS turns,
                   count(*) FILTER (WHERE t.fallback) AS fallback_turns,
                   count(t.latency_ms) AS timed_turns,
                   avg(t.latency_ms) AS mean_ms,
                   percentile_cont(ARRAY[{percentiles}]::double precision[])
                       WITHIN GROUP (ORDER BY t.latency_ms) AS percentiles_ms
            FROM calls c JOIN turns t ON t.call_sid = c.call_sid
            WHERE {where} AND {" AND ".join(turn_range)}
        )
        SELECT * FROM per_call CROSS JOIN per_turn
    """


async def latency(pool: asyncpg.Pool, filters: CallFilters) -> dict[str, Any]:
    """Turn latency percentiles (`percentile_cont`, continuous) over every timed turn of
    the scope's calls, the fallback rate (turns the direct path answered, and calls with
    any), the escalation rate (calls that reached premium) and the calls recovered after
    a failure. Not by agent: that sorts every turn twice more, and the whole range of
    100,000 calls must answer within a second."""
    params: list[Any] = []
    (row,) = await _fetch(pool, latency_sql(filters, params), params)
    calls = row["calls"]
    values = row["percentiles_ms"] or [None] * len(LATENCY_PERCENTILES)
    return {
        "calls": calls,
        "turn_latency": {
            "turns": row["turns"],
            "timed_turns": row["timed_turns"],
            "mean_ms": float_or_none(row["mean_ms"]),
            **{f"p{round(p * 100)}_ms": float_or_none(v)
               for p, v in zip(LATENCY_PERCENTILES, values, strict=True)},
            "fallback_turns": row["fallback_turns"],
            "fallback_rate": _ratio(row["fallback_turns"], row["turns"]),
        },
        "calls_with_fallback": row["with_fallback"],
        "call_fallback_rate": _ratio(row["with_fallback"], calls),
        "escalated_calls": row["escalated"],
        "escalation_rate": _ratio(row["escalated"], calls),
        "recovered_calls": row["recovered_calls"],
        "recoveries": int(row["recoveries"]),
        "recovered_rate": _ratio(row["recovered_calls"], calls),
    }


def drop_off_sql(filters: CallFilters, params: list[Any]) -> str:
    # The last question: the last sentence ending in "?" of the agent's last turn (its
    # words as said; texts with a caller's name count apart), else all of that turn.
    return f"""
        WITH ended AS (
            SELECT c.call_sid, c.current_agent, c.outcome
            FROM calls c WHERE {filters.where(params)} AND {_ANSWERED} AND {_ENDED}
        ),
        hang_ups AS (
            SELECT e.current_agent AS agent,
                   btrim(coalesce(substring(last.agent_text FROM '([^.!?]*\\?)[^?]*$'),
                                  last.agent_text)) AS question
            FROM ended e
            LEFT JOIN LATERAL (
                SELECT t.agent_text FROM turns t
                WHERE t.call_sid = e.call_sid ORDER BY t.seq DESC LIMIT 1
            ) last ON true
            WHERE e.outcome = 'abandoned'
        )
        SELECT (SELECT count(*) FROM ended) AS ended, agent, question,
               GROUPING(agent) = 1 AS overall, GROUPING(question) = 1 AS per_agent,
               count(*) AS hang_ups
        FROM hang_ups
        GROUP BY GROUPING SETS ((agent, question), (agent), ())
        ORDER BY overall DESC, hang_ups DESC, agent, question NULLS LAST
    """


async def drop_off(pool: asyncpg.Pool, filters: CallFilters) -> dict[str, Any]:
    """Where answered calls end in a hang-up: by the last agent (the one holding the call
    when it ended) and by the last question it asked before the caller hung up."""
    params: list[Any] = []
    rows = await _fetch(pool, drop_off_sql(filters, params), params)
    ended = rows[0]["ended"] if rows else 0
    total = next((row["hang_ups"] for row in rows if row["overall"]), 0)
    return {
        "ended_calls": ended,
        "hang_ups": total,
        "hang_up_rate": _ratio(total, ended),
        "by_agent": [
            {"agent": row["agent"], "hang_ups": row["hang_ups"],
             "share": _ratio(row["hang_ups"], total)}
            for row in rows if row["per_agent"] and not row["overall"]
        ],
        "rows": [
            {"agent": row["agent"], "question": row["question"], "hang_ups": row["hang_ups"],
             "share": _ratio(row["hang_ups"], total)}
            for row in rows if not row["per_agent"]
        ],
    }


def trends_sql(filters: CallFilters, params: list[Any]) -> str:
    return f"""
        SELECT (c.started_at AT TIME ZONE 'UTC')::date AS day,
               count(*) AS calls, {_FUNNEL_COUNTS},
               count(*) FILTER (WHERE c.outcome = 'abandoned' AND {_ANSWERED}) AS hang_ups,
               coalesce(sum(c.cost_usd), 0) AS cost_usd
        FROM calls c WHERE {filters.where(params)}
        GROUP BY day ORDER BY day
    """


async def trends(pool: asyncpg.Pool, filters: CallFilters) -> dict[str, Any]:
    """The funnel's counts and the cost per UTC day (by `started_at`), from the first day
    with a call to the last; days in between without calls are listed at zero."""
    params: list[Any] = []
    rows = {row["day"]: row for row in await _fetch(pool, trends_sql(filters, params), params)}
    days: list[dict[str, Any]] = []
    if rows:
        day, last = min(rows), max(rows)
        while day <= last:
            days.append(_trend_day(day, rows.get(day)))
            day += timedelta(days=1)
    return {"days": days}


def _trend_day(day: date, row: asyncpg.Record | None) -> dict[str, Any]:
    counts = ("calls", "answered", "human", "qualified", "meeting_booked", "hang_ups")
    values = {name: (row[name] if row else 0) for name in counts}
    cost = float(row["cost_usd"]) if row else 0.0
    return {
        "day": day.isoformat(),
        **values,
        "conversion": _ratio(values["qualified"], values["human"]),
        "cost_usd": cost,
    }


def experiment_sql(filters: CallFilters, params: list[Any]) -> str:
    return f"""
        SELECT c.variant, count(*) AS calls,
               count(*) FILTER (WHERE {_ENDED}) AS ended,
               count(*) FILTER (WHERE {_ENDED} AND c.outcome = 'qualified') AS conversions
        FROM calls c WHERE {filters.where(params)}
        GROUP BY c.variant ORDER BY c.variant NULLS LAST
    """


async def experiment(pool: asyncpg.Pool, name: str, filters: CallFilters) -> dict[str, Any]:
    """Each variant of experiment `name`: its conversion (ended calls with outcome
    `qualified` over ended calls; open calls have no outcome yet), with a 95 % Wilson
    score interval, and a pooled two-proportion z-test (two-sided) of each variant
    against the reference, the first variant by name."""
    params: list[Any] = []
    scoped = replace(filters, experiment=name)
    rows = await _fetch(pool, experiment_sql(scoped, params), params)
    reference = rows[0] if rows else None
    variants = []
    for row in rows:
        interval = wilson_interval(row["conversions"], row["ended"])
        test = (
            None if row is reference else two_proportion_z_test(
                reference["conversions"], reference["ended"], row["conversions"], row["ended"]
            )
        )
        variants.append({
            "variant": row["variant"],
            "calls": row["calls"],
            "ended": row["ended"],
            "conversions": row["conversions"],
            "conversion": _ratio(row["conversions"], row["ended"]),
            "ci_low": interval.low if interval else None,
            "ci_high": interval.high if interval else None,
            "z": test.z if test else None,
            "p_value": test.p_value if test else None,
            "significant": test.significant if test else None,
        })
    return {
        "experiment": name,
        "conversion": "ended calls with outcome qualified / ended calls",
        "interval": {"method": "Wilson score", "confidence": 0.95, "z": Z_95},
        "test": {
            "name": TEST_NAME,
            "null_hypothesis": "the variant converts at the reference variant's rate",
            "significance_level": SIGNIFICANCE_LEVEL,
            "reference_variant": reference["variant"] if reference else None,
        },
        "variants": variants,
    }


# --- helpers -----------------------------------------------------------------------------

def _ratio(part: float, whole: float) -> float | None:
    return float(part) / float(whole) if whole else None

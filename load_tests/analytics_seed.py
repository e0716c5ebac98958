"""Generated call records for the analytics benchmark and the query-plan test: calls
with turns and agent transitions, made by `generate_series` in PostgreSQL (100,000
calls in seconds), shaped like what the recorder writes (DESIGN.md "The call report").

Not realistic conversations: plausible mixes of directions, answers, outcomes, tiers,
costs and latencies, and one experiment (`greeting`, variants `a` and `b`, where `b`
qualifies more callers), spread over `days` days before `end`.
"""

from __future__ import annotations

from datetime import datetime

import asyncpg

EXPERIMENT = "greeting"
CALL_SID_PREFIX = "CAseed"

# One row per call; r1..r4 are independent uniform draws, so each column's mix is easy
# to read off. setseed makes a seeding repeatable.
_CALLS = """
INSERT INTO calls (
    call_sid, direction, mode, from_number, to_number, answered_by, status, outcome,
    qualification_score, budget_usd, decision_maker, meeting_time, current_agent, tier,
    tier_escalation_trigger, cost_usd, cost_breakdown, fallback_turns, recovered,
    started_at, ended_at, finalized, experiment, variant)
SELECT
    sid, direction, CASE WHEN answered THEN 'audio' END,
    '+1555' || lpad((g % 10000000)::text, 7, '0'), '+15550009999',
    CASE WHEN NOT answered OR direction = 'inbound' THEN NULL
         WHEN outcome = 'voicemail' THEN 'machine_end_beep' ELSE 'human' END,
    CASE WHEN NOT answered THEN 'failed' WHEN open THEN 'in_progress' ELSE 'completed' END,
    CASE WHEN open THEN NULL ELSE outcome END,
    CASE WHEN outcome = 'qualified' THEN 0.8 ELSE 0.3 END,
    CASE WHEN outcome = 'qualified' THEN 5000 + round(r3 * 20000) END,
    CASE WHEN outcome = 'qualified' THEN true END,
    CASE WHEN outcome = 'qualified' AND r3 < 0.6 THEN '2026-06-01T10:00:00' END,
    CASE WHEN NOT answered THEN 'start'
         WHEN outcome = 'voicemail' THEN 'voicemail'
         WHEN outcome = 'transferred' THEN 'handoff'
         WHEN outcome = 'abandoned' THEN
             (ARRAY['greeter', 'qualifier', 'objection_handler', 'scheduler'])
                 [1 + floor(r3 * 4)::int]
         ELSE 'wrap_up' END,
    CASE WHEN premium THEN 'premium' ELSE 'economy' END,
    CASE WHEN premium THEN 'high_score' END,
    cost, jsonb_build_object('telephony', round(cost * 0.4, 6), 'stt', round(cost * 0.2, 6),
                             'llm', round(cost * 0.3, 6), 'tts', round(cost * 0.1, 6)),
    CASE WHEN answered AND r4 < 0.05 THEN 1 ELSE 0 END,
    CASE WHEN answered AND r4 > 0.98 THEN 1 ELSE 0 END,
    started_at, CASE WHEN NOT open THEN started_at + interval '3 minutes' END,
    NOT open,
    CASE WHEN variant IS NOT NULL THEN $4::text END, variant
FROM (
    SELECT g, sid, r1, r3, r4, answered, direction, variant, started_at,
           answered AND started_at > $2::timestamptz - interval '10 minutes' AS open,
           CASE WHEN NOT answered THEN NULL
                WHEN r2 < 0.10 THEN 'voicemail'
                -- Variant b qualifies 30 % of the rest, a and no variant 22 %.
                WHEN r2 < 0.10 + 0.90 * (CASE WHEN variant = 'b' THEN 0.30 ELSE 0.22 END)
                    THEN 'qualified'
                ELSE (ARRAY['nurture', 'disqualified', 'opted_out', 'transferred',
                            'abandoned', 'abandoned'])[1 + floor(r4 * 6)::int]
           END AS outcome,
           answered AND r3 > 0.8 AS premium,
           CASE WHEN answered THEN round((0.02 + r4 * 0.4)::numeric, 6) ELSE 0 END AS cost
    FROM (
        SELECT g, $5::text || lpad(g::text, 9, '0') AS sid,
               random() AS r1, random() AS r2, random() AS r3, random() AS r4,
               CASE WHEN g % 10 < 7 THEN 'outbound' ELSE 'inbound' END AS direction,
               $2::timestamptz - ($3::float8 * interval '1 day') * (g::float8 / $1) AS started_at,
               CASE g % 4 WHEN 0 THEN 'a' WHEN 1 THEN 'b' END AS variant
        FROM generate_series(1, $1) g
    ) draws
    CROSS JOIN LATERAL (SELECT r1 < 0.85 AS answered) a
) shaped
"""

# Three to eight turns per answered call; the last is the current agent's, and each
# agent's text ends in its question, as the scripts' do.
_TURNS = """
INSERT INTO turns (call_sid, seq, user_text, agent_text, agent, latency_ms, fallback, at)
SELECT c.call_sid, s, 'caller words',
       CASE agent
           WHEN 'greeter' THEN 'Hi, this is Sam from Switchboard. Who am I speaking with?'
           WHEN 'qualifier' THEN 'Thanks. What budget do you have in mind?'
           WHEN 'objection_handler' THEN 'I understand. Would a short demo help?'
           WHEN 'scheduler' THEN 'Great. Does Tuesday at 10 work for you?'
           ELSE 'Thanks for your time. Anything else?' END,
       agent,
       -- Mostly 400-1200 ms, a tail to 3 s, and now and then no figure (barge-in).
       CASE WHEN random() < 0.03 THEN NULL
            ELSE 400 + 800 * random() + CASE WHEN random() < 0.05 THEN 1800 ELSE 0 END END,
       s = 1 AND c.fallback_turns > 0,
       c.started_at + s * interval '15 seconds'
FROM calls c
CROSS JOIN LATERAL generate_series(0, 2 + abs(hashtext(c.call_sid)) % 6) s
CROSS JOIN LATERAL (
    SELECT CASE WHEN s = 2 + abs(hashtext(c.call_sid)) % 6 THEN c.current_agent
                WHEN s = 0 THEN 'greeter' ELSE 'qualifier' END AS agent
) a
WHERE c.mode IS NOT NULL AND c.call_sid LIKE $1 || '%'
"""

# start -> greeter, then the move to where the call ended, with its reason; numbered
# from 1, as a session's journal numbers them.
_TRANSITIONS = """
INSERT INTO agent_transitions (call_sid, seq, from_agent, to_agent, trigger, "timestamp")
SELECT c.call_sid, 1, 'start', 'greeter', 'call_started', c.started_at
FROM calls c WHERE c.mode IS NOT NULL AND c.call_sid LIKE $1 || '%'
UNION ALL
SELECT c.call_sid, 2, 'greeter', c.current_agent,
       CASE c.outcome WHEN 'qualified' THEN
                          CASE WHEN c.meeting_time IS NULL THEN 'meeting_deferred'
                               ELSE 'meeting_booked' END
                      WHEN 'nurture' THEN 'callback_requested'
                      WHEN 'disqualified' THEN 'disqualified'
                      WHEN 'opted_out' THEN 'opt_out'
                      WHEN 'transferred' THEN 'human_requested'
                      WHEN 'voicemail' THEN 'voicemail_detected'
                      ELSE 'caller_answered' END,
       c.started_at + interval '30 seconds'
FROM calls c
WHERE c.mode IS NOT NULL AND c.current_agent <> 'greeter' AND c.call_sid LIKE $1 || '%'
"""

_COUNT_TRANSITIONS = """
UPDATE calls c SET agent_transition_count = n
FROM (SELECT call_sid, count(*) AS n FROM agent_transitions
      WHERE call_sid LIKE $1 || '%' GROUP BY call_sid) t
WHERE c.call_sid = t.call_sid
"""


async def seed_calls(
    conn: asyncpg.Connection,
    count: int,
    *,
    end: datetime,
    days: float = 30.0,
    prefix: str = CALL_SID_PREFIX,
    seed: float = 0.42,
) -> None:
    """Insert `count` generated calls (CallSids `prefix` + 9 digits) started over the
    `days` before `end`, with their turns and transitions, then ANALYZE the tables."""
    async with conn.transaction():
        await conn.execute("SELECT setseed($1)", seed)
        await conn.execute(_CALLS, count, end, days, EXPERIMENT, prefix)
        await conn.execute(_TURNS, prefix)
        await conn.execute(_TRANSITIONS, prefix)
        await conn.execute(_COUNT_TRANSITIONS, prefix)
    # Fresh statistics, as autovacuum would give a table this size soon enough.
    await conn.execute("ANALYZE calls, turns, agent_transitions")

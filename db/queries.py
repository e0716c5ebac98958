"""What the API reads from PostgreSQL: the call report, recent calls, the do-not-call list.

`call_report` returns exactly the report of DESIGN.md ("The call report"), JSON-ready:
numbers are floats or ints, times ISO 8601 strings.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import asyncpg

from db.phone import normalize_number

COST_PARTS = ("telephony", "stt", "llm", "tts")


def iso_or_none(value: datetime | None) -> str | None:
    """A time as ISO 8601 for JSON, None kept."""
    return value.isoformat() if value is not None else None


def float_or_none(value: Decimal | float | None) -> float | None:
    """A NUMERIC as a float for JSON, None kept."""
    return float(value) if value is not None else None


def _facts(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "budget_usd": float_or_none(row["budget_usd"]),
        "decision_maker": row["decision_maker"],
        "need": row["need"],
        "timeline_months": float_or_none(row["timeline_months"]),
        "meeting_time": row["meeting_time"],
    }


def _cost_breakdown(stored: dict[str, Any] | None) -> dict[str, float]:
    stored = stored or {}
    return {part: float(stored.get(part) or 0) for part in COST_PARTS}


async def call_report(pool: asyncpg.Pool, call_sid: str) -> dict[str, Any] | None:
    """The report of call `call_sid`, or None if nothing was recorded for it."""
    # One snapshot for the six reads: a report never mixes two moments of a call.
    async with (
        pool.acquire() as conn,
        conn.transaction(isolation="repeatable_read", readonly=True),
    ):
        call = await conn.fetchrow("SELECT * FROM calls WHERE call_sid = $1", call_sid)
        if call is None:
            return None
        transitions = await conn.fetch(
            """
            SELECT from_agent, to_agent, trigger, "timestamp", transition_duration_ms,
                   context_preserved
            FROM agent_transitions WHERE call_sid = $1 ORDER BY seq
            """,
            call_sid,
        )
        tiers = await conn.fetch(
            """
            SELECT tier, at, trigger, approved, reason
            FROM tier_escalation_events WHERE call_sid = $1 ORDER BY seq
            """,
            call_sid,
        )
        turns = await conn.fetch(
            """
            SELECT user_text, agent_text, agent, latency_ms, fallback
            FROM turns WHERE call_sid = $1 ORDER BY seq
            """,
            call_sid,
        )
        follow_up = await conn.fetchrow(
            """
            SELECT kind, to_number, status, message_sid, link, error, requested_at, updated_at
            FROM call_follow_ups WHERE call_sid = $1 ORDER BY requested_at LIMIT 1
            """,
            call_sid,
        )
        # Placed by a campaign's dialer, or null (inbound, or dialled by hand).
        attempt = await conn.fetchrow(
            "SELECT campaign_id, attempt FROM call_attempts WHERE call_sid = $1", call_sid
        )
    return {
        "call_sid": call["call_sid"],
        "status": call["status"],
        "outcome": call["outcome"],
        "qualification_score": float(call["qualification_score"]),
        "facts": _facts(call),
        "current_agent": call["current_agent"],
        "transitions": [
            {
                "from_agent": t["from_agent"],
                "to_agent": t["to_agent"],
                "trigger": t["trigger"],
                "timestamp": iso_or_none(t["timestamp"]),
                "transition_duration_ms": float(t["transition_duration_ms"]),
                "context_preserved": t["context_preserved"],
            }
            for t in transitions
        ],
        "tier_history": [
            {
                "tier": d["tier"],
                "at": iso_or_none(d["at"]),
                "trigger": d["trigger"],
                "approved": d["approved"],
                "reason": d["reason"],
            }
            for d in tiers
        ],
        "cost_usd": float(call["cost_usd"]),
        "cost_breakdown": _cost_breakdown(call["cost_breakdown"]),
        "turns": [
            {
                "user_text": t["user_text"],
                "agent_text": t["agent_text"],
                "agent": t["agent"],
                "latency_ms": float_or_none(t["latency_ms"]),
                # Beyond DESIGN.md: the direct path answered this turn, not the agents.
                "fallback": t["fallback"],
            }
            for t in turns
        ],
        "fallback_turns": call["fallback_turns"],
        "recovered": call["recovered"],
        "errors": list(call["errors"]),
        "config_version": call["config_version"],
        "flags": call["flags"] or {},
        "app_version": call["app_version"],
        "trace_id": call["trace_id"],
        "campaign_id": attempt["campaign_id"] if attempt else None,
        "attempt": attempt["attempt"] if attempt else None,
        # The experiment the call took part in and its variant; null when none.
        "experiment": call["experiment"],
        "variant": call["variant"],
        # Extras beyond DESIGN.md's list.
        "direction": call["direction"],
        "mode": call["mode"],
        "from": call["from_number"],
        "to": call["to_number"],
        "answered_by": call["answered_by"],
        "tier": call["tier"],
        "tier_escalation_trigger": call["tier_escalation_trigger"],
        "agent_transition_count": call["agent_transition_count"],
        "workflow_context_id": call["workflow_context_id"],
        "app": call["app"],
        # Whether the agents answered (False: the direct path only, by flag or kill switch).
        "integration_enabled": call["integration_enabled"],
        "started_at": iso_or_none(call["started_at"]),
        "ended_at": iso_or_none(call["ended_at"]),
        # True once the session's final state is recorded.
        "final": call["finalized"],
        # What the caller was promised after the call (null when nothing): a text with a
        # link, or an email from a person.
        "follow_up": _follow_up(follow_up),
    }


def _follow_up(row: asyncpg.Record | None) -> dict[str, Any] | None:
    if row is None:
        return None
    return {
        "kind": row["kind"],
        "to": row["to_number"],
        "status": row["status"],
        "message_sid": row["message_sid"],
        "link": row["link"],
        "error": row["error"],
        "requested_at": iso_or_none(row["requested_at"]),
        "updated_at": iso_or_none(row["updated_at"]),
    }


async def is_do_not_call(pool: asyncpg.Pool, number: str) -> bool:
    """True if `number` (in any formatting) is on the do-not-call list."""
    return bool(
        await pool.fetchval(
            "SELECT EXISTS (SELECT 1 FROM do_not_call WHERE number = $1)",
            normalize_number(number),
        )
    )


async def add_do_not_call(pool: asyncpg.Pool, number: str, call_sid: str | None = None) -> bool:
    """Put `number` on the do-not-call list; False if it was already there."""
    status = await pool.execute(
        """
        INSERT INTO do_not_call (number, source_call_sid) VALUES ($1, $2)
        ON CONFLICT (number) DO NOTHING
        """,
        normalize_number(number),
        call_sid,
    )
    return status == "INSERT 0 1"

"""How each outbox event changes the tables: one idempotent function per event type.

`apply_event` runs inside the caller's transaction. Every function may run twice for
the same event (a crash between commit and XACK re-delivers it) and events of one call
may arrive out of order (another recorder claimed a stale entry), so:

- child rows are inserted with ON CONFLICT DO NOTHING on their natural key;
- counters on `calls` are recomputed from the child tables, never incremented;
- snapshots (`call_updated`, `call_ended`) carry their stream id as a version and never
  overwrite a newer one, and once `call_ended` is applied mid-call snapshots stop;
- any event for a call first upserts a skeleton `calls` row, which also locks it, so
  events of one call applied concurrently by two recorders are serialized.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import asyncpg

from db.events import (
    CallEnded,
    CallError,
    CallFailed,
    CallStarted,
    CallUpdated,
    DoNotCall,
    Event,
    FollowUpRecorded,
    StatusCallback,
    TierDecided,
    TransitionRecorded,
    TurnRecorded,
)
from db.phone import normalize_number
from switchboard.models import CallFacts, CallSession, FollowUp

# Twilio's terminal statuses for a call that never got as far as a session. `completed`
# is not among them: for a connected call the session's call_ended sets the final state,
# and a report must not look final before it is.
_TWILIO_FAILED = frozenset({"busy", "failed", "no-answer", "canceled"})
_TWILIO_TERMINAL = _TWILIO_FAILED | {"completed"}


def event_version(entry_id: str) -> str:
    """A stream id as text that sorts in stream order (`1700000000000-2` → padded)."""
    millis, _, seq = entry_id.partition("-")
    return f"{int(millis):020d}-{int(seq or 0):020d}"


def _time(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


async def _lock_call(conn: asyncpg.Connection, call_sid: str) -> None:
    # Creates the row if this is the call's first event to arrive, and row-locks it
    # until commit either way.
    await conn.execute(
        """
        INSERT INTO calls (call_sid) VALUES ($1)
        ON CONFLICT (call_sid) DO UPDATE SET updated_at = now()
        """,
        call_sid,
    )


async def _identity(conn: asyncpg.Connection, session: CallSession) -> None:
    """Who called whom and when, and on what: facts that do not change during a call."""
    await conn.execute(
        """
        UPDATE calls SET
            direction = $2, mode = $3,
            from_number = coalesce(nullif($4, ''), from_number),
            to_number = coalesce(nullif($5, ''), to_number),
            answered_by = coalesce($6, answered_by),
            workflow_context_id = coalesce($7, workflow_context_id),
            -- A skeleton row was stamped when its first event arrived, after the start.
            started_at = least(started_at, $8),
            -- Set by the session's first event; a later one made without its config (a
            -- call ended by the sweeper) leaves them.
            config_version = coalesce(config_version, $9),
            flags = CASE WHEN flags = '{}'::jsonb THEN $10 ELSE flags END,
            app = coalesce(app, nullif($11, '')),
            app_version = coalesce(app_version, nullif($12, '')),
            -- False once the kill switch took the agents off the call; final at the end.
            integration_enabled = CASE WHEN finalized THEN integration_enabled ELSE $13 END,
            trace_id = coalesce(trace_id, $14),
            -- Decided once at the call's start; set together (a variant needs its
            -- experiment), never changed after.
            experiment = coalesce(experiment, $15),
            variant = CASE WHEN experiment IS NULL THEN $16 ELSE variant END
        WHERE call_sid = $1
        """,
        session.call_sid,
        session.direction,
        session.mode,
        session.from_number,
        session.to_number,
        session.answered_by,
        session.workflow_context_id,
        _time(session.started_at),
        session.config_version,
        session.flags,
        session.app,
        session.app_version,
        session.integration_enabled,
        session.trace_id,
        session.experiment,
        session.variant,
    )


def _facts(facts: CallFacts) -> tuple[Any, ...]:
    return (
        facts.budget_usd,
        facts.decision_maker,
        facts.need,
        facts.timeline_months,
        facts.meeting_time,
    )


async def _upsert_follow_up(conn: asyncpg.Connection, call_sid: str, follow_up: FollowUp,
                            entry_id: str) -> None:
    """The call's follow-up as this event knows it, unless a later event's is stored."""
    await conn.execute(
        """
        INSERT INTO call_follow_ups (call_sid, kind, to_number, status, message_sid, link,
                                     error, requested_at, updated_at, last_event_id)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
        ON CONFLICT (call_sid, kind) DO UPDATE SET
            to_number = coalesce(EXCLUDED.to_number, call_follow_ups.to_number),
            status = EXCLUDED.status,
            message_sid = coalesce(EXCLUDED.message_sid, call_follow_ups.message_sid),
            link = coalesce(EXCLUDED.link, call_follow_ups.link),
            error = EXCLUDED.error,
            requested_at = least(call_follow_ups.requested_at, EXCLUDED.requested_at),
            updated_at = EXCLUDED.updated_at,
            last_event_id = EXCLUDED.last_event_id
        WHERE call_follow_ups.last_event_id <= EXCLUDED.last_event_id COLLATE "C"
        """,
        call_sid,
        follow_up.kind,
        follow_up.to,
        follow_up.status,
        follow_up.message_sid,
        follow_up.link,
        follow_up.error,
        _time(follow_up.requested_at),
        _time(follow_up.updated_at),
        event_version(entry_id),
    )


async def _call_started(conn: asyncpg.Connection, event: CallStarted, entry_id: str) -> None:
    await _lock_call(conn, event.session.call_sid)
    await _identity(conn, event.session)


async def _turn(conn: asyncpg.Connection, event: TurnRecorded, entry_id: str) -> None:
    await _lock_call(conn, event.call_sid)
    turn = event.turn
    await conn.execute(
        """
        INSERT INTO turns (call_sid, seq, user_text, agent_text, agent, latency_ms, fallback, at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
        ON CONFLICT (call_sid, seq) DO NOTHING
        """,
        event.call_sid,
        turn.seq,
        turn.user_text,
        turn.agent_text,
        turn.agent,
        turn.latency_ms,
        turn.fallback,
        _time(turn.at),
    )
    await conn.execute(
        """
        UPDATE calls SET fallback_turns = greatest(fallback_turns,
            (SELECT count(*) FROM turns WHERE call_sid = $1 AND fallback))
        WHERE call_sid = $1
        """,
        event.call_sid,
    )


async def _transition(conn: asyncpg.Connection, event: TransitionRecorded, entry_id: str) -> None:
    await _lock_call(conn, event.call_sid)
    t = event.transition
    await conn.execute(
        """
        INSERT INTO agent_transitions (call_sid, seq, from_agent, to_agent, trigger, "timestamp",
                                       transition_duration_ms, context_preserved)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
        ON CONFLICT (call_sid, seq) DO NOTHING
        """,
        event.call_sid,
        event.seq,
        t.from_agent,
        t.to_agent,
        t.trigger,
        _time(t.timestamp),
        t.transition_duration_ms,
        t.context_preserved,
    )
    await conn.execute(
        """
        UPDATE calls SET agent_transition_count =
            (SELECT count(*) FROM agent_transitions WHERE call_sid = $1)
        WHERE call_sid = $1
        """,
        event.call_sid,
    )


async def _tier_decision(conn: asyncpg.Connection, event: TierDecided, entry_id: str) -> None:
    await _lock_call(conn, event.call_sid)
    d = event.decision
    await conn.execute(
        """
        INSERT INTO tier_escalation_events (call_sid, seq, tier, at, trigger, approved, reason)
        VALUES ($1, $2, $3, $4, $5, $6, $7)
        ON CONFLICT (call_sid, seq) DO NOTHING
        """,
        event.call_sid,
        event.seq,
        d.tier,
        _time(d.at),
        d.trigger,
        d.approved,
        d.reason,
    )
    await conn.execute(
        """
        UPDATE calls SET tier_escalation_trigger =
            (SELECT trigger FROM tier_escalation_events
             WHERE call_sid = $1 AND approved AND tier = 'premium' ORDER BY seq LIMIT 1)
        WHERE call_sid = $1
        """,
        event.call_sid,
    )


async def _call_updated(conn: asyncpg.Connection, event: CallUpdated, entry_id: str) -> None:
    await _lock_call(conn, event.call_sid)
    await conn.execute(
        """
        UPDATE calls SET
            current_agent = $2, qualification_score = $3, outcome = $4, tier = $5,
            budget_usd = $6, decision_maker = $7, need = $8, timeline_months = $9,
            meeting_time = $10, last_event_id = $11
        WHERE call_sid = $1 AND NOT finalized
          AND coalesce(last_event_id, '') <= $11 COLLATE "C"
        """,
        event.call_sid,
        event.current_agent,
        event.qualification_score,
        event.outcome,
        event.tier,
        *_facts(event.facts),
        event_version(entry_id),
    )


async def _call_ended(conn: asyncpg.Connection, event: CallEnded, entry_id: str) -> None:
    session = event.session
    await _lock_call(conn, session.call_sid)
    await _identity(conn, session)
    await conn.execute(
        """
        UPDATE calls SET
            status = $2, outcome = $3, current_agent = $4, tier = $5,
            qualification_score = $6,
            budget_usd = $7, decision_maker = $8, need = $9, timeline_months = $10,
            meeting_time = $11,
            cost_usd = $12, cost_breakdown = $13,
            fallback_turns = greatest($14,
                (SELECT count(*) FROM turns WHERE call_sid = $1 AND fallback)),
            recovered = $15,
            -- Errors recorded one by one during the call, then any only the session knew.
            errors = errors || ARRAY(
                SELECT e FROM unnest($16::text[]) WITH ORDINALITY AS s(e, i)
                WHERE NOT e = ANY (errors) ORDER BY i),
            ended_at = $17,
            finalized = true,
            last_event_id = $18
        WHERE call_sid = $1
          AND (NOT finalized OR coalesce(last_event_id, '') <= $18 COLLATE "C")
        """,
        session.call_sid,
        session.status.value,
        session.outcome.value if session.outcome else None,
        session.current_agent,
        session.tier,
        event.qualification_score,
        *_facts(event.facts),
        Decimal(str(event.cost_usd)),
        event.cost_breakdown,
        session.fallback_turns,
        session.recovered,
        session.errors,
        _time(event.at),
        event_version(entry_id),
    )
    if session.follow_up is not None:  # the session's last word on it, as a backstop
        await _upsert_follow_up(conn, session.call_sid, session.follow_up, entry_id)


async def _call_failed(conn: asyncpg.Connection, event: CallFailed, entry_id: str) -> None:
    await _lock_call(conn, event.call_sid)
    session = event.session
    if session is not None:
        await _identity(conn, session)
    facts = _facts(event.facts) if event.facts is not None else (None,) * 5
    await conn.execute(
        """
        UPDATE calls SET
            status = 'failed',
            outcome = coalesce($2, outcome, 'abandoned'),
            current_agent = coalesce($3, current_agent),
            tier = coalesce($4, tier),
            qualification_score = coalesce($5, qualification_score),
            budget_usd = coalesce($6, budget_usd),
            decision_maker = coalesce($7, decision_maker),
            need = coalesce($8, need),
            timeline_months = coalesce($9, timeline_months),
            meeting_time = coalesce($10, meeting_time),
            cost_usd = coalesce($11, cost_usd),
            cost_breakdown = coalesce($12, cost_breakdown),
            recovered = greatest(recovered, coalesce($13, 0)),
            fallback_turns = greatest(fallback_turns, coalesce($14, 0)),
            errors = errors || ARRAY(
                SELECT e FROM unnest($15::text[]) WITH ORDINALITY AS s(e, i)
                WHERE NOT e = ANY (errors) ORDER BY i),
            ended_at = coalesce(ended_at, $16),
            finalized = true,
            last_event_id = $17
        WHERE call_sid = $1 AND NOT finalized
        """,
        event.call_sid,
        event.outcome.value if event.outcome else None,
        session.current_agent if session else None,
        session.tier if session else None,
        event.qualification_score,
        *facts,
        Decimal(str(event.cost_usd)) if event.cost_usd is not None else None,
        event.cost_breakdown,
        session.recovered if session else None,
        session.fallback_turns if session else None,
        [*(session.errors if session else []), event.message],
        _time(event.at),
        event_version(entry_id),
    )
    if session is not None and session.follow_up is not None:
        await _upsert_follow_up(conn, event.call_sid, session.follow_up, entry_id)


async def _follow_up(conn: asyncpg.Connection, event: FollowUpRecorded, entry_id: str) -> None:
    await _lock_call(conn, event.call_sid)
    await _upsert_follow_up(conn, event.call_sid, event.follow_up, entry_id)


async def _status_callback(conn: asyncpg.Connection, event: StatusCallback, entry_id: str) -> None:
    await _lock_call(conn, event.call_sid)
    status = event.call_status.lower()
    params = event.params
    await conn.execute(
        """
        INSERT INTO call_status_events (event_id, call_sid, call_status, params, received_at)
        VALUES ($1, $2, $3, $4, $5)
        ON CONFLICT (event_id) DO NOTHING
        """,
        event.event_id,
        event.call_sid,
        status,
        params,
        _time(event.at),
    )
    direction = params.get("Direction", "")
    await conn.execute(
        """
        UPDATE calls SET
            direction = coalesce(direction, $2),
            from_number = coalesce(from_number, $3),
            to_number = coalesce(to_number, $4),
            answered_by = coalesce(answered_by, $5),
            status = CASE WHEN $6 AND NOT finalized THEN 'failed' ELSE status END,
            ended_at = CASE WHEN $7 THEN coalesce(ended_at, $8) ELSE ended_at END
        WHERE call_sid = $1
        """,
        event.call_sid,
        # Twilio says inbound, outbound-api or outbound-dial.
        "outbound" if direction.startswith("outbound") else ("inbound" if direction else None),
        params.get("From") or None,
        params.get("To") or None,
        params.get("AnsweredBy") or None,
        status in _TWILIO_FAILED,
        status in _TWILIO_TERMINAL,
        _time(event.at),
    )


async def _error(conn: asyncpg.Connection, event: CallError, entry_id: str) -> None:
    await _lock_call(conn, event.call_sid)
    # `errors` is a set of messages in first-seen order, so a re-delivered error event
    # (or the same message again in call_ended) is kept once.
    await conn.execute(
        """
        UPDATE calls SET errors = CASE WHEN $2 = ANY (errors) THEN errors
                                       ELSE array_append(errors, $2) END
        WHERE call_sid = $1
        """,
        event.call_sid,
        event.message,
    )


async def _do_not_call(conn: asyncpg.Connection, event: DoNotCall, entry_id: str) -> None:
    await conn.execute(
        """
        INSERT INTO do_not_call (number, added_at, source_call_sid) VALUES ($1, $2, $3)
        ON CONFLICT (number) DO NOTHING
        """,
        normalize_number(event.number),
        _time(event.at),
        event.call_sid,
    )


_APPLY: dict[str, Callable[[asyncpg.Connection, Any, str], Awaitable[None]]] = {
    "call_started": _call_started,
    "turn": _turn,
    "transition": _transition,
    "tier_decision": _tier_decision,
    "call_updated": _call_updated,
    "call_ended": _call_ended,
    "call_failed": _call_failed,
    "status_callback": _status_callback,
    "error": _error,
    "follow_up": _follow_up,
    "do_not_call": _do_not_call,
}


async def apply_event(conn: asyncpg.Connection, event: Event, entry_id: str) -> None:
    """Apply `event` (stream entry `entry_id`) in the caller's transaction."""
    await _APPLY[event.type](conn, event, entry_id)

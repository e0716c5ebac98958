"""The webhook deliveries table: post-call events, made with the final record, and their state.

When the recorder applies the event that makes a call's record final (`call_ended`,
`call_failed`), `record_call_events` adds, in that same transaction, one row per
(call, event type, endpoint): `call.completed` always, `lead.qualified`,
`meeting.booked` and `lead.opted_out` when the record says so. The unique key makes a
re-applied event add nothing, and the commit makes the rows exist exactly when the
record is final: no event is lost, none is made twice.

A row's event id is derived from (call, type), so every endpoint, every attempt and
every replay of one event carries the same id. Rows then go `pending` -> `delivered`,
or -> `dead` (the dead-letter list) after the last retry; `replay` puts them back.
The delivery workers (`switchboard.webhook_delivery`) share rows across replicas:
`claim_due` takes due rows with FOR UPDATE SKIP LOCKED and leases them by moving
`next_attempt_at`, so a worker that dies mid-attempt leaves its rows to the others.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from db.events import CallEnded, CallFailed, Event
from switchboard.settings import WebhookEndpoint

# Tells the delivery workers there is work, at commit (each worker LISTENs).
NOTIFY_CHANNEL = "switchboard_webhooks"
# Any fixed UUID: event ids only need to be the same wherever they are computed.
_EVENT_NAMESPACE = uuid.UUID("6f0c1f6e-3b8a-4c57-9a0e-5357495443ff")


def event_id(call_sid: str, event_type: str) -> str:
    """The id receivers see for event `event_type` of call `call_sid`: stable, unique."""
    return "evt_" + uuid.uuid5(_EVENT_NAMESPACE, f"{call_sid}/{event_type}").hex


def event_types(outcome: str | None, meeting_time: str | None) -> list[str]:
    """The events a final record makes, in this order."""
    types = ["call.completed"]
    if outcome == "qualified":
        types.append("lead.qualified")
    if meeting_time:
        types.append("meeting.booked")
    if outcome == "opted_out":
        types.append("lead.opted_out")
    return types


def _final_call_sid(event: Event) -> str | None:
    """The call whose record `event` may have made final (None: it cannot have)."""
    if isinstance(event, CallEnded):
        return event.session.call_sid
    if isinstance(event, CallFailed):
        return event.call_sid
    return None


async def record_call_events(
    conn: asyncpg.Connection, event: Event, endpoints: Sequence[WebhookEndpoint]
) -> int:
    """After `event` was applied on `conn` (same transaction): make the call's webhook
    events if its record is now final. Returns how many deliveries were added."""
    call_sid = _final_call_sid(event)
    if call_sid is None or not endpoints:
        return 0
    call = await conn.fetchrow(
        "SELECT finalized, outcome, meeting_time FROM calls WHERE call_sid = $1", call_sid
    )
    if call is None or not call["finalized"]:
        return 0
    rows = [
        (event_id(call_sid, event_type), event_type, endpoint.url)
        for event_type in event_types(call["outcome"], call["meeting_time"])
        for endpoint in endpoints
        if event_type in endpoint.types
    ]
    if not rows:
        return 0
    status = await conn.execute(
        """
        INSERT INTO webhook_deliveries (event_id, call_sid, type, endpoint)
        SELECT e, $1, t, u FROM unnest($2::text[], $3::text[], $4::text[]) AS r(e, t, u)
        ON CONFLICT (call_sid, type, endpoint) DO NOTHING
        """,
        call_sid,
        [row[0] for row in rows],
        [row[1] for row in rows],
        [row[2] for row in rows],
    )
    added = int(status.rsplit(" ", 1)[-1])
    if added:
        await conn.execute("SELECT pg_notify($1, $2)", NOTIFY_CHANNEL, call_sid)
    return added


@dataclass(frozen=True)
class Delivery:
    """One claimed attempt at sending one event to one endpoint."""

    id: int
    event_id: str
    call_sid: str
    type: str
    endpoint: str
    created_at: datetime
    # This attempt's number, from 1.
    attempt: int
    # The frozen request body, once a first attempt made it.
    body: str | None


def _delivery(row: asyncpg.Record) -> Delivery:
    return Delivery(
        id=row["id"],
        event_id=row["event_id"],
        call_sid=row["call_sid"],
        type=row["type"],
        endpoint=row["endpoint"],
        created_at=row["created_at"],
        attempt=row["attempts"],
        body=row["body"],
    )


async def claim_due(
    pool: asyncpg.Pool, endpoints: Sequence[str], limit: int, lease_s: float
) -> list[Delivery]:
    """Take up to `limit` due deliveries to `endpoints` (URLs) for this worker for
    `lease_s` seconds, counting the attempt; rows another worker holds are skipped, not
    waited for. Only endpoints this worker has the secret of: during a rollout that
    adds or drops one, replicas with the other settings leave its rows alone."""
    rows = await pool.fetch(
        """
        UPDATE webhook_deliveries d SET
            attempts = d.attempts + 1,
            next_attempt_at = now() + make_interval(secs => $2)
        FROM (
            SELECT id FROM webhook_deliveries
            WHERE status = 'pending' AND next_attempt_at <= now() AND endpoint = ANY ($3)
            ORDER BY next_attempt_at
            LIMIT $1
            FOR UPDATE SKIP LOCKED
        ) due
        WHERE d.id = due.id
        RETURNING d.id, d.event_id, d.call_sid, d.type, d.endpoint, d.created_at,
                  d.attempts, d.body
        """,
        limit,
        lease_s,
        list(endpoints),
    )
    return [_delivery(row) for row in rows]


async def freeze_body(pool: asyncpg.Pool, delivery_id: int, body: str) -> str:
    """Store `body` as the delivery's body unless one is stored; returns the stored one."""
    stored = await pool.fetchval(
        "UPDATE webhook_deliveries SET body = coalesce(body, $2) WHERE id = $1 RETURNING body",
        delivery_id,
        body,
    )
    return stored if stored is not None else body


async def mark_delivered(pool: asyncpg.Pool, delivery: Delivery, status_code: int) -> bool:
    """The receiver answered 2xx. Any pending attempt's 2xx counts, even one whose lease
    another worker has since taken over (that worker's outcome then changes nothing)."""
    status = await pool.execute(
        """
        UPDATE webhook_deliveries SET
            status = 'delivered', delivered_at = now(), last_status_code = $2, last_error = NULL
        WHERE id = $1 AND status = 'pending'
        """,
        delivery.id,
        status_code,
    )
    return status == "UPDATE 1"


async def mark_failed(
    pool: asyncpg.Pool,
    delivery: Delivery,
    *,
    retry_in_s: float | None,
    status_code: int | None,
    error: str,
) -> bool:
    """The attempt failed: try again in `retry_in_s`, or (None) move it to the dead
    letters. Ignored if another worker has taken the delivery over since."""
    status = await pool.execute(
        """
        UPDATE webhook_deliveries SET
            status = CASE WHEN $3::float8 IS NULL THEN 'dead' ELSE 'pending' END,
            next_attempt_at = CASE WHEN $3::float8 IS NULL THEN next_attempt_at
                                   ELSE now() + make_interval(secs => $3::float8) END,
            dead_at = CASE WHEN $3::float8 IS NULL THEN now() END,
            last_status_code = $4,
            last_error = $5
        WHERE id = $1 AND attempts = $2 AND status = 'pending'
        """,
        delivery.id,
        delivery.attempt,
        retry_in_s,
        status_code,
        error[:2000],
    )
    return status == "UPDATE 1"


async def replay(
    pool: asyncpg.Pool, *, event_id: str | None = None, all_dead: bool = False
) -> int:
    """Queue deliveries to be sent again now, with a fresh set of attempts: every
    endpoint's delivery of event `event_id` (whatever its state), or every dead one.
    Returns how many were queued."""
    if (event_id is None) == (not all_dead):
        raise ValueError("give either event_id or all_dead")
    async with pool.acquire() as conn, conn.transaction():
        status = await conn.execute(
            f"""
            UPDATE webhook_deliveries SET
                status = 'pending', attempts = 0, next_attempt_at = now(),
                dead_at = NULL, delivered_at = NULL
            WHERE {"status = 'dead'" if all_dead else "event_id = $1"}
            """,
            *(() if all_dead else (event_id,)),
        )
        queued = int(status.rsplit(" ", 1)[-1])
        if queued:
            await conn.execute("SELECT pg_notify($1, '')", NOTIFY_CHANNEL)
    return queued


async def deliveries(
    pool: asyncpg.Pool,
    *,
    status: str | None = None,
    call_sid: str | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """Deliveries, newest event first, optionally of one status or one call."""
    rows = await pool.fetch(
        """
        SELECT id, event_id, call_sid, type, endpoint, created_at, status, attempts,
               next_attempt_at, last_status_code, last_error, delivered_at, dead_at
        FROM webhook_deliveries
        WHERE ($1::text IS NULL OR status = $1) AND ($2::text IS NULL OR call_sid = $2)
        ORDER BY created_at DESC, id DESC
        LIMIT $3
        """,
        status,
        call_sid,
        limit,
    )
    return [dict(row) for row in rows]


async def lead_and_campaign(
    pool: asyncpg.Pool, report: dict[str, Any]
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """The `lead` and `campaign` a webhook's data carries beside the report: null for a
    call no campaign placed.

    This is the seam to the campaigns (migration 0005): a report without `campaign_id`
    has nothing to add; with one, the campaign is named by its id, and the lead by the
    number dialled and the attempt. The lead's name, company and data and the
    campaign's name (`leads`, `campaigns`) are to be read here, so `pool` is taken now.
    """
    campaign_id = report.get("campaign_id")
    if campaign_id is None:
        return None, None
    number = report.get("to") if report.get("direction") == "outbound" else report.get("from")
    lead = {"number": number, "attempt": report.get("attempt")}
    return lead, {"id": campaign_id}

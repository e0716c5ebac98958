"""The dialer's queries: due leads, attempts from written to settled, finished campaigns.

An attempt's life (`call_attempts.status`, DESIGN.md "Campaigns and webhooks"):

    queued      written with its idempotency key, before `calls.create` is asked;
    dialing     Twilio took the call (its CallSid is known);
    in_progress the lead answered (the call has a live record);
    completed | no_answer | busy | failed | voicemail   settled;
    skipped     never dialled (the number was on the do-not-call list when its turn came).

Writing the row before the call is what makes a restart safe: an attempt left `queued`
may or may not have reached Twilio, and the dialer asks Twilio (by the key in the voice
URL) before it dials it. The key is derived from (campaign, lead, attempt), so the
same attempt can never get a second key, and `UNIQUE (lead_id, attempt)` lets only one
writer create it.

Each settlement updates the attempt and its lead in one transaction, conditional on
the attempt still being in flight: settling twice changes nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time
from typing import Final

import asyncpg

IN_FLIGHT: Final = ("queued", "dialing", "in_progress")


def attempt_key(campaign_id: int, lead_id: int, attempt: int) -> str:
    """The idempotency key of a lead's attempt (`?attempt=KEY` on the voice URL)."""
    return f"c{campaign_id}-l{lead_id}-a{attempt}"


_ATTEMPT_KEY = re.compile(r"c([0-9]+)-l[0-9]+-a[0-9]+")


def campaign_of_key(key: str | None) -> int | None:
    """The campaign an `attempt_key` was made for; None for anything else."""
    matched = _ATTEMPT_KEY.fullmatch(key or "")
    return int(matched.group(1)) if matched else None


@dataclass(frozen=True)
class CampaignRules:
    """What the dialer obeys for a campaign: pacing, retries, calling hours."""

    id: int
    state: str
    max_concurrent: int
    calls_per_minute: int
    max_attempts: int
    retry_after_s: float
    window_start: time
    window_end: time


@dataclass(frozen=True)
class DueLead:
    id: int
    campaign_id: int
    number: str
    timezone: str | None
    # Attempts already made (the next one is `attempts + 1`).
    attempts: int

    @property
    def next_attempt(self) -> int:
        return self.attempts + 1

    @property
    def next_key(self) -> str:
        """The idempotency key of the lead's next attempt."""
        return attempt_key(self.campaign_id, self.id, self.next_attempt)


@dataclass(frozen=True)
class Attempt:
    """An attempt in flight, with what is known of its call."""

    id: int
    key: str
    campaign_id: int
    lead_id: int
    number: str
    attempt: int
    status: str
    call_sid: str | None
    created_at: datetime
    dialed_at: datetime | None
    # The call's record: whether it is final, its outcome, Twilio's AnsweredBy.
    record_final: bool
    record_live: bool
    outcome: str | None
    answered_by: str | None
    # The last final status Twilio's callbacks reported (completed, busy, no-answer,
    # failed, canceled), when it arrived, and the AnsweredBy it carried.
    twilio_status: str | None
    twilio_status_at: datetime | None
    twilio_answered_by: str | None


_CAMPAIGN_COLUMNS: Final = (
    "id, state, max_concurrent, calls_per_minute, max_attempts, retry_after_s, window_start, "
    "window_end"
)


async def running_campaigns(pool: asyncpg.Pool) -> list[CampaignRules]:
    rows = await pool.fetch(
        f"SELECT {_CAMPAIGN_COLUMNS} FROM campaigns WHERE state = 'running' ORDER BY id"
    )
    return [CampaignRules(**dict(row)) for row in rows]


async def campaign_of(pool: asyncpg.Pool, campaign_id: int) -> CampaignRules:
    """A campaign's pacing and window, whatever its state (its calls settle anyway)."""
    row = await pool.fetchrow(f"SELECT {_CAMPAIGN_COLUMNS} FROM campaigns WHERE id = $1",
                              campaign_id)  # fmt: skip
    return CampaignRules(**dict(row))


async def campaign_load(pool: asyncpg.Pool, campaign_id: int, window_s: float) -> tuple[int, int]:
    """(attempts in flight, attempts dialled within the last `window_s` seconds)."""
    row = await pool.fetchrow(
        """
        SELECT count(*) FILTER (WHERE status = ANY($2::text[])) AS in_flight,
               count(*) FILTER (WHERE dialed_at > now() - make_interval(secs => $3))
                   AS recent
        FROM call_attempts WHERE campaign_id = $1
        """,
        campaign_id, list(IN_FLIGHT), window_s,
    )
    return int(row["in_flight"]), int(row["recent"])


async def due_leads(
    pool: asyncpg.Pool, campaign_id: int, now: datetime, limit: int
) -> list[DueLead]:
    """Unfinished leads due by `now` (the dialer's clock) with no attempt in flight,
    the longest waiting first."""
    rows = await pool.fetch(
        """
        SELECT l.id, l.campaign_id, l.number, l.timezone,
               coalesce((SELECT max(attempt) FROM call_attempts a WHERE a.lead_id = l.id), 0)
                   AS attempts
        FROM leads l
        WHERE l.campaign_id = $1 AND l.finished_at IS NULL
          AND (l.next_attempt_at IS NULL OR l.next_attempt_at <= $2)
          AND NOT EXISTS (SELECT 1 FROM call_attempts a
                          WHERE a.lead_id = l.id AND a.status = ANY($3::text[]))
        ORDER BY l.next_attempt_at NULLS FIRST, l.row_number
        LIMIT $4
        """,
        campaign_id, now, list(IN_FLIGHT), limit,
    )
    return [DueLead(**dict(row)) for row in rows]


async def defer_lead(pool: asyncpg.Pool, lead_id: int, until: datetime) -> None:
    """Not before `until` (outside calling hours now)."""
    await pool.execute("UPDATE leads SET next_attempt_at = $2 WHERE id = $1", lead_id, until)


async def finish_lead(pool: asyncpg.Pool, lead_id: int) -> None:
    await pool.execute(
        "UPDATE leads SET finished_at = coalesce(finished_at, now()) WHERE id = $1", lead_id
    )


async def write_attempt(pool: asyncpg.Pool, lead: DueLead) -> str | None:
    """Write the lead's next attempt as `queued`; its key, or None if another writer
    already wrote it."""
    written = await pool.fetchval(
        """
        INSERT INTO call_attempts (lead_id, campaign_id, attempt, idempotency_key)
        VALUES ($1, $2, $3, $4)
        ON CONFLICT DO NOTHING RETURNING id
        """,
        lead.id, lead.campaign_id, lead.next_attempt, lead.next_key,
    )
    return lead.next_key if written is not None else None


async def skip_attempt(pool: asyncpg.Pool, lead: DueLead, reason: str) -> None:
    """The lead's next attempt, never dialled (`skipped`, with why); the lead is finished."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(
            """
            INSERT INTO call_attempts (lead_id, campaign_id, attempt, idempotency_key, status,
                                       error, ended_at)
            VALUES ($1, $2, $3, $4, 'skipped', $5, now())
            ON CONFLICT DO NOTHING
            """,
            lead.id, lead.campaign_id, lead.next_attempt, lead.next_key, reason,
        )
        await conn.execute(
            "UPDATE leads SET finished_at = coalesce(finished_at, now()) WHERE id = $1", lead.id
        )


async def mark_dialing(
    pool: asyncpg.Pool, key: str, call_sid: str, dialed_at: datetime | None = None
) -> None:
    """Twilio created the attempt's call (at `dialed_at`, if known: else now)."""
    await pool.execute(
        """
        UPDATE call_attempts
        SET status = 'dialing', call_sid = $2,
            dialed_at = coalesce(dialed_at, $3, now()), updated_at = now()
        WHERE idempotency_key = $1 AND status = 'queued'
        """,
        key, call_sid, dialed_at,
    )


async def withdraw_attempt(pool: asyncpg.Pool, key: str) -> None:
    """Remove an attempt Twilio never received (its campaign stopped before it was)."""
    await pool.execute(
        "DELETE FROM call_attempts WHERE idempotency_key = $1 AND status = 'queued'", key
    )


async def mark_in_progress(pool: asyncpg.Pool, attempt_id: int) -> None:
    await pool.execute(
        """
        UPDATE call_attempts SET status = 'in_progress', updated_at = now()
        WHERE id = $1 AND status = 'dialing'
        """,
        attempt_id,
    )


async def unplaced_attempts(pool: asyncpg.Pool) -> list[Attempt]:
    """Attempts written but not known to have reached Twilio (`queued`), oldest first."""
    return await _attempts(pool, "a.status = 'queued'")


async def attempts_in_flight(pool: asyncpg.Pool) -> list[Attempt]:
    """Attempts whose call Twilio took and that have not settled yet."""
    return await _attempts(pool, "a.status IN ('dialing', 'in_progress')")


async def attempt_by_key(pool: asyncpg.Pool, key: str) -> Attempt | None:
    found = await _attempts(pool, "a.idempotency_key = $1", key)
    return found[0] if found else None


async def known_call_sids(pool: asyncpg.Pool, number: str) -> set[str]:
    """The calls any attempt to `number` (in any campaign) is known to have placed."""
    rows = await pool.fetch(
        """
        SELECT a.call_sid FROM call_attempts a JOIN leads l ON l.id = a.lead_id
        WHERE l.number = $1 AND a.call_sid IS NOT NULL
        """,
        number,
    )
    return {row["call_sid"] for row in rows}


async def _attempts(pool: asyncpg.Pool, which: str, *args: object) -> list[Attempt]:
    rows = await pool.fetch(
        f"""
        SELECT a.id, a.idempotency_key AS key, a.campaign_id, a.lead_id, l.number, a.attempt,
               a.status, a.call_sid, a.created_at, a.dialed_at,
               coalesce(c.finalized, false) AS record_final,
               (c.call_sid IS NOT NULL AND c.mode IS NOT NULL) AS record_live,
               c.outcome, c.answered_by,
               s.call_status AS twilio_status, s.received_at AS twilio_status_at,
               s.params ->> 'AnsweredBy' AS twilio_answered_by
        FROM call_attempts a
        JOIN leads l ON l.id = a.lead_id
        LEFT JOIN calls c ON c.call_sid = a.call_sid
        LEFT JOIN LATERAL (
            SELECT call_status, received_at, params FROM call_status_events e
            WHERE e.call_sid = a.call_sid
              AND e.call_status IN ('completed', 'busy', 'no-answer', 'failed', 'canceled')
            ORDER BY received_at DESC, id DESC LIMIT 1
        ) s ON true
        WHERE {which}
        ORDER BY a.created_at, a.id
        """,  # noqa: S608 - `which` is one of the constants above
        *args,
    )
    return [Attempt(**dict(row)) for row in rows]


async def settle_attempt(
    pool: asyncpg.Pool,
    attempt: Attempt,
    *,
    status: str,
    outcome: str | None,
    error: str | None,
    retry_at: datetime | None,
) -> bool:
    """End the attempt with `status` (and the call's `outcome`); its lead is finished
    (`retry_at` None) or due again at `retry_at`. False if it had already settled."""
    async with pool.acquire() as conn, conn.transaction():
        settled = await conn.fetchval(
            """
            UPDATE call_attempts
            SET status = $2, outcome = $3, error = coalesce($4, error), ended_at = now(),
                updated_at = now()
            WHERE id = $1 AND status = ANY($5::text[])
            RETURNING id
            """,
            attempt.id, status, outcome, error, list(IN_FLIGHT),
        )
        if settled is None:
            return False
        if retry_at is None:
            await conn.execute(
                "UPDATE leads SET finished_at = coalesce(finished_at, now()) WHERE id = $1",
                attempt.lead_id,
            )
        else:
            await conn.execute(
                "UPDATE leads SET next_attempt_at = $2 WHERE id = $1", attempt.lead_id, retry_at
            )
    return True


async def complete_finished_campaigns(pool: asyncpg.Pool) -> list[int]:
    """Mark `completed` every running campaign with no lead left to call and no attempt
    in flight; their ids."""
    rows = await pool.fetch(
        """
        UPDATE campaigns c SET state = 'completed', finished_at = now(), updated_at = now()
        WHERE c.state = 'running'
          AND NOT EXISTS (SELECT 1 FROM leads l
                          WHERE l.campaign_id = c.id AND l.finished_at IS NULL)
          AND NOT EXISTS (SELECT 1 FROM call_attempts a
                          WHERE a.campaign_id = c.id AND a.status = ANY($1::text[]))
        RETURNING c.id
        """,
        list(IN_FLIGHT),
    )
    return [row["id"] for row in rows]


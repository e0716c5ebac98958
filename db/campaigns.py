"""Campaigns in PostgreSQL: creating one from a lead list, its states, its status.

A campaign's states and the actions between them (DESIGN.md "Campaigns"):

    draft --start--> running --pause--> paused --resume--> running
    draft | running | paused --cancel--> cancelled
    running --complete--> completed      (the dialer, when no lead has work left)

Every change is one conditional UPDATE, so two admins (or an admin and the dialer)
racing each other cannot both win: the loser gets `StateConflict`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final, Literal

import asyncpg

from switchboard.lead_import import LeadList, Rejection
from switchboard.settings import CampaignSettings

STATES: Final = ("draft", "running", "paused", "cancelled", "completed")
# An attempt's status (DESIGN.md "Campaigns and webhooks"), as `call_attempts.status`.
ATTEMPT_STATUSES: Final = (
    "queued", "dialing", "in_progress", "completed", "no_answer", "busy", "failed",
    "voicemail", "skipped",
)
# A call's outcome, as `calls.outcome`.
OUTCOMES: Final = (
    "qualified", "nurture", "disqualified", "opted_out", "transferred", "voicemail", "abandoned",
)

Action = Literal["start", "pause", "resume", "cancel", "complete"]
# action: (the states it may leave, the state it enters)
TRANSITIONS: Final[dict[str, tuple[tuple[str, ...], str]]] = {
    "start": (("draft",), "running"),
    "pause": (("running",), "paused"),
    "resume": (("paused",), "running"),
    "cancel": (("draft", "running", "paused"), "cancelled"),
    "complete": (("running",), "completed"),
}
# Admins may do all but `complete`, which only the dialer knows to be true.
ADMIN_ACTIONS: Final = ("start", "pause", "resume", "cancel")


class StateConflict(Exception):
    """The campaign's state does not allow the action."""

    def __init__(self, campaign_id: int, action: str, state: str) -> None:
        allowed = " or ".join(TRANSITIONS[action][0])
        super().__init__(
            f"campaign {campaign_id} is {state}: {action} needs it to be {allowed}"
        )
        self.state = state


@dataclass(frozen=True)
class CreatedCampaign:
    id: int
    accepted: int
    rejected: list[Rejection]

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "accepted": self.accepted,
            "rejected": [r.as_json() for r in self.rejected],
        }


async def create_campaign(
    pool: asyncpg.Pool, name: str, pacing: CampaignSettings, leads: LeadList
) -> CreatedCampaign:
    """A new `draft` campaign of `leads`, less those on the do-not-call list (rejected
    as `do_not_call` beside the rows `leads` already rejected)."""
    start, end = pacing.calling_window()
    numbers = [lead.number for lead in leads.leads]
    async with pool.acquire() as conn, conn.transaction():
        campaign_id = await conn.fetchval(
            """
            INSERT INTO campaigns (name, max_concurrent, calls_per_minute, max_attempts,
                                   retry_after_s, window_start, window_end)
            VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id
            """,
            name, pacing.max_concurrent, pacing.calls_per_minute, pacing.max_attempts,
            pacing.retry_after_s, start, end,
        )
        listed = {
            row["number"]
            for row in await conn.fetch(
                "SELECT number FROM do_not_call WHERE number = ANY($1::text[])", numbers
            )
        }
        loading = [lead for lead in leads.leads if lead.number not in listed]
        await conn.executemany(
            """
            INSERT INTO leads (campaign_id, row_number, number, name, company, timezone, data)
            VALUES ($1, $2, $3, $4, $5, $6, $7)
            """,
            [
                (campaign_id, lead.row, lead.number, lead.name, lead.company, lead.timezone,
                 lead.data)
                for lead in loading
            ],
        )
    blocked = [
        Rejection(lead.row, lead.number, "do_not_call")
        for lead in leads.leads
        if lead.number in listed
    ]
    rejected = sorted([*leads.rejected, *blocked], key=lambda r: r.row)
    return CreatedCampaign(id=campaign_id, accepted=len(loading), rejected=rejected)


async def change_state(
    pool: asyncpg.Pool, campaign_id: int, action: Action
) -> dict[str, Any] | None:
    """Apply `action`; the campaign's status after it, None if there is no such campaign,
    `StateConflict` if its state does not allow the action."""
    sources, target = TRANSITIONS[action]
    async with pool.acquire() as conn:
        changed = await conn.fetchval(
            """
            UPDATE campaigns
            SET state = $2, updated_at = now(),
                started_at = CASE WHEN $2 = 'running' THEN coalesce(started_at, now())
                                  ELSE started_at END,
                finished_at = CASE WHEN $2 IN ('cancelled', 'completed') THEN now()
                                   ELSE finished_at END
            WHERE id = $1 AND state = ANY($3::text[])
            RETURNING id
            """,
            campaign_id, target, list(sources),
        )
        if changed is None:
            state = await conn.fetchval("SELECT state FROM campaigns WHERE id = $1", campaign_id)
            if state is None:
                return None
            raise StateConflict(campaign_id, action, state)
        return await _status(conn, campaign_id)


async def campaign_status(pool: asyncpg.Pool, campaign_id: int) -> dict[str, Any] | None:
    """`GET /v1/campaigns/{id}`: its state, its leads and its attempts counted by status
    and outcome (every status and outcome present, at zero if need be)."""
    async with pool.acquire() as conn:
        return await _status(conn, campaign_id)


async def _status(conn: asyncpg.Connection, campaign_id: int) -> dict[str, Any] | None:
    # One snapshot: counts and state from the same moment.
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        campaign = await conn.fetchrow(
            "SELECT id, name, state FROM campaigns WHERE id = $1", campaign_id
        )
        if campaign is None:
            return None
        leads = await conn.fetchval(
            "SELECT count(*) FROM leads WHERE campaign_id = $1", campaign_id
        )
        by_status = await conn.fetch(
            "SELECT status, count(*) AS n FROM call_attempts WHERE campaign_id = $1 "
            "GROUP BY status",
            campaign_id,
        )
        # An attempt's outcome is the call's until the dialer copies it over.
        by_outcome = await conn.fetch(
            """
            SELECT coalesce(a.outcome, c.outcome) AS outcome, count(*) AS n
            FROM call_attempts a LEFT JOIN calls c ON c.call_sid = a.call_sid
            WHERE a.campaign_id = $1 AND coalesce(a.outcome, c.outcome) IS NOT NULL
            GROUP BY 1
            """,
            campaign_id,
        )
    attempts = dict.fromkeys(ATTEMPT_STATUSES, 0) | {r["status"]: r["n"] for r in by_status}
    outcomes = dict.fromkeys(OUTCOMES, 0) | {r["outcome"]: r["n"] for r in by_outcome}
    return {
        "id": campaign["id"],
        "name": campaign["name"],
        "state": campaign["state"],
        "attempts": attempts,
        "outcomes": outcomes,
        "leads": leads,
    }

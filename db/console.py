"""What the operator console reads beyond the API's own queries: live calls in brief,
the campaigns with their progress, and the names of experiments that have calls.

The call report (`db.queries.call_report`), the calls list and the analytics
(`db.analytics`) and a campaign's state changes (`db.campaigns.change_state`) are the
API's, and the console calls them as they are.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from db.queries import iso_or_none


async def live_call_summaries(
    pool: asyncpg.Pool, call_sids: list[str]
) -> dict[str, dict[str, Any]]:
    """The recorded state of each of `call_sids` (those with a record yet): who is
    talking to whom, the agent holding the call, how many turns, and the last exchange."""
    if not call_sids:
        return {}
    rows = await pool.fetch(
        """
        SELECT c.call_sid, c.started_at, c.direction, c.from_number, c.to_number,
               c.current_agent, c.status, c.tier, c.experiment, c.variant,
               (SELECT count(*) FROM turns t WHERE t.call_sid = c.call_sid) AS turns,
               last.user_text, last.agent_text
        FROM calls c
        LEFT JOIN LATERAL (
            SELECT t.user_text, t.agent_text FROM turns t
            WHERE t.call_sid = c.call_sid ORDER BY t.seq DESC LIMIT 1
        ) last ON true
        WHERE c.call_sid = ANY($1::text[])
        """,
        call_sids,
    )
    return {
        row["call_sid"]: {
            "call_sid": row["call_sid"],
            "started_at": iso_or_none(row["started_at"]),
            "direction": row["direction"],
            "from": row["from_number"],
            "to": row["to_number"],
            "current_agent": row["current_agent"],
            "status": row["status"],
            "tier": row["tier"],
            "experiment": row["experiment"],
            "variant": row["variant"],
            "turns": row["turns"],
            "last_user_text": row["user_text"],
            "last_agent_text": row["agent_text"],
        }
        for row in rows
    }


async def campaign_progress(
    pool: asyncpg.Pool, *, limit: int = 100, campaign_id: int | None = None
) -> list[dict[str, Any]]:
    """The newest `limit` campaigns (or only `campaign_id`) with their progress: leads,
    leads finished (no attempt left to make), attempts made and under way, and leads
    qualified."""
    where, params = ("WHERE c.id = $2", [limit, campaign_id]) if campaign_id else ("", [limit])
    rows = await pool.fetch(
        f"""
        SELECT c.id, c.name, c.state, c.created_at, c.started_at, c.finished_at,
               c.max_concurrent, c.calls_per_minute, c.max_attempts,
               leads.total AS leads, leads.finished AS finished_leads,
               attempts.total AS attempts, attempts.active AS active_attempts,
               attempts.qualified AS qualified
        FROM campaigns c
        CROSS JOIN LATERAL (
            SELECT count(*) AS total, count(l.finished_at) AS finished
            FROM leads l WHERE l.campaign_id = c.id
        ) leads
        CROSS JOIN LATERAL (
            SELECT count(*) AS total,
                   -- Calls being placed or held right now.
                   count(*) FILTER (WHERE a.status IN ('dialing', 'in_progress')) AS active,
                   -- An attempt's outcome is the call's until the dialer copies it over.
                   count(*) FILTER (WHERE coalesce(a.outcome, k.outcome) = 'qualified')
                       AS qualified
            FROM call_attempts a LEFT JOIN calls k ON k.call_sid = a.call_sid
            WHERE a.campaign_id = c.id
        ) attempts
        {where}
        ORDER BY c.id DESC
        LIMIT $1
        """,
        *params,
    )
    return [
        {
            "id": row["id"],
            "name": row["name"],
            "state": row["state"],
            "created_at": iso_or_none(row["created_at"]),
            "started_at": iso_or_none(row["started_at"]),
            "finished_at": iso_or_none(row["finished_at"]),
            "max_concurrent": row["max_concurrent"],
            "calls_per_minute": row["calls_per_minute"],
            "max_attempts": row["max_attempts"],
            "leads": row["leads"],
            "finished_leads": row["finished_leads"],
            "progress": row["finished_leads"] / row["leads"] if row["leads"] else None,
            "attempts": row["attempts"],
            "active_attempts": row["active_attempts"],
            "qualified": row["qualified"],
        }
        for row in rows
    ]


async def experiment_names(pool: asyncpg.Pool) -> list[str]:
    """Every experiment some call took part in, by name: a loose index scan of
    `calls_experiment_idx`, one probe per name rather than a pass over every call."""
    rows = await pool.fetch(
        """
        WITH RECURSIVE names AS (
            (SELECT experiment FROM calls WHERE experiment IS NOT NULL
             ORDER BY experiment LIMIT 1)
            UNION ALL
            SELECT (SELECT c.experiment FROM calls c WHERE c.experiment > n.experiment
                    ORDER BY c.experiment LIMIT 1)
            FROM names n WHERE n.experiment IS NOT NULL
        )
        SELECT experiment FROM names WHERE experiment IS NOT NULL
        """
    )
    return [row["experiment"] for row in rows]

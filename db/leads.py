"""A lead's history across campaigns, and the do-not-call list as admins change it.

`GET /v1/leads/{number}` reads `lead_history`. `PUT` and `DELETE
/v1/leads/{number}/do-not-call` go through `put_do_not_call` and `remove_do_not_call`,
which write each change to `do_not_call_audit` in the same transaction: a removal lets
a number be called again, so who removed it, when and why outlives the entry.

Opt-outs during calls reach the list through the recorder (`db.apply`), their entry's
source being the call's CallSid; entries made here have the source `api`.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from db.queries import is_do_not_call

# Who changes the list through the API. (One API token today: no finer identity.)
API_ACTOR = "api"


async def lead_history(pool: asyncpg.Pool, number: str) -> dict[str, Any]:
    """Whether `number` (E.164 or as stored) is on the do-not-call list, and every
    attempt to call it, oldest first."""
    attempts = await pool.fetch(
        """
        SELECT a.campaign_id, a.attempt, a.call_sid, a.status,
               coalesce(a.outcome, c.outcome) AS outcome
        FROM call_attempts a
        JOIN leads l ON l.id = a.lead_id
        LEFT JOIN calls c ON c.call_sid = a.call_sid
        WHERE l.number = $1
        ORDER BY a.created_at, a.id
        """,
        number,
    )
    return {
        "number": number,
        "do_not_call": await is_do_not_call(pool, number),
        "attempts": [
            {
                "campaign_id": row["campaign_id"],
                "attempt": row["attempt"],
                "call_sid": row["call_sid"],
                "status": row["status"],
                "outcome": row["outcome"],
            }
            for row in attempts
        ],
    }


async def do_not_call_entry(
    conn: asyncpg.Connection | asyncpg.Pool, number: str
) -> dict[str, Any] | None:
    """The list's entry for `number`, or None."""
    row = await conn.fetchrow(
        "SELECT number, source, reason, added_at FROM do_not_call WHERE number = $1", number
    )
    if row is None:
        return None
    return {
        "number": row["number"],
        "do_not_call": True,
        "source": row["source"],
        "reason": row["reason"],
        "added_at": row["added_at"].isoformat(),
    }


async def put_do_not_call(
    pool: asyncpg.Pool, number: str, reason: str | None
) -> tuple[dict[str, Any], bool]:
    """Put the E.164 `number` on the list; (its entry, whether it was added now). An
    entry already there keeps its source and reason: the first reason is the one that
    counts."""
    async with pool.acquire() as conn, conn.transaction():
        added = await conn.fetchval(
            """
            INSERT INTO do_not_call (number, reason) VALUES ($1, $2)
            ON CONFLICT (number) DO NOTHING RETURNING true
            """,
            number,
            reason,
        )
        if added:
            await _audit(conn, number, "added", "api", reason)
        entry = await do_not_call_entry(conn, number)
    assert entry is not None  # inserted or already there, in this transaction
    return entry, bool(added)


async def remove_do_not_call(
    pool: asyncpg.Pool, number: str, reason: str | None
) -> dict[str, Any] | None:
    """Take `number` off the list, recording who, when and why; the entry removed, or
    None if it was not on the list."""
    async with pool.acquire() as conn, conn.transaction():
        entry = await do_not_call_entry(conn, number)
        if entry is None:
            return None
        await conn.execute("DELETE FROM do_not_call WHERE number = $1", number)
        await _audit(conn, number, "removed", entry["source"], reason)
    return entry


async def do_not_call_audit(pool: asyncpg.Pool, number: str) -> list[dict[str, Any]]:
    """Every change admins made to `number`'s entry, oldest first."""
    rows = await pool.fetch(
        "SELECT action, actor, entry_source, reason, at FROM do_not_call_audit "
        "WHERE number = $1 ORDER BY at, id",
        number,
    )
    return [{**dict(row), "at": row["at"].isoformat()} for row in rows]


async def _audit(
    conn: asyncpg.Connection, number: str, action: str, entry_source: str, reason: str | None
) -> None:
    await conn.execute(
        """
        INSERT INTO do_not_call_audit (number, action, actor, entry_source, reason)
        VALUES ($1, $2, $3, $4, $5)
        """,
        number, action, API_ACTOR, entry_source, reason,
    )

"""`switchboard webhooks replay|list`: the dead-letter list of post-call webhooks.

Like `switchboard migrate`, it talks to PostgreSQL (`--dsn`, else DATABASE_URL): a
replay puts deliveries back in the queue with a fresh set of attempts, and the
recorder replicas' delivery workers send them within a moment (they are told by
NOTIFY). Receivers see the same event ids again and may drop what they already have.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

import asyncpg

from db.pool import create_pool
from db.webhooks import deliveries, replay

STATUSES = ("pending", "delivered", "dead")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dsn", help="PostgreSQL URL (default: DATABASE_URL)")
    actions = parser.add_subparsers(dest="action", required=True)
    again = actions.add_parser(
        "replay", help="send events again: one event (--id) or every dead letter (--all-dead)"
    )
    which = again.add_mutually_exclusive_group(required=True)
    which.add_argument("--id", dest="event_id", help="an event id (evt_...), to every endpoint")
    which.add_argument("--all-dead", action="store_true", help="every dead-lettered delivery")
    listing = actions.add_parser("list", help="list deliveries, newest first")
    listing.add_argument("--status", choices=STATUSES, help="only deliveries in this state")
    listing.add_argument("--call", dest="call_sid", help="only the events of this CallSid")
    listing.add_argument("--limit", type=int, default=50)


async def _run(args: argparse.Namespace) -> int:
    dsn = args.dsn
    if dsn is None:
        from switchboard.settings import load_settings

        dsn = load_settings().database_url
    pool = await create_pool(dsn, min_size=1, max_size=2)
    try:
        if args.action == "replay":
            queued = await replay(pool, event_id=args.event_id, all_dead=args.all_dead)
            print(f"queued {queued} deliver{'y' if queued == 1 else 'ies'} again")
            # Asked for one event that was never made: say so, and fail.
            return 0 if queued or args.all_dead else 1
        for row in await deliveries(
            pool, status=args.status, call_sid=args.call_sid, limit=args.limit
        ):
            error = f"  {row['last_error'][:80]}" if row["last_error"] else ""
            print(
                f"{row['event_id']}  {row['type']:<15} {row['status']:<9} "
                f"attempts={row['attempts']:<3} {row['call_sid']}  {row['endpoint']}{error}"
            )
        return 0
    finally:
        await pool.close()


def run(args: argparse.Namespace) -> int:
    """Runs the command `add_arguments` parsed; returns the exit status."""
    try:
        return asyncio.run(_run(args))
    except (OSError, asyncpg.PostgresError) as exc:
        print(f"webhooks: {exc}", file=sys.stderr)
        return 1

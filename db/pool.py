"""The asyncpg connection pool every database user shares, with JSON codecs set up.

`json` and `jsonb` columns read as Python objects and take Python objects as parameters.
"""

from __future__ import annotations

import json
from typing import Any

import asyncpg


async def _init_connection(conn: asyncpg.Connection) -> None:
    for type_name in ("json", "jsonb"):
        await conn.set_type_codec(
            type_name, encoder=json.dumps, decoder=json.loads, schema="pg_catalog"
        )


async def create_pool(
    dsn: str,
    min_size: int = 1,
    max_size: int = 10,
    *,
    command_timeout: float | None = 30.0,
    **kwargs: Any,
) -> asyncpg.Pool:
    """A connected pool. With `min_size=0` it can be made while PostgreSQL is down."""
    pool = await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        command_timeout=command_timeout,
        init=_init_connection,
        **kwargs,
    )
    assert pool is not None  # create_pool only returns None when not awaited
    return pool

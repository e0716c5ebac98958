"""Fixtures for the database tests (a pytest plugin: `pytest_plugins = ["tests.db_fixtures"]`).

Each test session works in its own PostgreSQL database, `switchboard_test_<random>`,
made on the shared server (DATABASE_URL, else 127.0.0.1:5432) and dropped at the end,
and each test under its own Redis key prefix, deleted afterwards: nothing another
engineer's tests (or a running Switchboard) hold is ever touched.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from urllib.parse import urlparse, urlunparse

import asyncpg
import pytest
import redis.asyncio as redis

from db.migrate import migrate
from db.outbox import Outbox
from db.pool import create_pool
from db.recorder import Recorder
from load_tests.analytics_seed import seed_calls

SESSION_TOKEN = uuid.uuid4().hex[:10]


def admin_dsn() -> str:
    return os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def redis_url() -> str:
    return os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")


def with_database(dsn: str, name: str) -> str:
    return urlunparse(urlparse(dsn)._replace(path=f"/{name}"))


@asynccontextmanager
async def temporary_database(server_dsn: str | None = None) -> AsyncIterator[str]:
    """A new empty database on the server of `server_dsn`; yields its DSN, then drops it."""
    server_dsn = server_dsn or admin_dsn()
    name = f"switchboard_test_{SESSION_TOKEN}_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(server_dsn)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield with_database(server_dsn, name)
    finally:
        admin = await asyncpg.connect(server_dsn)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


@asynccontextmanager
async def seeded_pool(calls: int, *, end: datetime, days: float,
                      max_size: int = 4) -> AsyncIterator[asyncpg.Pool]:
    """A pool on a new migrated database holding `calls` generated calls (the analytics
    seed: `load_tests.analytics_seed`) over the `days` before `end`."""
    async with temporary_database() as dsn:
        await migrate(dsn, "up")
        conn = await asyncpg.connect(dsn)
        try:
            await seed_calls(conn, calls, end=end, days=days)
        finally:
            await conn.close()
        pool = await create_pool(dsn, max_size=max_size)
        try:
            yield pool
        finally:
            await pool.close()


@pytest.fixture
async def fresh_database() -> AsyncIterator[str]:
    """An empty database of the test's own, never migrated; dropped afterwards."""
    async with temporary_database() as dsn:
        yield dsn


@pytest.fixture(scope="session")
async def db_dsn() -> AsyncIterator[str]:
    """This session's database, migrated to the latest schema."""
    async with temporary_database() as dsn:
        await migrate(dsn, "up")
        yield dsn


@pytest.fixture(scope="session")
async def db_pool(db_dsn: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(db_dsn, max_size=5)
    yield pool
    await pool.close()


@pytest.fixture(scope="session")
async def redis_client() -> AsyncIterator[redis.Redis]:
    client = redis.from_url(redis_url())
    yield client
    await client.aclose()


@pytest.fixture
async def redis_prefix(redis_client: redis.Redis) -> AsyncIterator[str]:
    """A key prefix no one else uses; its keys are deleted after the test."""
    prefix = f"sbtest-db-{SESSION_TOKEN}-{uuid.uuid4().hex[:8]}"
    yield prefix
    keys = [key async for key in redis_client.scan_iter(match=f"{prefix}:*")]
    if keys:
        await redis_client.delete(*keys)


@pytest.fixture
def outbox(redis_client: redis.Redis, redis_prefix: str) -> Outbox:
    return Outbox(redis_client, redis_prefix)


@pytest.fixture
def recorder(db_pool: asyncpg.Pool, redis_client: redis.Redis, redis_prefix: str) -> Recorder:
    return Recorder(db_pool, redis_client, redis_prefix, consumer="recorder-1")


@pytest.fixture
def call_sid() -> str:
    """A Twilio-shaped CallSid no other test uses."""
    return "CA" + uuid.uuid4().hex

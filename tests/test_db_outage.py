"""Outages: PostgreSQL away while a call goes on, Redis crashing under the outbox.

These break servers, so they run private ones (`switchboard.local_services`), never the shared ones.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
import redis.asyncio as redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import ConnectionError as RedisConnectionError

from db.migrate import migrate
from db.outbox import Outbox, dead_letter_key
from db.pool import create_pool
from db.queries import call_report
from db.recorder import Recorder
from switchboard.local_services import LocalPostgres, LocalRedis
from switchboard.models import CallFacts, CallSession, CallStatus, Outcome, TurnRecord

pytest_plugins = ["tests.db_fixtures"]
pytestmark = [pytest.mark.slow, pytest.mark.parallel_safe]


async def wait_until_final(pool: asyncpg.Pool, call_sid: str, within_s: float) -> dict:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            report = await call_report(pool, call_sid)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
            report = None  # the pool is still reconnecting
        if report is not None and report["final"]:
            return report
        await asyncio.sleep(0.1)
    raise AssertionError(f"report of {call_sid} not final within {within_s} s")


async def end_call(outbox: Outbox, session: CallSession) -> None:
    await outbox.call_ended(
        session.model_copy(update={"status": CallStatus.COMPLETED, "outcome": Outcome.NURTURE}),
        facts=CallFacts(need="triage"),
        qualification_score=0.25,
        cost_usd=0.01,
        cost_breakdown={"telephony": 0.01},
    )


def turn(seq: int) -> TurnRecord:
    return TurnRecord(
        seq=seq,
        user_text=f"line {seq}",
        agent_text=f"answer {seq}",
        agent="qualifier",
        latency_ms=500.0,
    )


@pytest.fixture
async def private_redis(tmp_path: Path) -> AsyncIterator[tuple[LocalRedis, redis.Redis]]:
    server = LocalRedis(tmp_path, appendfsync="always")
    await asyncio.to_thread(server.start)
    # As a production client should be: redis.from_url() alone never retries, so the
    # first command on a connection that died with the server would fail.
    client = redis.from_url(
        server.url,
        retry=Retry(ExponentialWithJitterBackoff(base=0.05, cap=1.0), retries=10),
        retry_on_error=[RedisConnectionError],
    )
    yield server, client
    await client.aclose()
    await asyncio.to_thread(server.stop)


async def test_events_recorded_while_postgres_is_down_are_applied_when_it_is_back(
    tmp_path: Path, redis_client: redis.Redis, redis_prefix: str, call_sid: str
) -> None:
    postgres = LocalPostgres(tmp_path)
    await asyncio.to_thread(postgres.start)
    stop = asyncio.Event()
    running: asyncio.Task[None] | None = None
    pool = None
    try:
        await migrate(postgres.url, "up")
        pool = await create_pool(postgres.url)
        outbox = Outbox(redis_client, redis_prefix)
        recorder = Recorder(pool, redis_client, redis_prefix, "recorder-outage")
        session = CallSession(call_sid=call_sid, from_number="+15551230001")
        await outbox.call_started(session)
        assert await recorder.drain_once() == 1

        await asyncio.to_thread(postgres.stop)
        running = asyncio.create_task(recorder.run(stop))
        # The call goes on while the database is away.
        await outbox.turn(call_sid, turn(0))
        await outbox.turn(call_sid, turn(1))
        await outbox.error(call_sid, "database unreachable")
        await end_call(outbox, session)
        await asyncio.sleep(1.5)  # the recorder retries meanwhile
        assert await recorder.backlog() == 4
        assert await redis_client.xlen(dead_letter_key(redis_prefix)) == 0
        assert not running.done()

        await asyncio.to_thread(postgres.start)
        report = await wait_until_final(pool, call_sid, within_s=15)
        assert [t["user_text"] for t in report["turns"]] == ["line 0", "line 1"]
        assert report["outcome"] == "nurture" and report["errors"] == ["database unreachable"]
        assert await recorder.backlog() == 0
        assert await redis_client.xlen(dead_letter_key(redis_prefix)) == 0
    finally:
        stop.set()
        if running is not None:
            await asyncio.wait_for(running, timeout=10)
        if pool is not None:
            pool.terminate()
        await asyncio.to_thread(postgres.cleanup)


async def test_outbox_entries_survive_a_redis_crash_when_redis_keeps_an_aof(
    private_redis: tuple[LocalRedis, redis.Redis],
    db_pool: asyncpg.Pool,
    redis_prefix: str,
    call_sid: str,
) -> None:
    server, client = private_redis
    outbox = Outbox(client, redis_prefix)
    recorder = Recorder(db_pool, client, redis_prefix, "recorder-aof")
    session = CallSession(call_sid=call_sid)
    await outbox.call_started(session)
    assert await recorder.drain_once() == 1  # the consumer group exists before the crash
    await outbox.turn(call_sid, turn(0))
    await end_call(outbox, session)

    # kill -9 with two events not yet recorded.
    await asyncio.to_thread(server.restart, kill=True)
    stop = asyncio.Event()
    running = asyncio.create_task(recorder.run(stop))
    try:
        report = await wait_until_final(db_pool, call_sid, within_s=15)
        assert len(report["turns"]) == 1
        assert await recorder.backlog() == 0
    finally:
        stop.set()
        await asyncio.wait_for(running, timeout=10)


async def test_the_recorder_keeps_running_across_a_redis_restart(
    private_redis: tuple[LocalRedis, redis.Redis],
    db_pool: asyncpg.Pool,
    redis_prefix: str,
    call_sid: str,
) -> None:
    server, client = private_redis
    outbox = Outbox(client, redis_prefix)
    recorder = Recorder(db_pool, client, redis_prefix, "recorder-restart")
    stop = asyncio.Event()
    running = asyncio.create_task(recorder.run(stop))
    try:
        session = CallSession(call_sid=call_sid)
        await outbox.call_started(session)
        await asyncio.to_thread(server.stop, kill=True)
        await asyncio.sleep(1.0)  # the recorder meets a dead Redis
        assert not running.done()
        await asyncio.to_thread(server.start)

        await outbox.turn(call_sid, turn(0))
        await end_call(outbox, session)
        report = await wait_until_final(db_pool, call_sid, within_s=15)
        assert len(report["turns"]) == 1
    finally:
        stop.set()
        await asyncio.wait_for(running, timeout=10)

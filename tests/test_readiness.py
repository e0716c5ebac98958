"""Readiness (`deployments.readiness`, the ingress's `GET /readyz`): 503 naming what is
down, 200 on the very next probe once it is back.

The endpoint under test is the one the ingress routes `/readyz` to, served over ASGI.
Redis and PostgreSQL are real servers each test starts itself on a free port
(`switchboard.local_services`), since the tests stop, crash and hang them; the
orchestrator and the warm pool are stand-ins here (the real ones, through a real
`serve run`, are in `tests/test_e2e_readiness.py`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Route

from db.pool import create_pool
from deployments.readiness import (
    ORCHESTRATOR_TIMEOUT_S,
    Readiness,
    orchestrator_check,
    orchestrator_not_needed,
    postgresql_check,
    redis_check,
    warm_pool_check,
)
from switchboard.live_config import LiveConfig, parse_live_config
from switchboard.local_services import LocalPostgres, LocalRedis
from switchboard.settings import load_settings

API_TOKEN = "readiness-test-token"
BASE = load_settings(twilio_auth_token="t", api_token=API_TOKEN)
ENV = parse_live_config(None, BASE)
# Every check is bounded (the slowest at 2 s); a probe answers well within this.
PROBE_BOUND_S = 3.0


class WarmPoolStandIn:
    """What readiness reads of `actors.session_pool.SessionPool`."""

    def __init__(self, warm: int = 1, *, enabled: bool = True) -> None:
        self.enabled = enabled
        self.ready_count = warm

    def stats(self) -> dict:
        return {"warm": self.ready_count, "starting": 1}


class OrchestratorStandIn:
    """The orchestrator deployment's `check_health`: answers, fails or hangs."""

    def __init__(self) -> None:
        self.behaviour = "answer"

    async def ping(self) -> None:
        if self.behaviour == "fail":
            raise RuntimeError("replica died")
        if self.behaviour == "hang":
            await asyncio.sleep(3600)


class Probe:
    """`GET /readyz` on a Starlette app serving `Readiness.endpoint`, as the ingress does."""

    def __init__(self, readiness: Readiness) -> None:
        app = Starlette(routes=[Route("/readyz", readiness.endpoint, methods=["GET"])])
        self._client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://ingress"
        )

    async def get(self, *, token: bool = False) -> tuple[int, dict[str, Any]]:
        headers = {"Authorization": f"Bearer {API_TOKEN}"} if token else {}
        started = time.monotonic()
        response = await self._client.get("/readyz", headers=headers)
        assert time.monotonic() - started < PROBE_BOUND_S
        return response.status_code, response.json()

    async def aclose(self) -> None:
        await self._client.aclose()


def lazy_pool(url: str) -> tuple[Callable[[], Awaitable[asyncpg.Pool]], list[asyncpg.Pool]]:
    """As the ingress's `_database`: a pool made on first use with `min_size=0`, so it
    can be made while PostgreSQL is down; `made` holds it for closing."""
    made: list[asyncpg.Pool] = []

    async def database() -> asyncpg.Pool:
        if not made:
            made.append(await create_pool(url, min_size=0))
        return made[0]

    return database, made


@pytest.fixture(scope="module")
async def postgres_server(
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[LocalPostgres]:
    # One cluster for the module (initdb is most of its start-up time).
    server = LocalPostgres(tmp_path_factory.mktemp("postgres"))
    await asyncio.to_thread(server.start)
    yield server
    await asyncio.to_thread(server.cleanup)


@pytest.fixture
async def private_postgres(postgres_server: LocalPostgres) -> LocalPostgres:
    """The module's PostgreSQL, running (a test before may have left it stopped)."""
    await asyncio.to_thread(postgres_server.start)
    return postgres_server


@pytest.fixture
async def private_redis(tmp_path: Path) -> AsyncIterator[LocalRedis]:
    server = LocalRedis(tmp_path, appendonly=False)
    await asyncio.to_thread(server.start)
    yield server
    await asyncio.to_thread(server.stop)


@dataclass
class Rig:
    probe: Probe
    orchestrator: OrchestratorStandIn
    pool: WarmPoolStandIn
    database: Callable[[], Awaitable[asyncpg.Pool]]


@pytest.fixture
async def rig(private_postgres: LocalPostgres, private_redis: LocalRedis) -> AsyncIterator[Rig]:
    """Readiness over the private servers, a healthy orchestrator and one warm actor."""
    database, made = lazy_pool(private_postgres.url)
    orchestrator, pool = OrchestratorStandIn(), WarmPoolStandIn()
    readiness = Readiness(
        [
            redis_check(private_redis.url),
            postgresql_check(database),
            orchestrator_check(orchestrator.ping, lambda: ENV),
            warm_pool_check(pool),
        ],
        api_token=API_TOKEN,
    )
    probe = Probe(readiness)
    yield Rig(probe, orchestrator, pool, database)
    await probe.aclose()
    for created in made:
        created.terminate()


@pytest.mark.parametrize("crash", [False, True], ids=["shutdown", "crash"])
async def test_readiness_answers_503_naming_postgresql_when_it_is_down_and_200_when_it_is_back(
    rig: Rig,
    private_postgres: LocalPostgres,
    crash: bool,
) -> None:
    probe = rig.probe
    status, body = await probe.get()
    assert status == 200, body
    assert body["ready"] is True and body["failed"] == []
    assert list(body["checks"]) == ["redis", "postgresql", "orchestrator", "pool"]
    assert all(check["ok"] for check in body["checks"].values())
    assert body["checks"]["pool"]["warm"] == 1
    # The pool now holds an idle connection the server will cut.

    await asyncio.to_thread(private_postgres.stop, immediate=crash)
    status, body = await probe.get()
    assert status == 503, body
    assert body["ready"] is False and body["failed"] == ["postgresql"]
    postgresql = body["checks"]["postgresql"]
    assert postgresql["ok"] is False and postgresql["error"]
    # Anyone may probe: without the token no address or server text is shown...
    assert str(private_postgres.port) not in postgresql["error"]
    # ...with it, the operator gets the whole message.
    _, detailed = await probe.get(token=True)
    assert str(private_postgres.port) in detailed["checks"]["postgresql"]["error"]
    assert all(body["checks"][name]["ok"] for name in ("redis", "orchestrator", "pool"))

    await asyncio.to_thread(private_postgres.start)
    status, body = await probe.get()  # the very next probe: nothing cached
    assert status == 200, body
    assert body["checks"]["postgresql"]["ok"] is True

    # A restart no probe saw, while the client could not read the server's goodbye (the
    # event loop busy: restarted without yielding to it; a failover whose FIN never
    # came is the same): every connection idle in the pool, as the call API leaves
    # them, is dead but not known to be, and still the next probe answers 200.
    pool = await rig.database()
    held = [await pool.acquire() for _ in range(3)]
    for conn in held:
        await pool.release(conn)
    private_postgres.restart(immediate=crash)
    status, body = await probe.get()
    assert status == 200, body


async def test_readiness_names_redis_while_it_is_down_and_recovers_with_it(
    rig: Rig,
    private_redis: LocalRedis,
) -> None:
    probe = rig.probe
    assert (await probe.get())[0] == 200

    await asyncio.to_thread(private_redis.stop, kill=True)
    status, body = await probe.get()
    assert status == 503 and body["failed"] == ["redis"], body
    assert body["checks"]["redis"]["error"] == "ConnectionError"

    await asyncio.to_thread(private_redis.start)
    status, body = await probe.get()
    assert status == 200, body

    # A restart no probe saw, the loop not yielded to meanwhile (as with PostgreSQL).
    private_redis.restart(kill=True)
    status, body = await probe.get()
    assert status == 200, body


async def test_a_hung_redis_fails_readiness_within_its_timeout(
    rig: Rig,
    private_redis: LocalRedis,
) -> None:
    probe = rig.probe
    assert (await probe.get())[0] == 200

    private_redis.pause()  # connections accepted, nothing answered
    try:
        status, body = await probe.get()  # bounded: Probe.get asserts it
        assert status == 503 and body["failed"] == ["redis"], body
        assert body["checks"]["redis"]["error"] == "no answer within 1 s"
    finally:
        private_redis.resume()
    status, body = await probe.get()
    assert status == 200, body


async def test_the_orchestrator_and_the_warm_pool_are_named_when_they_fail(
    rig: Rig,
) -> None:
    probe, orchestrator, pool = rig.probe, rig.orchestrator, rig.pool
    orchestrator.behaviour, pool.ready_count = "fail", 0
    status, body = await probe.get()
    assert status == 503 and body["failed"] == ["orchestrator", "pool"], body
    assert body["checks"]["orchestrator"]["error"] == "RuntimeError"
    assert body["checks"]["pool"] == {
        "ok": False,
        "ms": body["checks"]["pool"]["ms"],
        "warm": 0,
        "error": "no warm session actor yet (1 starting)",
    }
    _, detailed = await probe.get(token=True)
    assert detailed["checks"]["orchestrator"]["error"] == "RuntimeError: replica died"

    orchestrator.behaviour = "hang"
    status, body = await probe.get()
    assert status == 503 and "orchestrator" in body["failed"], body
    assert body["checks"]["orchestrator"]["error"] == (
        f"no answer within {ORCHESTRATOR_TIMEOUT_S:g} s"
    )

    orchestrator.behaviour, pool.ready_count = "answer", 2
    status, body = await probe.get()
    assert status == 200 and body["checks"]["pool"]["warm"] == 2, body


async def test_a_pool_configured_off_is_ready_with_no_warm_actor() -> None:
    probe = Probe(Readiness([warm_pool_check(WarmPoolStandIn(0, enabled=False))], api_token=""))
    try:
        status, body = await probe.get()
    finally:
        await probe.aclose()
    assert status == 200, body
    assert "warm_pool_size is 0" in body["checks"]["pool"]["note"]


def _live(block: dict[str, Any]) -> LiveConfig:
    return parse_live_config({"version": "r", **block}, BASE)


@pytest.mark.parametrize(
    ("live", "reason"),
    [
        (ENV, None),
        (_live({"agent_integration": {"enabled": False}}), "kill switch on"),
        (_live({"flags": {"integration_enabled": {"percent": 0}}}), "at 0 %"),
        (_live({"flags": {"integration_enabled": {"percent": 5}}}), None),
        (parse_live_config(None, load_settings(agent_integration={"enabled": False})),
         "agent_integration.enabled is false"),
        (parse_live_config({"version": "f", "flags": {"integration_enabled": {"percent": 50}}},
                           load_settings(agent_integration={"enabled": False})), None),
    ],
    ids=["default", "kill-switch", "flag-off", "flag-on", "env-off", "flag-on-over-env-off"],
)
def test_the_orchestrator_is_needed_while_some_call_may_reach_the_agents(
    live: LiveConfig, reason: str | None
) -> None:
    not_needed = orchestrator_not_needed(live)
    assert not_needed is None if reason is None else reason in (not_needed or "")


async def test_an_orchestrator_no_call_needs_is_shown_but_does_not_fail_readiness() -> None:
    orchestrator = OrchestratorStandIn()
    orchestrator.behaviour = "fail"
    live = ENV
    readiness = Readiness(
        [orchestrator_check(orchestrator.ping, lambda: live)], api_token=API_TOKEN
    )
    assert (await readiness.report()).failed == ["orchestrator"]

    live = _live({"agent_integration": {"enabled": False}})  # the kill switch
    report = await readiness.report()
    assert report.ready and report.status_code == 200
    shown = report.as_json()["checks"]["orchestrator"]
    assert shown["ok"] is False and shown["required"] is False
    assert "kill switch on" in shown["note"]

    absent = await Readiness([orchestrator_check(None, lambda: ENV)], api_token="").report()
    assert absent.ready
    assert "not part of this application" in absent.as_json()["checks"]["orchestrator"]["note"]

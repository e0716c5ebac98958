"""Readiness of an ingress replica (`GET /readyz`): can it take calls now, and if not,
what is missing.

Four checks, run concurrently, each bounded by a short timeout of its own, so a probe
answers within about 2 s whatever hangs:

- `redis` — `PING` on a fail-fast client of the ingress's Redis (1 s). Calls are
  registered, tokened and journaled there.
- `postgresql` — `SELECT 1` on a connection of the ingress's own asyncpg pool (2 s): the
  call API reads records there (calls themselves go on without it: records wait in the
  outbox).
- `orchestrator` — `check_health` on the orchestrator deployment, through the handle the
  ingress holds (2 s): one of its replicas answers and reaches its Redis checkpointer.
  Needed only while some call may use the agents (see `orchestrator_not_needed`): with
  the kill switch on, or the integration off and no flag that turns it on, every call
  takes the direct path, so it is still probed and shown but never makes the replica
  unready (`"required": false` and a `note` saying why).
- `pool` — at least one session actor is warm in this replica's pool (in process;
  always passes when the pool is configured off, `warm_pool_size: 0`).

The answer is 200 when every required check passes, else 503; either way the body is:

    {
      "ready": false,
      "failed": ["postgresql"],
      "checks": {
        "redis":        {"ok": true,  "ms": 0.9},
        "postgresql":   {"ok": false, "ms": 3.1, "error": "ConnectionRefusedError"},
        "orchestrator": {"ok": true,  "ms": 12.4},
        "pool":         {"ok": true,  "ms": 0.0, "warm": 2}
      }
    }

`failed` lists the required checks that failed, in the order above; `ms` is how long
each check took. The ingress is public (Twilio must reach it), so without the API bearer
token an `error` names only the exception's type, or "no answer within N s" for a
timeout, or the check's own finding ("no warm session actor yet ..."); with
`Authorization: Bearer <SWITCHBOARD_API_TOKEN>` it carries the whole message (addresses,
ports, server text) for the operator.

Nothing is cached: every probe checks afresh, so the first probe after PostgreSQL (or
anything else) is back answers 200. A probe costs a Redis PING, a `SELECT 1` on a pooled
connection and one small orchestrator request; a storm of probes is bounded by the
pools themselves (the asyncpg pool's `max_size` connections, Serve's
`max_ongoing_requests`), so a cache would only hide a recovery for no saving that
matters.

Readiness only reports: a failed check never refuses a call by itself. Liveness
(`/healthz`, and Serve's `check_health`) stays apart and depends on nothing outside the
process.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import asyncpg
import redis.asyncio as aioredis
from ray.serve.handle import DeploymentHandle
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from deployments.auth import bearer_ok
from switchboard.flags import INTEGRATION_FLAG
from switchboard.live_config import LiveConfig
from switchboard.redis_client import connect as connect_redis

REDIS_TIMEOUT_S = 1.0
POSTGRESQL_TIMEOUT_S = 2.0
ORCHESTRATOR_TIMEOUT_S = 2.0
# In process, so immediate; bounded anyway, as every check is.
WARM_POOL_TIMEOUT_S = 1.0

Probe = Callable[[], Awaitable[dict[str, Any] | None]]
"""Returns extra fields for the check's JSON (or None); raises when not ready."""


class NotReady(Exception):
    """A check's own finding, with no address or secret in it: shown to anyone."""

    def __init__(self, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.extra = extra


def _always_needed() -> str | None:
    return None


@dataclass(frozen=True)
class Check:
    """One dependency: how to probe it, for how long, and whether it is needed now."""

    name: str
    probe: Probe
    timeout_s: float
    # A reason the dependency is not needed right now (then it cannot fail readiness),
    # or None when it is.
    not_needed: Callable[[], str | None] = _always_needed


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    ms: float
    error: str | None = None  # safe for anyone to read
    detail: str | None = None  # the whole message, for the operator (bearer token)
    not_needed: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def required(self) -> bool:
        return self.not_needed is None

    def as_json(self, *, verbose: bool = False) -> dict[str, Any]:
        body: dict[str, Any] = {"ok": self.ok, "ms": self.ms, **self.extra}
        if self.error is not None:
            body["error"] = self.detail if verbose and self.detail else self.error
        if not self.required:
            body["required"] = False
            body["note"] = self.not_needed
        return body


@dataclass(frozen=True)
class Report:
    """Every check's result, in the order the checks were given."""

    checks: dict[str, CheckResult]

    @property
    def failed(self) -> list[str]:
        return [name for name, result in self.checks.items() if result.required and not result.ok]

    @property
    def ready(self) -> bool:
        return not self.failed

    @property
    def status_code(self) -> int:
        return 200 if self.ready else 503

    def as_json(self, *, verbose: bool = False) -> dict[str, Any]:
        return {
            "ready": self.ready,
            "failed": self.failed,
            "checks": {
                name: result.as_json(verbose=verbose) for name, result in self.checks.items()
            },
        }


async def run_check(check: Check) -> CheckResult:
    """Probe one dependency within its timeout; never raises (but for cancellation)."""
    not_needed = check.not_needed()
    started = time.perf_counter()

    def elapsed_ms() -> float:
        return round((time.perf_counter() - started) * 1000, 1)

    try:
        extra = await asyncio.wait_for(check.probe(), check.timeout_s)
    except TimeoutError:
        error = f"no answer within {check.timeout_s:g} s"
        return CheckResult(False, elapsed_ms(), error=error, not_needed=not_needed)
    except NotReady as exc:
        return CheckResult(
            False, elapsed_ms(), error=str(exc), not_needed=not_needed, extra=exc.extra
        )
    except Exception as exc:
        return CheckResult(
            False,
            elapsed_ms(),
            error=type(exc).__name__,
            detail=f"{type(exc).__name__}: {exc}",
            not_needed=not_needed,
        )
    return CheckResult(True, elapsed_ms(), not_needed=not_needed, extra=extra or {})


async def check_all(checks: Sequence[Check]) -> Report:
    """Run every check concurrently: a probe takes as long as its slowest check."""
    results = await asyncio.gather(*(run_check(check) for check in checks))
    return Report({check.name: result for check, result in zip(checks, results, strict=True)})


class Readiness:
    """The checks of one ingress replica, and the `/readyz` endpoint over them."""

    def __init__(self, checks: Sequence[Check], *, api_token: str) -> None:
        self.checks = list(checks)
        self._api_token = api_token

    async def report(self) -> Report:
        return await check_all(self.checks)

    async def endpoint(self, request: Request) -> Response:
        report = await self.report()
        verbose = bearer_ok(request.headers, self._api_token)
        return JSONResponse(report.as_json(verbose=verbose), status_code=report.status_code)


# The checks


def redis_check(url: str) -> Check:
    """`PING` on a client of its own, built from the ingress's Redis settings.

    Not the ingress's call client: that one retries a refused connection ten times with
    backoff (right for a call, which should ride out a Redis restart), so a down Redis
    would only ever show as a timeout. This one fails fast (one retry, 1 s socket
    timeouts) and says why; the retry takes a fresh connection after a restart.
    """
    client: aioredis.Redis = connect_redis(url, retries=1, timeout_s=REDIS_TIMEOUT_S)

    async def ping() -> None:
        await client.ping()

    return Check("redis", ping, REDIS_TIMEOUT_S)


def postgresql_check(database: Callable[[], Awaitable[asyncpg.Pool]]) -> Check:
    """`SELECT 1` on a connection of `database()`, the pool the call API reads with.

    Tried twice (within the one timeout): a connection that sat idle in the pool while
    the server restarted fails its next query, and so may every other idle one. After
    a failure the pool's connections are expired, so the second try runs on a fresh
    connection: the first probe after a restart answers 200 for a PostgreSQL that is
    back, and a failure means a fresh connection failed too.
    """

    async def select_one() -> None:
        pool = await database()
        for attempt in (1, 2):
            try:
                async with pool.acquire() as conn:
                    await conn.fetchval("SELECT 1")
                return
            except Exception:
                if attempt == 2:
                    raise
                await pool.expire_connections()

    return Check("postgresql", select_one, POSTGRESQL_TIMEOUT_S)


def orchestrator_not_needed(live: LiveConfig) -> str | None:
    """Why no call may reach the agents under `live` (so readiness does not need the
    orchestrator), or None when some may."""
    if live.kill_switch:
        return "kill switch on: every call takes the direct path"
    rule = live.flags.get(INTEGRATION_FLAG)
    if rule is not None:
        # The flag decides for every call, whatever the setting says.
        if rule.percent == 0:
            return f"flag {INTEGRATION_FLAG} at 0 %: every call takes the direct path"
        return None
    if not live.settings.agent_integration.enabled:
        return "agent_integration.enabled is false: every call takes the direct path"
    return None


def deployment_ping(handle: DeploymentHandle | None) -> Callable[[], Awaitable[None]] | None:
    """`check_health` on a Serve deployment through `handle` (None for None): a replica
    answers, and runs its own health check (the orchestrator's pings its Redis
    checkpointer, without which no turn can run)."""
    if handle is None:
        return None

    async def ping() -> None:
        await handle.check_health.remote()

    return ping


def orchestrator_check(
    ping: Callable[[], Awaitable[None]] | None, live: Callable[[], LiveConfig]
) -> Check:
    """`ping()` the orchestrator; needed while `live()` lets some call reach the agents.
    `ping` None: the application has no orchestrator, there is nothing to need."""
    if ping is None:

        async def absent() -> None:
            return None

        return Check(
            "orchestrator",
            absent,
            ORCHESTRATOR_TIMEOUT_S,
            lambda: "not part of this application: every call takes the direct path",
        )

    async def probe() -> None:
        await ping()

    return Check(
        "orchestrator", probe, ORCHESTRATOR_TIMEOUT_S, lambda: orchestrator_not_needed(live())
    )


class WarmPool(Protocol):
    """What readiness reads of a replica's pool of session actors (`SessionPool`)."""

    @property
    def enabled(self) -> bool: ...

    @property
    def ready_count(self) -> int: ...

    def stats(self) -> dict: ...


def warm_pool_check(pool: WarmPool) -> Check:
    """At least one warm session actor: without one a new call would be answered busy
    (or wait for a cold start). A pool configured off starts every actor cold, and
    refuses no call for want of a warm one, so it passes."""

    async def warm() -> dict[str, Any]:
        if not pool.enabled:
            return {"warm": 0, "note": "warm_pool_size is 0: every call starts its actor cold"}
        if pool.ready_count == 0:
            starting = pool.stats().get("starting", 0)
            raise NotReady(f"no warm session actor yet ({starting} starting)", warm=0)
        return {"warm": pool.ready_count}

    return Check("pool", warm, WARM_POOL_TIMEOUT_S)

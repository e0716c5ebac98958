"""The orchestrator's circuit breaker: one per process, its state shared with the other
processes through Redis, and never a Redis call on the event loop's critical path.

This module owns `orchestrator_breaker` (the process's pybreaker `CircuitBreaker`),
`RedisSyncedStorage` (the breaker's state, kept in memory and synced with Redis by a
background asyncio task) and the listener that counts the breaker's trips.

Why not pybreaker's `CircuitRedisStorage`: each of its reads and writes is a
synchronous Redis command, and pybreaker reads its storage several times per call.
Session actors run a real-time audio pipeline on their event loop, so a slow or dead
Redis would stall every caller's audio on every turn. Here `breaker.calling()` only
touches memory; the sync task does the Redis work beside it.

Shared state, in the keys `CircuitRedisStorage` uses, under the namespace
`{redis_prefix}:breaker:orchestrator` (operators' tools and the chaos test read them):
- `{namespace}:pybreaker:state`: "closed", "open" or "half-open";
- `{namespace}:pybreaker:opened_at`: when it last opened, in integer unix seconds.

Sync, about once a second and at once after a local change (`SYNC_INTERVAL_S`):
- a local change (open with its opened_at, close, half-open) is published; when several
  happen between two rounds, the latest is what Redis gets;
- the shared state is read back, and a change another process made is adopted: opened
  elsewhere → open here with that opened_at; closed elsewhere → closed here. Half-open
  is published but not adopted: a process whose breaker is open reaches half-open
  itself when its reset timeout runs out, and the trial call it then makes (or the one
  elsewhere) decides for everyone by closing or re-opening;
- a state key Redis lost (a flush, a restart without its AOF) is put back.
The failure and success counters stay per process (unlike `CircuitRedisStorage`'s):
sharing them would put a Redis write on every call. So each process opens after
`fail_max` failures of its own, and the others follow it through Redis.

A trip is counted (`switchboard_circuit_breaker_trips`) by the process where it
happened; a process that adopts it logs it but does not count it again.

When Redis is slow or unreachable the breaker works on this process's state. Each failed
round is counted (`switchboard_state_sync_failures{operation="breaker"}`), logged at most
once a minute, and retried a round later; the sync resumes by itself when Redis answers,
and publishes what changed meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import threading
import time
from datetime import UTC, datetime
from typing import NamedTuple

import pybreaker
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from switchboard.metrics import VoiceAgentIntegrationMetrics
from switchboard.redis_client import connect
from switchboard.settings import VoiceAgentIntegrationConfig

logger = logging.getLogger("ray")

SYNC_INTERVAL_S = 1.0
# A whole round (connecting, publishing, reading) ends within this, whatever Redis does.
ROUND_TIMEOUT_S = 1.0
# Each socket operation of the sync client; one retry, so a stale connection after a
# Redis restart is replaced within the round instead of failing it.
COMMAND_TIMEOUT_S = 0.4
SYNC_RETRIES = 1
FAILURE_LOG_INTERVAL_S = 60.0


class _Shared(NamedTuple):
    """The breaker state as Redis holds it; `opened_at` only matters when open."""

    state: str
    opened_at: int | None


def _epoch(moment: datetime | None) -> int | None:
    # As CircuitRedisStorage stores it: whole seconds (a naive datetime is UTC there too).
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp())


def _text(value: bytes | str | None) -> str | None:
    return value.decode() if isinstance(value, bytes) else value


class RedisSyncedStorage(pybreaker.CircuitMemoryStorage):
    """pybreaker state in memory, shared with other processes by a background task.

    Every method pybreaker calls is a memory operation. The sync task starts on the
    running loop the first time the storage is used from a coroutine (or by `start()`),
    never at construction or import; if that loop has closed since (tests), the next use
    starts a new one on the current loop.
    """

    def __init__(
        self,
        redis_url: str,
        namespace: str,
        *,
        sync_interval_s: float = SYNC_INTERVAL_S,
        round_timeout_s: float = ROUND_TIMEOUT_S,
    ) -> None:
        super().__init__(pybreaker.STATE_CLOSED)
        self._name = "redis-synced"
        self.namespace = namespace
        self.state_key = f"{namespace}:pybreaker:state"
        self.opened_at_key = f"{namespace}:pybreaker:opened_at"
        self._redis_url = redis_url
        self._interval_s = sync_interval_s
        self._round_timeout_s = round_timeout_s
        # pybreaker may be used from several threads; this guards the state against the
        # sync task's adoption. Held for a few assignments, never across an await.
        self._lock = threading.Lock()
        self._version = 0  # local changes made so far
        self._published = 0  # the local change Redis holds
        self._seen: _Shared | None = None  # what this process last wrote to or read from Redis
        self._adopted = False  # the last state change came from another process
        self._task: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None
        self._stopped = False
        self.failed_syncs = 0  # failed rounds since start (also a metric)
        self._failing_since: float | None = None
        self._failed_in_row = 0
        self._last_failure_log = -math.inf

    # --- what pybreaker calls: memory only ---------------------------------------

    @property
    def state(self) -> str:
        self._ensure_syncing()
        return self._state

    @state.setter
    def state(self, state: str) -> None:
        with self._lock:
            self._state = state
            self._adopted = False
            self._version += 1
        self._changed()

    @property
    def opened_at(self) -> datetime | None:
        return self._opened_at

    @opened_at.setter
    def opened_at(self, moment: datetime) -> None:
        with self._lock:
            self._opened_at = moment
            self._version += 1
        self._changed()

    @property
    def last_change_adopted(self) -> bool:
        """Whether the current state was adopted from another process, not reached here."""
        return self._adopted

    @property
    def syncing(self) -> bool:
        task = self._task
        return task is not None and not task.done() and not task.get_loop().is_closed()

    # --- the sync task ---------------------------------------------------------------

    def start(self) -> None:
        """Start syncing on the running loop (a no-op when already syncing)."""
        asyncio.get_running_loop()  # raises outside a coroutine, where nothing could run
        self._stopped = False
        self._ensure_syncing()

    async def aclose(self) -> None:
        """Stop syncing and close the sync client; the breaker keeps working locally."""
        self._stopped = True
        task, self._task = self._task, None
        if task is None or task.done():
            return
        loop = task.get_loop()
        if loop is asyncio.get_running_loop():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        elif not loop.is_closed():
            loop.call_soon_threadsafe(task.cancel)

    def _ensure_syncing(self) -> None:
        if self._stopped or self.syncing:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # not in a coroutine (construction, sync code): a later use starts it
        with self._lock:
            if self.syncing:
                return
            self._wake = asyncio.Event()
            self._task = loop.create_task(
                self._run(self._wake), name=f"breaker-sync {self.namespace}"
            )

    def _changed(self) -> None:
        """Wake the sync task so a local change is published now, not a round later."""
        self._ensure_syncing()
        task, wake = self._task, self._wake
        if task is None or wake is None or task.done():
            return  # published when syncing starts
        loop = task.get_loop()
        try:
            here = asyncio.get_running_loop()
        except RuntimeError:
            here = None
        if here is loop:
            wake.set()
        elif not loop.is_closed():
            loop.call_soon_threadsafe(wake.set)

    async def _run(self, wake: asyncio.Event) -> None:
        # A client of this task's own: a redis.asyncio connection belongs to one loop.
        client = connect(self._redis_url, retries=SYNC_RETRIES, timeout_s=COMMAND_TIMEOUT_S)
        try:
            while True:
                wake.clear()
                if await self._round(client):
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(wake.wait(), self._interval_s)
                else:
                    # Redis is away: try again a round later, not at every local change.
                    await asyncio.sleep(self._interval_s)
        finally:
            with contextlib.suppress(Exception):
                await client.aclose()

    async def _round(self, client: aioredis.Redis) -> bool:
        try:
            async with asyncio.timeout(self._round_timeout_s):
                await self._exchange(client)
        except Exception as exc:  # the task must outlive anything one round meets
            self._sync_failed(exc)
            return False
        self._sync_succeeded()
        return True

    async def _exchange(self, client: aioredis.Redis) -> None:
        if self._version != self._published:
            await self._publish(client)
        version = self._version
        state, opened_at = await client.mget(self.state_key, self.opened_at_key)
        if state is None:
            # Redis lost the state (a flush, a restart without its AOF): put ours back,
            # unless another process has just done so.
            await self._publish(client, only_if_missing=True)
            return
        state = _text(state)
        remote = _Shared(state, int(opened_at) if opened_at and state == "open" else None)
        if remote == self._seen:
            return
        self._seen = remote
        if self._version != version:
            return  # changed here during the read: ours is newer, published next round
        self._adopt(remote)

    async def _publish(self, client: aioredis.Redis, *, only_if_missing: bool = False) -> None:
        with self._lock:
            version, state, opened_at = self._version, self._state, self._opened_at
        shared = _Shared(state, _epoch(opened_at) if state == pybreaker.STATE_OPEN else None)
        # One transaction: a reader never sees "open" with the previous opening's time.
        async with client.pipeline(transaction=True) as pipe:
            if shared.opened_at is not None:
                pipe.set(self.opened_at_key, shared.opened_at, nx=only_if_missing)
            pipe.set(self.state_key, shared.state, nx=only_if_missing)
            wrote_state = (await pipe.execute())[-1]
        # After a conditional write, the next read says whose state Redis holds.
        self._seen = None if only_if_missing else shared
        if wrote_state:
            self._published = version
        # Otherwise another process put its state back first. A change made here since
        # this round's read (a trip between the read and this write) is newer than
        # theirs and stays unpublished, so the next round writes it; counting it as
        # published would let the next read adopt their "closed" over our "open".

    def _adopt(self, remote: _Shared) -> None:
        with self._lock:
            before = self._state
            if remote.state == pybreaker.STATE_OPEN:
                opened_at = (
                    datetime.fromtimestamp(remote.opened_at, UTC)
                    if remote.opened_at is not None
                    else datetime.now(UTC)
                )
                if before == pybreaker.STATE_OPEN and _epoch(self._opened_at) == remote.opened_at:
                    return
                self._opened_at = opened_at
            elif remote.state != pybreaker.STATE_CLOSED or before == pybreaker.STATE_CLOSED:
                return  # half-open is not adopted (see the module docstring)
            if before != remote.state:
                self._adopted = True
            self._state = remote.state
        logger.info(
            f"orchestrator breaker: {before} → {remote.state}, "
            f"as another process set it (opened_at {remote.opened_at})"
        )

    def _sync_failed(self, exc: Exception) -> None:
        self.failed_syncs += 1
        self._failed_in_row += 1
        VoiceAgentIntegrationMetrics.get().state_sync_failed("breaker")
        now = time.monotonic()
        if self._failing_since is None:
            self._failing_since = now
        if now - self._last_failure_log >= FAILURE_LOG_INTERVAL_S:
            self._last_failure_log = now
            expected = isinstance(exc, RedisError | OSError | TimeoutError)
            detail = str(exc) or f"no answer within {self._round_timeout_s} s"
            logger.warning(
                f"orchestrator breaker: cannot sync its state with Redis "
                f"({self._failed_in_row} failed rounds in a row): "
                f"{type(exc).__name__}: {detail}; "
                "this process goes on with its own state",
                exc_info=not expected,  # anything else is a bug: show where
            )

    def _sync_succeeded(self) -> None:
        if self._failing_since is None:
            return
        logger.info(
            f"orchestrator breaker: state sync with Redis resumed after "
            f"{self._failed_in_row} failed rounds "
            f"({time.monotonic() - self._failing_since:.0f} s)"
        )
        self._failing_since = None
        self._failed_in_row = 0
        self._last_failure_log = -math.inf  # the next outage is reported at once


class _TripCounter(pybreaker.CircuitBreakerListener):
    """Logs every state change of the breaker; counts the trips of this process, and
    shows its state (`switchboard_orchestrator_breaker_state`), adopted changes included.

    A breaker opened by another process and adopted here is not counted again: the
    metric is the number of times the breaker tripped, not times processes heard of it.
    """

    def __init__(self, storage: RedisSyncedStorage | None = None) -> None:
        self._storage = storage

    def state_change(
        self,
        cb: pybreaker.CircuitBreaker,
        old_state: pybreaker.CircuitBreakerState | None,
        new_state: pybreaker.CircuitBreakerState,
    ) -> None:
        adopted = self._storage is not None and self._storage.last_change_adopted
        old = old_state.name if old_state is not None else "none"
        suffix = " (another process's change)" if adopted else ""
        logger.warning(f"orchestrator breaker {old} → {new_state.name}{suffix}")
        VoiceAgentIntegrationMetrics.get().breaker_is(new_state.name)
        if new_state.name == pybreaker.STATE_OPEN and not adopted:
            VoiceAgentIntegrationMetrics.get().breaker_tripped()


def breaker_namespace(settings: VoiceAgentIntegrationConfig) -> str:
    return f"{settings.redis_prefix}:breaker:orchestrator"


def new_orchestrator_breaker(
    settings: VoiceAgentIntegrationConfig, storage: RedisSyncedStorage | None = None
) -> pybreaker.CircuitBreaker:
    """A new orchestrator breaker (on `storage`, or a new one for `settings`); no I/O."""
    if storage is None:
        storage = RedisSyncedStorage(settings.redis_url, breaker_namespace(settings))
    # A new storage starts closed; a state another process set arrives as a change.
    VoiceAgentIntegrationMetrics.get().breaker_is(pybreaker.STATE_CLOSED)
    return pybreaker.CircuitBreaker(
        fail_max=settings.circuit_breaker.fail_max,
        reset_timeout=settings.circuit_breaker.reset_timeout_s,
        state_storage=storage,
        listeners=[_TripCounter(storage)],
        name="orchestrator",
    )


_breaker: pybreaker.CircuitBreaker | None = None


def orchestrator_breaker(settings: VoiceAgentIntegrationConfig) -> pybreaker.CircuitBreaker:
    """One breaker per process, its state shared through Redis by every session.

    The first caller's settings make it; later calls return the same breaker.
    """
    global _breaker
    if _breaker is None:
        _breaker = new_orchestrator_breaker(settings)
    return _breaker

"""A warm pool of `CallSessionActor`s, kept by each ingress replica.

Answering a call must never wait for a process to start and load speech models, so
each replica keeps actors started and warmed: as many as `PoolSizing` expects the next
calls to need, between a floor and a ceiling, started several at a time. The voice
webhook `reserve`s one for its call (waiting about a second at most, else the call is
answered busy); the call's stream then `take`s it. A stream with no reservation here
(a resumed call, a text call, or a webhook answered by another replica) takes any free
warm actor, and only when there is none starts one cold.

An actor whose call has ended comes back (`recycle`): it clears what the call left,
builds fresh speech engines (tens of milliseconds, the models are loaded) and waits
in line for a next call, so a steady stream of calls costs no process starts.
It is replaced after `session_max_calls` calls or beyond `session_max_rss_mb`, and
actors beyond the target are stopped once they have waited `SURPLUS_IDLE_S`.

Actors are owned by the replica that made them: should it die, Ray reaps the actors
with it, and Twilio reconnects their calls (through `<Connect action>`) to another
replica, which resumes each on an actor of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import ray
from loguru import logger
from ray.actor import ActorHandle
from ray.serve.handle import DeploymentHandle

from actors.pool_sizing import PoolSizing
from actors.session import CallSessionActor
from switchboard.logging_setup import LogFormat
from switchboard.settings import PerformanceSettings, VoiceAgentIntegrationConfig

# A reservation not taken by a stream within this is given back: Twilio opens the
# stream within a second or two of the webhook's answer, or the call never came.
RESERVATION_TTL_S = 30.0
# After a failed start, before trying again (a full node, a broken runtime_env).
RETRY_AFTER_FAILURE_S = 2.0
# An actor beyond the target is stopped only once it has waited this long: one whose
# call just ended is likely to be taken by the next arrival.
SURPLUS_IDLE_S = 120.0
# How long an actor may take to make itself ready again after a call.
RECYCLE_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class PooledSession:
    name: str
    handle: ActorHandle
    warm: bool
    idle_since: float = field(default_factory=time.monotonic)


@dataclass
class _Reservation:
    session: PooledSession
    until: float


class SessionPool:
    """Keeps warm session actors ready for the next calls, sized to their arrival."""

    def __init__(
        self,
        *,
        performance: Callable[[], PerformanceSettings],
        namespace: str,
        num_cpus: float,
        orchestrator: DeploymentHandle | None = None,
        budget: DeploymentHandle | None = None,
        memory_mb: int = 0,
        log_format: LogFormat | None = None,
        settings: VoiceAgentIntegrationConfig | None = None,
    ) -> None:
        # Read on every decision, so a live change of the bounds applies at once.
        self._performance = performance
        self._orchestrator = orchestrator
        self._budget = budget
        self._namespace = namespace
        self._num_cpus = num_cpus
        self._memory_mb = memory_mb
        self._log_format = log_format
        # Handed to every actor: the call's registry, checkpoints and stores must be the
        # ingress's, wherever in the cluster the actor lands.
        self._settings = settings
        self.sizing = PoolSizing()
        self._ready: list[PooledSession] = []
        self._reserved: dict[str, _Reservation] = {}
        self._starting = 0
        self._starts: set[asyncio.Task] = set()
        self._changed = asyncio.Condition()
        self._refill_task: asyncio.Task | None = None
        self.spawned = 0
        self.cold_starts = 0
        self.recycled = 0

    def start(self) -> None:
        self._refill_task = asyncio.get_running_loop().create_task(self._refill_forever())

    @property
    def enabled(self) -> bool:
        """False with a floor of 0: every call starts its actor cold (a benchmark's
        comparison), and none is ever refused for want of a warm one."""
        return self._performance().warm_pool_size > 0

    @property
    def refilling(self) -> bool:
        """False if the refill loop stopped (a bug): the replica is then unhealthy."""
        return self._refill_task is not None and not self._refill_task.done()

    @property
    def ready_count(self) -> int:
        return len(self._ready)

    @property
    def target(self) -> int:
        performance = self._performance()
        return self.sizing.target(performance.warm_pool_size, performance.warm_pool_max)

    def stats(self) -> dict:
        return {
            "warm": len(self._ready),
            "reserved": len(self._reserved),
            "starting": self._starting,
            "target": self.target,
            "sessions_spawned": self.spawned,
            "cold_starts": self.cold_starts,
            "sessions_recycled": self.recycled,
            "start_s": round(self.sizing.start_s, 2),
        }

    async def first_warm(self, timeout_s: float) -> bool:
        """Wait until one actor is warm (at once without a pool); False on timeout."""
        if not self.enabled:
            return True
        async with self._changed:
            try:
                await asyncio.wait_for(
                    self._changed.wait_for(lambda: bool(self._ready)), timeout_s
                )
            except TimeoutError:
                return False
        return True

    async def reserve(self, call_sid: str, wait_s: float) -> bool:
        """Set a warm actor aside for `call_sid`'s stream; wait up to `wait_s` for one.
        False: none could be had (the caller is to be answered busy)."""
        if call_sid in self._reserved:
            return True  # Twilio retried the webhook
        self.sizing.arrived()
        deadline = time.monotonic() + wait_s
        async with self._changed:
            self._changed.notify_all()  # the refill loop sees the new target
            while not self._ready:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                try:
                    await asyncio.wait_for(self._changed.wait(), remaining)
                except TimeoutError:
                    return False
            session = self._ready.pop(0)
        self._reserved[call_sid] = _Reservation(session, time.monotonic() + RESERVATION_TTL_S)
        return True

    def release(self, call_sid: str) -> None:
        """The call set an actor aside and will never take it: back to the pool."""
        reservation = self._reserved.pop(call_sid, None)
        if reservation is not None:
            self._ready.append(reservation.session)

    async def take(self, call_sid: str) -> PooledSession:
        """The actor reserved for `call_sid`, else a free warm one, else a new one
        started cold."""
        reservation = self._reserved.pop(call_sid, None)
        if reservation is not None:
            return reservation.session
        self.sizing.arrived()
        async with self._changed:
            self._changed.notify_all()
            if self._ready:
                return self._ready.pop(0)
        if self.enabled:
            logger.warning(f"call {call_sid}: no warm session actor free, starting one cold")
        self.cold_starts += 1
        return self._spawn()

    async def recycle(self, name: str, handle: ActorHandle) -> bool:
        """An actor whose call has ended and been drained: ready again for the next
        call, or stopped (it has served its share or grown too big, or the pool is at
        its ceiling). Its next caller is spared a process start: seconds of CPU."""
        performance = self._performance()
        if not self.enabled or len(self._ready) + self._starting >= performance.warm_pool_max:
            _stop(handle)
            return False
        try:
            state = await asyncio.wait_for(handle.recycle.remote(), RECYCLE_TIMEOUT_S)
        except Exception as exc:
            logger.warning(f"session actor {name} could not be made ready again: {exc!r}")
            state = None
        if (
            state is None
            or state["calls_served"] >= performance.session_max_calls
            or state["rss_mb"] > performance.session_max_rss_mb
        ):
            _stop(handle)
            return False
        async with self._changed:
            # Last in line: calls taken one after another go round the warm actors, and
            # so over the nodes they were spread on, not all to one process.
            self._ready.append(PooledSession(name, handle, warm=True))
            self.recycled += 1
            self.sizing.returned()
            self._changed.notify_all()
        return True

    async def close(self) -> None:
        if self._refill_task:
            self._refill_task.cancel()
        for task in self._starts:
            task.cancel()
        spare = self._ready + [r.session for r in self._reserved.values()]
        self._ready, self._reserved = [], {}
        for session in spare:
            session.handle.shutdown.remote()

    def _spawn(self) -> PooledSession:
        name = f"session-{uuid.uuid4().hex[:12]}"
        options: dict = {
            "name": name,
            "namespace": self._namespace,
            "num_cpus": self._num_cpus,
            # Calls spread over the nodes, so a node that dies takes few calls' actors;
            # each of those calls resumes on an actor elsewhere.
            "scheduling_strategy": "SPREAD",
        }
        if self._memory_mb:
            options["memory"] = self._memory_mb * 1024 * 1024
        handle = CallSessionActor.options(**options).remote(
            name, self._orchestrator, self._budget, self._log_format, self._settings
        )
        self.spawned += 1
        return PooledSession(name, handle, warm=False)

    async def _refill_forever(self) -> None:
        while True:
            self._expire_reservations()
            self._shed_surplus()
            # Starts run side by side, a few at a time: on a small machine more would
            # only slow each other and the live calls.
            concurrent = self._performance().warm_pool_concurrent_starts
            while len(self._ready) + self._starting < self.target and self._starting < concurrent:
                self._starting += 1
                task = asyncio.get_running_loop().create_task(self._start_one())
                self._starts.add(task)
                task.add_done_callback(self._starts.discard)
            async with self._changed:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), 1.0)

    async def _start_one(self) -> None:
        started = time.monotonic()
        warm: PooledSession | None = None
        try:
            session = self._spawn()
            await session.handle.warm.remote()
            self.sizing.started(time.monotonic() - started)
            warm = PooledSession(session.name, session.handle, warm=True)
        except Exception as exc:
            logger.error(f"a session actor failed to start: {exc!r}")
            await asyncio.sleep(RETRY_AFTER_FAILURE_S)
        finally:
            async with self._changed:
                self._starting -= 1
                if warm is not None:
                    self._ready.append(warm)
                self._changed.notify_all()

    def _expire_reservations(self) -> None:
        now = time.monotonic()
        for call_sid, reservation in list(self._reserved.items()):
            if reservation.until < now:
                self.release(call_sid)  # never used: still warm

    def _shed_surplus(self) -> None:
        """Stop the actors beyond the ceiling, and after a burst those beyond the target
        that have waited long (each holds its memory), the longest waiting first."""
        ceiling = self._performance().warm_pool_max
        for session in surplus(self._ready, self.target, ceiling, time.monotonic()):
            self._ready.remove(session)
            session.handle.shutdown.remote()


def surplus(
    ready: list[PooledSession], target: int, ceiling: int, now: float
) -> list[PooledSession]:
    """The warm actors to stop: any beyond the ceiling, and beyond the target those
    that have waited `SURPLUS_IDLE_S`; the longest waiting first."""
    by_wait = sorted(ready, key=lambda s: s.idle_since)
    waited = sum(1 for s in by_wait if now - s.idle_since >= SURPLUS_IDLE_S)
    over_target, over_ceiling = len(ready) - target, len(ready) - ceiling
    return by_wait[: max(over_ceiling, min(over_target, waited), 0)]


def _stop(handle: ActorHandle) -> None:
    with contextlib.suppress(Exception):
        ray.kill(handle, no_restart=True)

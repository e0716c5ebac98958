"""A warm pool of `CallSessionActor`s, kept by each ingress replica.

Answering a call must never wait for a process to start and load speech models, so
each replica keeps a few actors started and warmed; `take` hands one out at once and
the pool refills in the background. Actors are owned by the replica that made them:
should it die, Ray reaps the actors with it, and Twilio reconnects their calls (through
`<Connect action>`) to another replica, which resumes each on an actor of its own.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass

from loguru import logger
from ray.actor import ActorHandle
from ray.serve.handle import DeploymentHandle

from actors.session import CallSessionActor
from switchboard.logging_setup import LogFormat
from switchboard.settings import VoiceAgentIntegrationConfig


@dataclass(frozen=True)
class PooledSession:
    name: str
    handle: ActorHandle
    warm: bool


class SessionPool:
    """Keeps `size` warm session actors ready for the next calls."""

    def __init__(
        self,
        *,
        size: int,
        namespace: str,
        num_cpus: float,
        orchestrator: DeploymentHandle | None = None,
        budget: DeploymentHandle | None = None,
        memory_mb: int = 0,
        log_format: LogFormat | None = None,
        settings: VoiceAgentIntegrationConfig | None = None,
    ) -> None:
        self._orchestrator = orchestrator
        self._budget = budget
        self._size = size
        self._namespace = namespace
        self._num_cpus = num_cpus
        self._memory_mb = memory_mb
        self._log_format = log_format
        # Handed to every actor: the call's registry, checkpoints and stores must be the
        # ingress's, wherever in the cluster the actor lands.
        self._settings = settings
        self._ready: asyncio.Queue[PooledSession] = asyncio.Queue()
        self._refill_needed = asyncio.Event()
        self._refill_task: asyncio.Task | None = None
        self.warm_ms: list[float] = []
        self.spawned = 0

    def start(self) -> None:
        self._refill_needed.set()
        self._refill_task = asyncio.get_running_loop().create_task(self._refill_forever())

    @property
    def size(self) -> int:
        return self._size

    @property
    def ready_count(self) -> int:
        return self._ready.qsize()

    async def take(self) -> PooledSession:
        """A warm actor if one is ready, else a new one (a cold start)."""
        self._refill_needed.set()
        try:
            return self._ready.get_nowait()
        except asyncio.QueueEmpty:
            logger.warning("session pool empty: starting an actor cold")
            session = self._spawn()
            return PooledSession(session.name, session.handle, warm=False)

    async def close(self) -> None:
        if self._refill_task:
            self._refill_task.cancel()
        while not self._ready.empty():
            session = self._ready.get_nowait()
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
            await self._refill_needed.wait()
            self._refill_needed.clear()
            while self._ready.qsize() < self._size:
                session = self._spawn()
                try:
                    info = await session.handle.warm.remote()
                except Exception as exc:
                    logger.error(f"session actor {session.name} failed to warm: {exc}")
                    await asyncio.sleep(2.0)
                    continue
                self.warm_ms.append(info["warm_ms"])
                await self._ready.put(PooledSession(session.name, session.handle, warm=True))

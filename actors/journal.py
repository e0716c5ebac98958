"""A call's journal: everything its record must show, and its checkpoints, written to
Redis in order, in the background, fenced by the call's generation.

The session mirrors each change on its `CallSession` at once and queues the write;
one writer task appends the queued events to the outbox (`FencedOutbox`) and saves the
latest checkpoint, in the order they happened. No caller turn ever waits for Redis:
while Redis is away the queue grows, every failed attempt is counted in the state-sync
metric, and the writer retries with backoff until Redis is back. A write refused by
the fence means another actor has taken the call over: the journal stops for good and
tells the session (`on_stale`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable

from redis.exceptions import RedisError

from actors.checkpoint import SessionCheckpoint, SessionCheckpoints, WirePosition
from actors.conversation import TurnOutcome
from actors.registry import Fence
from actors.responder import ResponderView
from db.outbox import FencedOutbox, StaleWriter
from switchboard.metrics import VoiceAgentIntegrationMetrics
from switchboard.models import CallSession, FollowUp, TurnRecord

logger = logging.getLogger("ray")

RETRY_FIRST_S = 0.2
RETRY_MAX_S = 2.0

Write = Callable[[], Awaitable[object]]


class CallJournal:
    """The ordered, retried, fenced writes of one call's record and checkpoints."""

    def __init__(
        self,
        outbox: FencedOutbox,
        checkpoints: SessionCheckpoints,
        fence: Fence,
        session: CallSession,
        *,
        on_stale: Callable[[], None],
        on_checkpointed: Callable[[WirePosition], None] | None = None,
    ) -> None:
        self._outbox = outbox
        self._checkpoints = checkpoints
        self._fence = fence
        self._session = session
        self._on_stale = on_stale
        self._on_checkpointed = on_checkpointed
        self._queue: deque[Write] = deque()
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._latest: SessionCheckpoint | None = None
        self._latest_version = 0
        self._saved_version = 0
        self.stale = False
        self._closed = False
        self.failed_writes = 0
        self._writer = asyncio.get_running_loop().create_task(self._write_forever())

    # What happened on the call (each returns at once; the write is queued)

    def started(self) -> None:
        self._enqueue(lambda: self._outbox.call_started(self._session))

    def turn(self, outcome: TurnOutcome, *, fallback: bool) -> None:
        session = self._session
        session.turns_taken = outcome.turn
        if fallback:
            session.fallback_turns += 1
        record = TurnRecord(
            seq=outcome.turn,
            user_text=outcome.event.describe(),
            agent_text=" ".join(outcome.reply.sentences),
            agent=outcome.reply.agent,
            latency_ms=outcome.latency_ms,
            fallback=fallback,
        )
        self._enqueue(lambda: self._outbox.turn(session.call_sid, record))

    def progress(self, view: ResponderView) -> None:
        """Transitions and facts after a step of the responder."""
        session = self._session
        for transition in view.new_transitions:
            session.agent_transition_history.append(transition)
            seq = len(session.agent_transition_history)
            self._enqueue(
                lambda seq=seq, t=transition: self._outbox.transition(session.call_sid, seq, t)
            )
        session.current_agent = view.current_agent
        snapshot = {
            "current_agent": view.current_agent,
            "facts": view.facts.model_copy(),
            "qualification_score": view.qualification_score,
            "outcome": view.outcome,
            "tier": session.tier,
        }
        self._enqueue(lambda: self._outbox.call_updated(session.call_sid, **snapshot))

    async def error(self, message: str) -> None:
        """An error line of the record (awaitable for callers that expect it; never waits)."""
        self._session.errors.append(message)
        self._enqueue(lambda: self._outbox.error(self._session.call_sid, message))

    def follow_up(self, record: FollowUp) -> None:
        """What the caller was promised after the call, and how far it got."""
        session = self._session
        session.follow_up = record.model_copy()
        self._enqueue(lambda: self._outbox.follow_up(session.call_sid, record))

    def opted_out(self) -> None:
        """The caller asked never to be called again: the number goes on the list."""
        session = self._session
        self._enqueue(lambda: self._outbox.do_not_call(session.from_number, session.call_sid))

    def ended(
        self, view: ResponderView, *, cost_usd: float, cost_breakdown: dict[str, float]
    ) -> None:
        session = self._session.model_copy(deep=True)
        self._enqueue(
            lambda: self._outbox.call_ended(
                session,
                facts=view.facts,
                qualification_score=view.qualification_score,
                cost_usd=cost_usd,
                cost_breakdown=cost_breakdown,
            )
        )

    def checkpoint(self, checkpoint: SessionCheckpoint) -> None:
        """Save `checkpoint` after what is queued; a newer one replaces one not yet saved."""
        self._latest = checkpoint.model_copy(deep=True)
        self._latest_version += 1
        self._enqueue(self._save_latest)

    # Waiting

    async def flush(self, timeout_s: float) -> bool:
        """Wait until everything queued is written; False if that took longer."""
        try:
            async with asyncio.timeout(timeout_s):
                await self._idle.wait()
        except TimeoutError:
            return False
        return not self.stale

    async def close(self) -> None:
        self._closed = True
        self._writer.cancel()
        # redis-py can swallow a cancel that lands inside a command (it becomes a
        # ConnectionError its retry absorbs): the flag stops the writer then, and
        # closing never waits on it for long.
        with contextlib.suppress(asyncio.CancelledError, TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._writer), 1.0)

    @property
    def pending(self) -> int:
        return len(self._queue)

    # The writer

    def _enqueue(self, write: Write) -> None:
        if self.stale:
            return
        self._queue.append(write)
        self._idle.clear()
        self._wake.set()

    async def _save_latest(self) -> None:
        version, checkpoint = self._latest_version, self._latest
        if checkpoint is None or version <= self._saved_version:
            return  # a newer checkpoint was already saved
        await self._checkpoints.save(checkpoint, self._fence)
        self._saved_version = version
        if self._on_checkpointed is not None:
            self._on_checkpointed(checkpoint.wire)

    async def _write_forever(self) -> None:
        delay = RETRY_FIRST_S
        while not self._closed:
            await self._wake.wait()
            self._wake.clear()
            while self._queue and not self._closed:
                try:
                    await self._queue[0]()
                except StaleWriter:
                    self._become_stale()
                    return
                except (RedisError, OSError) as exc:
                    self.failed_writes += 1
                    VoiceAgentIntegrationMetrics.get().state_sync_failed("session")
                    logger.warning(
                        f"call {self._session.call_sid}: write failed ({exc!r}); "
                        f"{len(self._queue)} waiting, retrying in {delay:.1f} s"
                    )
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, RETRY_MAX_S)
                    continue
                self._queue.popleft()
                delay = RETRY_FIRST_S
            self._idle.set()

    def _become_stale(self) -> None:
        logger.warning(
            f"call {self._session.call_sid}: generation {self._fence.generation} was taken "
            "over; this actor writes nothing more"
        )
        self.stale = True
        self._queue.clear()
        self._idle.set()
        self._on_stale()

"""`CallSessionActor`: one Ray actor per call, running that call's Pipecat pipeline.

An actor is created warm (speech engines loaded) by the pool, anonymous until a call
takes it. `start_call` binds it to a CallSid in the call registry and starts the
pipeline; the ingress then pumps the peer's messages in with `deliver` and drains
the pipeline's messages with `collect`. When the call ends, however it ends, the
record is closed through the outbox and the actor exits within seconds.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from dataclasses import dataclass

import ray
import redis.asyncio as aioredis
from pipecat.frames.frames import EndFrame, OutputTransportMessageFrame
from pipecat.pipeline.worker import PipelineWorker
from pipecat.workers.runner import WorkerRunner
from ray.serve.handle import DeploymentHandle

from actors.call_control import CallControl
from actors.checkpoint import SessionCheckpoints
from actors.conversation import CallEnd, ConversationProcessor, TurnOutcome
from actors.direct_path import DirectResponder
from actors.journal import CallJournal
from actors.orchestrated_path import OrchestratedResponder
from actors.pipeline import SpeechEngines, build_call_worker, make_vad
from actors.registry import CallRegistry
from actors.responder import TurnResponder
from actors.text_serializer import TextStreamSerializer
from actors.tiering import CallTiering
from actors.transport import CallLink
from actors.twilio_serializer import CallSerializer, mark_message
from actors.usage import CallUsage
from db.outbox import Outbox
from graph.script import all_prompts
from switchboard.models import CallMode, CallSession, CallStatus, Direction, Outcome, Tier
from switchboard.redis_client import connect as connect_redis
from switchboard.settings import get_settings

# Stdlib logging: Ray pickles this class by value, and a loguru logger cannot be pickled.
logger = logging.getLogger("ray")

# An ingress that has not pulled for this long is gone (its replica died): the
# caller's socket went with it, so the call is over.
ORPHAN_AFTER_S = 20.0
# After the call ends, how long the ingress has to drain the last messages.
DRAIN_GRACE_S = 3.0
WARM_HANDLE_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class CallStart:
    """What the ingress knows when a call's stream starts."""

    call_sid: str
    mode: CallMode
    direction: Direction = "inbound"
    from_number: str = ""
    to_number: str = ""
    stream_sid: str | None = None
    answered_by: str | None = None


def _rss_mb() -> float:
    with open(f"/proc/{os.getpid()}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


@ray.remote(max_restarts=0, max_task_retries=0)
class CallSessionActor:
    """Serves exactly one call, then exits."""

    def __init__(
        self,
        name: str,
        orchestrator: DeploymentHandle | None = None,
        budget: DeploymentHandle | None = None,
    ) -> None:
        self._name = name
        self._orchestrator = orchestrator
        self._budget = budget
        self._settings = get_settings()
        self._engines: SpeechEngines | None = None
        self._link = CallLink()
        self._session: CallSession | None = None
        self._worker: PipelineWorker | None = None
        self._run_task: asyncio.Task | None = None
        self._watch_task: asyncio.Task | None = None
        self._responder: TurnResponder | None = None
        self._tiering: CallTiering | None = None
        self._usage = CallUsage()
        self._ended = asyncio.Event()
        self._redis: aioredis.Redis | None = None

    # Lifecycle

    async def warm(self) -> dict:
        """Load the speech engines so that a call never waits for them."""
        from actors.speech.factory import make_stt, make_tts

        started = time.perf_counter()
        speech = self._settings.speech
        self._engines = SpeechEngines(
            vad=make_vad(),
            stt=make_stt(speech, prompts=all_prompts(self._settings)),
            tts=make_tts(speech, sample_rate=8000),
        )
        await self._warm_handles()
        return {
            "name": self._name,
            "pid": os.getpid(),
            "warm_ms": round((time.perf_counter() - started) * 1000, 1),
            "rss_mb": round(_rss_mb(), 1),
        }

    async def _warm_handles(self) -> None:
        """One cheap request through each deployment handle: a handle's first request
        sets up its router, which takes about a second of this actor's event loop, and
        must not happen while a caller waits for the greeting."""
        for handle in (self._orchestrator, self._budget):
            if handle is None:
                continue
            try:
                await asyncio.wait_for(handle.check_health.remote(), WARM_HANDLE_TIMEOUT_S)
            except Exception as exc:  # the deployment may still be starting: warm anyway
                logger.warning(f"{self._name}: could not warm a handle: {exc!r}")

    async def info(self) -> dict:
        return {
            "name": self._name,
            "pid": os.getpid(),
            "rss_mb": round(_rss_mb(), 1),
            "call_sid": self._session.call_sid if self._session else None,
        }

    async def start_call(self, start: CallStart) -> None:
        if self._session is not None:
            raise RuntimeError(f"session {self._name} already serves a call")
        settings = self._settings
        prefix = settings.redis_prefix
        ttl = settings.performance.session_ttl_s
        self._redis = connect_redis(settings.redis_url)
        self._session = session = CallSession(
            call_sid=start.call_sid,
            stream_sid=start.stream_sid,
            mode=start.mode,
            direction=start.direction,
            from_number=start.from_number,
            to_number=start.to_number,
            answered_by=start.answered_by,
            workflow_context_id=f"{prefix}:thread:{start.call_sid}",
            integration_enabled=settings.agent_integration.enabled,
        )
        self._registry = CallRegistry(self._redis, prefix, ttl)
        self._checkpoints = SessionCheckpoints(self._redis, prefix, ttl)
        self._journal = CallJournal(Outbox(self._redis, prefix), session)
        self._call_control = CallControl.from_settings(settings)
        self._tiering = CallTiering(
            self._budget, session, self._usage, settings, on_error=self._journal.error
        )
        if self._orchestrator is not None and settings.agent_integration.enabled:
            self._responder = OrchestratedResponder(
                settings, session, self._orchestrator, usage=self._usage
            )
        else:
            self._responder = DirectResponder(settings, session)

        if start.mode == "audio":
            assert start.stream_sid is not None
            stream_sid = start.stream_sid
            serializer = CallSerializer(stream_sid, start.call_sid)

            def turn_end(name: str) -> dict:
                return mark_message(stream_sid, name)

            engines = self._engines
            if engines is None:
                await self.warm()
                engines = self._engines
        else:
            serializer = TextStreamSerializer(start.call_sid)

            def turn_end(name: str) -> dict:
                return {"event": "turn_end"}

            engines = None

        conversation = ConversationProcessor(
            responder=self._responder,
            usage=self._usage,
            mode=start.mode,
            turn_end_message=turn_end,
            on_turn=self._on_turn,
            on_agent_ends_call=self._on_agent_ends_call,
            on_caller_hangup=self._on_caller_hangup,
            reprompt_after_s=settings.agent_integration.reprompt_after_s,
            speaks_first=start.direction == "inbound",
        )
        self._worker, transport = build_call_worker(
            link=self._link,
            serializer=serializer,
            conversation=conversation,
            engines=engines,
            enable_metrics=settings.monitoring.metrics_enabled,
        )

        @transport.event_handler("on_peer_gone")
        async def _on_peer_gone(_transport) -> None:
            await self._on_caller_hangup()

        await self._registry.bind(
            start.call_sid,
            self._name,
            node=ray.get_runtime_context().get_node_id(),
            pid=os.getpid(),
        )
        await self._journal.started()
        # A warm actor may have waited in the pool for longer than ORPHAN_AFTER_S: the
        # ingress's silence is counted from now, not from when the actor was made.
        self._link.touch()
        self._run_task = asyncio.create_task(self._run())
        self._watch_task = asyncio.create_task(self._watch_ingress())
        logger.info(f"{self._name} took call {start.call_sid} ({start.mode}, {start.direction})")

    async def deliver(self, messages: list[str]) -> None:
        """Messages from the peer, in order."""
        self._link.deliver(messages)

    async def collect(self, max_wait_s: float = 0.5) -> list[str] | None:
        """Messages for the peer; None when the call is over and nothing is left."""
        messages = await self._link.collect(max_wait_s)
        if messages is None:
            # The ingress has everything: nothing keeps this actor any longer.
            asyncio.get_running_loop().call_later(0.1, self._exit_now)
        return messages

    async def peer_gone(self) -> None:
        """The ingress lost the peer's socket."""
        self._link.peer_gone()

    async def apply_tier(self, tier: Tier) -> None:
        """The budget changed this call's tier (an admin forced or revoked premium)."""
        if self._tiering is not None:
            self._tiering.apply(tier)

    async def shutdown(self) -> None:
        ray.actor.exit_actor()

    # The call

    async def _run(self) -> None:
        assert self._worker is not None and self._session is not None
        runner = WorkerRunner(handle_sigint=False, check_dangling_tasks=False)
        await runner.add_workers(self._worker)
        try:
            await runner.run()
        except Exception as exc:  # the record must still be closed
            logger.exception(f"{self._name}: pipeline failed")
            await self._journal.error(f"pipeline failed: {exc}")
        finally:
            await self._finish()

    async def _on_turn(self, outcome: TurnOutcome) -> None:
        assert self._session is not None and self._responder is not None
        fallback = getattr(self._responder, "last_turn_fallback", False)
        await self._journal.turn(outcome, fallback=fallback)
        view = self._responder.view()
        await self._journal.progress(view)
        await self._checkpoints.save(self._session, self._responder.snapshot())
        assert self._tiering is not None
        self._tiering.after_turn(view)

    async def _on_agent_ends_call(self, end: CallEnd) -> None:
        assert self._session is not None and self._worker is not None
        assert self._responder is not None
        session = self._session
        await self._journal.progress(self._responder.view())
        if session.mode == "audio":
            try:
                if end.transfer and self._settings.transfer_number:
                    await self._call_control.transfer(
                        session.call_sid, self._settings.transfer_number
                    )
                else:
                    await self._call_control.hang_up(session.call_sid)
            except Exception as exc:
                logger.error(f"{self._name}: call control failed: {exc}")
                await self._journal.error(f"call control failed: {exc}")
            await self._worker.queue_frame(EndFrame())
        else:
            await self._worker.queue_frames(
                [
                    OutputTransportMessageFrame(message={"event": "hangup", "reason": end.reason}),
                    EndFrame(),
                ]
            )

    async def _on_caller_hangup(self) -> None:
        if self._worker is not None and not self._ended.is_set():
            await self._worker.cancel(reason="caller hung up")

    async def _watch_ingress(self) -> None:
        while not self._ended.is_set():
            await asyncio.sleep(1.0)
            if time.monotonic() - self._link.last_contact > ORPHAN_AFTER_S:
                logger.warning(f"{self._name}: ingress gone, ending the call")
                self._link.peer_gone()
                return

    async def _finish(self) -> None:
        session = self._session
        assert session is not None and self._responder is not None
        if self._ended.is_set():
            return
        self._ended.set()
        session.status = CallStatus.COMPLETED
        session.outcome = self._responder.final_outcome()
        assert self._tiering is not None
        try:
            cost_usd, cost_breakdown = await self._tiering.close()
            # Listed before the record is final, so a final record implies the listing.
            if session.outcome == Outcome.OPTED_OUT and session.from_number:
                await self._journal.opted_out()
            await self._journal.ended(
                self._responder.view(), cost_usd=cost_usd, cost_breakdown=cost_breakdown
            )
            await self._registry.release(session.call_sid)
            await self._checkpoints.delete(session.call_sid)
        except Exception:
            logger.exception(f"{self._name}: could not close the record of {session.call_sid}")
        # Only now may the ingress close the socket and let this actor go.
        self._link.close()
        logger.info(f"{self._name}: call {session.call_sid} ended: {session.outcome}")
        asyncio.get_running_loop().call_later(DRAIN_GRACE_S, self._exit_now)

    def _exit_now(self) -> None:
        # Give the ingress time to drain; then leave even if it never did.
        ray.get_runtime_context().current_actor.shutdown.remote()

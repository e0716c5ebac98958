"""`CallSessionActor`: one Ray actor per call, running that call's Pipecat pipeline.

An actor is created warm (speech engines loaded) by the pool, anonymous until a call
takes it. The ingress claims the call in the registry (or takes it over, with a new
generation, when the call moves here after a failure) and hands it to the actor with
`start_call`; it then pumps the peer's messages in with `deliver` and drains the
pipeline's messages with `collect`.

A call taken over (`Resume`) is restored from its last checkpoint: the `CallSession`,
the conversation (the agents' LangGraph thread simply continues), where the wire
stood, and the usage and tier the budget already has. The caller's messages the
ingress kept since that checkpoint are replayed into the pipeline, and the
conversation picks up as its `ResumePlan` says.

A caller who agrees to be sent a link gets it by text from here (`_start_follow_up`, a
task of its own so the conversation never waits on Twilio beyond the goodbye): once per
call however often the turn is replayed (`actors.follow_up`), recorded as it goes
(`pending`, then `sent` or `failed`), and settled before the record is closed.

Everything the actor writes (record, checkpoints, heartbeats) is fenced by the call's
generation: once another actor has taken the call over, this one stops at its next
write or heartbeat, without touching the record. When the call ends, however it ends,
the record is closed through the outbox. The ingress then `recycle`s the actor (its
pool gives it the next call, with fresh per-call state and speech engines) or kills
it; an actor that neither happens to within seconds exits by itself.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import ray
import redis.asyncio as aioredis
from opentelemetry import context as otel_context
from opentelemetry import trace as otel_trace
from opentelemetry.trace import Span
from pipecat.frames.frames import EndFrame, OutputTransportMessageFrame
from pipecat.pipeline.worker import PipelineWorker
from pipecat.workers.runner import WorkerRunner
from ray.serve.handle import DeploymentHandle
from redis.exceptions import RedisError

from actors.call_control import CallControl
from actors.checkpoint import SessionCheckpoint, SessionCheckpoints, WirePosition
from actors.conversation import (
    CallEnd,
    ConversationProcessor,
    Numbering,
    ResumePlan,
    TurnOutcome,
)
from actors.direct_path import DirectResponder
from actors.follow_up import FollowUpSender
from actors.journal import CallJournal
from actors.messaging import MESSAGE_TIMEOUT_S, Messaging, MessagingError
from actors.orchestrated_path import OrchestratedResponder
from actors.pipeline import SpeechEngines, build_call_worker, make_vad
from actors.registry import CallRegistry
from actors.text_serializer import TextStreamSerializer
from actors.tiering import CallTiering
from actors.transport import CallLink, Outbound
from actors.turn_ends import audio_turn_end, text_turn_end
from actors.twilio_serializer import CallSerializer
from actors.usage import CallUsage
from db.outbox import FencedOutbox
from graph.workflow.script import all_prompts
from switchboard import tracing
from switchboard.app_version import app_version
from switchboard.live_config import CallConfig, call_settings_or_base
from switchboard.live_config_store import LiveConfigStore
from switchboard.logging_setup import LogFormat, bind_process_call, setup_session_logging
from switchboard.metrics import VoiceAgentIntegrationMetrics
from switchboard.models import (
    CallMode,
    CallSession,
    CallStatus,
    Direction,
    FollowUp,
    FollowUpKind,
    FollowUpStatus,
    Outcome,
    Tier,
)
from switchboard.redis_client import connect as connect_redis
from switchboard.settings import VoiceAgentIntegrationConfig, get_settings

if TYPE_CHECKING:
    from graph.llm import TieredLLM

# Stdlib logging: Ray pickles this class by value, and a loguru logger cannot be pickled.
logger = logging.getLogger("ray")

# An ingress that has not pulled for this long is gone (its replica died or hangs): the
# call waits to be resumed on a new stream, as when its socket closed without `stop`.
ORPHAN_AFTER_S = 10.0
# After the call ends, how long the ingress has to drain the last messages.
DRAIN_GRACE_S = 3.0
WARM_HANDLE_TIMEOUT_S = 10.0
# How long the tasks of an ended call may take to stop before the actor serves another.
SETTLE_S = 2.0
# How long the end of a call may wait for Redis to take its last writes.
FINAL_FLUSH_S = 20.0
START_CHECKPOINT_WAIT_S = 1.0
# How long an exiting actor waits for its last spans to be exported.
SPAN_FLUSH_S = 2.0
# A text turn's checkpoint is written before its reply goes out; while Redis is away the
# reply goes out after this anyway, and the checkpoint follows when Redis is back.
TEXT_CHECKPOINT_WAIT_S = 0.25
# How often the actor's event loop notes that it runs (`liveness` reports how long ago).
LOOP_TICK_S = 0.25
# How long the end of a call waits for a follow-up text still being sent (a lookup and a
# send, each bounded by MESSAGE_TIMEOUT_S), so its record says how it ended.
FOLLOW_UP_SETTLE_S = 2 * MESSAGE_TIMEOUT_S + 1.0


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
    # The campaign that dialled the call (its id as text; None: not a campaign's).
    campaign: str | None = None
    # The generation the ingress claimed (1) or took the call over with.
    generation: int = 1
    # The socket the ingress numbers the caller's messages on.
    stream_key: str = ""
    ingress_pid: int = 0
    # The live settings and flags a new call runs on (a resumed call keeps its own).
    config: CallConfig | None = None
    # The W3C trace context of the ingress's span of this call (`switchboard.tracing`);
    # empty when tracing is off. A resumed call keeps its session's.
    trace: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Resume:
    """A call taken over after a failure, as the ingress hands it on."""

    # The caller's messages the ingress kept (index, raw), oldest first.
    replay: list[tuple[int, str]]
    # The last agent reply whose turn end reached the caller; None on a new stream.
    forwarded_reply: int | None
    failure_id: str
    failed: str  # what failed, for the record
    failed_at: float  # wall clock: when the caller was last served


class CallNotResumable(RuntimeError):
    """The call cannot be carried on (no checkpoint, or taken over meanwhile)."""


def _rss_mb() -> float:
    with open(f"/proc/{os.getpid()}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


# `liveness` answers on a thread and event loop of its own, so a call whose loop is only
# late (a busy machine) can be told from one whose actor is hung or lost.
@ray.remote(max_restarts=0, max_task_retries=0, concurrency_groups={"liveness": 1})
class CallSessionActor:
    """Serves one call at a time (a new one, or what is left of one), and between
    calls waits in its ingress's pool."""

    def __init__(
        self,
        name: str,
        orchestrator: DeploymentHandle | None = None,
        budget: DeploymentHandle | None = None,
        log_format: LogFormat | None = None,
        settings: VoiceAgentIntegrationConfig | None = None,
    ) -> None:
        self._name = name
        self._orchestrator = orchestrator
        self._budget = budget
        # The settings of the ingress that made this actor (else the environment's); a
        # call runs on its own live block over them. Not this node's environment: on a
        # cluster the actor may land on a node started with other settings, and a call
        # fenced under another Redis prefix than the ingress's was refused (code 1011).
        self._base_settings = settings or get_settings()
        setup_session_logging(self._base_settings.monitoring.log_level, log_format)
        tracing.setup_tracing("session")
        self._engines: SpeechEngines | None = None
        # One client for every call this actor serves; made on the first.
        self._redis: aioredis.Redis | None = None
        # The direct path's LLM client (with an LLM configured), likewise.
        self._llm: TieredLLM | None = None
        self._calls_served = 0
        self._exit_timer: asyncio.TimerHandle | None = None
        self._exiting = False
        self._loop_ran = time.monotonic()
        self._ticker: asyncio.Task | None = None
        self._new_call_state()

    def _direct_llm(self, settings: VoiceAgentIntegrationConfig) -> TieredLLM | None:
        """The LLM for this call's direct path, as its settings ask for it (models and
        prompt words of its live block or variant), over this actor's one client."""
        if not settings.llm_configured:
            return None
        if self._llm is None:
            # Imported here: a warm actor of a deployment without an LLM never loads it.
            from graph.llm import TieredLLM
            self._llm = TieredLLM(self._base_settings)
        return self._llm.for_settings(settings)

    def _new_call_state(self) -> None:
        """Everything one call owns, empty: before the first call, and between calls."""
        self._settings = self._base_settings
        self._link = CallLink()
        self._session: CallSession | None = None
        self._start: CallStart | None = None
        self._worker: PipelineWorker | None = None
        self._tasks: list[asyncio.Task] = []
        self._responder: OrchestratedResponder | DirectResponder | None = None
        self._tiering: CallTiering | None = None
        self._journal: CallJournal | None = None
        self._usage = CallUsage()
        self._ended = asyncio.Event()
        self._stale = False
        self._detached_task: asyncio.Task | None = None
        self._wire = WirePosition()
        self._failures: list[str] = []
        self._resume: Resume | None = None
        self._recovery_noted = False
        self._follow_up_task: asyncio.Task[FollowUpStatus] | None = None
        self._call_span: Span | None = None

    # Lifecycle

    async def warm(self) -> dict:
        """Load the speech engines so that a call never waits for them."""
        started = time.perf_counter()
        self._keep_ticking()
        self._engines = self._make_engines()
        await self._warm_handles()
        return {
            "name": self._name,
            "pid": os.getpid(),
            "warm_ms": round((time.perf_counter() - started) * 1000, 1),
            "rss_mb": round(_rss_mb(), 1),
        }

    def _make_engines(self) -> SpeechEngines:
        """A call's own VAD, STT and TTS. The first build loads what they share (the
        speech models, the language model); later ones take tens of milliseconds."""
        from actors.speech.factory import make_stt, make_tts

        speech = self._base_settings.speech
        return SpeechEngines(
            vad=make_vad(),
            stt=make_stt(speech, prompts=all_prompts(self._base_settings)),
            tts=make_tts(speech, sample_rate=8000),
        )

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

    def _keep_ticking(self) -> None:
        if self._ticker is None:
            self._ticker = asyncio.get_running_loop().create_task(self._tick_forever())

    async def _tick_forever(self) -> None:
        while True:
            self._loop_ran = time.monotonic()
            await asyncio.sleep(LOOP_TICK_S)

    @ray.method(concurrency_group="liveness")
    async def liveness(self) -> float:
        """Seconds since the calls' event loop last ran. The ingress asks when a call's
        request is past its deadline: an answer means the process is alive, and the
        figure whether its loop is only late or has stopped."""
        return time.monotonic() - self._loop_ran

    async def info(self) -> dict:
        return {
            "name": self._name,
            "pid": os.getpid(),
            "rss_mb": round(_rss_mb(), 1),
            "call_sid": self._session.call_sid if self._session else None,
            "generation": self._start.generation if self._start else None,
        }

    async def start_call(self, start: CallStart, resume: Resume | None = None) -> None:
        """Serve the call `start` describes: a new one, or (`resume`) one taken over."""
        if self._session is not None:
            raise RuntimeError(f"session {self._name} already serves a call")
        self._keep_ticking()
        # This process serves this call only: all it and Pipecat log is about it.
        bind_process_call(start.call_sid)
        settings = self._settings
        prefix, ttl = settings.redis_prefix, settings.performance.session_ttl_s
        if self._redis is None:
            self._redis = connect_redis(settings.redis_url)
        redis = self._redis
        self._registry = registry = CallRegistry(redis, prefix, ttl)
        self._fence = fence = registry.fence(start.call_sid, start.generation)
        self._checkpoints = checkpoints = SessionCheckpoints(redis, prefix, ttl)
        checkpoint = await checkpoints.load(start.call_sid) if resume is not None else None
        if resume is not None and checkpoint is None:
            raise CallNotResumable(f"call {start.call_sid} has no checkpoint to resume from")
        self._start = start
        self._session = session = self._session_for(start, checkpoint)
        self._call_span = self._trace_call(start, session)
        settings = self._settings = call_settings_or_base(
            session.live_settings_ref(), self._base_settings, session.call_sid)
        self._journal = CallJournal(
            FencedOutbox(redis, prefix, fence_key=fence.key, generation=fence.generation),
            checkpoints,
            fence,
            session,
            on_stale=self._superseded,
            on_checkpointed=self._checkpointed,
        )
        self._tiering = CallTiering(
            self._budget,
            session,
            self._usage,
            settings,
            on_error=self._journal.error,
            generation=start.generation,
        )
        if self._orchestrator is not None and session.integration_enabled:
            self._responder = OrchestratedResponder(
                settings,
                session,
                self._orchestrator,
                usage=self._usage,
                kill_switch=LiveConfigStore(redis, prefix, session.app).kill_switch,
                llm=self._direct_llm(settings),
            )
        else:
            self._responder = DirectResponder(settings, session)
        plan: ResumePlan | None = None
        numbering = Numbering()
        if resume is not None and checkpoint is not None:
            self._responder.restore(checkpoint.responder)
            self._failures = list(checkpoint.failures)
            if resume.failure_id not in self._failures:
                self._failures.append(resume.failure_id)
                session.recovered += 1
            numbering, plan = self._pick_up(start, resume, checkpoint)
            await self._tiering.resume(checkpoint.premium_asked_for)
        self._wire = WirePosition(
            turn=numbering.turn, reply=numbering.reply, consumed=numbering.consumed,
            stream=start.stream_key,
        )
        self._link.checkpointed = numbering.consumed
        self._worker = self._build_worker(start, numbering, plan)
        if self._worker.turn_trace_observer is not None:
            # Started here, under this actor's span of the call (the current one), not
            # on the StartFrame, whose task's context Pipecat does not promise.
            self._worker.turn_trace_observer.start_conversation_tracing(start.call_sid)

        alive = await registry.heartbeat(
            fence,
            start.call_sid,
            actor=self._name,
            node=ray.get_runtime_context().get_node_id(),
            pid=os.getpid(),
            ingress_pid=start.ingress_pid,
        )
        if not alive:
            raise CallNotResumable(f"call {start.call_sid} was taken over meanwhile")
        if resume is None:
            self._journal.started()
        else:
            self._resume = resume
            self._replay(resume, numbering.consumed)
            self._tasks.append(asyncio.create_task(self._note_recovery()))
        self._journal.checkpoint(self._checkpoint())
        # A call is resumable from the moment it is taken: its first checkpoint lands
        # before the caller hears anything (a write of about a millisecond).
        await self._journal.flush(START_CHECKPOINT_WAIT_S)
        # A warm actor may have waited in the pool for longer than ORPHAN_AFTER_S: the
        # ingress's silence is counted from now, not from when the actor was made.
        self._link.touch()
        self._tasks += [
            asyncio.create_task(self._run()),
            asyncio.create_task(self._watch_ingress()),
            asyncio.create_task(self._heartbeat_forever()),
        ]
        how = f"resumed ({resume.failed})" if resume else "took"
        logger.info(
            f"{self._name} {how} call {start.call_sid} ({start.mode}, {start.direction}, "
            f"generation {start.generation})"
        )

    def _trace_call(self, start: CallStart, session: CallSession) -> Span | None:
        """This actor's span of the call: under the ingress's span (or, on a stream
        resumed without one, under the first actor's), and current from here on in
        `start_call`, so the tasks it starts (the pipeline, the journal's writer) run
        in it. The call's trace id goes in its record and on every line it logs."""
        span = tracing.start_span(
            "session",
            start.trace or session.trace,
            attributes={"call.sid": start.call_sid, "session.actor": self._name,
                        "call.generation": start.generation},
        )
        if span is not None:
            session.trace_id = session.trace_id or tracing.span_trace_id(span)
            session.trace = session.trace or tracing.inject_span(span)
            otel_context.attach(otel_trace.set_span_in_context(span))
        bind_process_call(start.call_sid, session.trace_id)
        return span

    def _session_for(self, start: CallStart, checkpoint: SessionCheckpoint | None) -> CallSession:
        if checkpoint is not None:
            session = checkpoint.session
            session.stream_sid = start.stream_sid
            return session
        config = start.config or CallConfig(
            integration_enabled=self._settings.agent_integration.enabled,
            app_version=app_version(),
        )
        return CallSession(
            call_sid=start.call_sid,
            stream_sid=start.stream_sid,
            mode=start.mode,
            direction=start.direction,
            from_number=start.from_number,
            to_number=start.to_number,
            answered_by=start.answered_by,
            workflow_context_id=f"{self._settings.redis_prefix}:thread:{start.call_sid}",
            integration_enabled=config.integration_enabled,
            config_version=config.version,
            live_config=config.block,
            flags=config.flags,
            experiment=config.experiment,
            variant=config.variant,
            app=config.app,
            app_version=config.app_version or app_version(),
        )

    def _pick_up(
        self, start: CallStart, resume: Resume, checkpoint: SessionCheckpoint
    ) -> tuple[Numbering, ResumePlan]:
        """Where the conversation resumes, and how the agent picks it up."""
        assert self._responder is not None
        wire = checkpoint.wire
        # Indices number the caller's messages on one socket; a new stream starts over.
        same_stream = wire.stream == start.stream_key
        numbering = Numbering(
            turn=wire.turn, reply=wire.reply, consumed=wire.consumed if same_stream else 0
        )
        heard_all = resume.forwarded_reply is not None and resume.forwarded_reply >= wire.reply
        settle_s = self._settings.recovery.resume_settle_s if start.mode == "audio" else 0.05
        plan = ResumePlan(
            greet=not self._responder.started, bridge=not heard_all, settle_s=settle_s
        )
        return numbering, plan

    def _build_worker(
        self, start: CallStart, numbering: Numbering, plan: ResumePlan | None
    ) -> PipelineWorker:
        assert self._responder is not None
        settings = self._settings
        generation = start.generation
        if start.mode == "audio":
            assert start.stream_sid is not None
            stream_sid = start.stream_sid
            serializer: CallSerializer | TextStreamSerializer = CallSerializer(
                stream_sid, start.call_sid
            )

            def turn_end(reply: int) -> dict:
                return audio_turn_end(stream_sid, reply, generation)

            # A cold actor's caller waits for the engines once. The pipeline owns them
            # from now on (its processors end with the call): the next call gets new ones.
            engines = self._engines or self._make_engines()
            self._engines = None
        else:
            serializer = TextStreamSerializer(start.call_sid)
            turn_end = text_turn_end
            engines = None

        conversation = ConversationProcessor(
            responder=self._responder,
            usage=self._usage,
            mode=start.mode,
            turn_end_message=turn_end,
            on_turn=self._on_turn,
            on_agent_ends_call=self._on_agent_ends_call,
            on_caller_hangup=self._on_caller_hangup,
            on_opened=self._on_opened,
            on_follow_up=self._start_follow_up,
            reprompt_after_s=settings.agent_integration.reprompt_after_s,
            speaks_first=start.direction == "inbound",
            numbering=numbering,
            resume=plan,
        )
        worker, transport = build_call_worker(
            link=self._link,
            serializer=serializer,
            conversation=conversation,
            engines=engines,
            enable_metrics=settings.monitoring.metrics_enabled,
            audio_out_chunk_ms=settings.performance.audio_out_chunk_ms,
            conversation_id=start.call_sid if tracing.enabled() else None,
        )

        @transport.event_handler("on_peer_gone")
        async def _on_peer_gone(_transport) -> None:
            await self._on_caller_hangup()

        return worker

    def _replay(self, resume: Resume, consumed: int) -> None:
        """Feed the pipeline what the caller said since the checkpoint, as fast as it
        takes it: VAD and STT work on the audio, not on the clock."""
        tail = [(index, raw) for index, raw in resume.replay if index > consumed]
        if tail:
            self._link.deliver([raw for _, raw in tail], tail[0][0])
        logger.info(f"{self._name}: replaying {len(tail)} messages after index {consumed}")

    # What the ingress calls

    async def deliver(self, messages: list[str], first_index: int) -> None:
        """Messages from the peer, in order, numbered from `first_index`."""
        self._link.deliver(messages, first_index)

    async def collect(self, max_wait_s: float = 0.5) -> Outbound | None:
        """Messages for the peer; None when the call is over and nothing is left (the
        ingress then kills this actor: it has nothing more to do)."""
        outbound = await self._link.collect(max_wait_s)
        return outbound

    async def peer_gone(self) -> None:
        """The caller hung up (`stop`), or a text-mode socket closed."""
        self._link.peer_gone()

    async def detach(self) -> None:
        """The media stream closed without `stop`: the call may come back on a new stream
        (served by a new actor). Until then it is kept; after the grace period, or when
        Twilio says the call is over, it ends here as a caller hang-up."""
        if self._detached_task is None and not self._ended.is_set():
            grace = self._settings.recovery.resume_grace_s
            logger.info(f"{self._name}: stream lost; waiting up to {grace:g} s for a resume")
            self._detached_task = asyncio.create_task(self._end_after(grace))

    def _serving(self, call_sid: str) -> bool:
        """Whether `call_sid` is the call this actor serves now. A word about a call
        can arrive after the actor was recycled for the next one (a status callback
        racing the end of the call): it must not touch the next call."""
        return self._session is not None and self._session.call_sid == call_sid

    async def twilio_ended(self, call_sid: str, call_status: str) -> None:
        """Twilio's status callback says call `call_sid` is over."""
        if not self._serving(call_sid):
            logger.info(f"{self._name}: Twilio reports {call_sid} {call_status}; "
                        "not this actor's call any more")
            return
        logger.info(f"{self._name}: Twilio reports the call {call_status}")
        self._link.peer_gone()

    async def apply_tier(self, call_sid: str, tier: Tier) -> None:
        """The budget changed the tier of call `call_sid` (an admin forced or revoked
        premium)."""
        if self._serving(call_sid) and self._tiering is not None:
            self._tiering.apply(tier)

    async def recycle(self) -> dict | None:
        """The ingress has drained this actor's ended call: make it ready for another.
        Returns what the pool decides on (calls served, RSS), or None if it cannot
        serve again (its call is still going, or it is leaving)."""
        # The link closes last, once the record is written (`_leave`): before that the
        # call's end is still under way and must not be cut short.
        if self._exiting or (self._session is not None and not self._link.closed):
            return None
        if self._exit_timer is not None:
            self._exit_timer.cancel()
            self._exit_timer = None
        if self._session is not None:
            if not await self._call_settled():
                return None  # the pool stops it
            self._calls_served += 1
            logger.info(f"{self._name}: ready for another call ({self._calls_served} served)")
        bind_process_call(None)
        self._new_call_state()
        if self._engines is None:
            self._engines = self._make_engines()
        return {
            "name": self._name,
            "calls_served": self._calls_served,
            "rss_mb": round(_rss_mb(), 1),
        }

    async def _call_settled(self) -> bool:
        """Wait for the ended call's tasks; False if one will not stop."""
        tasks = [task for task in (*self._tasks, self._detached_task) if task is not None]
        for task in tasks:
            task.cancel()
        if not tasks:
            return True
        _, running = await asyncio.wait(tasks, timeout=SETTLE_S)
        if running:
            logger.warning(f"{self._name}: {len(running)} tasks of the last call did not stop")
        return not running

    async def shutdown(self) -> None:
        # Spans still batched go now: the exit may not give the exporter its turn.
        await asyncio.to_thread(tracing.flush, SPAN_FLUSH_S)
        ray.actor.exit_actor()

    # The call

    async def _run(self) -> None:
        assert self._worker is not None
        runner = WorkerRunner(handle_sigint=False, check_dangling_tasks=False)
        await runner.add_workers(self._worker)
        try:
            await runner.run()
        except Exception as exc:  # the record must still be closed
            logger.exception(f"{self._name}: pipeline failed")
            if self._journal is not None:
                await self._journal.error(f"pipeline failed: {exc}")
        finally:
            await self._finish()

    def _checkpoint(self) -> SessionCheckpoint:
        assert self._session is not None and self._responder is not None
        assert self._tiering is not None
        return SessionCheckpoint(
            session=self._session,
            responder=self._responder.snapshot(),
            wire=self._wire,
            premium_asked_for=self._tiering.premium_asked_for,
            failures=self._failures,
        )

    async def _on_opened(self, reply: int) -> None:
        """The greeting went out: its transitions recorded and checkpointed, so a
        replacement neither greets again nor loses them."""
        assert self._journal is not None and self._responder is not None
        self._journal.progress(self._responder.view())
        self._wire = self._wire.model_copy(update={"reply": reply})
        self._journal.checkpoint(self._checkpoint())

    async def _on_turn(self, outcome: TurnOutcome) -> None:
        assert self._session is not None and self._responder is not None
        assert self._journal is not None and self._tiering is not None
        fallback = getattr(self._responder, "last_turn_fallback", False)
        self._journal.turn(outcome, fallback=fallback)
        if outcome.latency_ms is not None:  # the record's latency, the metric's sample
            VoiceAgentIntegrationMetrics.get().turn_answered(
                self._session.mode, outcome.latency_ms
            )
        for error in self._responder.take_errors():
            await self._journal.error(error)
        view = self._responder.view()
        self._journal.progress(view)
        self._wire = WirePosition(
            turn=outcome.turn,
            reply=outcome.reply_number,
            consumed=outcome.consumed,
            stream=self._wire.stream,
        )
        self._journal.checkpoint(self._checkpoint())
        if self._session.mode == "text":
            # The reply goes out after this: a checkpoint that lands first means a
            # replacement never answers this turn a second time.
            await self._journal.flush(TEXT_CHECKPOINT_WAIT_S)
        self._tiering.after_turn(view)

    def _checkpointed(self, wire: WirePosition) -> None:
        if wire.stream == self._wire.stream:
            self._link.checkpointed = max(self._link.checkpointed, wire.consumed)

    async def _note_recovery(self) -> None:
        """The record's line for this recovery, once the caller hears the agent again."""
        await self._link.first_sent.wait()
        await self._write_recovery_note()

    async def _write_recovery_note(self) -> None:
        resume = self._resume
        if resume is None or self._recovery_noted or self._journal is None:
            return
        self._recovery_noted = True
        heard_at = self._link.first_sent_at
        waited = (
            f"the caller waited {heard_at - resume.failed_at:.1f} s"
            if heard_at is not None
            else "the agent was not heard again"
        )
        await self._journal.error(f"{resume.failed}; resumed on {self._name}; {waited}")

    # Sending what the caller asked for

    def _start_follow_up(self, kind: FollowUpKind) -> asyncio.Task[FollowUpStatus]:
        """Carry out the follow-up the caller agreed to, in a task of its own; the task's
        result is how it went. Asked twice (a replayed turn), it is done once."""
        if self._follow_up_task is None:
            self._follow_up_task = asyncio.create_task(self._carry_out_follow_up(kind))
            self._tasks.append(self._follow_up_task)
        return self._follow_up_task

    async def _carry_out_follow_up(self, kind: FollowUpKind) -> FollowUpStatus:
        session, journal, start = self._session, self._journal, self._start
        assert session is not None and journal is not None and start is not None
        settings = self._settings.agent_integration
        lead = session.lead_number or None
        earlier = session.follow_up
        if earlier is not None and earlier.kind == kind and earlier.status != "pending":
            return earlier.status  # done before this actor took the call over
        if kind == "email":  # for a person to do: recorded
            journal.follow_up(FollowUp(kind="email", to=lead, status="requested"))
            return "requested"
        link = settings.info_link
        pending = FollowUp(kind="sms_link", to=lead, status="pending", link=link)
        journal.follow_up(pending)
        try:
            if not link or not lead:
                raise MessagingError("no link is configured" if not link
                                     else "the caller's number is unknown")
            # From the number the call is on (ours), unless a sender is configured.
            sender = settings.info_sms_from or session.agent_number
            if not sender:
                raise MessagingError("no number to send the text from")
            assert self._redis is not None
            once = FollowUpSender(self._redis, self._settings.redis_prefix,
                                  self._settings.performance.session_ttl_s)
            async with Messaging.from_settings(self._settings) as messaging:
                record = await once.send_link(
                    messaging, session.call_sid, to=lead, sender=sender,
                    body=settings.info_sms_text(link), link=link, generation=start.generation)
        except Exception as exc:  # never lost: recorded as failed, the caller told so
            logger.error(f"{self._name}: follow-up text failed: {exc}")
            record = pending.model_copy(update={"status": "failed", "error": str(exc)[:300],
                                                "updated_at": time.time()})
        record = record.model_copy(update={"requested_at": pending.requested_at})
        journal.follow_up(record)
        if record.status == "failed":
            await journal.error(f"follow-up text to {lead} failed: {record.error}")
        # A replacement must not text the caller again: it restores this.
        journal.checkpoint(self._checkpoint())
        return record.status

    async def _settle_follow_up(self) -> None:
        """Let a follow-up text still under way finish, so the record says how it ended."""
        task = self._follow_up_task
        if task is None or task.done():
            return
        try:
            await asyncio.wait_for(asyncio.shield(task), FOLLOW_UP_SETTLE_S)
        except Exception as exc:  # its record stays `pending`, with an error line
            logger.warning(f"{self._name}: follow-up text not settled: {exc!r}")
            if self._journal is not None:
                await self._journal.error("follow-up text not confirmed before the call ended")

    async def _on_agent_ends_call(self, end: CallEnd) -> None:
        assert self._session is not None and self._worker is not None
        assert self._responder is not None and self._journal is not None
        session = self._session
        self._journal.progress(self._responder.view())
        if session.mode == "audio":
            try:
                # Made here, not at the start: a text call never needs Twilio's REST API.
                async with CallControl.from_settings(self._settings) as call_control:
                    if end.transfer and self._settings.transfer_number:
                        await call_control.transfer(
                            session.call_sid, self._settings.transfer_number
                        )
                    else:
                        await call_control.hang_up(session.call_sid)
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

    async def _end_after(self, grace_s: float) -> None:
        await asyncio.sleep(grace_s)
        if not self._ended.is_set() and not self._stale:
            logger.info(f"{self._name}: not resumed within {grace_s:g} s; ending the call")
            await self._on_caller_hangup()

    async def _watch_ingress(self) -> None:
        while not self._ended.is_set():
            await asyncio.sleep(1.0)
            if time.monotonic() - self._link.last_contact > ORPHAN_AFTER_S:
                logger.warning(f"{self._name}: the ingress is gone")
                await self.detach()
                return

    async def _heartbeat_forever(self) -> None:
        """Tell the registry this actor still serves the call; stop if it no longer does."""
        assert self._start is not None
        every_s = self._settings.recovery.heartbeat_s
        while not self._ended.is_set():
            await asyncio.sleep(every_s)
            if self._ended.is_set():
                return
            try:
                alive = await self._registry.heartbeat(self._fence, self._start.call_sid)
            except (RedisError, OSError):
                VoiceAgentIntegrationMetrics.get().state_sync_failed("heartbeat")
                continue
            if not alive:
                self._superseded()
                return

    def _superseded(self) -> None:
        """Another actor took the call over: stop serving it, write nothing more."""
        if self._stale or self._ended.is_set():
            return
        self._stale = True
        logger.warning(f"{self._name}: the call was taken over; leaving it")
        if self._worker is not None:
            asyncio.get_running_loop().create_task(self._worker.cancel(reason="taken over"))

    async def _finish(self) -> None:
        session = self._session
        assert session is not None and self._responder is not None
        assert self._tiering is not None and self._journal is not None
        if self._ended.is_set():
            return
        self._ended.set()
        if self._stale:
            self._tiering.stop()
            self._leave(f"call {session.call_sid} left to its new actor")
            return
        await self._settle_follow_up()
        session.status = CallStatus.COMPLETED
        session.outcome = self._responder.final_outcome()
        try:
            cost_usd, cost_breakdown = await self._tiering.close()
        except Exception:
            logger.exception(f"{self._name}: could not close the budget of {session.call_sid}")
            cost_usd, cost_breakdown = 0.0, {}
        else:
            VoiceAgentIntegrationMetrics.get().call_ended(session.status.value, cost_usd)
        await self._write_recovery_note()
        # Listed before the record is final, so a final record implies the listing.
        if session.outcome == Outcome.OPTED_OUT and session.from_number:
            self._journal.opted_out()
        self._journal.ended(
            self._responder.view(), cost_usd=cost_usd, cost_breakdown=cost_breakdown
        )
        if await self._journal.flush(FINAL_FLUSH_S):
            await self._close_registry(session.call_sid)
        else:
            logger.error(f"{self._name}: the record of {session.call_sid} was not written")
        await self._journal.close()
        # Only now may the ingress close the socket and let this actor go.
        self._leave(f"call {session.call_sid} ended: {session.outcome}")

    async def _close_registry(self, call_sid: str) -> None:
        try:
            # Ended before the socket closes: a reconnect now gets <Hangup/>.
            await self._registry.end(self._fence, call_sid)
            await self._checkpoints.delete(call_sid)
        except (RedisError, OSError):
            logger.exception(f"{self._name}: could not close the registry entry of {call_sid}")

    def _leave(self, why: str) -> None:
        if self._call_span is not None:
            self._call_span.end()
            self._call_span = None
        for task in self._tasks:
            if task is not asyncio.current_task() and not task.done():
                task.cancel()
        self._link.close()
        logger.info(f"{self._name}: {why}")
        # The ingress recycles or kills this actor once it has drained the link; if it
        # does neither (it died, or the socket was gone), leave anyway.
        self._exit_timer = asyncio.get_running_loop().call_later(DRAIN_GRACE_S, self._exit_now)

    def _exit_now(self) -> None:
        # Exactly one request to ourselves: an exiting worker waits for the calls it
        # made, and would wait for a second one.
        if not self._exiting:
            self._exiting = True
            ray.get_runtime_context().current_actor.shutdown.remote()

"""`AgentOrchestrator`: one caller turn through the agents' workflow, checkpointed in Redis.

A plain class (the Serve deployment wraps it). Each call is a LangGraph thread whose
`thread_id` is the CallSid; the checkpoint is read at the start of a turn and written
once when it ends (`durability="exit"`: one Redis write per turn, and a turn that
fails leaves the conversation where it was). Nothing about a call is kept in the
process, so consecutive turns may land on different replicas, or on a new one
after this one died, and continue the same conversation.

Per call, a `VoiceAgentIntegrationContext` (sync status, error count, whether the
last turn fell back) is kept in Redis next to the checkpoint, with the same TTL.

A turn that fails does not raise: `_create_fallback_response` answers with a short
holding line and `fallback: True`, and the caller's session decides what to do (its
direct path can take the turn).

Turns are idempotent by (CallSid, turn number). When a session actor dies, its
replacement restores the call from the session's last checkpoint and replays what the
caller said since; the dead actor may already have had some of those turns run here.
So the session numbers its caller events (`metadata["turn"]`: 0 for `start`, then
growing, gaps allowed) and every checkpoint records the number it ran (`turn`) and a
fingerprint of its event (`turn_event`: kind + text, case and spacing ignored). Before
a numbered turn n runs, one `aget_state` reads the thread's latest checkpoint (the
only extra read a turn costs; unnumbered turns skip it and run as they always did):

- it ran turn n, to the end, with the same event: the answer is rebuilt from that
  checkpoint (this turn's keys are still in it) with `replayed: True`; the graph does
  not run and nothing is written;
- it ran turn n with another event (the replacement heard something else), or the run
  failed half-way: turn n runs again from the checkpoint before it (the snapshot's
  `parent_config`), so the thread's latest state holds one run of turn n, not two;
- it ran a later turn: the turn is stale; nothing runs, and the answer is the fallback
  with a `StaleTurnError`;
- otherwise (an older or no recorded turn, or a state the session handed over with
  `adopt_conversation` since turn n ran) the turn runs as usual.

Two deliveries of one turn at the same moment are not excluded (each reads the state
before the other has written): a call has one session writer at a time (the call
registry's generation), and a replacement replays only after it has taken the call
over. A dead actor's late turn is refused as stale once a later turn has run.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import date
from typing import Any, Literal

import redis.asyncio as aioredis
from langchain_core.runnables import RunnableConfig
from langgraph.types import StateSnapshot

from graph.checkpointer import RedisCheckpointSaver
from graph.llm import TieredLLM
from graph.workflow.agents import VoiceAgents
from graph.workflow.policy import qualification_score, wants_premium
from graph.workflow.state import ConversationState
from graph.workflow.turn_graph import ROUTER, CallerTurn, EventKind, VoiceState, compile_workflow
from switchboard.logging_setup import bind_call
from switchboard.models import AgentTransition, CallFacts, Tier, VoiceAgentIntegrationContext
from switchboard.redis_client import connect
from switchboard.settings import VoiceAgentIntegrationConfig, get_settings

logger = logging.getLogger(__name__)

FALLBACK_SENTENCES = ["Sorry, I missed that.", "Could you say it once more?"]
_EVENT_ALIASES: dict[str, EventKind] = {"stop": "hangup", "speech": "text",
                                        "transcription": "text"}
_KINDS: tuple[EventKind, ...] = ("start", "text", "dtmf", "silence", "hangup")
_AUTO: Any = object()

TurnAction = Literal["run", "replay", "rerun", "stale"]


class StaleTurnError(RuntimeError):
    """A numbered caller turn older than the last one the call's workflow ran."""


def _turn_number(metadata: dict[str, Any]) -> int | None:
    """`metadata["turn"]`: the session's number for this caller event, or None."""
    number = metadata.get("turn")
    if number is None:
        return None
    if isinstance(number, bool) or not isinstance(number, int) or number < 0:
        raise ValueError(f"turn must be a non-negative integer, not {number!r}")
    return number


def turn_fingerprint(event: CallerTurn) -> str:
    """The event's kind and text, case and spacing ignored: a replacement actor that
    hears the same words again gives the same fingerprint. Hashed, so the checkpoint
    does not hold the caller's words a second time."""
    text = " ".join(event["text"].split()).casefold()
    return hashlib.sha256(f"{event['kind']}\0{text}".encode()).hexdigest()[:16]


def plan_turn(number: int, fingerprint: str, snapshot: StateSnapshot) -> TurnAction:
    """What to do with caller turn `number` given the thread's latest checkpoint.

    `replay`: that checkpoint ran this very turn to the end; answer from it.
    `rerun`: it ran turn `number` with another event, or did not finish it; run the
    turn again from the checkpoint before (`snapshot.parent_config`).
    `stale`: it ran a later turn. `run`: anything else, as a new turn."""
    values = snapshot.values
    last = values.get("turn")
    if last is None or number > last:
        return "run"
    if number < last:
        return "stale"
    recorded = values.get("turn_event")
    if recorded is None:
        # adopt_conversation replaced the state since turn `number` ran: it is the
        # session's own state before this turn, so this turn runs on it.
        return "run"
    # `next` is empty only when the run reached the end; a turn that failed half-way
    # leaves a checkpoint with tasks still to run and nothing to replay.
    if recorded == fingerprint and not snapshot.next:
        return "replay"
    return "rerun"


def _replayed_sentences(state: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """A replayed turn's stream: its sentences, each with the agent that said it."""
    sentences: list[str] = list(state.get("sentences", []))
    speakers: list[str] = list(state.get("speakers", []))
    if len(speakers) != len(sentences):  # a checkpoint from before speakers were kept
        conversation: ConversationState | None = state.get("conversation")
        speakers = [conversation.current_agent if conversation else "start"] * len(sentences)
    for sentence, agent in zip(sentences, speakers, strict=True):
        yield {"type": "sentence", "text": sentence, "agent": agent}


def _event(text: str, metadata: dict[str, Any]) -> CallerTurn:
    """The caller's event from `metadata["event"]` (default `text`)."""
    raw = str(metadata.get("event") or metadata.get("kind") or "text").lower()
    kind = _EVENT_ALIASES.get(raw, raw)
    if kind not in _KINDS:
        raise ValueError(f"unknown caller event {raw!r}; expected one of {_KINDS}")
    turn = CallerTurn(kind=kind, text=text or "")  # type: ignore[typeddict-item]
    confidence = metadata.get("confidence")
    if kind == "text" and isinstance(confidence, (int, float)) and not isinstance(confidence, bool):
        turn["confidence"] = float(confidence)
    return turn


class AgentOrchestrator:
    """Runs caller turns through the voice agents' workflow."""

    def __init__(
        self,
        settings: VoiceAgentIntegrationConfig | None = None,
        *,
        redis: aioredis.Redis | None = None,
        llm: TieredLLM | None = _AUTO,
        today: Callable[[], date] = date.today,
    ) -> None:
        self.settings = settings or get_settings()
        self._owns_redis = redis is None
        # Fail fast: a turn the workflow cannot checkpoint is better answered at once by
        # the session's direct path than after seconds of retries against a Redis outage.
        self.redis = (
            redis if redis is not None
            else connect(self.settings.redis_url, retries=2, timeout_s=1.0)
        )
        self._ttl_s = self.settings.performance.session_ttl_s
        self._prefix = self.settings.redis_prefix
        self.llm = TieredLLM.from_settings(self.settings) if llm is _AUTO else llm
        self.checkpointer = RedisCheckpointSaver(
            self.redis, prefix=f"{self._prefix}:checkpoint", ttl_s=self._ttl_s)
        self.agents = VoiceAgents(self.settings, llm=self.llm, today=today)
        self.graph = compile_workflow(self.agents, self.checkpointer)

    async def aclose(self) -> None:
        if self.llm is not None:
            await self.llm.aclose()
        if self._owns_redis:
            await self.redis.aclose()

    # --- the turn ---------------------------------------------------------------------

    async def process_voice_input(self, call_id: str, text: str,
                                  metadata: dict[str, Any]) -> dict[str, Any]:
        """Run one caller turn; the agent's answer and the call as it now stands.

        `metadata`: `event` (start | text | dtmf | silence | hangup; `text` is the
        digit for dtmf), `direction`, `answered_by`, `can_text` (the lead's number can
        take a text), `tier` (economy | premium, as the budget granted), optionally
        `confidence` (how sure the recogniser was of `text`, 0-1; absent or None for a
        line no recogniser heard, which is never gated), and optionally
        `turn`: the session's number for this
        caller event (0 for `start`, then growing; gaps allowed), which makes the
        turn idempotent (see the module docstring). The answer: sentences, agent,
        end_call, transfer, follow_up (what the caller agreed to be sent, for the session
        to send), transitions, facts, qualification_score, outcome, tokens
        {tier: n}, wants_premium (and tier, fallback, error, errors, latency_ms,
        conversation), `turn` (the number given, or None) and `replayed` (True when the
        turn had already run and the answer is its result, rebuilt from the checkpoint:
        the same sentences, transitions, tokens and outcome; nothing ran again).
        `errors`: this turn's covered failures, one line per failed LLM call (`llm extract
        failed after 3 attempts: HTTP 500 ...`); `error`: why the whole turn fell back."""
        result: dict[str, Any] = {}
        async for item in self.stream_voice_input(call_id, text, metadata):
            if item["type"] == "result":
                result = item["result"]
        return result

    async def stream_voice_input(self, call_id: str, text: str, metadata: dict[str, Any]
                                 ) -> AsyncIterator[dict[str, Any]]:
        """As `process_voice_input`, yielding `{"type": "sentence", "text", "agent"}` as
        each sentence is ready, then `{"type": "result", "result": {...}}`. A replayed
        turn yields its recorded sentences the same way, then its result."""
        bind_call(call_id)  # a request per turn: what the turn logs is about this call
        started = time.perf_counter()
        context: VoiceAgentIntegrationContext | None = None
        number: int | None = None
        try:
            context = await self._get_or_create_voice_context(call_id, metadata)
            number = _turn_number(metadata)
            event = _event(text, metadata)
            fingerprint = turn_fingerprint(event)
            config = self._config(call_id)
            action: TurnAction = "run"
            final: dict[str, Any] = {}
            if number is not None:
                snapshot = await self.graph.aget_state(config)
                action = plan_turn(number, fingerprint, snapshot)
                if action == "stale":
                    raise StaleTurnError(f"turn {number} is stale: the workflow already "
                                         f"ran turn {snapshot.values.get('turn')}")
                if action == "rerun":
                    config = await self._before_turn(call_id, snapshot)
                    logger.info("call %s: turn %s runs again from the state before it",
                                call_id, number)
                elif action == "replay":
                    final = snapshot.values
                    logger.info("call %s: turn %s replayed from its checkpoint",
                                call_id, number)
            if action == "replay":
                for item in _replayed_sentences(final):
                    yield item
            else:
                tier: Tier = "premium" if metadata.get("tier") == "premium" else "economy"
                turn: dict[str, Any] = {
                    "call_id": call_id,
                    "event": event,
                    "direction": metadata.get("direction") or "inbound",
                    "answered_by": metadata.get("answered_by"),
                    "can_text": bool(metadata.get("can_text")),
                    "tier": tier,
                    # recorded in the checkpoint, so a replay of this turn is recognised
                    "turn": number,
                    "turn_event": fingerprint,
                }
                async for mode, chunk in self.graph.astream(
                    turn, config, stream_mode=["custom", "values"], durability="exit",
                ):
                    if mode == "custom" and isinstance(chunk, dict) and "sentence" in chunk:
                        yield {"type": "sentence", "text": chunk["sentence"],
                               "agent": chunk.get("agent")}
                    elif mode == "values":
                        final = chunk
            response = self._response(call_id, final, started, turn=number,
                                      replayed=action == "replay")
        except Exception as exc:  # any failure: a holding line, never silence
            if isinstance(exc, StaleTurnError):  # expected after a takeover: no traceback
                logger.warning("call %s: %s", call_id, exc)
            else:
                logger.exception("turn of call %s failed", call_id)
            if context is not None:
                context.error_count += 1
                context.fallback_active = True
                context.sync_status = "failed"
                await self._save_context_quietly(context)
            yield {"type": "result",
                   "result": self._create_fallback_response(call_id, exc, turn=number)}
            return
        context.sync_status = "in_sync"
        context.last_sync_timestamp = time.time()
        context.fallback_active = False
        await self._save_context_quietly(context)
        # One line per turn: a call's turns can be followed across replicas by its CallSid.
        logger.info("call %s: turn %s answered by %s in %.0f ms (%s%s)", call_id, number,
                    response["agent"], response["latency_ms"], response["tier"],
                    ", replayed" if response["replayed"] else "")
        yield {"type": "result", "result": response}

    async def _before_turn(self, call_id: str, snapshot: StateSnapshot) -> RunnableConfig:
        """The config that runs a turn again from the checkpoint before `snapshot`'s.

        Running from the parent forks the thread there: the new checkpoint is the
        thread's latest, and the first run of the turn stays behind as a dead branch.
        A turn that was the thread's first checkpoint has no parent: the state before
        it was empty, so the thread is cleared and the turn runs on a new one."""
        if snapshot.parent_config is not None:
            return snapshot.parent_config
        await self.checkpointer.adelete_thread(call_id)
        return self._config(call_id)

    # --- the conversation, for the session's direct path -------------------------------

    async def get_conversation(self, call_id: str) -> ConversationState | None:
        """The call's conversation as the last completed turn left it (None: no turn yet)."""
        snapshot = await self.graph.aget_state(self._config(call_id))
        return snapshot.values.get("conversation")

    async def adopt_conversation(self, call_id: str,
                                 conversation: ConversationState | dict[str, Any]) -> None:
        """Continue from `conversation` (the direct path's state after fallback turns, a
        `DirectResponder.conversation()`), so the agents pick up where the caller is."""
        bind_call(call_id)
        state = ConversationState.model_validate(conversation)
        # The turn number stays (an older turn is still stale), but the state is no
        # longer that turn's result: clearing its fingerprint means it is not replayed
        # from here, and the session's next turn runs on the state it handed over.
        await self.graph.aupdate_state(self._config(call_id),
                                       {"conversation": state, "turn_event": None},
                                       as_node=ROUTER)

    # --- the names of the specification -----------------------------------------------

    async def _get_or_create_voice_context(self, call_id: str, metadata: dict[str, Any]
                                           ) -> VoiceAgentIntegrationContext:
        """The call's integration context from Redis, or a new one for a new call."""
        raw = await self.redis.get(self._context_key(call_id))
        if raw is not None:
            return VoiceAgentIntegrationContext.model_validate_json(raw)
        return VoiceAgentIntegrationContext(
            call_id=call_id,
            voice_session=str(metadata.get("voice_session") or metadata.get("session")
                              or call_id),
            workflow_context=call_id,  # the LangGraph thread_id
            sync_status="pending",
        )

    def _check_tier_escalation_needed(self, state: VoiceState | ConversationState) -> bool:
        """True when the call earns the premium tier and does not have it: a
        qualification score of at least 0.75 or a stated budget of at least $50,000
        (DESIGN.md's policy; the numbers come from settings)."""
        if isinstance(state, ConversationState):
            conversation, tier = state, "economy"
        else:
            conversation, tier = state.get("conversation"), state.get("tier", "economy")
        if conversation is None or tier == "premium":
            return False
        return wants_premium(conversation.facts, self.settings.qualification)

    def _create_fallback_response(self, call_id: str, error: BaseException | str, *,
                                  turn: int | None = None) -> dict[str, Any]:
        """The answer to a turn the workflow could not run (or would not: a stale
        turn): a holding line, nothing changed. `fallback` tells the session to count
        it (and maybe answer itself)."""
        return {
            "call_id": call_id,
            "sentences": list(FALLBACK_SENTENCES),
            "agent": None,
            "end_call": False,
            "transfer": False,
            "follow_up": None,
            "transitions": [],
            "facts": None,
            "qualification_score": None,
            "outcome": None,
            "tokens": {},
            "wants_premium": False,
            "tier": None,
            "fallback": True,
            "error": f"{type(error).__name__}: {error}" if isinstance(error, BaseException)
            else str(error),
            "errors": [],
            "latency_ms": None,
            "turn": turn,
            "replayed": False,
        }

    # --- helpers ----------------------------------------------------------------------

    @staticmethod
    def _config(call_id: str) -> RunnableConfig:
        return {"configurable": {"thread_id": call_id}}

    def _context_key(self, call_id: str) -> str:
        return f"{self._prefix}:voice_context:{call_id}"

    async def _save_context_quietly(self, context: VoiceAgentIntegrationContext) -> None:
        """Best effort: the context is bookkeeping, never a reason to fail a turn."""
        try:
            await self.redis.set(self._context_key(context.call_id),
                                 context.model_dump_json(), ex=self._ttl_s)
        except Exception:
            logger.warning("could not save the voice context of %s", context.call_id,
                           exc_info=True)

    def _response(self, call_id: str, state: dict[str, Any], started: float, *,
                  turn: int | None = None, replayed: bool = False) -> dict[str, Any]:
        """The answer to a turn from the state it left: the state a run ended with, or
        for a replayed turn the checkpoint that run wrote (the same keys)."""
        conversation: ConversationState | None = state.get("conversation")
        facts = conversation.facts if conversation else CallFacts()
        outcome = state.get("outcome")
        transitions: list[AgentTransition] = state.get("transitions", [])
        return {
            "call_id": call_id,
            "sentences": list(state.get("sentences", [])),
            "agent": conversation.current_agent if conversation else "start",
            "end_call": bool(state.get("end_call")),
            "transfer": bool(state.get("transfer")),
            "follow_up": state.get("follow_up"),
            "transitions": [transition.model_dump(mode="json") for transition in transitions],
            "facts": facts.model_dump(mode="json"),
            "qualification_score": qualification_score(facts, self.settings.qualification),
            "outcome": outcome.value if outcome is not None else None,
            "tokens": dict(state.get("tokens", {})),
            "wants_premium": self._check_tier_escalation_needed(state),  # type: ignore[arg-type]
            "tier": state.get("tier", "economy"),
            "fallback": False,
            "error": None,
            "errors": list(state.get("errors", [])),
            "latency_ms": round((time.perf_counter() - started) * 1000, 3),
            "turn": turn,
            "replayed": replayed,
            # The whole conversation, so the session's direct path can take over
            # exactly where the agents are should the next turn fall back.
            "conversation": conversation.model_dump(mode="json") if conversation else None,
        }

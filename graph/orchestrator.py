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
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable
from datetime import date
from typing import Any

import redis.asyncio as aioredis
from langchain_core.runnables import RunnableConfig

from graph.agents import VoiceAgents
from graph.checkpointer import RedisCheckpointSaver
from graph.llm import TieredLLM
from graph.policy import qualification_score, wants_premium
from graph.state import AgentReply, ConversationState
from graph.workflow import ROUTER, CallerTurn, EventKind, VoiceState, compile_workflow
from switchboard.models import AgentTransition, CallFacts, Tier, VoiceAgentIntegrationContext
from switchboard.redis_client import connect
from switchboard.settings import VoiceAgentIntegrationConfig, get_settings

logger = logging.getLogger(__name__)

FALLBACK_SENTENCES = ["Sorry, I missed that.", "Could you say it once more?"]
_EVENT_ALIASES: dict[str, EventKind] = {"stop": "hangup", "speech": "text",
                                        "transcription": "text"}
_KINDS: tuple[EventKind, ...] = ("start", "text", "dtmf", "silence", "hangup")
_AUTO: Any = object()


def _event(text: str, metadata: dict[str, Any]) -> CallerTurn:
    """The caller's event from `metadata["event"]` (default `text`)."""
    raw = str(metadata.get("event") or metadata.get("kind") or "text").lower()
    kind = _EVENT_ALIASES.get(raw, raw)
    if kind not in _KINDS:
        raise ValueError(f"unknown caller event {raw!r}; expected one of {_KINDS}")
    return CallerTurn(kind=kind, text=text or "")  # type: ignore[typeddict-item]


def agent_reply(response: dict[str, Any]) -> AgentReply:
    """A `process_voice_input` answer as the `AgentReply` a `TurnResponder` returns."""
    return AgentReply(
        sentences=response["sentences"],
        agent=response["agent"] or "start",
        end_call=response["end_call"],
        transfer=response["transfer"],
        transitions=[(t["from_agent"], t["to_agent"], t["trigger"])
                     for t in response["transitions"]],
    )


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
        self.redis = redis if redis is not None else connect(self.settings.redis_url)
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
        digit for dtmf), `direction`, `answered_by`, `tier` (economy | premium, as
        the budget granted). The answer: sentences, agent, end_call, transfer,
        transitions, facts, qualification_score, outcome, tokens {tier: n},
        wants_premium (and tier, fallback, error, errors, latency_ms). `errors`: this
        turn's covered failures, one line per failed LLM call (`llm extract failed after
        3 attempts: HTTP 500 ...`); `error`: why the whole turn fell back."""
        result: dict[str, Any] = {}
        async for item in self.stream_voice_input(call_id, text, metadata):
            if item["type"] == "result":
                result = item["result"]
        return result

    async def stream_voice_input(self, call_id: str, text: str, metadata: dict[str, Any]
                                 ) -> AsyncIterator[dict[str, Any]]:
        """As `process_voice_input`, yielding `{"type": "sentence", "text", "agent"}` as
        each sentence is ready, then `{"type": "result", "result": {...}}`."""
        started = time.perf_counter()
        context: VoiceAgentIntegrationContext | None = None
        try:
            context = await self._get_or_create_voice_context(call_id, metadata)
            tier: Tier = "premium" if metadata.get("tier") == "premium" else "economy"
            turn: dict[str, Any] = {
                "call_id": call_id,
                "event": _event(text, metadata),
                "direction": metadata.get("direction") or "inbound",
                "answered_by": metadata.get("answered_by"),
                "tier": tier,
            }
            final: dict[str, Any] = {}
            async for mode, chunk in self.graph.astream(
                turn, self._config(call_id), stream_mode=["custom", "values"],
                durability="exit",
            ):
                if mode == "custom" and isinstance(chunk, dict) and "sentence" in chunk:
                    yield {"type": "sentence", "text": chunk["sentence"],
                           "agent": chunk.get("agent")}
                elif mode == "values":
                    final = chunk
            response = self._response(call_id, final, started)
        except Exception as exc:  # any failure: a holding line, never silence
            logger.exception("turn of call %s failed", call_id)
            if context is not None:
                context.error_count += 1
                context.fallback_active = True
                context.sync_status = "failed"
                await self._save_context_quietly(context)
            yield {"type": "result", "result": self._create_fallback_response(call_id, exc)}
            return
        context.sync_status = "in_sync"
        context.last_sync_timestamp = time.time()
        context.fallback_active = False
        await self._save_context_quietly(context)
        yield {"type": "result", "result": response}

    # --- the conversation, for the session's direct path -------------------------------

    async def get_conversation(self, call_id: str) -> ConversationState | None:
        """The call's conversation as the last completed turn left it (None: no turn yet)."""
        snapshot = await self.graph.aget_state(self._config(call_id))
        return snapshot.values.get("conversation")

    async def adopt_conversation(self, call_id: str,
                                 conversation: ConversationState | dict[str, Any]) -> None:
        """Continue from `conversation` (the direct path's state after fallback turns, a
        `DirectResponder.snapshot()`), so the agents pick up where the caller is."""
        state = ConversationState.model_validate(conversation)
        await self.graph.aupdate_state(self._config(call_id), {"conversation": state},
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

    def _create_fallback_response(self, call_id: str, error: BaseException | str
                                  ) -> dict[str, Any]:
        """The answer to a turn the workflow could not run: a holding line, nothing
        changed. `fallback` tells the session to count it (and maybe answer itself)."""
        return {
            "call_id": call_id,
            "sentences": list(FALLBACK_SENTENCES),
            "agent": None,
            "end_call": False,
            "transfer": False,
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

    def _response(self, call_id: str, state: dict[str, Any], started: float
                  ) -> dict[str, Any]:
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
            # The whole conversation, so the session's direct path can take over
            # exactly where the agents are should the next turn fall back.
            "conversation": conversation.model_dump(mode="json") if conversation else None,
        }

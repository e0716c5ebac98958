"""The orchestrated path: each caller turn goes to the agents' workflow (the
orchestrator deployment), with a deadline and a circuit breaker in front of it and the
direct path behind it.

A slow or dead orchestrator never leaves a caller in silence: a turn that misses its
deadline, fails, or finds the breaker open is answered by the direct path from the
same conversation state, and counted as a fallback turn. The direct path's state is
kept in step with every orchestrated turn, and handed back to the orchestrator once it
answers again, so the conversation carries on wherever it was answered.

A turn is asked through a streaming handle (`stream_voice_input`): the sentences the
agents write reach the caller one by one (`on_sentence`), the first while the LLM still
writes the rest. The deadline covers the whole answer, as before; a turn that fails
after some sentences were said falls back all the same, and the direct path's reply
follows what was said (rare: the LLM's own deadlines end well inside the turn's).

With an LLM configured, the direct path asks it itself when the turn has the time left
(`llm`: the orchestrator failed fast or the breaker is open; never after a timeout,
which has used the turn's time up).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import pybreaker
from ray.serve.handle import DeploymentHandle

from actors.breaker import orchestrator_breaker
from actors.direct_path import DirectResponder
from actors.messaging import can_receive_texts
from actors.responder import CallerEvent, ResponderView, SentenceSink
from actors.usage import CallUsage
from graph.workflow.script import AgentReply
from switchboard import tracing
from switchboard.metrics import VoiceAgentIntegrationMetrics
from switchboard.models import AgentTransition, CallSession, FollowUpStatus, Outcome
from switchboard.settings import VoiceAgentIntegrationConfig

if TYPE_CHECKING:
    from graph.llm import TieredLLM

logger = logging.getLogger("ray")

# A turn never waits long for the kill switch: one Redis read of a fraction of a ms.
KILL_SWITCH_TIMEOUT_S = 0.25


class WorkflowFailed(RuntimeError):
    """The orchestrator answered, but its workflow could not run the turn."""


class OrchestratedResponder:
    """A `TurnResponder` over the orchestrator, falling back to the direct path."""

    def __init__(
        self,
        settings: VoiceAgentIntegrationConfig,
        call: CallSession,
        orchestrator: DeploymentHandle,
        *,
        usage: CallUsage,
        kill_switch: Callable[[], Awaitable[bool]] | None = None,
        llm: TieredLLM | None = None,
    ) -> None:
        self._settings = settings
        self._kill_switch = kill_switch
        self._usage = usage
        self._call = call
        self._orchestrator = orchestrator
        self._streaming = orchestrator.options(stream=True)
        self._direct = DirectResponder(settings, call, llm=llm, usage=usage)
        self._breaker = orchestrator_breaker(settings)
        self._timeout_s = settings.performance.turn_timeout_s
        self._pending: list[AgentTransition] = []
        self._last: dict[str, Any] | None = None
        self._needs_adoption = False
        self._errors: list[str] = []
        self.last_turn_fallback = False
        self.fallback_active = False
        self._killed = False

    async def open(self) -> AgentReply | None:
        reply = await self._turn(CallerEvent("text", ""), kind="start", turn=0)
        return reply if reply.sentences else None

    async def respond(self, event: CallerEvent, *, turn: int | None = None,
                      on_sentence: SentenceSink | None = None) -> AgentReply:
        return await self._turn(event, kind=event.kind, turn=turn, on_sentence=on_sentence)

    def resume_reply(self) -> AgentReply:
        # The direct path's state mirrors the agents' after every turn they answer.
        return self._direct.resume_reply()

    async def follow_up_result(self, status: FollowUpStatus) -> AgentReply:
        # How a text went is the script's to say, the same with or without the agents:
        # the direct path, which mirrors their conversation, says it (no network hop
        # between "I'm texting you the link" and the goodbye). Should another turn
        # come, the agents are handed the conversation as it now is.
        reply = await self._direct.follow_up_result(status)
        self._needs_adoption = True
        return reply

    async def _turn(self, event: CallerEvent, *, kind: str, turn: int | None,
                    on_sentence: SentenceSink | None = None) -> AgentReply:
        started = time.monotonic()
        heard: list[str] = []  # sentences of the agents' answer already handed on
        if self._killed or await self._kill_switch_on():
            return await self._direct_only(event, kind)
        metadata = {
            "event": kind,
            "direction": self._call.direction,
            "answered_by": self._call.answered_by,
            "can_text": can_receive_texts(self._call.lead_number),
            "tier": self._call.tier,
            "session": self._call.call_sid,
            "turn": turn,
            # How sure the recogniser was of the line (None: not heard by one); the
            # agents gate a line heard below the settings' threshold as the direct path does.
            "confidence": event.confidence,
            # The live settings the call started with: any replica, of any version,
            # answers it by them.
            "config": self._call.live_settings_ref(),
            # The call's span of this turn (current here): the orchestrator's span of
            # the turn is its child. Empty when tracing is off.
            "trace": tracing.inject(),
        }
        try:
            with self._breaker.calling():
                response = await asyncio.wait_for(
                    self._ask(event.text, metadata, on_sentence, heard), self._timeout_s
                )
                if response["fallback"]:
                    raise WorkflowFailed(response["error"] or "the workflow could not run")
        except Exception as exc:  # timeout, dead replica, open breaker, failed workflow
            left_s = self._timeout_s - (time.monotonic() - started)
            # After part of the agents' answer was said, the direct path's follows it
            # whole (the caller's ConversationProcessor sees it is another reply).
            return await self._fall_back(event, kind, exc,
                                         None if heard else on_sentence, left_s)
        self.last_turn_fallback = self.fallback_active = False
        self._last = response
        self._errors.extend(response.get("errors") or [])
        for tier, tokens in response["tokens"].items():
            self._usage.llm_tokens[tier] = self._usage.llm_tokens.get(tier, 0) + tokens
        if response.get("conversation"):
            self._direct.adopt(response["conversation"])
        self._pending.extend(AgentTransition(**hop) for hop in response["transitions"])
        reply = AgentReply.from_orchestrator(response)
        self._direct.remember(event, reply.sentences)
        return reply

    async def _ask(self, text: str, metadata: dict[str, Any],
                   on_sentence: SentenceSink | None, heard: list[str]) -> dict[str, Any]:
        if self._needs_adoption:
            # The direct path answered while the agents could not: hand them its state.
            await self._orchestrator.adopt_conversation.remote(
                self._call.call_sid, self._direct.conversation()
            )
            self._needs_adoption = False
        answer = self._streaming.stream_voice_input.remote(self._call.call_sid, text, metadata)
        try:
            async for item in answer:
                if item["type"] == "result":
                    return item["result"]
                if on_sentence is not None:
                    heard.append(item["text"])
                    await on_sentence(item["text"])
        except BaseException:  # the deadline, or the caller gone: stop the turn there too
            answer.cancel()
            raise
        raise WorkflowFailed("the orchestrator's answer ended without its result")

    async def _kill_switch_on(self) -> bool:
        """The one live setting a call follows after it started: the agents turned off."""
        if self._kill_switch is None:
            return False
        try:
            on = await asyncio.wait_for(self._kill_switch(), KILL_SWITCH_TIMEOUT_S)
        except Exception:  # Redis slow or away: the call goes on as it was
            return False
        if on:
            self._killed = True
            self._call.integration_enabled = False
            logger.warning(f"call {self._call.call_sid}: kill switch on, the direct path "
                           "answers from now on")
        return on

    async def _direct_only(self, event: CallerEvent, kind: str) -> AgentReply:
        # The agents are switched off: so is their LLM.
        self.last_turn_fallback = self.fallback_active = False
        return await self._direct_reply(event, kind, None, llm_budget_s=0.0)

    async def _direct_reply(self, event: CallerEvent, kind: str,
                            on_sentence: SentenceSink | None, *, llm_budget_s: float
                            ) -> AgentReply:
        reply = await (self._direct.open() if kind == "start" else self._direct.respond(
            event, on_sentence=on_sentence, llm_budget_s=llm_budget_s))
        return reply or AgentReply(sentences=[], agent="greeter")

    async def _fall_back(self, event: CallerEvent, kind: str, exc: Exception,
                         on_sentence: SentenceSink | None, left_s: float) -> AgentReply:
        reason = _fallback_reason(exc)
        logger.warning(f"call {self._call.call_sid}: direct path answers ({reason}: {exc!r})")
        VoiceAgentIntegrationMetrics.get().fallback(reason)
        self.last_turn_fallback = self.fallback_active = True
        self._needs_adoption = True
        self._last = None
        return await self._direct_reply(event, kind, on_sentence, llm_budget_s=left_s)

    def view(self) -> ResponderView:
        direct = self._direct.view()
        pending, self._pending = self._pending, []
        return ResponderView(
            current_agent=direct.current_agent,
            facts=direct.facts,
            qualification_score=direct.qualification_score,
            outcome=direct.outcome,
            new_transitions=pending + direct.new_transitions,
        )

    def final_outcome(self) -> Outcome:
        return self._direct.final_outcome()

    def snapshot(self) -> dict:
        return {**self._direct.snapshot(), "needs_adoption": self._needs_adoption}

    def restore(self, snapshot: dict) -> None:
        self._direct.restore(snapshot)
        self._needs_adoption = bool(snapshot.get("needs_adoption"))

    @property
    def started(self) -> bool:
        return self._direct.started

    def take_errors(self) -> list[str]:
        errors, self._errors = self._errors, []
        return [*errors, *self._direct.take_errors()]


def _fallback_reason(exc: Exception) -> str:
    """Why a turn fell back, as a metric tag."""
    if isinstance(exc, pybreaker.CircuitBreakerError):
        return "breaker_open"
    if isinstance(exc, TimeoutError):
        return "timeout"
    if isinstance(exc, WorkflowFailed):
        return "workflow_failed"
    return "orchestrator_error"

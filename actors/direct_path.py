"""The direct path: answers from the templated qualification script, no orchestrator.

It is what a call falls back to when the orchestrator is slow or down, so it must never
fail and never wait on the network. A line heard with low confidence is gated here as
in the agents: the script takes the recogniser's confidence with the line.
"""

from __future__ import annotations

import time

from actors.messaging import can_receive_texts
from actors.responder import CallerEvent, ResponderView, SentenceSink
from graph.workflow.policy import qualification_score
from graph.workflow.script import AgentReply, ConversationState, QualificationScript
from switchboard.models import AgentTransition, CallFacts, CallSession, FollowUpStatus, Outcome
from switchboard.settings import VoiceAgentIntegrationConfig


class DirectResponder:
    """A `TurnResponder` over `graph.workflow.script.QualificationScript`."""

    def __init__(
        self,
        settings: VoiceAgentIntegrationConfig,
        call: CallSession,
        state: dict | None = None,
    ) -> None:
        integration = settings.agent_integration
        self._policy = settings.qualification
        self._call = call
        self._script = QualificationScript(
            settings.qualification,
            transfer_number=settings.transfer_number,
            company_name=integration.company_name,
            agent_name=integration.agent_name,
            max_reprompts=integration.max_reprompts,
            info_link=integration.info_link,
            min_confidence=integration.min_stt_confidence,
            script=settings.script,
        )
        self._state: ConversationState | None = (
            ConversationState.model_validate(state) if state else None
        )
        self._pending: list[AgentTransition] = []

    async def open(self) -> AgentReply | None:
        if self._state is not None:  # restored: the call is already under way
            return None
        started = time.perf_counter()
        self._state, reply = self._script.start(
            self._call.direction, answered_by=self._call.answered_by,
            can_text=can_receive_texts(self._call.lead_number),
        )
        if reply is not None:
            self._note(reply, started)
        return reply

    async def respond(self, event: CallerEvent, *, turn: int | None = None,
                      on_sentence: SentenceSink | None = None) -> AgentReply:
        # The script answers at once, whole: nothing is worth handing on early.
        if self._state is None:
            await self.open()
        assert self._state is not None
        started = time.perf_counter()
        if event.kind == "text":
            self._state, reply = self._script.on_text(self._state, event.text,
                                                      confidence=event.confidence)
        elif event.kind == "dtmf":
            self._state, reply = self._script.on_dtmf(self._state, event.text)
        else:
            self._state, reply = self._script.on_silence(self._state)
        self._note(reply, started)
        return reply

    async def follow_up_result(self, status: FollowUpStatus) -> AgentReply:
        if self._state is None:
            return AgentReply(agent="start")
        started = time.perf_counter()
        self._state, reply = self._script.on_follow_up(self._state, status)
        self._note(reply, started)
        return reply

    def view(self) -> ResponderView:
        state = self._state
        pending, self._pending = self._pending, []
        if state is None:
            return ResponderView("start", CallFacts(), 0.0, None, pending)
        return ResponderView(
            current_agent=state.current_agent,
            facts=state.facts,
            qualification_score=qualification_score(state.facts, self._policy),
            outcome=state.outcome,
            new_transitions=pending,
        )

    def final_outcome(self) -> Outcome:
        if self._state is None:
            return Outcome.ABANDONED
        return self._script.on_hangup(self._state)

    def resume_reply(self) -> AgentReply:
        if self._state is None:
            return AgentReply(sentences=[], agent="greeter")
        return self._script.on_resume(self._state)

    def adopt(self, state: dict) -> None:
        """Continue from a conversation another responder (the agents) carried on."""
        self._state = ConversationState.model_validate(state)

    def conversation(self) -> dict:
        """The conversation state as JSON ({} before the call has begun)."""
        return self._state.model_dump(mode="json") if self._state else {}

    def snapshot(self) -> dict:
        return {"conversation": self.conversation()}

    def restore(self, snapshot: dict) -> None:
        state = snapshot.get("conversation")
        self._state = ConversationState.model_validate(state) if state else None

    @property
    def started(self) -> bool:
        """The conversation has begun (the greeting was made, or the caller spoke)."""
        return self._state is not None

    def take_errors(self) -> list[str]:
        return []  # the templates cannot fail

    def _note(self, reply: AgentReply, started: float) -> None:
        elapsed_ms = (time.perf_counter() - started) * 1000
        for from_agent, to_agent, trigger in reply.transitions:
            self._pending.append(
                AgentTransition(
                    from_agent=from_agent,
                    to_agent=to_agent,
                    trigger=trigger,
                    context_preserved=True,
                    transition_duration_ms=round(elapsed_ms, 3),
                )
            )

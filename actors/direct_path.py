"""The direct path: answers from the qualification script, no orchestrator.

It is what a call falls back to when the orchestrator is slow or down, so it must never
fail and never keep the caller waiting. A line heard with low confidence is gated here
as in the agents: the script takes the recogniser's confidence with the line.

With an LLM configured it is the specification's "direct LLM": the session talks to the
LLM itself, reading the caller's line and writing the last speaker's words as the agents
do (`graph.workflow.llm_turn`, shared with them), when the turn has the time left for
it (`llm_budget_s`: the orchestrator failed fast, or its breaker is open). A turn whose
orchestrator used up the deadline is answered from the templates at once; so is any
step the LLM fails. The templates are the last resort, never silence.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

from actors.messaging import can_receive_texts
from actors.responder import CallerEvent, ResponderView, SentenceSink
from graph.workflow.policy import qualification_score
from graph.workflow.script import AgentReply, ConversationState, QualificationScript
from switchboard.models import AgentTransition, CallFacts, CallSession, FollowUpStatus, Outcome
from switchboard.settings import VoiceAgentIntegrationConfig

if TYPE_CHECKING:
    from actors.usage import CallUsage
    from graph.llm import TieredLLM
    from graph.workflow.llm_turn import LLMUse


class DirectResponder:
    """A `TurnResponder` over `graph.workflow.script.QualificationScript`."""

    def __init__(
        self,
        settings: VoiceAgentIntegrationConfig,
        call: CallSession,
        state: dict | None = None,
        *,
        llm: TieredLLM | None = None,
        usage: CallUsage | None = None,
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
        self._llm = llm
        self._usage = usage
        self._errors: list[str] = []
        self._history: list[dict[str, str]] = []  # recent turns, for the LLM

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
                      on_sentence: SentenceSink | None = None,
                      llm_budget_s: float | None = None) -> AgentReply:
        """As `TurnResponder.respond`; `llm_budget_s`: how long the turn may still take
        (None: no limit of the caller's), which decides whether the LLM is asked."""
        if self._state is None:
            await self.open()
        assert self._state is not None
        started = time.perf_counter()
        llm = self._llm if self._llm is not None and self._llm_fits(llm_budget_s) else None
        if event.kind == "text" and llm is not None and event.text.strip() \
                and not self._state.ended:
            self._state, reply = await self._understood_with(llm, event)
        elif event.kind == "text":
            self._state, reply = self._script.on_text(self._state, event.text,
                                                      confidence=event.confidence)
        elif event.kind == "dtmf":
            self._state, reply = self._script.on_dtmf(self._state, event.text)
        else:
            self._state, reply = self._script.on_silence(self._state)
        if llm is not None:
            reply = await self._voiced_with(llm, event, reply, on_sentence)
        self._note(reply, started)
        return reply

    def _llm_fits(self, budget_s: float | None) -> bool:
        assert self._llm is not None
        return budget_s is None or budget_s >= (
            self._llm.extract_timeout_s + self._llm.reply_timeout_s)

    async def _understood_with(self, llm: TieredLLM, event: CallerEvent
                               ) -> tuple[ConversationState, AgentReply]:
        # Imported with an LLM only: a warm actor without one never loads its client.
        from graph.workflow import llm_turn
        assert self._state is not None
        heard, use = await llm_turn.read_line(
            self._script, llm, self._state, event.text, tier=self._call.tier,
            context=llm_turn.turn_context(self._state.current_agent, self._state,
                                          self._history))
        self._spent(use)
        return self._script.on_understanding(self._state, heard, event.text,
                                             confidence=event.confidence)

    async def _voiced_with(self, llm: TieredLLM, event: CallerEvent, reply: AgentReply,
                           on_sentence: SentenceSink | None) -> AgentReply:
        """`reply` with its last speaker's part in the LLM's words (as the agents say it:
        the parts before it as written), handed to `on_sentence` as they come."""
        from graph.workflow import llm_turn
        assert self._state is not None
        parts = getattr(reply, "parts", None) or []
        own = parts[-1].sentences if parts else reply.sentences
        if own and not llm_turn.said_as_written(self._script, event.kind, reply,
                                                event.confidence):
            before = reply.sentences[: len(reply.sentences) - len(own)]
            heard: asyncio.Queue[str | None] = asyncio.Queue()
            speaking = asyncio.create_task(_speak_each(heard, on_sentence))
            try:
                for sentence in before:
                    heard.put_nowait(sentence)
                spoken, use = await llm_turn.write_part(
                    llm, own, tier=self._call.tier, line=event.describe(), said=before,
                    context=llm_turn.turn_context(self._state.current_agent, self._state,
                                                  self._history),
                    on_sentence=heard.put_nowait)
            finally:
                heard.put_nowait(None)
                await speaking
            self._spent(use)
            reply = reply.model_copy(update={"sentences": [*before, *spoken]})
        self.remember(event, reply.sentences)
        return reply

    def remember(self, event: CallerEvent, sentences: list[str]) -> None:
        """A turn for the LLM's history (the agents' turns too: they keep it in step)."""
        if self._llm is not None:
            from graph.workflow.llm_turn import HISTORY_TURNS
            turn = {"caller": event.describe(), "agent": " ".join(sentences)}
            self._history = [*self._history, turn][-HISTORY_TURNS:]

    def _spent(self, use: LLMUse) -> None:
        self._errors.extend(use.errors)
        if self._usage is not None and use.tokens:
            tier = self._call.tier
            self._usage.llm_tokens[tier] = self._usage.llm_tokens.get(tier, 0) + use.tokens

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
        errors, self._errors = self._errors, []  # the LLM's; the templates cannot fail
        return errors

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


async def _speak_each(sentences: asyncio.Queue[str | None],
                      on_sentence: SentenceSink | None) -> None:
    """Hand each sentence of `sentences` to `on_sentence` in order, until None."""
    while (sentence := await sentences.get()) is not None:
        if on_sentence is not None:
            await on_sentence(sentence)

"""The voice agents: the router and the seven agent nodes of `graph.workflow.turn_graph`.

What each agent decides is the qualification script's (`graph.workflow.script`), so the
graph and the direct path behave alike by construction: one feature, one place.
The agent holding the call takes the caller's turn through the script (understanding
the line with rules, and with the LLM when one is configured); the script tells
which agents the turn passes through and what each says (`ScriptReply.parts`).
Each agent voices its own part and hands the call on with `Command(goto=...)`,
recording an `AgentTransition`; the receiving agent times the handoff and checks
the conversation arrived intact (`context_preserved`). The agent that holds the
call at the end of the turn has the last word: its template without an LLM; with
one, the LLM writes that part in the agent's voice, streamed sentence by sentence.
Openings (the recording disclosure), goodbyes, transfers and voicemail messages are
said as written. Every sentence goes to LangGraph's custom stream as soon as it is
ready, so speech starts on the first one.

An LLM call that fails (after the retries its deadline allows, `graph.llm`) leaves the
rules' reading or the template's words in place, and its one-line `LLMError` is added
to the turn's `errors`, once; the router starts every turn with none.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from langgraph.config import get_stream_writer
from langgraph.graph import END
from langgraph.types import Command

from graph.llm import TieredLLM, TurnContext
from graph.workflow.llm_turn import (
    HISTORY_TURNS,
    OPENING_TRIGGERS,
    read_line,
    said_as_written,
    turn_context,
    write_part,
)
from graph.workflow.script import AgentPart, AgentReply, ConversationState, QualificationScript
from graph.workflow.turn_graph import Hop, VoiceState
from switchboard.models import AgentTransition, Outcome, Tier, now
from switchboard.settings import VoiceAgentIntegrationConfig


@dataclass
class _Step:
    """The script's answer to the caller's turn, and what understanding it cost."""

    conversation: ConversationState
    reply: AgentReply
    tokens: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


def _digest(conversation: ConversationState | None) -> str:
    """A fingerprint of the conversation, to check a handoff delivered it unchanged."""
    data = conversation.model_dump_json() if conversation is not None else ""
    return hashlib.sha256(data.encode()).hexdigest()[:16]


def _parts(reply: AgentReply) -> list[AgentPart]:
    parts = getattr(reply, "parts", None)
    return parts or [AgentPart(agent=reply.agent, sentences=reply.sentences)]


def _hops(reply: AgentReply) -> list[Hop]:
    """The handoffs of a script step, each with the sentences of the agent taking over."""
    parts = _parts(reply)
    return [
        Hop(from_agent=source, to_agent=target, trigger=trigger,
            sentences=parts[index + 1].sentences if index + 1 < len(parts) else [])
        for index, (source, target, trigger) in enumerate(reply.transitions)
    ]


def _add_tokens(total: dict[str, int], tier: str, tokens: int) -> dict[str, int]:
    if not tokens:
        return total
    return {**total, tier: total.get(tier, 0) + tokens}


def _sum_tokens(first: dict[str, int], second: dict[str, int]) -> dict[str, int]:
    total = dict(first)
    for tier, tokens in second.items():
        total = _add_tokens(total, tier, tokens)
    return total


def _describe(event: dict[str, str]) -> str:
    kind, text = event["kind"], event.get("text", "")
    return {"dtmf": f"[pressed {text}]", "silence": "[silence]"}.get(kind, text)


class VoiceAgents:
    """The nodes of the workflow, sharing one script and, optionally, one LLM."""

    def __init__(
        self,
        settings: VoiceAgentIntegrationConfig,
        *,
        llm: TieredLLM | None = None,
        today: Callable[[], date] = date.today,
    ) -> None:
        integration = settings.agent_integration
        self.settings = settings
        self.llm = llm
        self.script = QualificationScript(
            settings.qualification,
            transfer_number=settings.transfer_number,
            company_name=integration.company_name,
            agent_name=integration.agent_name,
            max_reprompts=integration.max_reprompts,
            today=today,
            info_link=integration.info_link,
            min_confidence=integration.min_stt_confidence,
            script=settings.script,
        )

    # --- the router -------------------------------------------------------------------

    async def route(self, state: VoiceState) -> Command:
        """Send the caller's turn to the agent holding the call; open the call first.

        The router resets this turn's result keys; the input keys, including the turn
        record (`turn`, `turn_event`), are the orchestrator's and left as they came."""
        event = state["event"]
        conversation = state.get("conversation")
        fresh: dict[str, Any] = {
            "hops": [], "verbatim": False, "sentences": [], "speakers": [], "end_call": False,
            "transfer": False, "follow_up": None, "transitions": [], "tokens": {}, "errors": [],
            "outcome": conversation.outcome if conversation else None,
        }
        if event["kind"] == "hangup":
            if conversation is None:
                return Command(goto=END, update={**fresh, "outcome": Outcome.ABANDONED})
            ended = conversation.model_copy(update={"ended": True})
            return Command(goto=END, update={
                **fresh, "conversation": ended, "outcome": self.script.final_outcome(ended)})
        if conversation is None:
            conversation, opening = self.script.start(
                state.get("direction", "inbound"), answered_by=state.get("answered_by"),
                can_text=bool(state.get("can_text")))
            if event["kind"] == "start":
                step = _Step(conversation, opening or AgentReply(agent="start"))
                return await self._carry_on("start", {**state, **fresh}, step, fresh)
            # no start event came (a session restored mid-call): the call is open now
        elif event["kind"] == "start":
            return Command(goto=END, update=fresh)  # a repeated start changes nothing
        if conversation.ended:
            return Command(goto=END, update=fresh)
        if conversation.current_agent == "start":  # no agent holds the call yet
            step = await self._take_turn({**state, **fresh}, conversation)
            return await self._carry_on("start", {**state, **fresh}, step, fresh)
        if state.get("conversation") is None:  # opened just now: the agent needs it
            return Command(goto=conversation.current_agent,
                           update={**fresh, "conversation": conversation})
        return Command(goto=conversation.current_agent, update=fresh)

    # --- the agents -------------------------------------------------------------------

    def node(self, name: str) -> Callable[[VoiceState], Awaitable[Command]]:
        """The node of agent `name`."""

        async def agent(state: VoiceState) -> Command:
            hops = state.get("hops") or []
            if hops and hops[0]["to_agent"] == name:  # handed the call during this turn
                return await self._arrive(name, state, hops)
            step = await self._take_turn(state, state["conversation"])  # type: ignore[arg-type]
            return await self._carry_on(name, state, step)

        agent.__name__ = name
        agent.__qualname__ = f"VoiceAgents.{name}"
        return agent

    async def _take_turn(self, state: VoiceState, conversation: ConversationState) -> _Step:
        """The caller's event answered by the script, the line read by rules and LLM."""
        event = state["event"]
        if event["kind"] == "dtmf":
            return _Step(*self.script.on_dtmf(conversation, event["text"]))
        if event["kind"] == "silence":
            return _Step(*self.script.on_silence(conversation))
        text = event["text"]
        heard = self.script.read_line(conversation, text)
        tokens: dict[str, int] = {}
        errors: list[str] = []
        if self.llm is not None and text.strip() and not conversation.ended:
            tier: Tier = state.get("tier", "economy")
            heard, use = await read_line(
                self.script, self.llm, conversation, text, tier=tier,
                context=self._context(conversation.current_agent, state, conversation))
            tokens, errors = _add_tokens(tokens, tier, use.tokens), use.errors
        new, reply = self.script.on_understanding(conversation, heard, text,
                                                  confidence=event.get("confidence"))
        return _Step(new, reply, tokens, errors)

    async def _carry_on(self, speaker: str, state: VoiceState, step: _Step,
                        reset: dict[str, Any] | None = None) -> Command:
        """After taking the turn: say our part, then hand on or finish the turn.
        `reset`: the router's fresh turn values, when the router itself took the turn."""
        reply = step.reply
        first = _parts(reply)[0]
        own = first.sentences if first.agent == speaker else []
        update: dict[str, Any] = {
            **(reset or {}),
            "conversation": step.conversation,
            "end_call": reply.end_call,
            "transfer": reply.transfer,
            "follow_up": reply.follow_up,
            "verbatim": said_as_written(self.script, state["event"]["kind"], reply,
                                        state["event"].get("confidence")),
            "tokens": _sum_tokens(state.get("tokens", {}), step.tokens),
            "errors": [*state.get("errors", []), *step.errors],
            "outcome": step.conversation.outcome,
        }
        return await self._pass(speaker, {**state, **update}, own, _hops(reply), update)

    async def _arrive(self, name: str, state: VoiceState, hops: list[Hop]) -> Command:
        """Take over the call mid-turn: time the handoff, check the context, say our part."""
        hop = hops[0]
        transitions = list(state.get("transitions", []))
        if transitions and transitions[-1].to_agent == name:
            transitions[-1] = transitions[-1].model_copy(update={
                "transition_duration_ms": round((time.time() - state["handoff_at"]) * 1000, 3),
                "context_preserved": _digest(state.get("conversation"))
                == state.get("handoff_digest"),
            })
        update: dict[str, Any] = {"transitions": transitions}
        if hop["trigger"] in OPENING_TRIGGERS:  # our words carry the recording disclosure
            update["verbatim"] = True
        return await self._pass(name, {**state, **update}, hop["sentences"], hops[1:], update)

    async def _pass(self, name: str, state: VoiceState, own: list[str], pending: list[Hop],
                    update: dict[str, Any]) -> Command:
        """Say our part of the turn; then hand on to the next agent, or end the turn."""
        said = list(state.get("sentences", []))
        if pending:  # not the last agent this turn: our part is said as written, now
            write = get_stream_writer()
            for sentence in own:
                write({"sentence": sentence, "agent": name})
            hop = pending[0]
            transition = AgentTransition(from_agent=name, to_agent=hop["to_agent"],
                                         trigger=hop["trigger"], timestamp=now())
            return Command(goto=hop["to_agent"], update={
                **update, "hops": pending, "sentences": [*said, *own],
                "speakers": [*state.get("speakers", []), *[name] * len(own)],
                "transitions": [*state.get("transitions", []), transition],
                "handoff_at": time.time(), "handoff_digest": _digest(state.get("conversation")),
            })
        spoken, tokens, errors = await self._speak(name, state, own)
        sentences = [*said, *spoken]
        event = state["event"]
        history = list(state.get("history", []))
        if sentences or event["kind"] != "start":
            history = [*history, {"caller": _describe(event), "agent": " ".join(sentences)}]
        return Command(goto=END, update={
            **update, "hops": [], "sentences": sentences, "tokens": tokens, "errors": errors,
            "speakers": [*state.get("speakers", []), *[name] * len(spoken)],
            "history": history[-HISTORY_TURNS:],
        })

    async def _speak(self, name: str, state: VoiceState, own: list[str]
                     ) -> tuple[list[str], dict[str, int], list[str]]:
        """The last agent's part of the turn: the template, or the LLM's words for it."""
        write = get_stream_writer()
        tokens = dict(state.get("tokens", {}))
        errors = list(state.get("errors", []))
        conversation = state.get("conversation")
        if self.llm is not None and own and not state.get("verbatim") and conversation:
            tier: Tier = state.get("tier", "economy")
            spoken, use = await write_part(
                self.llm, own, tier=tier, line=_describe(state["event"]),
                said=list(state.get("sentences", [])),
                context=self._context(name, state, conversation),
                on_sentence=lambda sentence: write({"sentence": sentence, "agent": name}),
            )
            return spoken, _add_tokens(tokens, tier, use.tokens), [*errors, *use.errors]
        for sentence in own:
            write({"sentence": sentence, "agent": name})
        return own, tokens, errors

    def _context(self, agent: str, state: VoiceState, conversation: ConversationState
                 ) -> TurnContext:
        return turn_context(agent, conversation, list(state.get("history", [])))

"""How a turn uses the LLM, wherever it is answered: by the agents in the orchestrator,
or by the session's direct path when the orchestrator cannot answer (the
specification's "falls back to a direct LLM"). One place, so both read and speak alike.

Two steps, each falling back to the rules without costing the caller a word:
- `read_line`: the rules' reading of the caller's line with the LLM's extraction
  combined over it (`graph.llm.combine`); a failed extraction leaves the rules' reading;
- `write_part`: the last speaker's part of the reply in its own voice, each sentence
  handed on as it is ready; a failed reply leaves the script's words, handed on the same
  way.

`said_as_written` tells which replies are never rewritten: what is done to the call or
sent to the caller must be said exactly, and a line heard too unsurely to act on must
not be answered as if it had been understood.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from graph.llm import LLMError, TieredLLM, TurnContext, combine
from graph.understanding.caller_line import Understanding
from graph.workflow.script import AgentReply, ConversationState, QualificationScript
from switchboard.models import Tier

# What each agent is there for, as the LLM is told when it writes that agent's words.
AGENT_ROLES: dict[str, str] = {
    "greeter": "you greet the caller, say the call may be recorded and learn who they are.",
    "qualifier": "you learn the caller's need, budget, who decides and their timeline, "
                 "asking only for what is still missing.",
    "objection_handler": "you answer the caller's hesitation once, briefly and kindly.",
    "scheduler": "you propose a meeting with a specialist and confirm a time.",
    "handoff": "you put the caller through to a person, or offer a call back.",
    "wrap_up": "you close the call politely, confirming what happens next.",
    "voicemail": "you leave a short message on an answering machine.",
}
# Turns whose words carry the recording disclosure: said exactly as written.
OPENING_TRIGGERS = frozenset({"call_started", "caller_silent", "caller_answered",
                              "voicemail_detected"})
# The recent turns the LLM is shown.
HISTORY_TURNS = 6


@dataclass
class LLMUse:
    """What a step cost: tokens, and the failures the rules covered (one line each)."""

    tokens: int = 0
    errors: list[str] = field(default_factory=list)


def turn_context(agent: str, conversation: ConversationState,
                 history: list[dict[str, str]]) -> TurnContext:
    """What the LLM is told of the call, for `agent`'s turn."""
    return TurnContext(
        agent=agent,
        role=AGENT_ROLES.get(agent, "you open the call."),
        pending_question=conversation.last_question if conversation.asked else None,
        facts=conversation.facts.model_dump(exclude_none=True),
        history=history[-HISTORY_TURNS:],
    )


def said_as_written(script: QualificationScript, event_kind: str, reply: AgentReply,
                    confidence: float | None) -> bool:
    """No caller line to answer, words that must be exact (they say what is done to the
    call, or sent to the caller, or carry the recording disclosure), or a line heard too
    unsurely to answer (the LLM would answer what was misheard): no rewriting."""
    return (event_kind not in ("text", "dtmf") or reply.end_call or reply.transfer
            or reply.follow_up is not None or script.unsure_of(confidence)
            or any(trigger in OPENING_TRIGGERS for _, _, trigger in reply.transitions))


async def read_line(script: QualificationScript, llm: TieredLLM,
                    conversation: ConversationState, text: str, *, tier: Tier,
                    context: TurnContext) -> tuple[Understanding, LLMUse]:
    """The caller's line as the rules and the LLM read it together."""
    heard = script.read_line(conversation, text)
    try:
        extracted, tokens = await llm.extract(tier, text, context)
    except LLMError as exc:
        return heard, LLMUse(errors=[str(exc)])  # the rules' reading stands
    expecting_meeting = conversation.asked in ("meeting", "meeting_time", "meeting_confirm")
    return combine(heard, extracted, expecting_meeting=expecting_meeting), LLMUse(tokens)


async def write_part(llm: TieredLLM, own: list[str], *, tier: Tier, line: str,
                     said: list[str], context: TurnContext,
                     on_sentence: Callable[[str], None]) -> tuple[list[str], LLMUse]:
    """The speaker's part (`own`, the script's words) as the LLM writes it, each sentence
    handed to `on_sentence` when ready; `said`: what was said before it this turn."""
    try:
        written = await llm.write_reply(tier, line=line, draft=own, said=said,
                                        context=context, on_sentence=on_sentence)
    except LLMError as exc:
        for sentence in own:  # the script's words speak instead
            on_sentence(sentence)
        return own, LLMUse(errors=[str(exc)])
    return written.sentences, LLMUse(written.tokens, [written.error] if written.error else [])

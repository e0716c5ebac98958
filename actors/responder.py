"""What answers a caller: the `TurnResponder` interface and the caller events it takes.

The session's `ConversationProcessor` hands each finished caller turn to a responder
and speaks what comes back. The direct path (`actors.direct_path`) is one responder;
the orchestrator of the agents sits in front of it as another.

A responder may hand each sentence of its reply on as soon as it has it (`on_sentence`),
so speech starts before the whole reply is written; the reply it returns still holds
every sentence, for the record.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal, Protocol

from graph.workflow.script import AgentReply
from switchboard.models import AgentTransition, CallFacts, FollowUpStatus, Outcome

CallerEventKind = Literal["text", "dtmf", "silence"]
# Takes one sentence of a reply still being written, to be spoken now.
SentenceSink = Callable[[str], Awaitable[None]]


@dataclass(frozen=True)
class CallerEvent:
    """One thing the caller did: said something, pressed a key, or stayed silent.

    `confidence`: how sure the recogniser was of spoken `text` (0-1); None when no
    recogniser heard it (text mode, key presses) or the engine reports none."""

    kind: CallerEventKind
    text: str = ""
    confidence: float | None = None

    def describe(self) -> str:
        """How the turn reads in the call record."""
        if self.kind == "dtmf":
            return f"[pressed {self.text}]"
        if self.kind == "silence":
            return "[silence]"
        return self.text


@dataclass
class ResponderView:
    """What a responder knows of the call after a step, for the record."""

    current_agent: str
    facts: CallFacts
    qualification_score: float
    outcome: Outcome | None
    new_transitions: list[AgentTransition]


class TurnResponder(Protocol):
    """Produces the agent's replies for one call."""

    async def open(self) -> AgentReply | None:
        """The agent's first words, or None when the caller speaks first."""
        ...

    async def respond(self, event: CallerEvent, *, turn: int | None = None,
                      on_sentence: SentenceSink | None = None) -> AgentReply:
        """The agent's answer to caller turn number `turn`; the same turn asked again
        (replayed after a failure) is answered once. With `on_sentence`, sentences may
        be handed to it before the answer is complete: the answer's first sentences
        are then those, in order, unless the turn fell back after them."""
        ...

    async def follow_up_result(self, status: FollowUpStatus) -> AgentReply:
        """The rest of a turn whose reply asked for a text (`AgentReply.follow_up`): what
        to say now that sending it went as `status` says (the goodbye)."""
        ...

    def resume_reply(self) -> AgentReply:
        """After the call moved to a new actor: a short bridge and the pending question."""
        ...

    def view(self) -> ResponderView:
        """The call as the responder sees it now; drains new transitions."""
        ...

    def final_outcome(self) -> Outcome:
        """The outcome if the call ended now."""
        ...

    def snapshot(self) -> dict:
        """JSON-able state, checkpointed so another actor can continue the call."""
        ...

    def restore(self, snapshot: dict) -> None:
        """Continue from a `snapshot` another actor checkpointed."""
        ...

    def take_errors(self) -> list[str]:
        """Errors met since the last call (a failing LLM), for the call's record."""
        ...

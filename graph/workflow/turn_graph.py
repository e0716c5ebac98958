"""The LangGraph workflow of voice agents: one invocation answers one caller turn.

    START ─▶ router ─Command─▶ <the agent holding the call> ─Command─▶ <next agent> … ─▶ END

The router reads the turn's caller event and sends it to the agent that holds the
call (`conversation.current_agent`); before any agent holds it, the router itself
opens the call, as the `start` of the transitions. An agent that hands the call on
returns `Command(goto=<next agent>, update=...)` and records an `AgentTransition`;
the agent that holds the call when the turn ends writes the reply. The nodes live
in `graph.workflow.agents`; this module owns the state and the wiring.

The graph is checkpointed with `thread_id` = CallSid (`graph.checkpointer`), so the
next turn may run on any replica. Each checkpoint also records which caller turn it ran
(`turn`, `turn_event`), so the orchestrator can tell a replayed turn from a new one
(`graph.workflow.orchestrator`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Literal, NotRequired, TypedDict

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Command

from graph.workflow.state import ConversationState
from switchboard import tracing
from switchboard.models import AgentName, AgentTransition, CallFacts, Direction, Outcome, Tier

if TYPE_CHECKING:
    from graph.workflow.agents import VoiceAgents

ROUTER = "router"
AGENTS: tuple[AgentName, ...] = (
    "greeter", "qualifier", "objection_handler", "scheduler", "handoff", "wrap_up", "voicemail",
)

EventKind = Literal["start", "text", "dtmf", "silence", "hangup"]


class CallerTurn(TypedDict):
    """What the caller did this turn: the call started, they spoke (`text`), pressed a
    key (`text` is the digit), stayed silent for a reprompt interval, or hung up.
    `confidence`: how sure the recogniser was of spoken `text`; absent when no
    recogniser heard it. Not part of the turn's fingerprint: the words are."""

    kind: EventKind
    text: str
    confidence: NotRequired[float]


class Hop(TypedDict):
    """A handoff still to happen this turn, and what the agent taking over says."""

    from_agent: str
    to_agent: str
    trigger: str
    sentences: list[str]


class VoiceState(TypedDict, total=False):
    """The graph's state. Input keys are set by the orchestrator on every turn; the
    conversation and history persist between turns; the rest is this turn's result,
    reset by the router."""

    # input, every turn
    call_id: str
    direction: Direction
    answered_by: str | None
    can_text: bool  # the lead's number can take a text (read when the call opens)
    tier: Tier
    event: CallerTurn
    # The turn this checkpoint ran: the session's number for the caller event (None
    # when the session gave none) and a fingerprint of the event (kind + text).
    # Input keys, never reset by the router: with the per-turn keys below they are
    # what lets a replayed turn be answered from the checkpoint instead of run twice.
    # `adopt_conversation` clears `turn_event`: the state is then the session's, not
    # the result of that turn.
    turn: int | None
    turn_event: str | None

    # carried from turn to turn
    conversation: ConversationState | None
    history: list[dict[str, str]]  # the last few exchanges, for the LLM's context

    # this turn
    hops: list[Hop]  # handoffs still to happen
    verbatim: bool  # the last agent's words are said as written (disclosures, goodbyes)
    sentences: list[str]  # what the caller hears, in order, agent after agent
    speakers: list[str]  # the agent saying each of `sentences`, for a replayed turn's stream
    end_call: bool
    transfer: bool
    follow_up: str | None  # a follow-up the caller agreed to, for the session to carry out
    transitions: list[AgentTransition]
    tokens: dict[str, int]  # LLM tokens spent this turn, by tier
    # what went wrong this turn and was covered: one readable line per LLM failure
    # (`LLMError`), which the orchestrator's answer carries to the call record
    errors: list[str]
    outcome: Outcome | None  # reached so far; the final outcome once the caller hangs up
    handoff_at: float  # wall clock of the last handoff, for its duration
    handoff_digest: str  # fingerprint of the conversation handed over


def build_workflow(agents: VoiceAgents) -> StateGraph:
    """The graph of `agents`' nodes, not yet compiled."""
    builder = StateGraph(VoiceState)
    builder.add_node(ROUTER, _traced(ROUTER, agents.route), destinations=(*AGENTS, END))
    for name in AGENTS:
        others = tuple(agent for agent in AGENTS if agent != name)
        builder.add_node(name, _traced(name, agents.node(name)), destinations=(*others, END))
    builder.add_edge(START, ROUTER)
    return builder


Node = Callable[[VoiceState], Awaitable[Command]]


def _traced(name: str, node: Node) -> Node:
    """`node` in a span of its own (`agent.<name>`), under the orchestrator's span of
    the turn; the LLM calls it makes are its children. Nothing when tracing is off."""

    async def run(state: VoiceState) -> Command:
        with tracing.span(f"agent.{name}", attributes={"agent": name}):
            return await node(state)

    return run


# The classes the state holds, which the checkpointer may revive from Redis. LangGraph
# derives this list from the schema only under LANGGRAPH_STRICT_MSGPACK; we always
# deserialize strictly, so we name them (a test checks a turn round-trips).
STATE_TYPES: tuple[tuple[str, str], ...] = tuple(
    (cls.__module__, cls.__name__)
    for cls in (ConversationState, CallFacts, AgentTransition, Outcome)
)


def compile_workflow(agents: VoiceAgents,
                     checkpointer: BaseCheckpointSaver | None = None) -> CompiledStateGraph:
    """The runnable workflow, checkpointed by `checkpointer` (thread_id = CallSid)."""
    if checkpointer is not None:
        checkpointer = checkpointer.with_allowlist(STATE_TYPES)
    return build_workflow(agents).compile(checkpointer=checkpointer, name="voice_agents")

"""The conversation's state and an agent's reply: the data of the qualification workflow.

Owns the two models the direct path and the LangGraph agents pass around.
`ConversationState` is JSON-serialisable because it is checkpointed in Redis
between turns; it carries only data, never settings (those live in the script).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from graph.workflow.policy import CallSignals
from switchboard.models import (
    AgentName,
    CallFacts,
    Direction,
    FollowUpKind,
    FollowUpStatus,
    Outcome,
)
from switchboard.settings import DEFAULT_QUESTION_ORDER

# The question an agent is waiting on an answer to.
Question = Literal[
    "identity",  # greeter: who is calling
    "permission",  # qualifier: may I ask a few questions
    "need", "budget", "authority", "timeline",  # qualifier: BANT
    "objection",  # objection_handler: after a rebuttal, may I go on
    "budget_confirm",  # qualifier: a bare "about fifty" meant `pending_budget` (thousands)?
    "timeline_confirm",  # qualifier: a bare "around six" meant `pending_timeline` months?
    "meeting",  # scheduler: does the proposed time work
    "meeting_time",  # scheduler: which time works instead
    "meeting_confirm",  # scheduler: is the time read back right (`pending_meeting`)
    "anything_else",  # wrap_up: anything else before goodbye
    "callback",  # wrap_up / handoff: may we call you back
    "callback_time",  # wrap_up: when should we call back
    "opt_out_confirm",  # any agent: should we stop calling (a possible opt-out was heard)
    "person_confirm",  # any agent: put you through to a person (a possible ask was heard)
    "info_confirm",  # the caller asked for information: text you a link with the details?
    "email_confirm",  # likewise, when this number cannot take a text: have someone email?
]
# The qualifying questions, in the script's default order (settings may reorder them).
BANT_QUESTIONS: tuple[Question, ...] = DEFAULT_QUESTION_ORDER


class ConversationState(BaseModel):
    """Where a call's conversation stands; checkpointed as JSON after every turn."""

    direction: Direction
    current_agent: AgentName = "start"
    facts: CallFacts = Field(default_factory=CallFacts)
    asked: Question | None = None
    attempts: int = 0  # times the pending question went unanswered in words
    times_asked: int = 0  # times the pending question was put in a row
    # questions given up after two lines heard too unsurely to use (a bad line)
    unheard_questions: int = 0
    reprompts: int = 0  # consecutive silences since the caller last spoke
    outcome: Outcome | None = None  # the outcome reached so far
    ended: bool = False  # the agent has ended or handed over the call
    turns: int = 0

    caller_name: str | None = None
    role: str | None = None
    no_need: bool = False
    no_budget: bool = False
    skipped: list[str] = Field(default_factory=list)  # criteria the caller could not answer
    objections: int = 0
    declined: bool = False
    callback_requested: bool = False
    human_requested: bool = False
    opted_out: bool = False
    transferred: bool = False
    voicemail: bool = False
    proposed_meeting: str | None = None
    # A day and hour the caller offered before we proposed one: proposed back to them
    # once they qualify, instead of a time of our own.
    offered_meeting: str | None = None
    meeting_confirmed: bool = False
    interrupted_question: Question | None = None  # pending when a check interrupted it
    pending_budget: float | None = None  # a bare figure's likely meaning, asked about
    pending_timeline: float | None = None  # likewise, in months
    pending_meeting: str | None = None  # a time the caller gave, read back, not yet booked
    last_question: str | None = None  # the pending question as spoken, for repeats
    pitched: bool = False  # we have said what we do
    # The caller's number can take a text (set when the call opens); without it an
    # information request is offered an email from a person instead of a link.
    can_text: bool = False
    info_offered: bool = False  # offered once per call
    follow_up: FollowUpKind | None = None  # what the caller agreed to be sent
    follow_up_status: FollowUpStatus | None = None  # how sending it went, as last heard

    def signals(self) -> CallSignals:
        return CallSignals(
            opted_out=self.opted_out,
            transferred=self.transferred,
            voicemail=self.voicemail,
            callback_requested=self.callback_requested,
            human_requested=self.human_requested,
            declined=self.declined,
            no_need=self.no_need,
            no_budget=self.no_budget,
            follow_up=self.follow_up,
        )


class AgentReply(BaseModel):
    """What an agent says in one step, and what it does to the call."""

    sentences: list[str] = Field(default_factory=list)  # short, for the ear, numbers as words
    agent: str
    end_call: bool = False  # hang up after speaking
    transfer: bool = False  # hand the call to a person (the transfer number)
    transitions: list[tuple[str, str, str]] = Field(default_factory=list)  # (from, to, trigger)
    # A follow-up the caller agreed to, for the session to carry out: `sms_link` is texted
    # now (and the script told how it went, `QualificationScript.on_follow_up`); `email`
    # is recorded for a person to do.
    follow_up: FollowUpKind | None = None

    @classmethod
    def from_orchestrator(cls, response: dict[str, Any]) -> AgentReply:
        """A `process_voice_input` answer (its wire form across the Ray hop)."""
        return cls(
            sentences=response["sentences"],
            agent=response["agent"] or "start",
            end_call=response["end_call"],
            transfer=response["transfer"],
            transitions=[(t["from_agent"], t["to_agent"], t["trigger"])
                         for t in response["transitions"]],
            follow_up=response.get("follow_up"),
        )

    @property
    def text(self) -> str:
        return " ".join(self.sentences)

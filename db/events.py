"""The outbox events: what session actors tell the recorder, one pydantic model per type.

An event travels as one Redis stream entry with two fields: `type` (for people reading
the stream) and `data`, the event's JSON including its `type`. `decode` turns an entry
back into a model and raises `UndecodableEvent` for anything it cannot read.
"""

from __future__ import annotations

import json
from typing import Annotated, Literal
from uuid import uuid4

from pydantic import BaseModel, Field, TypeAdapter, ValidationError

from switchboard import tracing
from switchboard.models import (
    AgentTransition,
    CallFacts,
    CallSession,
    FollowUp,
    Outcome,
    TierDecision,
    TurnRecord,
    now,
)

# What a CallSession carries that the records do not need, and may not be JSON-safe.
SESSION_EXCLUDE = {"workflow_state", "agent_transition_history"}


class BaseEvent(BaseModel):
    """What every event carries."""

    type: str
    # Unique per event; keys rows that have no natural key (status callbacks).
    event_id: str = Field(default_factory=lambda: uuid4().hex)
    at: float = Field(default_factory=now)
    # The W3C trace context of the span current where the event was written (a session
    # actor's span of the call): the recorder's span applying it hangs under it. Empty
    # when tracing is off.
    trace: dict[str, str] = Field(default_factory=dict)


class CallStarted(BaseEvent):
    type: Literal["call_started"] = "call_started"
    session: CallSession


class TurnRecorded(BaseEvent):
    type: Literal["turn"] = "turn"
    call_sid: str
    turn: TurnRecord


class TransitionRecorded(BaseEvent):
    type: Literal["transition"] = "transition"
    call_sid: str
    seq: int
    transition: AgentTransition


class TierDecided(BaseEvent):
    type: Literal["tier_decision"] = "tier_decision"
    call_sid: str
    seq: int
    decision: TierDecision


class CallUpdated(BaseEvent):
    type: Literal["call_updated"] = "call_updated"
    call_sid: str
    current_agent: str
    facts: CallFacts
    qualification_score: float = Field(ge=0, le=1)
    outcome: Outcome | None
    tier: Literal["economy", "premium"]


class CallEnded(BaseEvent):
    type: Literal["call_ended"] = "call_ended"
    session: CallSession
    facts: CallFacts
    qualification_score: float = Field(ge=0, le=1)
    cost_usd: float = Field(ge=0)
    cost_breakdown: dict[str, float]


class CallFailed(BaseEvent):
    """A call nobody could carry on (its actor and stream gone, not resumed in time).

    It ends `failed` with what its last checkpoint knew; without a checkpoint, with what
    the record already holds. It never changes a call that has already ended."""

    type: Literal["call_failed"] = "call_failed"
    call_sid: str
    message: str
    session: CallSession | None = None
    outcome: Outcome | None = None
    facts: CallFacts | None = None
    qualification_score: float | None = Field(None, ge=0, le=1)
    cost_usd: float | None = Field(None, ge=0)
    cost_breakdown: dict[str, float] | None = None


class StatusCallback(BaseEvent):
    type: Literal["status_callback"] = "status_callback"
    call_sid: str
    call_status: str
    params: dict[str, str]


class CallError(BaseEvent):
    type: Literal["error"] = "error"
    call_sid: str
    message: str


class FollowUpRecorded(BaseEvent):
    """What the caller was promised after the call (a text with a link) and how far it
    got: `pending` when agreed, then `sent` or `failed`."""

    type: Literal["follow_up"] = "follow_up"
    call_sid: str
    follow_up: FollowUp


class DoNotCall(BaseEvent):
    type: Literal["do_not_call"] = "do_not_call"
    number: str = Field(min_length=1)
    call_sid: str | None = None


Event = Annotated[
    CallStarted
    | TurnRecorded
    | TransitionRecorded
    | TierDecided
    | CallUpdated
    | CallEnded
    | CallFailed
    | StatusCallback
    | CallError
    | FollowUpRecorded
    | DoNotCall,
    Field(discriminator="type"),
]
_EVENT: TypeAdapter[Event] = TypeAdapter(Event)

class UndecodableEvent(ValueError):
    """A stream entry that is not a valid event: bad JSON, unknown type, wrong fields."""


def encode(event: BaseEvent) -> dict[str, str]:
    """The stream entry fields for `event`."""
    if not event.trace:
        event.trace = tracing.inject()
    carries_session = isinstance(event, CallStarted | CallEnded | CallFailed)
    exclude = {"session": SESSION_EXCLUDE} if carries_session else None
    return {"type": event.type, "data": event.model_dump_json(exclude=exclude)}


def decode(fields: dict[str, str]) -> Event:
    """The event in a stream entry's fields (already decoded to text)."""
    data = fields.get("data")
    if data is None:
        raise UndecodableEvent("entry has no 'data' field")
    try:
        return _EVENT.validate_json(data)
    except ValidationError as exc:
        try:
            json.loads(data)
        except ValueError:
            raise UndecodableEvent(f"not JSON: {data[:200]!r}") from None
        raise UndecodableEvent(f"not a valid event: {exc}") from None

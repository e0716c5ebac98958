"""Data models shared by every part: the call, its facts, turns and agent transitions.

Names follow the specification: `CallSession`, `AgentTransition`,
`VoiceAgentIntegrationContext`.
"""

from __future__ import annotations

import time
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, Field

AgentName = Literal[
    "start", "greeter", "qualifier", "objection_handler", "scheduler", "handoff", "wrap_up",
    "voicemail",
]
Tier = Literal["economy", "premium"]
Direction = Literal["inbound", "outbound"]
CallMode = Literal["audio", "text"]
# What a caller who asked to be sent information was promised: a text with the link
# (`sms_link`), or, when the number cannot take one, an email from a person (`email`).
FollowUpKind = Literal["sms_link", "email"]
# `requested`: a person will do it; `pending`: the text is on its way to Twilio (or
# Twilio's answer did not come in time); `sent`: Twilio accepted it; `failed`: it did not.
FollowUpStatus = Literal["requested", "pending", "sent", "failed"]


class Outcome(StrEnum):
    QUALIFIED = "qualified"
    NURTURE = "nurture"
    DISQUALIFIED = "disqualified"
    OPTED_OUT = "opted_out"
    TRANSFERRED = "transferred"
    VOICEMAIL = "voicemail"
    ABANDONED = "abandoned"


class CallStatus(StrEnum):
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    FAILED = "failed"


def now() -> float:
    """Wall-clock seconds; every timestamp in the models uses it."""
    return time.time()


class CallFacts(BaseModel):
    """What the caller told us, BANT and the meeting; None where unknown."""

    budget_usd: float | None = None
    decision_maker: bool | None = None
    need: str | None = None
    timeline_months: float | None = None
    meeting_time: str | None = None


class AgentTransition(BaseModel):
    """One handoff between agents."""

    from_agent: str
    to_agent: str
    timestamp: float = Field(default_factory=now)
    trigger: str
    context_preserved: bool = True
    transition_duration_ms: float = 0.0


class TurnRecord(BaseModel):
    """One caller turn and the agent's answer to it."""

    seq: int
    user_text: str
    agent_text: str
    agent: str
    latency_ms: float | None = None
    fallback: bool = False
    at: float = Field(default_factory=now)


class TierDecision(BaseModel):
    """One decision of the budget about a call's model tier."""

    tier: Tier
    at: float = Field(default_factory=now)
    trigger: str
    approved: bool
    reason: str


class FollowUp(BaseModel):
    """What the caller was promised after the call, and how far it got: the report's
    `follow_up`."""

    kind: FollowUpKind
    to: str | None = None  # the lead's number
    status: FollowUpStatus
    message_sid: str | None = None  # Twilio's Message SID ("SM..."), once it has one
    link: str | None = None  # the link texted
    error: str | None = None  # why it failed (Twilio's code and message)
    requested_at: float = Field(default_factory=now)
    updated_at: float = Field(default_factory=now)


class CallSession(BaseModel):
    """Everything a session actor holds about its call; checkpointed in Redis."""

    call_sid: str
    stream_sid: str | None = None
    mode: CallMode = "audio"
    direction: Direction = "inbound"
    from_number: str = ""
    to_number: str = ""
    answered_by: str | None = None
    started_at: float = Field(default_factory=now)
    status: CallStatus = CallStatus.IN_PROGRESS
    outcome: Outcome | None = None
    tier: Tier = "economy"

    # Specification names
    workflow_context_id: str | None = None
    current_agent: str = "start"
    agent_transition_history: list[AgentTransition] = Field(default_factory=list)
    workflow_state: dict[str, Any] = Field(default_factory=dict)
    last_state_sync: float | None = None
    integration_enabled: bool = True

    # What the call runs on (DESIGN.md "Configuration, flags, versions"): the live
    # settings version and block it started with, its flags, the Serve application
    # that took it and the code version that served it.
    config_version: str = "env"
    live_config: dict[str, Any] = Field(default_factory=dict)
    flags: dict[str, bool] = Field(default_factory=dict)
    # The experiment the call takes part in and the variant it was given, decided at
    # its start (`switchboard.experiments`); None when none.
    experiment: str | None = None
    variant: str | None = None
    app: str = ""
    app_version: str = ""
    # The call's OpenTelemetry trace (32 hex digits; None when not traced), as in its
    # report, and the W3C context of the session's span of the call, which spans
    # serving it after a takeover hang under.
    trace_id: str | None = None
    trace: dict[str, str] = Field(default_factory=dict)

    # What the caller was promised after the call (a text with a link), once agreed.
    follow_up: FollowUp | None = None

    turns_taken: int = 0
    fallback_turns: int = 0
    recovered: int = 0
    errors: list[str] = Field(default_factory=list)

    def live_settings_ref(self) -> dict[str, Any]:
        """What a deployment needs to serve this call by its own settings: the live
        version and block it started with, and its experiment variant."""
        return {"version": self.config_version, "block": self.live_config,
                "experiment": self.experiment, "variant": self.variant}

    @property
    def lead_number(self) -> str:
        """The lead's number: Twilio's From on an inbound call, To on an outbound one."""
        return self.from_number if self.direction == "inbound" else self.to_number

    @property
    def agent_number(self) -> str:
        """The number the call is on, ours: the other end from the lead's."""
        return self.to_number if self.direction == "inbound" else self.from_number


class VoiceAgentIntegrationContext(BaseModel):
    """How a voice session and its workflow are kept in step."""

    call_id: str
    voice_session: str
    workflow_context: str
    sync_status: Literal["in_sync", "pending", "failed"] = "pending"
    last_sync_timestamp: float | None = None
    error_count: int = 0
    fallback_active: bool = False

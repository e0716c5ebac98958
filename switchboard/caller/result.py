"""What a simulated call gives back: its result, or why it could not be placed."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from switchboard.caller.turns import TurnTiming

EndedBy = Literal["caller", "agent"]


class CallFailed(RuntimeError):
    """The call could not be placed (refused, unreachable, bad TwiML); the message says why."""


@dataclass
class LegResult:
    """How the conversation itself went, seen from the caller's end of the line."""

    ended_by: EndedBy
    duration_s: float
    timings: list[TurnTiming] = field(default_factory=list)
    # Audio mode only: the voice webhook's answer (ring to TwiML), from `start` to the
    # first agent audio, and the playback gaps heard inside agent turns.
    answered_ms: float | None = None
    first_agent_audio_ms: float | None = None
    playback_gaps_ms: list[float] = field(default_factory=list)
    # Audio mode: media streams the call used (more than one after a reconnect).
    streams: int = 1


@dataclass
class CallResult:
    """A completed call: how it ended, what the caller measured, and the server's record."""

    call_sid: str
    mode: Literal["audio", "text"]
    ended_by: EndedBy
    duration_s: float
    timings: list[TurnTiming]
    record: dict[str, Any] | None
    record_final: bool
    first_agent_audio_ms: float | None = None
    playback_gaps_ms: list[float] = field(default_factory=list)
    streams: int = 1

    @property
    def outcome(self) -> str | None:
        return (self.record or {}).get("outcome")

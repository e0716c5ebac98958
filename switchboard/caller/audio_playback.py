"""The caller's loudspeaker: plays the agent's audio at real time, as a phone would.

Twilio buffers the audio an application sends and plays it at 8000 μ-law bytes a
second; a `mark` comes back once everything sent before it has played, and `clear`
throws the buffer away and returns every pending mark at once. This clock models
exactly that, on times given by the caller (a monotonic clock), so it can be driven
and tested without sleeping. `Handset` reads the server's stream messages onto that
clock and tells the turn tracker what they mean; sending is left to the caller's loop
(asyncio in `switchboard call`, synchronous in the locust audio user).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections import deque
from dataclasses import dataclass
from typing import Any

from switchboard.caller.turns import TurnTracker
from switchboard.caller.twilio_protocol import SAMPLE_RATE, is_silent

# The agent's turn is over after this much silence following its audio (DESIGN.md).
AGENT_SILENCE_ENDS_TURN_S = 1.0


@dataclass(frozen=True)
class PendingMark:
    """A mark waiting for playback to reach it; `tag` is the caller's note about it."""

    name: str
    due: float
    tag: Any = None


class PlaybackClock:
    """Queued playback time of received audio, and the marks placed in it."""

    def __init__(self, bytes_per_second: int = SAMPLE_RATE) -> None:
        self._bytes_per_second = bytes_per_second
        self._ends_at = 0.0
        self._marks: deque[PendingMark] = deque()
        self._in_turn = False
        # Underruns inside an agent turn: audio arrived after the previous audio had
        # finished playing, so the caller heard a gap of that many seconds.
        self.gaps: list[float] = []

    @property
    def ends_at(self) -> float:
        """When the audio queued so far will have finished playing."""
        return self._ends_at

    def playing(self, now: float) -> bool:
        return now < self._ends_at

    def play(self, payload_bytes: int, now: float) -> float:
        """Queue `payload_bytes` of audio received at `now`; returns when it ends playing."""
        if self._in_turn and now > self._ends_at:
            self.gaps.append(now - self._ends_at)
        self._in_turn = True
        # An idle line starts playing at once; otherwise the audio waits its turn.
        self._ends_at = max(now, self._ends_at) + payload_bytes / self._bytes_per_second
        return self._ends_at

    def mark(self, name: str, now: float, tag: Any = None) -> PendingMark:
        """Place a mark after the audio queued so far."""
        # A mark closes the agent's turn: a pause before the next audio is not a gap.
        self._in_turn = False
        pending = PendingMark(name=name, due=max(now, self._ends_at), tag=tag)
        self._marks.append(pending)
        return pending

    def due_marks(self, now: float) -> list[PendingMark]:
        """Marks that playback has reached by `now`, in order; they leave the queue."""
        due = []
        while self._marks and self._marks[0].due <= now:
            due.append(self._marks.popleft())
        return due

    def clear(self, now: float) -> list[PendingMark]:
        """Drop the queued audio; every pending mark is released at once, in order."""
        self._ends_at = min(self._ends_at, now)
        self._in_turn = False
        released = list(self._marks)
        self._marks.clear()
        return released


class Handset:
    """The caller's ear on one media stream: the server's `media`, `mark` and `clear`
    played on a `PlaybackClock`, and what they mean for turn taking told to the
    `TurnTracker`. The caller echoes the marks it is handed, then calls `echoed`."""

    def __init__(self, turns: TurnTracker) -> None:
        self.turns = turns
        self.playback = PlaybackClock()
        self.heard_server = False  # the server has sent something on the stream
        self.first_agent_audio_at: float | None = None
        self._agent_speech_ends_at: float | None = None

    def hear(self, raw: str | bytes, now: float) -> list[PendingMark]:
        """One message from the server at `now`; returns the marks to echo at once."""
        try:
            message = json.loads(raw)
            event = message["event"]
        except (ValueError, KeyError, TypeError):
            return []  # Twilio ignores what it cannot parse
        self.heard_server = True
        if event == "media":
            try:
                payload = base64.b64decode(message["media"]["payload"], validate=True)
            except (KeyError, TypeError, binascii.Error):
                return []
            ends_at = self.playback.play(len(payload), now)
            if not is_silent(payload):
                if self.first_agent_audio_at is None:
                    self.first_agent_audio_at = now
                self._agent_speech_ends_at = ends_at
                self.turns.agent_spoke(now)
        elif event == "mark":
            name = str((message.get("mark") or {}).get("name", ""))
            # A mark ends the agent's turn only if it follows audio heard since the caller spoke.
            tag = self.turns.epoch if self.turns.agent_spoke_this_epoch else None
            self.playback.mark(name, now, tag=tag)
        elif event == "clear":
            if self._agent_speech_ends_at is not None:
                self._agent_speech_ends_at = min(self._agent_speech_ends_at, now)
            return self.playback.clear(now)
        return []

    def due_marks(self, now: float) -> list[PendingMark]:
        """Marks playback has reached by `now`: the caller echoes them."""
        return self.playback.due_marks(now)

    def echoed(self, mark: PendingMark) -> None:
        """`mark` went back to the server: if it closed the agent's reply, the caller may speak."""
        if mark.tag is not None and mark.tag == self.turns.epoch:
            self.turns.agent_turn_ended()

    def check_agent_silence(self, now: float) -> None:
        """A second of silence after the agent's audio also ends its turn."""
        if (
            self.turns.agent_in_turn
            and self._agent_speech_ends_at is not None
            and now >= self._agent_speech_ends_at + AGENT_SILENCE_ENDS_TURN_S
        ):
            self.turns.agent_turn_ended()

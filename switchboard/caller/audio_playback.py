"""The caller's loudspeaker: plays the agent's audio at real time, as a phone would.

Twilio buffers the audio an application sends and plays it at 8000 μ-law bytes a
second; a `mark` comes back once everything sent before it has played, and `clear`
throws the buffer away and returns every pending mark at once. This clock models
exactly that, on times given by the caller (a monotonic clock), so it can be driven
and tested without sleeping.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

from switchboard.caller.twilio_protocol import SAMPLE_RATE


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

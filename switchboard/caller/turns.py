"""Turn taking of the simulated caller (DESIGN.md "Turn taking"), the same in both modes.

The caller speaks when the agent's turn has ended. Each mode tells the tracker what it
observed — the agent said something, the agent's turn ended (a mark echoed, a second of
silence, or `turn_end`) — and the script waits on `agent_turn_over`. It also measures,
for every caller turn that expects an answer, the time from the end of the caller's
speech to the agent's first audio (or first sentence in text mode).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class TurnObserver:
    """Told what happens on the line as it happens; drills and benchmarks time faults and
    measurements to it. `on_caller_turn(line)` when the caller has finished a turn,
    `on_agent_heard(at)` (monotonic time) whenever the agent is heard."""

    on_caller_turn: Callable[[str], None] | None = None
    on_agent_heard: Callable[[float], None] | None = None


@dataclass
class TurnTiming:
    """One caller turn and how long the agent took to start answering it."""

    line: str
    ended_at: float
    latency_ms: float | None = None


class TurnTracker:
    """Whose turn it is, from the caller's side of the line."""

    def __init__(
        self,
        *,
        agent_speaks_first: bool,
        observer: TurnObserver | None = None,
    ) -> None:
        # `epoch` counts caller turns; an agent event belongs to the turn it follows.
        self.epoch = 0
        self.timings: list[TurnTiming] = []
        self._awaiting_reply = agent_speaks_first
        self._agent_in_turn = False
        self._agent_spoke_this_epoch = False
        self._call_over = False
        self._changed = asyncio.Event()
        self._observer = observer or TurnObserver()

    @property
    def agent_spoke_this_epoch(self) -> bool:
        """The agent has been heard since the caller's last turn."""
        return self._agent_spoke_this_epoch

    @property
    def agent_in_turn(self) -> bool:
        return self._agent_in_turn

    @property
    def caller_may_speak(self) -> bool:
        return not self._awaiting_reply and not self._agent_in_turn

    def caller_took_turn(self, line: str, ended_at: float, *, expects_reply: bool) -> None:
        """The caller finished a turn at `ended_at` (a silence expects no reply)."""
        self.epoch += 1
        self._awaiting_reply = expects_reply
        self._agent_spoke_this_epoch = False
        if expects_reply:
            self.timings.append(TurnTiming(line=line, ended_at=ended_at))
        if self._observer.on_caller_turn is not None:
            self._observer.on_caller_turn(line)

    def agent_spoke(self, now: float) -> None:
        """The agent was heard (audio that is not silence, or a sentence)."""
        self._agent_in_turn = True
        self._agent_spoke_this_epoch = True
        if self._observer.on_agent_heard is not None:
            self._observer.on_agent_heard(now)
        if self._awaiting_reply and self.timings:
            timing = self.timings[-1]
            if timing.latency_ms is None:
                timing.latency_ms = max(0.0, (now - timing.ended_at) * 1000)

    def expect_agent(self) -> None:
        """The call came back on a new stream: the agent speaks next (its turn in flight
        was lost with the old stream)."""
        self._agent_in_turn = False
        self._awaiting_reply = True
        self._agent_spoke_this_epoch = False

    def agent_turn_ended(self) -> None:
        """The agent finished its turn: the caller may speak."""
        self._agent_in_turn = False
        self._awaiting_reply = False
        self._changed.set()

    def call_ended(self) -> None:
        """Nobody waits for a turn on a call that is over."""
        self._call_over = True
        self._changed.set()

    async def agent_turn_over(self, timeout_s: float) -> bool:
        """Wait until the caller may speak (or the call is over); False on timeout."""
        try:
            async with asyncio.timeout(timeout_s):
                while not (self.caller_may_speak or self._call_over):
                    self._changed.clear()
                    await self._changed.wait()
        except TimeoutError:
            return False
        return True

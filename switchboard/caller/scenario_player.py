"""The caller's side of the conversation: plays a scenario's lines with turn taking.

The same script drives both modes; each mode supplies a `CallerLeg` that knows how to
say a line, press keys, stay silent and hang up on its wire, and reports to its
`TurnTracker` what it hears from the agent.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Awaitable

from websockets.asyncio.client import ClientConnection

from switchboard.caller.result import CallFailed, EndedBy
from switchboard.caller.transcript import Transcript
from switchboard.caller.turns import TurnTracker
from switchboard.scenario import Dtmf, Hangup, Scenario, Silence

# A generous bound on waiting for the agent: it reprompts after 6 s of silence, so a
# turn that never ends means the server is stuck; the caller then carries on, as a
# person on the phone would.
AGENT_TURN_TIMEOUT_S = 20.0
# Close codes of a call that simply ended (1005: the closing side gave no code).
NORMAL_CLOSE_CODES = frozenset({1000, 1001, 1005})


class CallerLeg(ABC):
    """One end of a call, as the simulated caller holds it."""

    def __init__(self, turns: TurnTracker) -> None:
        self.turns = turns
        self.ended = asyncio.Event()
        self.ended_by: EndedBy | None = None
        self.heard_server = False  # the server has sent something on the stream

    def end(self, by: EndedBy) -> None:
        """The call is over (the first cause wins)."""
        if not self.ended.is_set():
            self.ended_by = by
            self.ended.set()
            self.turns.call_ended()

    def take_lost_line(self) -> str | None:
        """A line the agent never heard (a stream dropped while it was said, before its
        answer): the caller says it again. Only audio calls lose lines."""
        return None

    async def until_ended(self, awaitable: Awaitable[object]) -> None:
        """Await `awaitable`, or stop waiting as soon as the call ends."""
        task = asyncio.ensure_future(awaitable)
        ended = asyncio.ensure_future(self.ended.wait())
        try:
            await asyncio.wait({task, ended}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for pending in (task, ended):
                pending.cancel()

    @abstractmethod
    async def say(self, text: str) -> None: ...

    @abstractmethod
    async def press(self, digits: str) -> None: ...

    @abstractmethod
    async def stay_silent(self, seconds: float) -> None: ...

    @abstractmethod
    async def hang_up(self) -> None: ...


async def play_script(scenario: Scenario, leg: CallerLeg, transcript: Transcript) -> None:
    """Play every line in turn until the caller hangs up or the call ends."""
    for index, line in enumerate(scenario.lines):
        # On an outbound call the lead answers: the first line is spoken at once.
        if not (index == 0 and scenario.direction == "outbound"):
            await _wait_for_agent(leg, transcript)
        lost = leg.take_lost_line()
        if lost is not None and not leg.ended.is_set():
            transcript.caller(f"{lost} (again: the line dropped)")
            await leg.say(lost)
            await _wait_for_agent(leg, transcript)
        if leg.ended.is_set():
            return
        if isinstance(line, Hangup):
            transcript.caller("[hangs up]")
            await leg.hang_up()
            return
        if isinstance(line, Dtmf):
            transcript.caller(f"[presses {line.dtmf}]")
            await leg.press(line.dtmf)
        elif isinstance(line, Silence):
            transcript.caller(f"[says nothing for {line.silence_s:g} s]")
            await leg.stay_silent(line.silence_s)
        else:
            transcript.caller(line)
            await leg.say(line)
    # Out of lines without a hang-up: hear the agent out, then hang up.
    await _wait_for_agent(leg, transcript)
    if not leg.ended.is_set():
        transcript.caller("[hangs up]")
        await leg.hang_up()


async def _wait_for_agent(leg: CallerLeg, transcript: Transcript) -> None:
    if not await leg.turns.agent_turn_over(AGENT_TURN_TIMEOUT_S):
        transcript.note(
            f"the agent's turn has not ended after {AGENT_TURN_TIMEOUT_S:g} s; going on"
        )


def check_stream_end(ws: ClientConnection, leg: CallerLeg, transcript: Transcript) -> None:
    """Tell a stream the server refused (closed with an error before sending anything,
    e.g. busy or a bad stream token: `CallFailed`) from a call the agent ended."""
    code = ws.close_code
    if leg.ended_by == "caller" or code is None or code in NORMAL_CLOSE_CODES:
        return
    problem = f"code {code}" + (f", {ws.close_reason}" if ws.close_reason else "")
    if not leg.heard_server:
        raise CallFailed(f"the server closed the stream before the call began ({problem})")
    transcript.note(f"the server closed the stream with {problem}")

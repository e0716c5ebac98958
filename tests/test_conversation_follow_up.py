"""The session's `ConversationProcessor` with a turn that texts the caller, in a Pipecat
pipeline (Pipecat's own test runner) answered by the direct path.

The turn is said in two parts: "I'm texting you the link now" at once, while the text is
sent (a task of the session's: the frames keep flowing), then how it went and goodbye.
It ends the turn and the call, and is reported once with both parts.
"""

from __future__ import annotations

import asyncio
from typing import Any

from pipecat.frames.frames import (
    BotStartedSpeakingFrame,
    OutputTransportMessageFrame,
    TextFrame,
    TranscriptionFrame,
)
from pipecat.tests.utils import SleepFrame, run_test

from actors.conversation import CallEnd, ConversationProcessor, TurnOutcome
from actors.direct_path import DirectResponder
from actors.frames import CallerHangupFrame
from actors.turn_ends import audio_turn_end, mark_name, text_turn_end
from actors.usage import CallUsage
from switchboard.models import CallSession, FollowUpKind, FollowUpStatus
from switchboard.settings import load_settings

LINK = "https://acme.example/details"
LINES = ["This is Sam.", "Sure.", "Can you just send me some information?", "Yes please."]


class Session:
    """What the session actor does with the processor's callbacks, written down."""

    def __init__(self, result: FollowUpStatus | None, delay_s: float = 0.0) -> None:
        self.result = result  # None: Twilio never answers
        self.delay_s = delay_s
        self.asked: list[FollowUpKind] = []
        self.turns: list[TurnOutcome] = []
        self.ended: list[CallEnd] = []
        self.hung_up = 0

    def start_follow_up(self, kind: FollowUpKind) -> asyncio.Future[FollowUpStatus]:
        self.asked.append(kind)

        async def send() -> FollowUpStatus:
            await asyncio.sleep(self.delay_s)
            if self.result is None:
                await asyncio.Event().wait()
            assert self.result is not None
            return self.result

        return asyncio.ensure_future(send())

    async def on_turn(self, outcome: TurnOutcome) -> None:
        self.turns.append(outcome)

    async def on_agent_ends_call(self, end: CallEnd) -> None:
        self.ended.append(end)

    async def on_caller_hangup(self) -> None:
        self.hung_up += 1


def processor(session: Session, wait_s: float = 2.0, mode: str = "text",
              usage: CallUsage | None = None) -> ConversationProcessor:
    settings = load_settings(agent_integration={"info_link": LINK})
    call = CallSession(call_sid="CA" + "f" * 32, mode=mode, from_number="+15551230001",
                       to_number="+15557650000")
    return ConversationProcessor(
        responder=DirectResponder(settings, call),
        usage=usage or CallUsage(),
        mode=mode,
        turn_end_message=(text_turn_end if mode == "text"
                          else lambda reply: audio_turn_end("MZ" + "0" * 32, reply, 1)),
        on_turn=session.on_turn,
        on_agent_ends_call=session.on_agent_ends_call,
        on_caller_hangup=session.on_caller_hangup,
        reprompt_after_s=6.0,
        speaks_first=True,
        on_follow_up=session.start_follow_up,
        follow_up_wait_s=wait_s,
    )


def said(line: str) -> list[Any]:
    return [TranscriptionFrame(text=line, user_id="caller", timestamp=""), SleepFrame(0.1)]


async def run(session: Session, lines: list[str], *, wait_s: float = 2.0,
              then: list[Any] | None = None, settle_s: float = 0.5) -> list[Any]:
    frames = [SleepFrame(0.2)]
    for line in lines:
        frames += said(line)
    frames += [SleepFrame(settle_s), *(then or [])]
    down, _ = await run_test(processor(session, wait_s), frames_to_send=frames)
    return list(down)


def spoken_and_turn_ends(frames: list[Any]) -> list[str]:
    """The agent's sentences in order, with "|" where a turn-end message went out."""
    out = []
    for frame in frames:
        if isinstance(frame, OutputTransportMessageFrame):
            out.append("|")
        elif isinstance(frame, TextFrame) and not isinstance(frame, TranscriptionFrame):
            out.append(frame.text)
    return out


async def test_the_text_goes_out_between_the_two_parts_of_one_turn() -> None:
    session = Session("sent", delay_s=0.1)
    frames = await run(session, LINES)
    words = spoken_and_turn_ends(frames)
    start = words.index("Great, I'm texting you the link now.")
    assert words[start:] == ["Great, I'm texting you the link now.", "Done, it's on its way.",
                             "Thanks for your time, Sam.", "Talk soon. Goodbye.", "|"]
    assert session.asked == ["sms_link"]
    assert [end.reason for end in session.ended] == ["agent_ended"]
    reported = session.turns[-1]
    assert reported.event.text == "Yes please."
    assert reported.reply.sentences == words[start:-1]  # one turn, both parts
    assert reported.reply.follow_up == "sms_link" and reported.reply.end_call
    assert reported.latency_ms is not None
    assert len(session.turns) == len(LINES)


async def test_a_refused_text_is_followed_by_the_promise_of_an_email() -> None:
    session = Session("failed")
    words = spoken_and_turn_ends(await run(session, LINES))
    assert "I'll have someone email you the details instead." in words
    assert words[-1] == "|" and words[-2] == "Talk soon. Goodbye."


async def test_a_twilio_that_does_not_answer_in_time_is_not_waited_for() -> None:
    session = Session(None)
    words = spoken_and_turn_ends(await run(session, LINES, wait_s=0.2))
    assert "It should reach you in a minute." in words
    assert session.ended and session.turns[-1].reply.end_call


async def test_what_the_caller_says_while_the_text_goes_out_is_not_a_turn() -> None:
    session = Session("sent", delay_s=0.5)
    await run(session, [*LINES, "Hello?"], settle_s=1.0)
    assert [t.event.text for t in session.turns] == LINES
    assert session.asked == ["sms_link"]


async def test_a_caller_who_hangs_up_while_the_text_goes_out_still_has_the_turn_recorded(
) -> None:
    session = Session("sent", delay_s=1.0)
    frames = [SleepFrame(0.2)]
    for line in LINES:
        frames += said(line)
    frames += [CallerHangupFrame(), SleepFrame(1.5)]
    await run_test(processor(session), frames_to_send=frames)
    assert session.hung_up == 1 and not session.ended
    last = session.turns[-1]
    assert last.event.text == "Yes please."
    assert last.reply.sentences == ["Great, I'm texting you the link now."]
    assert len(session.turns) == len(LINES)


async def test_over_audio_the_turn_is_timed_from_its_first_audio_and_has_one_mark() -> None:
    session = Session("sent", delay_s=0.3)
    frames = [SleepFrame(0.2)]
    for line in LINES:
        frames += said(line)
    # the first part's audio goes out while the text is sent
    frames += [BotStartedSpeakingFrame(), SleepFrame(0.6)]
    down, _ = await run_test(processor(session, mode="audio"), frames_to_send=frames)
    marks = [f.message["mark"]["name"] for f in down if isinstance(f, OutputTransportMessageFrame)]
    # one reply, one mark: none between "I'm texting you the link" and how it went
    assert marks == [mark_name(reply, 1) for reply in range(1, len(LINES) + 2)]
    last = session.turns[-1]
    assert last.event.text == "Yes please." and last.reply.end_call
    assert last.reply.sentences[0] == "Great, I'm texting you the link now."
    assert last.reply.sentences[1] == "Done, it's on its way."
    assert last.latency_ms is not None and last.latency_ms < 300  # not the text's 300 ms
    assert len(session.turns) == len(LINES)

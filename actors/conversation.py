"""`ConversationProcessor`: turns of the caller in, the agent's replies out.

Sits after speech-to-text in a call's pipeline. Each finished caller turn (a final
transcription, a key press, or a stretch of silence) goes to the call's responder;
the reply is pushed as one LLM-style response (start, a `TextFrame` per sentence,
end) so text-to-speech starts on the first sentence, followed by the turn-end
message (a Twilio `mark`, or text mode's `turn_end`) that tells the caller the agent
has finished. A responder that hands sentences on while it still writes the rest (the
agents with an LLM, through a streaming handle) has each spoken as it comes, so the
caller hears the first before the reply is complete; the turn's latency is then taken
at that first sentence's audio. The processor also owns turn timing (latency,
reprompts after silence, barge-in) and ends the call when the agent's last words have
been heard.

It numbers the conversation: caller turns (1, 2, ...; the responder is asked with the
number, so a turn replayed after a failure is answered once) and the agent's replies
(the greeting is reply 1; each reply's turn-end message carries its number). It also
follows how far into the caller's messages each turn reached (the index the ingress
gave each message), so a checkpoint can say which messages a replacement must replay.

A reply that asks for a text (`AgentReply.follow_up == "sms_link"`: the caller agreed
to be sent a link) is a turn in two parts. Its words ("I'm texting you the link now")
are said at once while the session sends the text (`on_follow_up`, its own task: the
frames keep flowing); then the responder says how that went (`follow_up_result`: sent,
failed, or still pending after `follow_up_wait_s`) and the goodbye, which ends the turn
and the call. The turn is reported once, with both parts. What the caller says in
between is not a turn of its own: the call is ending.

A call carried on by a replacement actor starts with a `ResumePlan` instead of a
greeting: the replayed messages are processed first; if they held a finished sentence
it is answered; otherwise the agent greets (if the greeting never went out), or says
a short bridge and asks its last question again (if the caller missed part of the last
reply), or simply listens.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass

from loguru import logger
from opentelemetry import context as otel_context
from pipecat.frames.frames import (
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    CancelFrame,
    EndFrame,
    Frame,
    InputAudioRawFrame,
    InputDTMFFrame,
    InterruptionFrame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
    OutputTransportMessageFrame,
    StartFrame,
    TextFrame,
    TranscriptionFrame,
    UserStartedSpeakingFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.processors.frame_processor import (
    FrameDirection,
    FrameProcessor,
    FrameProcessorSetup,
)
from pipecat.utils.tracing.tracing_context import TracingContext

from actors.frames import CallerHangupFrame, CallerSilenceFrame, MarkPlayedFrame
from actors.responder import CallerEvent, TurnResponder
from actors.speech.confidence import transcript_confidence
from actors.transport import INBOUND_INDEX
from actors.usage import CallUsage
from graph.workflow.script import AgentReply
from switchboard import tracing
from switchboard.models import FollowUpKind, FollowUpStatus

# How long to wait for the caller to hear the agent's last words before hanging up
# anyway (a mark that never comes back must not keep a line open).
FINAL_MARK_GRACE_S = 3.0
# How long the goodbye after "I'm texting you the link" waits for Twilio's answer; the
# text goes on being sent after that, and the caller hears it is on its way.
FOLLOW_UP_WAIT_S = 4.0

FollowUpStarter = Callable[[FollowUpKind], "asyncio.Future[FollowUpStatus]"]


@dataclass
class TurnOutcome:
    """One caller turn answered, as the processor reports it to the session."""

    event: CallerEvent
    reply: AgentReply
    latency_ms: float | None
    turn: int = 0  # the caller turn's number
    reply_number: int = 0  # the number of the agent's reply to it
    consumed: int = 0  # the caller's messages up to this index are in the turn


@dataclass(frozen=True)
class ResumePlan:
    """How a replacement actor picks the conversation up (see the module docstring)."""

    greet: bool  # the greeting never went out in full
    bridge: bool  # the caller did not receive the agent's last reply in full
    settle_s: float  # time the replayed messages get to become a caller turn


@dataclass(frozen=True)
class Numbering:
    """Where the numbering of a conversation starts (after a resume: its checkpoint)."""

    turn: int = 0
    reply: int = 0
    consumed: int = 0


@dataclass
class CallEnd:
    """Why the agent ended the call."""

    reason: str
    transfer: bool


class ConversationProcessor(FrameProcessor):
    """Routes each caller turn to the responder and speaks the answer."""

    def __init__(
        self,
        *,
        responder: TurnResponder,
        usage: CallUsage,
        mode: str,
        turn_end_message: Callable[[int], dict],
        on_turn: Callable[[TurnOutcome], Awaitable[None]],
        on_agent_ends_call: Callable[[CallEnd], Awaitable[None]],
        on_caller_hangup: Callable[[], Awaitable[None]],
        reprompt_after_s: float,
        speaks_first: bool,
        on_opened: Callable[[int], Awaitable[None]] | None = None,
        on_follow_up: FollowUpStarter | None = None,
        follow_up_wait_s: float = FOLLOW_UP_WAIT_S,
        numbering: Numbering = Numbering(),
        resume: ResumePlan | None = None,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self._responder = responder
        self._usage = usage
        self._mode = mode
        self._turn_end_message = turn_end_message
        self._on_turn = on_turn
        self._on_agent_ends_call = on_agent_ends_call
        self._on_caller_hangup = on_caller_hangup
        self._reprompt_after_s = reprompt_after_s
        self._speaks_first = speaks_first
        self._on_opened = on_opened
        self._on_follow_up = on_follow_up
        self._follow_up_wait_s = follow_up_wait_s
        self._resume = resume

        self._turn = numbering.turn
        self._reply = numbering.reply
        self._consumed = numbering.consumed
        self._audio_index = numbering.consumed  # the last caller audio seen
        self._utterance_end: int | None = None  # where the caller's last speech ended
        self._awaiting_transcription = False
        self._caller_acted = asyncio.Event()  # a caller turn began (for a resume)
        self._lock = asyncio.Lock()
        self._bot_speaking = False
        self._user_speaking = False
        self._speech_ended_at: float | None = None
        # Seconds of caller audio since the VAD heard speech start: what the caller's
        # speech is billed by. Counted in audio, not by the clock, because a busy
        # machine processes held-back frames in a burst.
        self._speech_audio_s = 0.0
        self._pending_latency: TurnOutcome | None = None
        self._pending_since: float | None = None
        # The turn the responder is answering now: when its caller finished, and when
        # the first audio of its reply went out (a sentence handed on early).
        self._answering_since: float | None = None
        self._answer_audio_at: float | None = None
        self._silence_task: asyncio.Task | None = None
        self._virtual_silence_s = 0.0
        self._ending: CallEnd | None = None
        self._final_mark: str | None = None
        self._final_task: asyncio.Task | None = None
        self._finished = False
        # A turn whose text is being sent: its outcome, waiting for the second part.
        self._follow_up_turn: TurnOutcome | None = None
        self._follow_up_audio_at: float | None = None  # when its first audio went out
        # The pipeline's spans (conversation, turn) when the call is traced.
        self._tracing_context: TracingContext | None = None

    async def setup(self, setup: FrameProcessorSetup) -> None:
        await super().setup(setup)
        self._tracing_context = setup.tracing_context

    @contextlib.contextmanager
    def _in_turn(self, number: int) -> Iterator[None]:
        """The block runs in the call's span of this turn: what it asks of the
        orchestrator and the budget (which take the current context with them) shows
        under the turn. Audio: Pipecat's `turn` span, which STT and TTS are under too.
        Text: Pipecat follows turns by the agent's audio, and a text call has none, so
        each caller turn gets a `turn` span of ours under Pipecat's conversation."""
        tracing_context = self._tracing_context
        if tracing_context is None:
            yield
            return
        if self._mode != "audio":
            with tracing.span(
                "turn",
                tracing_context.get_conversation_context(),
                attributes={"turn.number": number, "turn.type": "text"},
            ):
                yield
            return
        turn = tracing_context.get_turn_context() or tracing_context.get_conversation_context()
        token = otel_context.attach(turn) if turn is not None else None
        try:
            yield
        finally:
            if token is not None:
                otel_context.detach(token)

    def can_generate_metrics(self) -> bool:
        return True  # the agents' time to first byte (see `_caller_turn`)

    # Frame routing

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)

        if isinstance(frame, InputAudioRawFrame):
            self._audio_index = frame.metadata.get(INBOUND_INDEX, self._audio_index)
            if self._user_speaking:
                self._speech_audio_s += len(frame.audio) / (
                    2 * frame.sample_rate * frame.num_channels
                )
            await self.push_frame(frame, direction)
        elif isinstance(frame, StartFrame):
            await self.push_frame(frame, direction)
            if self._resume is None:
                self.create_task(self._open(), name="conversation-open")
            else:
                self.create_task(self._pick_up(self._resume), name="conversation-resume")
        elif isinstance(frame, (EndFrame, CancelFrame)):
            await self._stop_timers()
            await self.push_frame(frame, direction)
        elif isinstance(frame, TranscriptionFrame):
            self._awaiting_transcription = False
            if frame.text.strip():
                # Text mode has no recogniser: its turns carry no confidence.
                confidence = transcript_confidence(frame.result) if self._mode == "audio" else None
                if confidence is not None:
                    logger.debug(f"{self}: heard [{frame.text.strip()}] ({confidence:.2f} sure)")
                await self._caller_turn(
                    CallerEvent("text", frame.text.strip(), confidence), self._position_of(frame)
                )
        elif isinstance(frame, InputDTMFFrame):
            await self._caller_turn(
                CallerEvent("dtmf", str(frame.button.value)), self._position_of(frame)
            )
        elif isinstance(frame, CallerSilenceFrame):
            await self._virtual_silence(frame.seconds, self._position_of(frame))
        elif isinstance(frame, CallerHangupFrame):
            await self._caller_hung_up()
        elif isinstance(frame, MarkPlayedFrame):
            await self._mark_played(frame.mark)
        elif isinstance(frame, VADUserStartedSpeakingFrame):
            await self._user_started_speaking()
            await self.push_frame(frame, direction)
            if self._tracing_context is not None:
                # Pipecat's turn tracking (and so its turn spans, which STT and TTS go
                # under) starts a caller's turn on this frame, which a user aggregator
                # pushes in a pipeline that has one; this processor is ours. Only when
                # traced: an untraced call's frames stay as they were.
                await self.push_frame(UserStartedSpeakingFrame(), direction)
        elif isinstance(frame, VADUserStoppedSpeakingFrame):
            self._user_speaking = False
            self._utterance_end = self._audio_index
            self._awaiting_transcription = True
            # The VAD reports the stop `stop_secs` after the caller fell silent.
            self._speech_ended_at = time.monotonic() - frame.stop_secs
            # The audio since the start ends with `stop_secs` of silence.
            self._usage.stt_seconds += max(0.0, self._speech_audio_s - frame.stop_secs)
            self._speech_audio_s = 0.0
            await self.push_frame(frame, direction)
        elif isinstance(frame, BotStartedSpeakingFrame):
            self._bot_speaking = True
            self._cancel_silence_timer()
            await self._first_agent_audio()
            await self.push_frame(frame, direction)
        elif isinstance(frame, BotStoppedSpeakingFrame):
            self._bot_speaking = False
            self._start_silence_timer()
            await self.push_frame(frame, direction)
        else:
            await self.push_frame(frame, direction)

    # Turns

    def _position_of(self, frame: Frame) -> int:
        """How far into the caller's messages the turn `frame` starts reaches."""
        if isinstance(frame, TranscriptionFrame) and self._mode == "audio":
            # A transcription comes after its speech: it reaches where the speech ended.
            end, self._utterance_end = self._utterance_end, None
            return end if end is not None else self._audio_index
        return frame.metadata.get(INBOUND_INDEX, self._audio_index)

    async def _open(self) -> None:
        async with self._lock:
            with self._in_turn(0):
                reply = await self._responder.open()
            if reply is not None:
                number = await self._speak(reply)
                if self._on_opened is not None:
                    await self._on_opened(number)
            elif not self._speaks_first:
                self._start_silence_timer()

    async def _pick_up(self, plan: ResumePlan) -> None:
        """A replacement actor's first move (see `ResumePlan`)."""
        if plan.greet:
            if await self._settled(plan):
                await self._open()
            return
        reply = self._responder.resume_reply()
        if reply.end_call or reply.transfer:
            # The agent was ending the call: end it, whatever the caller says now. If
            # the caller heard the last words, nothing is said again.
            if not plan.bridge:
                reply = reply.model_copy(update={"sentences": []})
            async with self._lock:
                await self._speak(reply)
        elif not await self._settled(plan):
            return  # the caller's own words come first
        elif plan.bridge:
            async with self._lock:
                await self._speak(reply)
        else:
            self._start_silence_timer()

    async def _settled(self, plan: ResumePlan) -> bool:
        """Give the replayed messages time to become a caller turn; True if they did
        not (and the caller is not speaking now)."""
        if plan.settle_s > 0:
            try:
                async with asyncio.timeout(plan.settle_s):
                    await self._caller_acted.wait()
            except TimeoutError:
                pass
        return not (
            self._caller_acted.is_set() or self._user_speaking or self._awaiting_transcription
        )

    async def _caller_turn(self, event: CallerEvent, position: int) -> None:
        if self._ending is not None or self._finished or self._follow_up_turn is not None:
            return
        self._caller_acted.set()
        self._cancel_silence_timer()
        self._virtual_silence_s = 0.0
        heard_at = self._speech_ended_at if event.kind == "text" and self._mode == "audio" else None
        self._speech_ended_at = None
        async with self._lock:
            if self._ending is not None or self._finished:
                return  # the agent ended the call while this turn waited its turn
            # The turn before is reported first: a turn's checkpoint never runs ahead.
            await self._report_pending(None)
            started = heard_at if heard_at is not None else time.monotonic()
            self._turn += 1
            self._consumed = max(self._consumed, position)
            with self._in_turn(self._turn):
                # The agents stand in for the pipeline's LLM: the time to their reply is
                # its time to first byte, reported in a MetricsFrame like STT's and TTS's.
                await self.start_ttfb_metrics()
                said: list[str] = []  # sentences spoken as the responder handed them on
                self._answering_since, self._answer_audio_at = started, None
                try:
                    reply = await self._responder.respond(
                        event, turn=self._turn,
                        on_sentence=lambda sentence: self._say_early(said, sentence),
                    )
                finally:
                    self._answering_since = None
                await self.stop_ttfb_metrics()
                outcome = TurnOutcome(
                    event=event,
                    reply=reply,
                    latency_ms=None,
                    turn=self._turn,
                    reply_number=self._reply + 1,
                    consumed=self._consumed,
                )
                if reply.follow_up == "sms_link" and not (reply.end_call or reply.transfer):
                    await self._start_follow_up(outcome, started, said)
                    return
                if reply.follow_up is not None and self._on_follow_up is not None:
                    # nothing to send (a person will email): recorded, the reply says goodbye
                    self._on_follow_up(reply.follow_up)
                if self._mode == "text":
                    outcome.latency_ms = round((time.monotonic() - started) * 1000, 1)
                    await self._on_turn(outcome)
                elif self._answer_audio_at is not None:  # its first sentence is heard
                    outcome.latency_ms = round((self._answer_audio_at - started) * 1000, 1)
                    await self._on_turn(outcome)
                else:
                    # Reported when the first audio of the reply goes out; a reply still
                    # waiting for its audio is reported when the next turn begins.
                    self._pending_latency = outcome
                    self._pending_since = started
                await self._speak(reply, said)

    async def _start_follow_up(self, outcome: TurnOutcome, started: float,
                               said: list[str]) -> None:
        """The first part of a turn that texts the caller (see the module docstring)."""
        loop = asyncio.get_running_loop()
        sending: asyncio.Future[FollowUpStatus]
        if self._on_follow_up is not None:
            sending = self._on_follow_up("sms_link")
        else:  # nothing here can send a text: the caller is told so
            sending = loop.create_future()
            sending.set_result("failed")
        if self._mode == "text":
            outcome.latency_ms = round((time.monotonic() - started) * 1000, 1)
        self._follow_up_turn = outcome
        self._follow_up_audio_at = None
        await self._say(outcome.reply, said)
        self.create_task(self._finish_follow_up(outcome, sending, started), name="follow-up")

    async def _finish_follow_up(self, outcome: TurnOutcome,
                                sending: asyncio.Future[FollowUpStatus], started: float) -> None:
        """Its second part: how sending went, the goodbye, and the turn reported whole."""
        try:
            status = await asyncio.wait_for(asyncio.shield(sending), self._follow_up_wait_s)
        except TimeoutError:
            status = "pending"  # still on its way; the session records how it ends
        except Exception as exc:  # the session records its failures; say it did not go
            logger.warning(f"{self}: the follow-up text failed: {exc!r}")
            status = "failed"
        async with self._lock:
            if self._follow_up_turn is not outcome:
                return  # the caller hung up meanwhile: the turn was reported then
            self._follow_up_turn = None
            rest = await self._responder.follow_up_result(status)
            first = outcome.reply
            outcome.reply = AgentReply(
                sentences=[*first.sentences, *rest.sentences],
                agent=rest.agent,
                end_call=rest.end_call,
                transfer=rest.transfer,
                transitions=[*first.transitions, *rest.transitions],
                follow_up=first.follow_up,
            )
            audio_at = self._follow_up_audio_at
            if self._mode == "text":
                await self._on_turn(outcome)
            elif audio_at is not None:
                outcome.latency_ms = round((audio_at - started) * 1000, 1)
                await self._on_turn(outcome)
            else:  # no audio yet: reported when it goes out, as any turn
                self._pending_latency = outcome
                self._pending_since = started
            await self._speak(rest)

    async def _first_agent_audio(self) -> None:
        if self._answering_since is not None and self._answer_audio_at is None:
            self._answer_audio_at = time.monotonic()
        if self._follow_up_turn is not None and self._follow_up_audio_at is None:
            self._follow_up_audio_at = time.monotonic()
        since = self._pending_since
        if since is not None:
            await self._report_pending(round((time.monotonic() - since) * 1000, 1))

    async def _report_pending(self, latency_ms: float | None) -> None:
        pending = self._pending_latency
        self._pending_latency = self._pending_since = None
        if pending is not None:
            pending.latency_ms = latency_ms
            with self._in_turn(pending.turn):
                await self._on_turn(pending)

    async def _say_early(self, said: list[str], sentence: str) -> None:
        """A sentence of a reply the responder is still writing, spoken now: the first
        opens the reply's LLM-style response (`_say` closes it)."""
        if not said:
            await self.stop_ttfb_metrics()  # the agents' first byte is their first sentence
            await self.push_frame(LLMFullResponseStartFrame())
        said.append(sentence)
        await self._say_sentence(sentence)

    async def _say(self, reply: AgentReply, said: list[str] | None = None) -> None:
        """Say `reply`'s sentences, as one LLM-style response. `said`: those already
        spoken as they came (`_say_early`); a reply that does not begin with them (its
        turn fell back after they were said) follows them whole."""
        rest = reply.sentences
        if not said:
            await self.push_frame(LLMFullResponseStartFrame())
        elif reply.sentences[: len(said)] == said:
            rest = reply.sentences[len(said):]
        else:
            logger.warning(f"{self}: the reply changed after {len(said)} sentences were "
                           "said (the turn fell back): the new reply follows them")
        for sentence in rest:
            await self._say_sentence(sentence)
        await self.push_frame(LLMFullResponseEndFrame())

    async def _say_sentence(self, sentence: str) -> None:
        if self._mode == "audio":
            self._usage.tts_characters += len(sentence)
        await self.push_frame(TextFrame(text=sentence))

    async def _speak(self, reply: AgentReply, said: list[str] | None = None) -> int:
        """Say `reply`, then its turn-end message; returns the reply's number."""
        self._reply += 1
        number = self._reply
        await self._say(reply, said)
        end_message = self._turn_end_message(number)
        await self.push_frame(OutputTransportMessageFrame(message=end_message))
        if reply.end_call or reply.transfer:
            self._ending = CallEnd(
                reason="transferred" if reply.transfer else "agent_ended", transfer=reply.transfer
            )
            self._final_mark = (end_message.get("mark") or {}).get("name")
            if self._mode == "text" or not reply.sentences:
                await self._end_call()
            else:
                # Hang up once the caller has heard the last words, or after a grace period.
                self._final_task = self.create_task(self._end_after_grace(reply))
        return number

    # Ending

    async def _mark_played(self, name: str) -> None:
        if self._ending is not None and name == self._final_mark:
            await self._end_call()

    async def _end_after_grace(self, reply: AgentReply) -> None:
        # Speech runs at about 15 characters a second; leave room for it to play.
        spoken_s = sum(len(s) for s in reply.sentences) / 12.0
        await asyncio.sleep(spoken_s + FINAL_MARK_GRACE_S)
        await self._end_call()

    async def _end_call(self) -> None:
        if self._finished or self._ending is None:
            return
        self._finished = True
        await self._stop_timers(keep_final=True)
        await self._report_pending(None)
        await self._on_agent_ends_call(self._ending)

    async def _caller_hung_up(self) -> None:
        if self._finished:
            return
        self._finished = True
        await self._stop_timers()
        # A reply the caller never heard is still a turn of the record.
        await self._report_pending(None)
        follow_up, self._follow_up_turn = self._follow_up_turn, None
        if follow_up is not None:  # gone while the text was being sent: what was said
            await self._on_turn(follow_up)
        await self._on_caller_hangup()

    # Silence and barge-in

    async def _user_started_speaking(self) -> None:
        self._user_speaking = True
        self._speech_audio_s = 0.0
        self._cancel_silence_timer()
        if self._bot_speaking and self._ending is None:
            # Barge-in: stop the agent; the serializer sends Twilio a `clear`.
            logger.debug(f"{self}: caller interrupted the agent")
            await self.push_frame(InterruptionFrame())

    def _start_silence_timer(self) -> None:
        if (self._mode != "audio" or self._ending is not None or self._finished
                or self._follow_up_turn is not None):
            return
        self._cancel_silence_timer()
        self._silence_task = self.create_task(self._silence_watch(), name="silence-watch")

    def _cancel_silence_timer(self) -> None:
        if self._silence_task and not self._silence_task.done():
            self._silence_task.cancel()
        self._silence_task = None

    async def _silence_watch(self) -> None:
        await asyncio.sleep(self._reprompt_after_s)
        if self._user_speaking or self._bot_speaking:
            return
        self._silence_task = None
        await self._caller_turn(CallerEvent("silence"), self._audio_index)

    async def _virtual_silence(self, seconds: float, position: int) -> None:
        # Text mode: time passes as the caller says; every interval is one reprompt.
        self._caller_acted.set()
        reprompts, remainder = divmod(self._virtual_silence_s + seconds, self._reprompt_after_s)
        for _ in range(int(reprompts)):
            if self._ending is not None:
                break
            await self._caller_turn(CallerEvent("silence"), position)
        # A caller turn resets the silence; what is left of this stretch still counts.
        self._virtual_silence_s = remainder

    async def _stop_timers(self, keep_final: bool = False) -> None:
        self._cancel_silence_timer()
        if not keep_final and self._final_task and not self._final_task.done():
            await self.cancel_task(self._final_task)

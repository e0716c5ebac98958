"""An audio call exactly as Twilio places it: voice webhook, TwiML, Media Streams, status.

The media stream sends a 20 ms μ-law frame every 20 ms of a monotonic clock (the
caller's lines, silence in between), plays the agent's audio on a `PlaybackClock`,
echoes marks when playback reaches them and obeys `clear`. Turn taking follows
DESIGN.md: the agent's turn has ended when the mark sent after its audio comes back,
or after one second of silence following its audio.

When the server closes a stream the caller did not hang up, the call does what Twilio
does: it requests the `<Connect action>` URL and follows its TwiML — a new stream (the
call resumes there: the caller waits for the agent, and says again a line the agent
never answered) or the end of the call.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, InvalidURI, WebSocketException

from switchboard.caller import twilio_protocol as tp
from switchboard.caller.audio_playback import Handset, PendingMark, PlaybackClock
from switchboard.caller.result import CallFailed, EndedBy, LegResult
from switchboard.caller.scenario_player import CallerLeg, check_stream_end, play_script
from switchboard.caller.signing import SIGNATURE_HEADER, stream_handshake_signature
from switchboard.caller.speech import synthesize_lines
from switchboard.caller.transcript import Transcript
from switchboard.caller.turns import TurnObserver, TurnTracker
from switchboard.caller.webhooks import (
    STATUS_PATH,
    VOICE_PATH,
    post_status_callback,
    request_next_twiml,
    request_twiml,
)
from switchboard.scenario import Scenario

FRAME_S = tp.FRAME_MS / 1000
SILENT_FRAME = tp.SILENT_FRAME
# Pause between key presses when a line presses several keys.
KEY_GAP_S = 0.25
# How long the caller stays on the line while a dropped stream is reconnected.
RECONNECT_WAIT_S = 30.0
# What Twilio's media-stream connections identify themselves as.
STREAM_USER_AGENT = "Twilio.TmeWs/1.0"


@dataclass
class Utterance:
    """One caller line being spoken; `done` resolves when its last frame was sent."""

    line: str
    audio: bytes
    done: asyncio.Future[float] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class Voice:
    """The caller's outgoing audio: queued lines cut into frames, silence otherwise."""

    def __init__(self) -> None:
        self._queue: deque[Utterance] = deque()
        self._frames: deque[bytes] = deque()  # what is left to say of the first utterance

    def speak(self, line: str, audio: bytes) -> Utterance:
        utterance = Utterance(line, audio)
        self._queue.append(utterance)
        return utterance

    def next_frame(self) -> tuple[bytes, Utterance | None]:
        """The next 20 ms frame, and the utterance it finished (if it was the last)."""
        if not self._queue:
            return SILENT_FRAME, None
        current = self._queue[0]
        if not self._frames:
            self._frames.extend(tp.media_frames(current.audio) or [SILENT_FRAME])
        frame = self._frames.popleft()
        if self._frames:
            return frame, None
        self._queue.popleft()
        return frame, current


class AudioLeg(CallerLeg):
    """The media-stream WebSocket of one call, as Twilio drives it."""

    def __init__(
        self,
        ws: ClientConnection,
        *,
        stream_sid: str,
        call_sid: str,
        account_sid: str,
        turns: TurnTracker,
        speech: dict[str, bytes],
    ) -> None:
        super().__init__(turns)
        self.ws = ws
        self._ws = ws
        self._stream_sid = stream_sid
        self._call_sid = call_sid
        self._account_sid = account_sid
        self._speech = speech
        self._voice = Voice()
        self._handset = Handset(turns)
        self.started_at: float | None = None
        self._numbers = tp.SequenceNumbers()
        self._chunk = 0
        self._send_lock = asyncio.Lock()
        self._hanging_up = False
        self._pacer: asyncio.Task[None] | None = None
        self._listener: asyncio.Task[None] | None = None

    async def open(self, custom_parameters: dict[str, str]) -> None:
        """Send `connected` and `start`, then start streaming and listening."""
        start = tp.start_message(
            self._stream_sid, self._call_sid, self._account_sid, custom_parameters
        )
        self.started_at = time.monotonic()
        if await self._send_or_end(tp.connected_message()) and await self._send_or_end(start):
            self._pacer = asyncio.create_task(self._pace(), name="caller-media")
            self._listener = asyncio.create_task(self._receive(), name="caller-listen")

    async def close(self) -> None:
        """Release the socket and the tasks, however the call ended."""
        self._hanging_up = True
        await self._ws.close()
        tasks = [task for task in (self._pacer, self._listener) if task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    @property
    def playback(self) -> PlaybackClock:
        return self._handset.playback

    def end(self, by: EndedBy) -> None:
        """This stream is over; whether the call is, `AudioCall` decides."""
        if not self.ended.is_set():
            self.ended_by = by
            self.ended.set()

    @property
    def first_agent_audio_ms(self) -> float | None:
        first_agent_audio_at = self._handset.first_agent_audio_at
        if self.started_at is None or first_agent_audio_at is None:
            return None
        return round((first_agent_audio_at - self.started_at) * 1000, 1)

    # What the caller does

    async def say(self, text: str) -> None:
        await self.speak(text)

    async def speak(self, text: str) -> bool:
        """Say `text`; True once its last frame went out (False: the stream ended first)."""
        utterance = self._voice.speak(text, self._speech[text])
        await self.until_ended(utterance.done)
        return utterance.done.done()

    async def press(self, digits: str) -> None:
        for index, digit in enumerate(digits):
            if index:
                await self.until_ended(asyncio.sleep(KEY_GAP_S))
            if index == len(digits) - 1:
                # Count the turn before sending, so an instant answer is not missed.
                self.turns.caller_took_turn(f"[{digits}]", time.monotonic(), expects_reply=True)
            if not await self._send_or_end(tp.dtmf_message(self._stream_sid, digit)):
                return

    async def stay_silent(self, seconds: float) -> None:
        # The media stream keeps sending silence frames meanwhile.
        self.turns.caller_took_turn("[silence]", time.monotonic(), expects_reply=False)
        await self.until_ended(asyncio.sleep(seconds))

    async def hang_up(self) -> None:
        """Stop the media, send `stop` and close, as Twilio does when the caller hangs up."""
        self._hanging_up = True
        if self._pacer is not None:
            await asyncio.gather(self._pacer, return_exceptions=True)
        stop = tp.stop_message(self._stream_sid, self._call_sid, self._account_sid)
        await self._send_or_end(stop)
        self.end("caller")
        await self._ws.close()

    # The wire

    async def _send(self, message: dict[str, Any]) -> None:
        async with self._send_lock:
            await self._ws.send(json.dumps(self._numbers.stamp(message)))

    async def _send_or_end(self, message: dict[str, Any]) -> bool:
        try:
            await self._send(message)
        except ConnectionClosed:
            self.end("caller" if self._hanging_up else "agent")
            return False
        return True

    async def _pace(self) -> None:
        """One media frame every 20 ms, on a schedule fixed at the start so it never drifts."""
        started = time.monotonic()
        index = 0
        while not (self._hanging_up or self.ended.is_set()):
            delay = started + index * FRAME_S - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
                if self._hanging_up:
                    return
            frame, finished = self._voice.next_frame()
            self._chunk += 1
            message = tp.media_message(
                self._stream_sid,
                self._chunk,
                index * tp.FRAME_MS,
                base64.b64encode(frame).decode("ascii"),
            )
            if not await self._send_or_end(message):
                return
            now = time.monotonic()
            if finished is not None:
                self._finished_speaking(finished, now)
            for mark in self._handset.due_marks(now):
                if not await self._echo(mark):
                    return
            self._handset.check_agent_silence(now)
            index += 1

    def _finished_speaking(self, utterance: Utterance, now: float) -> None:
        self.turns.caller_took_turn(utterance.line, now, expects_reply=True)
        if not utterance.done.done():
            utterance.done.set_result(now)

    async def _receive(self) -> None:
        try:
            async for raw in self._ws:
                await self._on_message(raw)
        except ConnectionClosed:
            pass
        finally:
            # A socket the server closes is the end of the call.
            self.end("caller" if self._hanging_up else "agent")

    async def _on_message(self, raw: str | bytes) -> None:
        marks = self._handset.hear(raw, time.monotonic())
        self.heard_server = self._handset.heard_server
        for mark in marks:
            if not await self._echo(mark):
                return

    async def _echo(self, mark: PendingMark) -> bool:
        sent = await self._send_or_end(tp.mark_message(self._stream_sid, mark.name))
        if sent:
            self._handset.echoed(mark)
        return sent


async def open_stream(url: str, auth_token: str) -> ClientConnection:
    """Open the media stream at the Stream URL exactly as given, signed as Twilio signs it."""
    try:
        return await connect(
            url,
            additional_headers=stream_handshake_headers(auth_token, url),
            user_agent_header=STREAM_USER_AGENT,
            compression=None,
            open_timeout=10,
        )
    except (OSError, TimeoutError, InvalidURI, WebSocketException) as exc:
        raise stream_open_failure(url, exc) from None


def stream_handshake_headers(auth_token: str, url: str) -> dict[str, str]:
    """The media-stream handshake's headers, signed as Twilio signs it."""
    return {SIGNATURE_HEADER: stream_handshake_signature(auth_token, url)}


def stream_open_failure(url: str, exc: Exception) -> CallFailed:
    """Why the media stream at `url` could not be opened, as the caller reports it."""
    if isinstance(exc, InvalidStatus):
        status = exc.response.status_code
        hint = " (the handshake's X-Twilio-Signature was refused)" if status == 403 else ""
        return CallFailed(f"the media stream {url} refused the connection: HTTP {status}{hint}")
    return CallFailed(f"could not open the media stream {url}: {exc}")


class AudioCall(CallerLeg):
    """One phone call across the media streams Twilio gives it (see the module docstring)."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        parties: tp.CallParties,
        auth_token: str,
        turns: TurnTracker,
        speech: dict[str, bytes],
        transcript: Transcript,
        answered_by: str | None,
    ) -> None:
        super().__init__(turns)
        self._http = http
        self._parties = parties
        self._auth_token = auth_token
        self._speech = speech
        self._transcript = transcript
        self._answered_by = answered_by
        self.legs: list[AudioLeg] = []
        self._watcher: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()  # a new stream, or the end of the call
        self._rejoined = False  # back on a new stream; the agent speaks first
        self._last_line: str | None = None
        self._lost_line: str | None = None

    @property
    def leg(self) -> AudioLeg:
        return self.legs[-1]

    async def connect(self, answer: tp.StreamAnswer) -> None:
        """Open the stream `answer` names and play the call on it."""
        ws = await open_stream(answer.url, self._auth_token)
        leg = AudioLeg(
            ws,
            stream_sid=tp.new_sid("MZ"),
            call_sid=self._parties.call_sid,
            account_sid=self._parties.account_sid,
            turns=self.turns,
            speech=self._speech,
        )
        self.legs.append(leg)
        await leg.open(answer.parameters)
        self._watcher = asyncio.create_task(self._follow(leg, answer.action), name="stream-end")
        self._changed.set()

    async def _follow(self, leg: AudioLeg, action: str | None) -> None:
        """When the server ends a stream, ask `action` what next, as Twilio does."""
        await leg.ended.wait()
        if leg.ended_by == "caller" or self.ended.is_set():
            return
        if action is None:
            self.end("agent")
            return
        params = tp.voice_webhook_params(self._parties, self._answered_by)
        params["CallStatus"] = "in-progress"
        try:
            answer = await request_next_twiml(self._http, action, self._auth_token, params)
        except CallFailed as exc:
            self._transcript.note(f"the stream ended and {exc}")
            self.end("agent")
            return
        if isinstance(answer, tp.EndAnswer):
            self.end("agent")
            return
        if not self.turns.agent_spoke_this_epoch and self._last_line is not None:
            self._lost_line = self._last_line  # the agent never answered it
        self._transcript.note("the stream dropped; Twilio reconnected the call")
        self.turns.expect_agent()
        self._rejoined = True
        try:
            await self.connect(answer)
        except CallFailed as exc:
            self._transcript.note(str(exc))
            self.end("agent")

    def take_lost_line(self) -> str | None:
        line, self._lost_line = self._lost_line, None
        return line

    def end(self, by: EndedBy) -> None:
        super().end(by)
        self._changed.set()

    async def _ready_leg(self) -> AudioLeg | None:
        """The stream to act on; while a dropped stream is being reconnected, waits for the
        new one (and for the agent to finish what it says on it). None: the call ended."""
        while not self.ended.is_set():
            leg = self.leg
            if not leg.ended.is_set():
                if self._rejoined:
                    self._rejoined = False
                    await self.turns.agent_turn_over(RECONNECT_WAIT_S)
                return leg
            self._changed.clear()
            try:
                async with asyncio.timeout(RECONNECT_WAIT_S):
                    await self._changed.wait()
            except TimeoutError:
                self.end("agent")
        return None

    async def say(self, text: str) -> None:
        while (leg := await self._ready_leg()) is not None:
            if await leg.speak(text):
                self._last_line = text
                return
            # Cut off mid-line by a dropped stream: said again once the call is back.

    async def press(self, digits: str) -> None:
        self._last_line = None
        if (leg := await self._ready_leg()) is not None:
            await leg.press(digits)

    async def stay_silent(self, seconds: float) -> None:
        self._last_line = None
        if (leg := await self._ready_leg()) is not None:
            await leg.stay_silent(seconds)

    async def hang_up(self) -> None:
        if (leg := await self._ready_leg()) is not None:
            await leg.hang_up()
        self.end("caller")

    async def close(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
        for leg in self.legs:
            await leg.close()

    @property
    def first_agent_audio_ms(self) -> float | None:
        return self.legs[0].first_agent_audio_ms if self.legs else None

    @property
    def playback_gaps(self) -> list[float]:
        return [gap for leg in self.legs for gap in leg.playback.gaps]


@dataclass
class AnsweredCall:
    """How a call the lead answered went: the conversation (`leg`), or the TwiML that
    ended it before any stream (`ended`: a rejection or a `<Hangup/>`)."""

    leg: LegResult | None = None
    ended: tp.EndAnswer | None = None


async def play_audio_call(
    http: httpx.AsyncClient,
    scenario: Scenario,
    *,
    voice_url: str,
    parties: tp.CallParties,
    auth_token: str,
    transcript: Transcript,
    observer: TurnObserver | None = None,
) -> AnsweredCall:
    """Post the voice webhook to `voice_url` and play the scenario on the media streams
    its TwiML names, as Twilio does once a call is answered. The status callbacks are
    the caller's to send: `run_audio_call` sends the end of the call, and the Twilio
    sandbox the whole progression of a call it places. Who answered is the scenario's
    (`answered_by`: a person, or a machine)."""
    answered_by = scenario.answered_by
    speech = await synthesize_lines(line for line in scenario.lines if isinstance(line, str))
    ringing = time.monotonic()
    answer = await request_twiml(
        http, voice_url, auth_token, tp.voice_webhook_params(parties, answered_by)
    )
    for said in answer.said:
        transcript.agent(said)
    if isinstance(answer, tp.EndAnswer):
        return AnsweredCall(ended=answer)

    started = time.monotonic()
    answered_ms = (started - ringing) * 1000
    turns = TurnTracker(agent_speaks_first=scenario.direction == "inbound", observer=observer)
    call = AudioCall(
        http,
        parties=parties,
        auth_token=auth_token,
        turns=turns,
        speech=speech,
        transcript=transcript,
        answered_by=answered_by,
    )
    try:
        await call.connect(answer)
        await play_script(scenario, call, transcript)
    finally:
        await call.close()
    duration_s = time.monotonic() - started
    call.heard_server = any(leg.heard_server for leg in call.legs)
    check_stream_end(call.leg.ws, call, transcript)
    if call.ended_by == "agent":
        transcript.note("the agent ended the call")
    return AnsweredCall(leg=LegResult(
        ended_by=call.ended_by or "caller",
        duration_s=duration_s,
        timings=turns.timings,
        answered_ms=round(answered_ms, 1),
        first_agent_audio_ms=call.first_agent_audio_ms,
        playback_gaps_ms=[round(gap * 1000, 1) for gap in call.playback_gaps],
        streams=len(call.legs),
    ))


async def run_audio_call(
    scenario: Scenario,
    *,
    base_url: str,
    auth_token: str,
    account_sid: str,
    call_sid: str,
    transcript: Transcript,
    observer: TurnObserver | None = None,
) -> LegResult:
    """Place the call, play the scenario on its media streams, report the call's end."""
    parties = tp.CallParties.for_scenario(scenario, call_sid=call_sid, account_sid=account_sid)
    async with httpx.AsyncClient(timeout=15) as http:
        answered = await play_audio_call(
            http, scenario, voice_url=base_url + VOICE_PATH, parties=parties,
            auth_token=auth_token, transcript=transcript, observer=observer,
        )
        if answered.ended is not None:
            status = tp.status_callback_params(parties, answered.ended.call_status, 0)
            await post_status_callback(http, base_url + STATUS_PATH, auth_token, status)
            if answered.ended.kind == "reject":
                raise CallFailed(
                    f"the server rejected the call (<Reject reason={answered.ended.reason}>)"
                )
            raise CallFailed("the server hung up without connecting the call to an agent")
        assert answered.leg is not None
        problem = await post_status_callback(
            http, base_url + STATUS_PATH, auth_token,
            tp.status_callback_params(parties, "completed", answered.leg.duration_s),
        )
        if problem:
            transcript.note(problem)
    return answered.leg

"""Locust load over Twilio's protocol: every user is a phone call, as Twilio carries it.

A call is a signed `POST /twilio/voice`, then the signed media stream WebSocket its
TwiML names: real-time 20 ms μ-law frames of a scenario's caller lines (eSpeak NG,
rendered once per process by the simulator's synthesis), silence in between, the
agent's audio played on the simulator's `PlaybackClock` and its marks echoed once
that audio would have played, `clear` obeyed; then the signed status callback.
Turn taking is the simulator's (`TurnTracker`, `Handset`).

Locust runs users as gevent greenlets, which cannot run the asyncio simulator
(DESIGN.md "Observability"), so the call is played by a synchronous loop of its own,
in the user's greenlet, on a `MediaSocket` (websockets' Sans-I/O protocol; see
`load_tests/media_socket.py` for why not `websockets.sync`): each pass sends the frame
due and echoes due marks, or waits for the server's next message until the next frame
is due.

Scenarios are the YAML files of SWITCHBOARD_LOCUST_SCENARIOS (a folder; default the
repository's `scenarios/`), played in turn. Each call is a new lead (a fresh number in
place of the scenario's), so an opt-out does not block later calls and concurrent
calls never share a lead. The Twilio auth token and account come from
SWITCHBOARD_TWILIO_AUTH_TOKEN / SWITCHBOARD_TWILIO_ACCOUNT_SID, else from
`.switchboard/dev-secrets.json` (written by `switchboard serve`).

Reported through `events.request` (request type, name):
- `connect`, `connect`: the voice webhook and the stream's handshake;
- `greeting`, `greeting`: stream start to the agent's first audio (inbound calls; on
  an outbound call the lead speaks first);
- `turn`, `turn`: end of a caller line (or key press) to the agent's first audio; a
  turn the agent does not answer within 20 s is a failure;
- `audio`, `gap in reply`: the longest silence inside one agent reply (audio that
  arrived after the audio before it had finished playing; 0 when none);
- `call`, `call`: the whole call. It fails (a failure, not an exception) when it
  could not be placed (busy, refused, no stream), the stream closed abnormally
  before the agent said anything, or the stream dropped mid-call (the server offered
  a new stream on `<Connect action>`: this user does not follow reconnects). A call
  cut short by the end of the run is not reported.

Run headless against a running Switchboard (`switchboard serve`). Give it a warm pool
of a session actor per user and a few more (SWITCHBOARD_PERFORMANCE__WARM_POOL_SIZE
and _MAX, e.g. 15 for 10 users): a user's next call starts 1-3 s after its last one,
sometimes before that call's actor is back in the pool, and a call that finds no warm
actor within `warm_wait_s` is answered busy.

    .venv/bin/locust -f load_tests/locust_twilio.py --host http://127.0.0.1:8000 \\
        --headless -u 10 -r 2 -t 60s --csv out/twilio

Figures for 10 and 20 users on 2 cores are in the README ("Load over Twilio's
protocol"); failures there are turns and greetings with nothing heard for 20 s.
"""

from __future__ import annotations

import asyncio
import base64
import io
import itertools
import json
import os
import random
import time
from collections import deque
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
from locust import User, between, events, task
from locust.env import Environment
from websockets.exceptions import InvalidURI, WebSocketException

from load_tests.media_socket import MediaSocket, StreamClosed
from switchboard.caller import twilio_protocol as tp
from switchboard.caller.audio_caller import (
    KEY_GAP_S,
    STREAM_USER_AGENT,
    stream_handshake_headers,
    stream_open_failure,
)
from switchboard.caller.audio_playback import Handset, PendingMark
from switchboard.caller.result import CallFailed
from switchboard.caller.scenario_player import AGENT_TURN_TIMEOUT_S, check_stream_end
from switchboard.caller.speech import synthesize_lines
from switchboard.caller.tokens import dev_secrets_path, read_dev_secrets
from switchboard.caller.transcript import Transcript
from switchboard.caller.turns import TurnTracker
from switchboard.caller.webhooks import (
    STATUS_PATH,
    VOICE_PATH,
    voice_answer,
    webhook_headers,
)
from switchboard.scenario import Dtmf, Hangup, Line, Scenario, Silence, load_scenario

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS_ENV = "SWITCHBOARD_LOCUST_SCENARIOS"
FRAME_S = tp.FRAME_MS / 1000
HTTP_TIMEOUT_S = 15.0


# What every user of this process shares: the scenarios and their lines, spoken once.


class Repertoire:
    """The scenarios of this process, played in turn, and their lines as μ-law."""

    def __init__(self) -> None:
        self.scenarios: list[Scenario] = []
        self.speech: dict[str, bytes] = {}
        self._turn: Iterator[Scenario] = iter(())

    def load(self, folder: Path) -> None:
        paths = sorted(folder.glob("*.yaml"))
        if not paths:
            raise RuntimeError(f"{folder}: no scenario (*.yaml) to play; see {SCENARIOS_ENV}")
        self.scenarios = [load_scenario(path) for path in paths]
        lines = [line for s in self.scenarios for line in s.lines if isinstance(line, str)]
        # The simulator's own synthesis; no user waits for the TTS mid-call.
        self.speech = asyncio.run(synthesize_lines(lines))
        self._turn = itertools.cycle(self.scenarios)

    def next_call(self) -> Scenario:
        """The next scenario, as a call from a lead of its own."""
        scenario = next(self._turn)
        lead = f"+1555{random.randrange(10**7):07d}"
        return scenario.model_copy(update={"from_number": lead})


REPERTOIRE = Repertoire()


@events.init.add_listener
def _render_speech(environment: Environment, **_: object) -> None:
    folder = os.environ.get(SCENARIOS_ENV) or str(ROOT / "scenarios")
    REPERTOIRE.load(Path(folder))


def _twilio_account() -> tuple[str, str]:
    """The auth token that signs, and the account the calls belong to."""
    dev = read_dev_secrets(dev_secrets_path())
    auth_token = os.environ.get("SWITCHBOARD_TWILIO_AUTH_TOKEN") or dev.get("twilio_auth_token", "")
    account_sid = os.environ.get("SWITCHBOARD_TWILIO_ACCOUNT_SID") or dev.get(
        "twilio_account_sid", ""
    )
    if not auth_token:
        raise RuntimeError(
            "no Twilio auth token: set SWITCHBOARD_TWILIO_AUTH_TOKEN or run from where "
            "`switchboard serve` wrote .switchboard/dev-secrets.json"
        )
    # No account at all: the webhooks carry an empty AccountSid, as `switchboard call` does.
    return auth_token, account_sid


# One call's media stream, played synchronously.


class StreamDropped(CallFailed):
    """The server closed the stream mid-call and offered a new one."""


class TurnReport:
    """What the call reports to locust as it goes."""

    def __init__(self, environment: Environment) -> None:
        self._events = environment.events

    def fire(self, kind: str, name: str, ms: float, error: Exception | None = None) -> None:
        self._events.request.fire(
            request_type=kind, name=name, response_time=ms, response_length=0, exception=error
        )


class StreamCall:
    """One call's media stream: frames paced on a fixed 20 ms schedule, the server's
    messages heard in between, the scenario's lines said when the agent's turn is over."""

    def __init__(
        self,
        ws: MediaSocket,
        *,
        scenario: Scenario,
        parties: tp.CallParties,
        speech: dict[str, bytes],
        report: TurnReport,
    ) -> None:
        self.ws = ws
        self._scenario = scenario
        self._parties = parties
        self._speech = speech
        self._report = report
        self._stream_sid = tp.new_sid("MZ")
        self._numbers = tp.SequenceNumbers()
        self.turns = TurnTracker(agent_speaks_first=scenario.direction == "inbound")
        self.handset = Handset(self.turns)
        self._lines: Iterator[Line] = iter(scenario.lines)
        self._first_line = True
        self._frames: deque[bytes] = deque()  # what is left of the line being said
        self._saying: str | None = None
        self._keys = ""  # keys still to press, one every KEY_GAP_S
        self._busy_until = 0.0  # the caller is silent (or between keys) until then
        self._waiting_since: float | None = None  # for the agent, since then
        self._reported_turns = 0
        self._greeted = scenario.direction == "outbound"  # no greeting to report
        self._gaps_seen = 0
        self._hanging_up = False
        self.ended_by: str | None = None
        self.started_at = 0.0

    # The loop

    def play(self, custom_parameters: dict[str, str]) -> None:
        """Play the scenario until the caller hangs up or the server ends the stream."""
        self.started_at = time.monotonic()
        start = tp.start_message(
            self._stream_sid, self._parties.call_sid, self._parties.account_sid,
            custom_parameters,
        )  # fmt: skip
        self._send(tp.connected_message())
        self._send(start)
        self._waiting_since = self.started_at
        tick = 0
        while self.ended_by is None:
            due = self.started_at + tick * FRAME_S
            now = time.monotonic()
            if now < due:
                # Hear the server until the next frame is due.
                try:
                    raw = self.ws.recv(timeout=due - now)
                except TimeoutError:
                    continue
                except StreamClosed:
                    self.ended_by = "agent"
                    break
                self._hear(raw)
                continue
            self._send_frame(tick, now)
            tick += 1
            for mark in self.handset.due_marks(now):
                self._echo(mark)
            self.handset.check_agent_silence(now)
            self._report_progress()
            if self.ended_by is None:
                self._act(now)
            if time.monotonic() >= self.started_at + tick * FRAME_S:
                # Behind schedule (the process was starved): catch up, but let the other
                # calls' greenlets send their frames in between.
                time.sleep(0)
        self._reply_over()
        self._report_progress()

    def _send(self, message: dict) -> None:
        try:
            self.ws.send(json.dumps(self._numbers.stamp(message)))
        except StreamClosed:
            self.ended_by = "caller" if self._hanging_up else "agent"

    def _send_frame(self, tick: int, now: float) -> None:
        frame = self._frames.popleft() if self._frames else tp.SILENT_FRAME
        payload = base64.b64encode(frame).decode("ascii")
        self._send(tp.media_message(self._stream_sid, tick + 1, tick * tp.FRAME_MS, payload))
        if self._saying is not None and not self._frames:
            self._took_turn(self._saying, now, expects_reply=True)
            self._saying = None

    def _hear(self, raw: str | bytes) -> None:
        for mark in self.handset.hear(raw, time.monotonic()):
            self._echo(mark)

    def _echo(self, mark: PendingMark) -> None:
        if self.ended_by is None:
            self._send(tp.mark_message(self._stream_sid, mark.name))
            self.handset.echoed(mark)

    # The caller's side of the conversation (as `play_script`, one step per frame)

    def _act(self, now: float) -> None:
        if self._saying is not None or now < self._busy_until:
            return
        if self._keys:
            self._press_next_key(now)
            return
        # On an outbound call the lead answers: the first line is said at once.
        outbound_answer = self._first_line and self._scenario.direction == "outbound"
        if not (outbound_answer or self.turns.caller_may_speak):
            waited = now - (self._waiting_since or now)
            if waited < AGENT_TURN_TIMEOUT_S:
                return
            self._unanswered()
        self._first_line = False
        line = next(self._lines, None)
        # Out of lines without a hang-up: the agent was heard out, the caller hangs up.
        if line is None or isinstance(line, Hangup):
            self._hang_up()
        elif isinstance(line, Dtmf):
            self._keys = line.dtmf
            self._press_next_key(now)
        elif isinstance(line, Silence):
            # The frames go on, silent; a silence expects no reply.
            self._took_turn("[silence]", now, expects_reply=False)
            self._busy_until = now + line.silence_s
        else:
            self._frames = deque(tp.media_frames(self._speech[line]))
            self._saying = line

    def _press_next_key(self, now: float) -> None:
        digit, self._keys = self._keys[0], self._keys[1:]
        if not self._keys:
            # Count the turn before sending, so an instant answer is not missed.
            self._took_turn("[keys]", now, expects_reply=True)
        self._send(tp.dtmf_message(self._stream_sid, digit))
        self._busy_until = now + KEY_GAP_S if self._keys else now

    def _took_turn(self, line: str, now: float, *, expects_reply: bool) -> None:
        self._reply_over()
        self.turns.caller_took_turn(line, now, expects_reply=expects_reply)
        self._waiting_since = now

    def _unanswered(self) -> None:
        """The agent's turn has not ended after AGENT_TURN_TIMEOUT_S: the caller goes on,
        as the simulator does; a line (or a greeting) never answered is a failure."""
        timeout_ms = AGENT_TURN_TIMEOUT_S * 1000
        if not self._greeted:
            self._greeted = True
            error = RuntimeError(f"no greeting {AGENT_TURN_TIMEOUT_S:g} s into the call")
            self._report.fire("greeting", "greeting", timeout_ms, error)
        timing = self.turns.timings[-1] if self.turns.timings else None
        if timing is not None and timing.latency_ms is None:
            self._reported_turns = len(self.turns.timings)
            error = RuntimeError(f"no agent audio {AGENT_TURN_TIMEOUT_S:g} s after a line")
            self._report.fire("turn", "turn", timeout_ms, error)

    def _hang_up(self) -> None:
        """`stop`, then close, as Twilio does when the caller hangs up."""
        self._hanging_up = True
        parties = self._parties
        self._send(tp.stop_message(self._stream_sid, parties.call_sid, parties.account_sid))
        self.ended_by = "caller"
        self.ws.close()

    # Figures

    def _report_progress(self) -> None:
        """The greeting, and each turn's latency, once the agent's first audio was heard."""
        heard = self.handset.first_agent_audio_at
        if not self._greeted and heard is not None:
            self._greeted = True
            self._report.fire("greeting", "greeting", (heard - self.started_at) * 1000)
        timings = self.turns.timings
        while self._reported_turns < len(timings):
            latency_ms = timings[self._reported_turns].latency_ms
            if latency_ms is None:
                return
            self._report.fire("turn", "turn", latency_ms)
            self._reported_turns += 1

    def _reply_over(self) -> None:
        """The agent's reply since the caller's last turn is over: its longest gap."""
        gaps = self.handset.playback.gaps
        if self.turns.agent_spoke_this_epoch:
            longest = max(gaps[self._gaps_seen :], default=0.0)
            self._report.fire("audio", "gap in reply", longest * 1000)
        self._gaps_seen = len(gaps)

    @property
    def heard_server(self) -> bool:
        return self.handset.heard_server


# The user


class TwilioCaller(User):
    """One phone line: a call, a short pause, the next call."""

    wait_time = between(1, 3)

    # One client for every user: making one builds an SSL context, which holds the
    # whole process (every call's frames) for tens of milliseconds on a busy machine.
    _http: httpx.Client | None = None

    def on_start(self) -> None:
        self._auth_token, self._account_sid = _twilio_account()
        if TwilioCaller._http is None:
            TwilioCaller._http = httpx.Client(timeout=HTTP_TIMEOUT_S)
        self._report = TurnReport(self.environment)

    @task
    def call(self) -> None:
        scenario = REPERTOIRE.next_call()
        parties = tp.CallParties.for_scenario(
            scenario, call_sid=tp.new_sid("CA"), account_sid=self._account_sid
        )
        started = time.perf_counter()
        error: Exception | None = None
        try:
            self._call(scenario, parties)
        except Exception as exc:  # a failed call; the next call goes on
            error = exc
        # A BaseException (locust stopping this user mid-call) is not a call's result.
        self._report.fire("call", "call", (time.perf_counter() - started) * 1000, error)

    def _post(self, url: str, params: dict[str, str]) -> httpx.Response:
        headers = webhook_headers(self._auth_token, url, params)
        try:
            assert self._http is not None  # made in on_start
            return self._http.post(url, data=params, headers=headers)
        except httpx.TransportError as exc:
            raise CallFailed(f"could not reach {url} ({exc.__class__.__name__}: {exc})") from None

    def _call(self, scenario: Scenario, parties: tp.CallParties) -> None:
        ringing = time.perf_counter()
        voice_url = self.host + VOICE_PATH
        params = tp.voice_webhook_params(parties, scenario.answered_by)
        with ExitStack() as stream:
            try:
                answer = voice_answer(voice_url, self._post(voice_url, params))
                if isinstance(answer, tp.EndAnswer):
                    self._status(parties, answer.call_status, 0.0)
                    raise CallFailed(f"the server did not connect the call: <{answer.kind}> "
                                     f"{answer.reason or ''}".strip())  # fmt: skip
                ws = self._open_stream(stream, answer.url)
            except CallFailed as exc:
                ms = (time.perf_counter() - ringing) * 1000
                self._report.fire("connect", "connect", ms, exc)
                raise
            self._report.fire("connect", "connect", (time.perf_counter() - ringing) * 1000)
            call = StreamCall(
                ws, scenario=scenario, parties=parties, speech=REPERTOIRE.speech,
                report=self._report,
            )  # fmt: skip
            call.play(answer.parameters)
        duration_s = time.monotonic() - call.started_at
        if call.ended_by == "agent":
            # A stream refused before the call began fails it, as in `switchboard call`.
            check_stream_end(call.ws, call, Transcript(io.StringIO()))  # type: ignore[arg-type]
            self._continue(parties, scenario, answer.action)
        self._status(parties, "completed", duration_s)

    def _open_stream(self, stream: ExitStack, url: str) -> MediaSocket:
        """Open the media stream; it is closed when `stream` exits, however the call ends."""
        headers = stream_handshake_headers(self._auth_token, url)
        try:
            return stream.enter_context(
                MediaSocket.open(url, headers, user_agent=STREAM_USER_AGENT, timeout_s=10)
            )
        except (OSError, TimeoutError, InvalidURI, WebSocketException) as exc:
            raise stream_open_failure(url, exc) from None

    def _continue(self, parties: tp.CallParties, scenario: Scenario, action: str | None) -> None:
        """The server ended the stream: Twilio asks `<Connect action>` what next. A new
        stream means the stream dropped mid-call."""
        if action is None:
            return
        params = tp.voice_webhook_params(parties, scenario.answered_by)
        params["CallStatus"] = "in-progress"
        response = self._post(action, params)
        try:
            resumes = response.status_code == 200 and isinstance(
                tp.parse_twiml(response.text), tp.StreamAnswer
            )
        except tp.TwimlError:
            resumes = False  # e.g. a transfer: the call goes on without this caller's stream
        if resumes:
            raise StreamDropped("the media stream dropped mid-call (the server offered a new one)")

    def _status(self, parties: tp.CallParties, status: str, duration_s: float) -> None:
        url = self.host + STATUS_PATH
        response = self._post(url, tp.status_callback_params(parties, status, duration_s))
        if response.status_code >= 300:
            raise CallFailed(f"status callback to {url} answered HTTP {response.status_code}")

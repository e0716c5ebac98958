"""The simulated caller against a protocol peer: a small server speaking the application's
side of Twilio's webhooks and Media Streams, and of the text-mode stream.

The peer checks signatures with twilio's own `RequestValidator` (as the server does),
plays scripted agent turns, and records every message with its arrival time, so the
tests can check what the caller sent, in which order and at which pace.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import socket
import threading
import time
from argparse import Namespace
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect
from twilio.request_validator import RequestValidator

from switchboard.caller import CallFailed, call_command, run_call
from switchboard.caller.report import fetch_call_record
from switchboard.scenario import Scenario, parse_scenario

AUTH_TOKEN = "fake-twilio-auth-token"
API_TOKEN = "fake-api-token"
ACCOUNT_SID = "AC" + "a" * 32
AGENT_FRAME = bytes([0x10]) * 160  # 20 ms of (loud) μ-law audio
TWIML_PARAMETERS = {"direction": "inbound", "tenant": "demo"}


def scenario(lines: list[Any], direction: str = "inbound") -> Scenario:
    return parse_scenario(
        {"name": "t", "direction": direction, "from": "+15551230001", "to": "+15557650000",
         "lines": lines}
    )  # fmt: skip


@asynccontextmanager
async def serving(app: Starlette) -> AsyncIterator[str]:
    """Run `app` on a free port in this event loop; yields its base URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await task


@dataclass
class AgentTurn:
    """What the fake agent sends for one turn: audio, then maybe a mark, maybe a clear."""

    audio_s: float
    mark: str | None = None
    clear_after_s: float | None = None


@dataclass
class Peer:
    """The application's side of the protocols, scripted, recording what it receives."""

    greeting: AgentTurn | None = None
    replies: list[AgentTurn] = field(default_factory=list)  # one per key press / text
    close_after_mark: str | None = None  # the agent ends the call when this mark returns
    twiml: str | None = None
    refuse_start: tuple[int, str] | None = None  # close code and reason for `start`
    base_url: str = ""
    webhooks: list[dict[str, str]] = field(default_factory=list)
    status_callbacks: list[dict[str, str]] = field(default_factory=list)
    handshake_url: str | None = None
    received: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    sent: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    record_polls: int = 0
    turn_open: bool = False
    turn_violations: int = 0

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/twilio/voice", self.voice, methods=["POST"]),
                Route("/twilio/status", self.status, methods=["POST"]),
                WebSocketRoute("/twilio/stream", self.media_stream),
                WebSocketRoute("/v1/text/stream", self.text_stream),
                Route("/v1/calls/{call_sid}", self.call_record),
            ]
        )

    def events(self, kind: str) -> list[tuple[float, dict[str, Any]]]:
        return [(at, m) for at, m in self.received if m.get("event") == kind]

    def sent_at(self, predicate: Any) -> float:
        times = [at for at, m in self.sent if predicate(m)]
        assert times, "the peer never sent that message"
        return times[0]

    # Webhooks, checked as the server checks them

    async def _signed_form(self, request: Request) -> dict[str, str] | None:
        form = {k: str(v) for k, v in (await request.form()).items()}
        signature = request.headers.get("x-twilio-signature", "")
        valid = RequestValidator(AUTH_TOKEN).validate(str(request.url), form, signature)
        return form if valid else None

    async def voice(self, request: Request) -> Response:
        form = await self._signed_form(request)
        if form is None:
            return Response("bad signature", status_code=403)
        self.webhooks.append(form)
        if self.twiml is not None:
            return Response(self.twiml, media_type="application/xml")
        stream_url = self.base_url.replace("http", "ws") + "/twilio/stream?session=s1"
        parameters = "".join(
            f'<Parameter name="{k}" value="{v}"/>' for k, v in TWIML_PARAMETERS.items()
        )
        return Response(
            f'<?xml version="1.0" encoding="UTF-8"?><Response><Connect>'
            f'<Stream url="{stream_url}">{parameters}</Stream></Connect></Response>',
            media_type="application/xml",
        )

    async def status(self, request: Request) -> Response:
        form = await self._signed_form(request)
        if form is None:
            return Response(status_code=403)
        self.status_callbacks.append(form)
        return Response(status_code=204)

    async def call_record(self, request: Request) -> Response:
        if request.headers.get("authorization") != f"Bearer {API_TOKEN}":
            return JSONResponse({"detail": "unauthorized"}, status_code=401)
        self.record_polls += 1
        # Not final at the first look, as a record written a moment after the call ends.
        status = "completed" if self.record_polls > 1 else "in_progress"
        return JSONResponse(
            {
                "call_sid": request.path_params["call_sid"],
                "status": status,
                "outcome": "qualified",
                "qualification_score": 1.0,
                "facts": {"budget_usd": 50000, "decision_maker": True, "need": None},
                "turns": [
                    {
                        "user_text": "",
                        "agent_text": "Hello from the fake agent.",
                        "agent": "greeter",
                        "latency_ms": None,
                    },
                ],  # fmt: skip
                "tier_history": [],
                "cost_usd": 0.0123,
                "cost_breakdown": {"telephony": 0.01, "stt": 0.0, "llm": 0.0023, "tts": 0.0},
                "errors": [],
            }
        )

    # Media Streams: the application's end

    async def media_stream(self, websocket: WebSocket) -> None:
        signature = websocket.headers.get("x-twilio-signature", "")
        if not RequestValidator(AUTH_TOKEN).validate(str(websocket.url), {}, signature):
            await websocket.close()  # refuses the handshake: HTTP 403
            return
        self.handshake_url = str(websocket.url)
        await websocket.accept()
        replies = iter(self.replies)
        speaking: list[asyncio.Task[None]] = []
        caller_speaking, quiet_frames = False, 0
        try:
            while True:
                message = json.loads(await websocket.receive_text())
                self.received.append((time.monotonic(), message))
                event = message["event"]
                turn = None
                if event == "start" and self.refuse_start:
                    await websocket.close(*self.refuse_start)
                    return
                if event == "start":
                    turn = self.greeting
                elif event == "dtmf":
                    turn = next(replies, None)
                elif event == "media":
                    # A crude end-of-speech detector: 300 ms of silence after speech.
                    silent = not base64.b64decode(message["media"]["payload"]).strip(b"\xff\x7f")
                    quiet_frames = quiet_frames + 1 if silent else 0
                    caller_speaking = caller_speaking or not silent
                    if caller_speaking and quiet_frames == 15:
                        caller_speaking = False
                        turn = next(replies, None)
                elif event == "mark" and message["mark"]["name"] == self.close_after_mark:
                    await websocket.close()
                    return
                elif event == "stop":
                    return
                if turn is not None:
                    speaking.append(asyncio.create_task(self._speak(websocket, turn)))
        except WebSocketDisconnect:
            pass
        finally:
            for task in speaking:
                task.cancel()

    async def _send(self, websocket: WebSocket, message: dict[str, Any]) -> None:
        self.sent.append((time.monotonic(), message))
        await websocket.send_text(json.dumps(message))

    async def _speak(self, websocket: WebSocket, turn: AgentTurn) -> None:
        # Like a TTS, the agent sends its audio faster than real time; the caller buffers it.
        payload = base64.b64encode(AGENT_FRAME).decode()
        for _ in range(round(turn.audio_s / 0.02)):
            await self._send(
                websocket, {"event": "media", "streamSid": "MZ", "media": {"payload": payload}}
            )
        if turn.mark:
            mark = {"event": "mark", "streamSid": "MZ", "mark": {"name": turn.mark}}
            await self._send(websocket, mark)
        if turn.clear_after_s is not None:
            await asyncio.sleep(turn.clear_after_s)
            await self._send(websocket, {"event": "clear", "streamSid": "MZ"})

    # Text mode: the application's end

    async def text_stream(self, websocket: WebSocket) -> None:
        if websocket.headers.get("authorization") != f"Bearer {API_TOKEN}":
            await websocket.close()
            return
        await websocket.accept()
        try:
            while True:
                message = json.loads(await websocket.receive_text())
                self.received.append((time.monotonic(), message))
                event = message["event"]
                if event in ("text", "dtmf") and self.turn_open:
                    self.turn_violations += 1
                if event == "start" and self.refuse_start:
                    await websocket.close(*self.refuse_start)
                    return
                if event == "start" and message.get("direction") == "inbound":
                    await self._agent_turn(websocket, "Hello from the fake agent.", "How are you?")
                elif event == "text" and "bye" in message["text"]:
                    await self._send(websocket, {"event": "agent", "text": "Goodbye."})
                    await self._send(websocket, {"event": "hangup", "reason": "wrap_up"})
                    await websocket.close()
                    return
                elif event == "text":
                    await self._agent_turn(websocket, f"You said: {message['text']}")
                elif event == "dtmf":
                    await self._agent_turn(websocket, f"You pressed {message['digit']}.")
                elif event == "stop":
                    return
        except WebSocketDisconnect:
            pass

    async def _agent_turn(self, websocket: WebSocket, *sentences: str) -> None:
        self.turn_open = True
        for sentence in sentences:
            await self._send(websocket, {"event": "agent", "text": sentence})
            await asyncio.sleep(0.1)  # the next sentence is still being written
        self.turn_open = False
        await self._send(websocket, {"event": "turn_end"})


async def place(peer: Peer, lines: Scenario, *, text: bool = False, **overrides: Any) -> Any:
    async with serving(peer.app()) as base_url:
        peer.base_url = base_url
        out = io.StringIO()
        options: dict[str, Any] = {
            "base_url": base_url, "text": text, "json_path": None, "auth_token": AUTH_TOKEN,
            "api_token": API_TOKEN, "account_sid": ACCOUNT_SID, "out": out,
        }  # fmt: skip
        options.update(overrides)
        result = await run_call(lines, **options)
        return result, out.getvalue()


def non_connected(peer: Peer) -> list[dict[str, Any]]:
    return [m for _, m in peer.received if m["event"] != "connected"]


# Audio mode


async def test_audio_call_speaks_twilio_media_streams(tmp_path: Path) -> None:
    peer = Peer(greeting=AgentTurn(0.4, mark="greeting"), replies=[AgentTurn(0.2, mark="reply")])
    report = tmp_path / "report.json"
    result, output = await place(
        peer, scenario([{"dtmf": "1"}, {"silence_s": 0.5}, {"hangup": True}]), json_path=report
    )

    # The webhook, signed (the peer refuses it otherwise), with Twilio's names and values.
    (webhook,) = peer.webhooks
    assert webhook["CallSid"] == result.call_sid and webhook["AccountSid"] == ACCOUNT_SID
    assert webhook["Direction"] == "inbound" and webhook["CallStatus"] == "ringing"
    assert webhook["From"] == "+15551230001" and webhook["To"] == "+15557650000"
    # The stream is opened at the Stream URL exactly as given, with a valid signature.
    assert peer.handshake_url == peer.base_url.replace("http", "ws") + "/twilio/stream?session=s1"

    messages = [m for _, m in peer.received]
    assert messages[0] == {"event": "connected", "protocol": "Call", "version": "1.0.0"}
    start = messages[1]
    assert start["event"] == "start" and start["sequenceNumber"] == "1"
    assert start["streamSid"].startswith("MZ") and len(start["streamSid"]) == 34
    assert start["start"]["callSid"] == result.call_sid
    assert start["start"]["accountSid"] == ACCOUNT_SID
    assert start["start"]["mediaFormat"] == {
        "encoding": "audio/x-mulaw",
        "sampleRate": 8000,
        "channels": 1,
    }
    assert start["start"]["customParameters"] == TWIML_PARAMETERS
    # Every message after `connected` is numbered 1, 2, 3, … and names the stream.
    numbered = non_connected(peer)
    assert [int(m["sequenceNumber"]) for m in numbered] == list(range(1, len(numbered) + 1))
    assert {m["streamSid"] for m in numbered} == {start["streamSid"]}
    assert messages[-1]["event"] == "stop"
    assert messages[-1]["stop"] == {"accountSid": ACCOUNT_SID, "callSid": result.call_sid}

    media = peer.events("media")
    assert all(len(base64.b64decode(m["media"]["payload"])) == 160 for _, m in media)
    assert [int(m["media"]["chunk"]) for _, m in media] == list(range(1, len(media) + 1))
    assert [int(m["media"]["timestamp"]) for _, m in media] == [20 * i for i in range(len(media))]
    # Real time: 50 frames a second, on a clock that does not drift.
    elapsed = media[-1][0] - media[0][0]
    assert abs(len(media) - 1 - elapsed / 0.02) <= 5

    # The greeting's mark comes back once its 0.4 s of audio has played, not before;
    # only then does the caller press its key.
    (greeting_echo,) = [(at, m) for at, m in peer.events("mark") if m["mark"]["name"] == "greeting"]
    greeting_sent = peer.sent_at(lambda m: m.get("mark", {}).get("name") == "greeting")
    assert greeting_echo[0] - greeting_sent >= 0.4 - 0.03
    (dtmf,) = peer.events("dtmf")
    assert dtmf[1]["dtmf"] == {"track": "inbound_track", "digit": "1"}
    assert dtmf[0] > greeting_echo[0]
    # The silence line lasts its half second after the reply's mark came back.
    (reply_echo,) = [(at, m) for at, m in peer.events("mark") if m["mark"]["name"] == "reply"]
    stop_at = peer.events("stop")[0][0]
    assert stop_at - reply_echo[0] >= 0.5 - 0.03

    (status,) = peer.status_callbacks
    assert status["CallSid"] == result.call_sid and status["CallStatus"] == "completed"
    assert int(status["CallDuration"]) >= 1

    assert result.ended_by == "caller" and result.mode == "audio"
    assert [t.line for t in result.timings] == ["[1]"] and result.timings[0].latency_ms is not None
    assert result.record_final and peer.record_polls == 2
    assert json.loads(report.read_text()) == result.record
    assert "caller  › [presses 1]" in output and "caller  › [hangs up]" in output
    assert "agent   › Hello from the fake agent.  [greeter]" in output
    assert "outcome  qualified" in output and "budget_usd=50000" in output


async def test_clear_drops_the_agent_audio_and_returns_its_mark_at_once() -> None:
    peer = Peer(
        greeting=AgentTurn(3.0, mark="long", clear_after_s=0.2), replies=[AgentTurn(0.1, "r")]
    )
    await place(peer, scenario([{"dtmf": "1"}, {"hangup": True}]))
    clear_sent = peer.sent_at(lambda m: m["event"] == "clear")
    (echo,) = [at for at, m in peer.events("mark") if m["mark"]["name"] == "long"]
    # Released by the clear, not after the three seconds of audio it was queued behind.
    assert clear_sent <= echo < clear_sent + 1.0


async def test_a_second_of_silence_after_agent_audio_ends_its_turn() -> None:
    peer = Peer(greeting=AgentTurn(0.3), replies=[AgentTurn(0.1, mark="r")])  # no mark
    await place(peer, scenario([{"dtmf": "1"}, {"hangup": True}]))
    greeting_sent = peer.sent[0][0]
    ((dtmf_at, _),) = peer.events("dtmf")
    # Not before the audio has played and a second has passed; long before the caller's
    # 20 s patience with an agent whose turn never ends would run out.
    assert 0.3 + 1.0 - 0.05 <= dtmf_at - greeting_sent < 0.3 + 1.0 + 3.0


async def test_a_stream_the_server_closes_ends_the_call_as_completed() -> None:
    peer = Peer(greeting=AgentTurn(0.2, mark="bye"), close_after_mark="bye")
    result, output = await place(peer, scenario([{"dtmf": "1"}, {"dtmf": "2"}]))
    assert result.ended_by == "agent"
    assert peer.events("dtmf") == [] and peer.events("stop") == []
    assert peer.status_callbacks[0]["CallStatus"] == "completed"
    assert "the agent ended the call" in output


async def test_outbound_caller_speaks_first_without_waiting_for_the_agent() -> None:
    peer = Peer(greeting=None, replies=[AgentTurn(0.1, mark="r")])
    await place(peer, scenario([{"dtmf": "1"}, {"hangup": True}], direction="outbound"))
    assert peer.webhooks[0]["Direction"] == "outbound-api"
    assert peer.webhooks[0]["To"] == "+15551230001"  # the lead is dialled
    start_at = peer.events("start")[0][0]
    ((dtmf_at, _),) = peer.events("dtmf")
    assert dtmf_at - start_at < 0.5


async def test_a_stream_refused_at_start_means_the_call_was_not_placed() -> None:
    peer = Peer(greeting=AgentTurn(0.2, "g"), refuse_start=(1008, "invalid stream token"))
    with pytest.raises(CallFailed, match=r"before the call began \(code 1008, invalid stream"):
        await place(peer, scenario([{"dtmf": "1"}]))


async def test_a_rejected_call_is_not_placed_and_reports_busy() -> None:
    peer = Peer(twiml='<Response><Reject reason="busy"/></Response>')
    with pytest.raises(CallFailed, match="rejected"):
        await place(peer, scenario([{"hangup": True}]))
    assert peer.status_callbacks[0]["CallStatus"] == "busy"


async def test_a_webhook_signed_with_the_wrong_token_is_refused_clearly() -> None:
    with pytest.raises(CallFailed, match="X-Twilio-Signature.*403"):
        await place(Peer(), scenario([{"hangup": True}]), auth_token="not-the-token")


async def test_spoken_lines_are_the_offline_tts_in_real_time() -> None:
    espeak = pytest.importorskip("actors.speech.espeak")
    line = "Yes, this is Dana."
    peer = Peer(greeting=AgentTurn(0.2, mark="g"), replies=[AgentTurn(0.2, mark="r")])
    result, _ = await place(peer, scenario([line, {"hangup": True}]))
    speech = [
        m for _, m in peer.events("media")
        if base64.b64decode(m["media"]["payload"]).strip(b"\xff\x7f")
    ]  # fmt: skip
    expected_frames = len(await espeak.synthesize(line, sample_rate=8000)) / 2 / 160
    assert abs(len(speech) - expected_frames) <= max(5, expected_frames * 0.2)
    # The agent's answer was heard; its latency is counted from the line's last frame.
    assert [t.line for t in result.timings] == [line] and result.timings[0].latency_ms is not None


# Text mode


async def test_text_call_takes_turns_on_turn_end_and_prints_both_sides() -> None:
    peer = Peer()
    lines = scenario(["Hi there", {"dtmf": "2"}, {"silence_s": 0.2}, {"hangup": True}])
    result, output = await place(peer, lines, text=True)
    kinds = [m["event"] for _, m in peer.received]
    assert kinds == ["start", "text", "dtmf", "silence", "stop"]
    start = peer.received[0][1]
    assert start == {
        "event": "start", "callSid": result.call_sid, "from": "+15551230001",
        "to": "+15557650000", "direction": "inbound",
    }  # fmt: skip
    assert peer.received[3][1] == {"event": "silence", "seconds": 0.2}
    assert peer.turn_violations == 0  # never spoke while the agent had the turn
    assert result.ended_by == "caller" and result.mode == "text"
    assert all(t.latency_ms is not None for t in result.timings)
    for expected in (
        "agent   › Hello from the fake agent.",
        "caller  › Hi there",
        "agent   › You said: Hi there",
        "caller  › [presses 2]",
        "agent   › You pressed 2.",
        "outcome  qualified",
    ):
        assert expected in output


async def test_the_agent_hanging_up_ends_a_text_call() -> None:
    peer = Peer()
    result, output = await place(peer, scenario(["ok bye", "never said"]), text=True)
    assert result.ended_by == "agent"
    assert [m.get("text") for _, m in peer.events("text")] == ["ok bye"]
    assert "the agent ended the call (wrap_up)" in output


async def test_outbound_text_call_sends_the_first_line_right_after_start() -> None:
    peer = Peer()
    await place(peer, scenario(["Hello?", {"hangup": True}], direction="outbound"), text=True)
    start, first = peer.received[0][1], peer.received[1][1]
    # Text mode names the lead `from` and the agent `to`, whichever way the call goes.
    assert start["direction"] == "outbound"
    assert start["from"] == "+15551230001" and start["to"] == "+15557650000"
    assert first == {"event": "text", "text": "Hello?"}
    assert peer.sent[0][1] == {"event": "agent", "text": "You said: Hello?"}


async def test_a_busy_text_server_means_the_call_was_not_placed() -> None:
    with pytest.raises(CallFailed, match=r"before the call began \(code 1013, busy\)"):
        await place(Peer(refuse_start=(1013, "busy")), scenario(["Hi"]), text=True)


async def test_a_text_call_with_the_wrong_api_token_is_refused() -> None:
    with pytest.raises(CallFailed, match="refused the connection: HTTP 403"):
        await place(Peer(), scenario(["Hi"]), text=True, api_token="wrong")


async def test_a_call_record_that_never_becomes_final_is_given_up_with_a_message() -> None:
    async def never_final(request: Request) -> Response:
        return JSONResponse({"call_sid": "CA1", "status": "in_progress"})

    app = Starlette(routes=[Route("/v1/calls/{call_sid}", never_final)])
    async with serving(app) as base_url:
        fetched = await fetch_call_record(base_url, "CA1", API_TOKEN, wait_s=0.5)
    assert not fetched.final and fetched.record == {"call_sid": "CA1", "status": "in_progress"}
    assert fetched.problem and "not final after 0.5 s" in fetched.problem


# The command line's exit status


def _write_dev_secrets(folder: Path) -> None:
    (folder / ".switchboard").mkdir()
    (folder / ".switchboard" / "dev-secrets.json").write_text(
        json.dumps(
            {"twilio_auth_token": AUTH_TOKEN, "api_token": API_TOKEN,
             "twilio_account_sid": ACCOUNT_SID}
        )
    )  # fmt: skip


@pytest.fixture
def dev_secrets_here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("TWILIO_AUTH_TOKEN", "API_TOKEN", "TWILIO_ACCOUNT_SID"):
        monkeypatch.delenv(f"SWITCHBOARD_{name}", raising=False)
    from switchboard.settings import get_settings

    get_settings.cache_clear()
    monkeypatch.chdir(tmp_path)
    _write_dev_secrets(tmp_path)
    yield tmp_path
    get_settings.cache_clear()


@contextmanager
def serving_in_thread(app: Starlette) -> Iterator[str]:
    """Run `app` in a thread of its own, for code that runs its own event loop."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)


def test_command_exits_0_for_a_call_the_agent_ended_reading_dev_secrets(
    dev_secrets_here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = dev_secrets_here / "s.yaml"
    path.write_text('name: s\nfrom: "+15551230001"\nto: "+15557650000"\nlines: ["ok bye"]\n')
    peer = Peer()
    with serving_in_thread(peer.app()) as base_url:
        peer.base_url = base_url
        args = Namespace(scenario=str(path), url=base_url, text=True, json_path="report.json")
        assert call_command(args) == 0
    assert json.loads((dev_secrets_here / "report.json").read_text())["outcome"] == "qualified"
    assert "agent   › Goodbye." in capsys.readouterr().out


def test_command_exits_1_when_the_server_cannot_be_reached(
    dev_secrets_here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: nothing listens there
    args = Namespace(scenario=None, url=f"http://127.0.0.1:{port}", text=True, json_path=None)
    assert call_command(args) == 1
    assert "could not be placed" in capsys.readouterr().err


def test_command_exits_2_for_a_bad_scenario(
    dev_secrets_here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = dev_secrets_here / "bad.yaml"
    path.write_text("name: bad\n")
    args = Namespace(scenario=str(path), url="http://127.0.0.1:9", text=True, json_path=None)
    assert call_command(args) == 2
    assert "lines: Field required" in capsys.readouterr().err

"""A text-mode call on `WS /v1/text/stream` (DESIGN.md "Text mode"): the same session,
agents and records as a phone call, with sentences instead of audio.

Caller → server: `start`, `text`, `dtmf`, `silence`, `stop`. Server → caller: `agent`
(a sentence, printed as it comes), `turn_end`, `hangup`.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, InvalidURI, WebSocketException

from switchboard.caller.result import CallFailed, LegResult
from switchboard.caller.scenario_player import CallerLeg, check_stream_end, play_script
from switchboard.caller.transcript import Transcript
from switchboard.caller.turns import TurnObserver, TurnTracker
from switchboard.scenario import Scenario

TEXT_STREAM_PATH = "/v1/text/stream"


def websocket_url(base_url: str, path: str) -> str:
    """`http(s)://host` → `ws(s)://host/path`."""
    parts = urlsplit(base_url)
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
    return urlunsplit((scheme, parts.netloc, parts.path.rstrip("/") + path, "", ""))


class TextLeg(CallerLeg):
    """The text stream of one call."""

    def __init__(self, ws: ClientConnection, *, turns: TurnTracker, transcript: Transcript) -> None:
        super().__init__(turns)
        self._ws = ws
        self._transcript = transcript
        self._hanging_up = False

    async def listen(self) -> None:
        """Read the server's events until it closes the stream."""
        try:
            async for raw in self._ws:
                self._on_message(raw)
        except ConnectionClosed:
            pass
        finally:
            self.end("caller" if self._hanging_up else "agent")

    def _on_message(self, raw: str | bytes) -> None:
        try:
            message = json.loads(raw)
            event = message["event"]
        except (ValueError, KeyError, TypeError):
            self._transcript.note(f"the server sent something that is not an event: {raw!r:.80}")
            return
        self.heard_server = True
        if event == "agent":
            self._transcript.agent(str(message.get("text", "")))
            self.turns.agent_spoke(time.monotonic())
        elif event == "turn_end":
            self.turns.agent_turn_ended()
        elif event == "hangup":
            reason = message.get("reason") or "no reason given"
            self._transcript.note(f"the agent ended the call ({reason})")
            self.end("agent")

    async def send(self, message: dict[str, Any]) -> None:
        try:
            await self._ws.send(json.dumps(message))
        except ConnectionClosed:
            self.end("caller" if self._hanging_up else "agent")

    async def say(self, text: str) -> None:
        # Count the turn before sending, so an instant answer is not missed.
        self.turns.caller_took_turn(text, time.monotonic(), expects_reply=True)
        await self.send({"event": "text", "text": text})

    async def press(self, digits: str) -> None:
        self.turns.caller_took_turn(f"[{digits}]", time.monotonic(), expects_reply=True)
        for digit in digits:
            await self.send({"event": "dtmf", "digit": digit})

    async def stay_silent(self, seconds: float) -> None:
        self.turns.caller_took_turn("[silence]", time.monotonic(), expects_reply=False)
        await self.send({"event": "silence", "seconds": seconds})
        # The time passes for the caller too, so a reprompt it causes is heard in turn.
        await self.until_ended(asyncio.sleep(seconds))

    async def hang_up(self) -> None:
        self._hanging_up = True
        await self.send({"event": "stop"})
        self.end("caller")
        await self._ws.close()


async def open_text_stream(base_url: str, api_token: str) -> ClientConnection:
    url = websocket_url(base_url, TEXT_STREAM_PATH)
    try:
        return await connect(
            url, additional_headers={"Authorization": f"Bearer {api_token}"}, open_timeout=10
        )
    except InvalidStatus as exc:
        status = exc.response.status_code
        hint = " (is SWITCHBOARD_API_TOKEN the server's?)" if status in (401, 403) else ""
        raise CallFailed(f"{url} refused the connection: HTTP {status}{hint}") from None
    except (OSError, TimeoutError, InvalidURI, WebSocketException) as exc:
        raise CallFailed(
            f"could not reach {url} ({exc}); is `switchboard serve` running there?"
        ) from None


async def run_text_call(
    scenario: Scenario,
    *,
    base_url: str,
    api_token: str,
    call_sid: str,
    transcript: Transcript,
    observer: TurnObserver | None = None,
) -> LegResult:
    """Hold a text-mode call: start, the scenario's lines with turn taking, stop."""
    turns = TurnTracker(
        agent_speaks_first=scenario.direction == "inbound", observer=observer
    )
    ws = await open_text_stream(base_url, api_token)
    started = time.monotonic()
    leg = TextLeg(ws, turns=turns, transcript=transcript)
    listener = asyncio.create_task(leg.listen(), name="caller-listen")
    try:
        await leg.send(
            {
                "event": "start",
                "callSid": call_sid,
                # Text mode names the lead `from` and the agent `to` whichever way the
                # call goes; `direction` says who placed it.
                "from": scenario.from_number,
                "to": scenario.to_number,
                "direction": scenario.direction,
            }
        )
        await play_script(scenario, leg, transcript)
    finally:
        await ws.close()
        await asyncio.gather(listener, return_exceptions=True)
    check_stream_end(ws, leg, transcript)
    return LegResult(
        ended_by=leg.ended_by or "caller",
        duration_s=time.monotonic() - started,
        timings=turns.timings,
    )

"""The text-mode wire protocol of `WS /v1/text/stream`, as a Pipecat serializer.

Caller → server: `start`, `text`, `dtmf`, `silence`, `stop`; server → caller: `agent`
(one per sentence), `turn_end`, `hangup`. Messages the pipeline sends are prepared as
`OutputTransportMessageFrame`s whose `message` is already the wire event.
`parse_text_event` raises nothing but `TextProtocolError`, and an event it returns has
the documented fields with the documented types.
"""

from __future__ import annotations

import json
import time

from pipecat.audio.dtmf.types import KeypadEntry
from pipecat.frames.frames import (
    Frame,
    InputDTMFFrame,
    OutputTransportMessageFrame,
    OutputTransportMessageUrgentFrame,
    TranscriptionFrame,
)
from pipecat.serializers.base_serializer import FrameSerializer

from actors.frames import CallerHangupFrame, CallerSilenceFrame

MAX_TEXT_CHARS = 2000
MAX_SILENCE_S = 600.0
DIRECTIONS = ("inbound", "outbound")


class TextProtocolError(ValueError):
    """A text-mode message the server refuses; the socket is closed with this reason."""


def parse_text_event(raw: str) -> dict:
    """Validate one caller message; raises `TextProtocolError` saying what is wrong."""
    try:
        event = json.loads(raw)
    except (json.JSONDecodeError, TypeError) as exc:
        raise TextProtocolError(f"not JSON: {exc}") from None
    except (ValueError, RecursionError):  # a number too long, or nesting too deep
        raise TextProtocolError("not JSON: beyond the parser's limits") from None
    if not isinstance(event, dict) or not isinstance(event.get("event"), str):
        raise TextProtocolError("a message must be an object with an 'event' field")
    kind = event["event"]
    if kind == "start":
        _check_start(event)
    elif kind == "text":
        text = event.get("text")
        if not isinstance(text, str) or len(text) > MAX_TEXT_CHARS:
            raise TextProtocolError(f"'text' must be a string of at most {MAX_TEXT_CHARS} chars")
    elif kind == "dtmf":
        digit = event.get("digit")
        if not isinstance(digit, str) or digit not in {entry.value for entry in KeypadEntry}:
            raise TextProtocolError("'digit' must be one of 0-9, *, #")
    elif kind == "silence":
        seconds = event.get("seconds")
        if (
            not isinstance(seconds, int | float)
            or isinstance(seconds, bool)
            or not 0 <= seconds <= MAX_SILENCE_S
        ):
            raise TextProtocolError(f"'seconds' must be a number from 0 to {MAX_SILENCE_S:g}")
    elif kind != "stop":
        raise TextProtocolError(f"unknown event {kind[:40]!r}")
    return event


def _check_start(event: dict) -> None:
    """`callSid` text; `from`, `to` text; `direction` inbound|outbound; `campaign_id`."""
    call_sid = event.get("callSid")
    if not isinstance(call_sid, str) or not call_sid:
        raise TextProtocolError("'start' needs a callSid string")
    for name in ("from", "to"):
        if not isinstance(event.get(name, ""), str):
            raise TextProtocolError(f"'{name}' must be a string")
    if event.get("direction", "inbound") not in DIRECTIONS:
        raise TextProtocolError("'direction' must be 'inbound' or 'outbound'")
    campaign_id = event.get("campaign_id", "")
    if not isinstance(campaign_id, str | int) or isinstance(campaign_id, bool):
        raise TextProtocolError("'campaign_id' must be a string or an integer")


class TextStreamSerializer(FrameSerializer):
    """Turns text-mode events into caller frames and agent messages into events."""

    def __init__(self, call_sid: str) -> None:
        super().__init__()
        self._call_sid = call_sid

    async def serialize(self, frame: Frame) -> str | None:
        if isinstance(frame, (OutputTransportMessageFrame, OutputTransportMessageUrgentFrame)):
            return json.dumps(frame.message)
        return None

    async def deserialize(self, data: str | bytes) -> Frame | None:
        # The ingress validated every message before delivering it.
        event = json.loads(data)
        kind = event["event"]
        if kind == "text":
            return TranscriptionFrame(
                text=event["text"],
                user_id=self._call_sid,
                timestamp=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                finalized=True,
            )
        if kind == "dtmf":
            return InputDTMFFrame(KeypadEntry(event["digit"]))
        if kind == "silence":
            return CallerSilenceFrame(seconds=float(event["seconds"]))
        if kind == "stop":
            return CallerHangupFrame()
        return None

"""What Twilio says on the wire, for the simulated caller: webhooks, TwiML, Media Streams.

Parameter names, message shapes and identifier formats follow Twilio's documentation
(Voice webhooks, status callbacks, `<Connect><Stream>` and the Media Streams WebSocket
messages), so the server under test cannot tell the simulator from Twilio.
Builders here are pure; the caller numbers the stream messages as it sends them.
"""

from __future__ import annotations

import math
import secrets
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any, Literal

from switchboard.models import Direction
from switchboard.scenario import Scenario

API_VERSION = "2010-04-01"
# Twilio's media format on a phone call: 8 kHz mono μ-law, 20 ms (160-byte) frames.
SAMPLE_RATE = 8000
FRAME_MS = 20
FRAME_BYTES = SAMPLE_RATE * FRAME_MS // 1000
SILENCE_BYTE = 0xFF  # μ-law encodes zero amplitude as 0xFF (and 0x7F, "negative zero")
SILENT_FRAME = bytes([SILENCE_BYTE]) * FRAME_BYTES
MEDIA_FORMAT = {"encoding": "audio/x-mulaw", "sampleRate": SAMPLE_RATE, "channels": 1}


def new_sid(prefix: str) -> str:
    """A Twilio-style identifier: two letters and 32 hex digits (CA… calls, MZ… streams)."""
    return prefix + secrets.token_hex(16)


# Webhooks (HTTP form posts Twilio makes to the application)


@dataclass(frozen=True)
class CallParties:
    """Who is calling whom, in Twilio's terms (From/To flip on an outbound call)."""

    call_sid: str
    account_sid: str
    direction: Direction
    from_number: str
    to_number: str

    @classmethod
    def for_scenario(cls, scenario: Scenario, *, call_sid: str, account_sid: str) -> CallParties:
        """The scenario's lead calls the agent (inbound) or answers the agent's call."""
        if scenario.direction == "inbound":
            from_number, to_number = scenario.from_number, scenario.to_number
        else:
            from_number, to_number = scenario.to_number, scenario.from_number
        return cls(call_sid, account_sid, scenario.direction, from_number, to_number)

    @property
    def twilio_direction(self) -> str:
        # Twilio calls an API-placed call "outbound-api".
        return "inbound" if self.direction == "inbound" else "outbound-api"


def voice_webhook_params(parties: CallParties, answered_by: str | None = None) -> dict[str, str]:
    """The form Twilio posts to the voice URL when the call is answered (or rings)."""
    params = _common_params(parties)
    # An inbound call asks for TwiML while ringing; an outbound one once the lead answered.
    params["CallStatus"] = "ringing" if parties.direction == "inbound" else "in-progress"
    if answered_by and parties.direction == "outbound":
        params["AnsweredBy"] = answered_by
    return params


def status_callback_params(
    parties: CallParties, status: str, duration_s: float, sequence: int = 0
) -> dict[str, str]:
    """The form Twilio posts to the status callback when the call ends."""
    params = _common_params(parties)
    params.update(
        CallStatus=status,
        CallDuration=str(round(duration_s)),
        Duration=str(math.ceil(duration_s / 60)),  # billed minutes
        CallbackSource="call-progress-events",
        SequenceNumber=str(sequence),
        Timestamp=format_datetime(datetime.now(UTC)),
    )
    return params


def _common_params(parties: CallParties) -> dict[str, str]:
    country = "US"
    return {
        "AccountSid": parties.account_sid,
        "ApiVersion": API_VERSION,
        "CallSid": parties.call_sid,
        "Direction": parties.twilio_direction,
        "From": parties.from_number,
        "To": parties.to_number,
        "Caller": parties.from_number,
        "Called": parties.to_number,
        "FromCountry": country,
        "ToCountry": country,
        "CallerCountry": country,
        "CalledCountry": country,
    }


# TwiML answers


class TwimlError(ValueError):
    """The webhook's answer is not TwiML this caller can follow."""


@dataclass(frozen=True)
class StreamAnswer:
    """`<Connect action=…><Stream url=…>`: open the media stream, passing its
    `<Parameter>`s; when the stream ends, ask `action` (if any) what to do next."""

    url: str
    parameters: dict[str, str] = field(default_factory=dict)
    said: tuple[str, ...] = ()
    action: str | None = None


@dataclass(frozen=True)
class EndAnswer:
    """The call ends without a stream: `<Reject>` (never answered) or `<Hangup>`."""

    kind: Literal["reject", "hangup"]
    reason: str | None = None
    said: tuple[str, ...] = ()

    @property
    def call_status(self) -> str:
        """The status Twilio gives such a call (`<Reject reason="busy">` shows as busy)."""
        if self.kind == "hangup":
            return "completed"
        return "busy" if self.reason == "busy" else "no-answer"


def parse_twiml(text: str) -> StreamAnswer | EndAnswer:
    """Follow a TwiML `<Response>` as Twilio would, up to the stream or the end of the call."""
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise TwimlError(f"the answer is not XML: {exc}") from None
    if root.tag != "Response":
        raise TwimlError(f"the answer's root element is <{root.tag}>, not <Response>")
    said: list[str] = []
    for verb in root:
        if verb.tag == "Say":
            said.append((verb.text or "").strip())
        elif verb.tag == "Pause":
            continue
        elif verb.tag == "Connect":
            stream = verb.find("Stream")
            if stream is None or not stream.get("url"):
                raise TwimlError("<Connect> has no <Stream url=...>")
            parameters = {
                p.get("name", ""): p.get("value", "") for p in stream.findall("Parameter")
            }
            return StreamAnswer(
                url=stream.get("url", ""),
                parameters=parameters,
                said=tuple(said),
                action=verb.get("action") or None,
            )
        elif verb.tag == "Reject":
            return EndAnswer("reject", reason=verb.get("reason", "rejected"), said=tuple(said))
        elif verb.tag == "Hangup":
            return EndAnswer("hangup", said=tuple(said))
        else:
            raise TwimlError(f"<{verb.tag}> is not a verb the simulated caller follows")
    # Twilio hangs up when it runs out of TwiML.
    return EndAnswer("hangup", said=tuple(said))


# Media Streams messages (Twilio → application). `sequenceNumber` is added when sent.


def connected_message() -> dict[str, Any]:
    return {"event": "connected", "protocol": "Call", "version": "1.0.0"}


def start_message(
    stream_sid: str, call_sid: str, account_sid: str, custom_parameters: dict[str, str]
) -> dict[str, Any]:
    return {
        "event": "start",
        "start": {
            "accountSid": account_sid,
            "streamSid": stream_sid,
            "callSid": call_sid,
            "tracks": ["inbound"],
            "mediaFormat": dict(MEDIA_FORMAT),
            "customParameters": dict(custom_parameters),
        },
        "streamSid": stream_sid,
    }


def media_message(stream_sid: str, chunk: int, timestamp_ms: int, payload_b64: str) -> dict:
    return {
        "event": "media",
        "media": {
            "track": "inbound",
            "chunk": str(chunk),
            "timestamp": str(timestamp_ms),
            "payload": payload_b64,
        },
        "streamSid": stream_sid,
    }


def dtmf_message(stream_sid: str, digit: str) -> dict[str, Any]:
    return {
        "event": "dtmf",
        "streamSid": stream_sid,
        "dtmf": {"track": "inbound_track", "digit": digit},
    }


def mark_message(stream_sid: str, name: str) -> dict[str, Any]:
    """A mark echoed back once the audio sent before it has played."""
    return {"event": "mark", "streamSid": stream_sid, "mark": {"name": name}}


def stop_message(stream_sid: str, call_sid: str, account_sid: str) -> dict[str, Any]:
    return {
        "event": "stop",
        "streamSid": stream_sid,
        "stop": {"accountSid": account_sid, "callSid": call_sid},
    }


class SequenceNumbers:
    """Twilio numbers every stream message but `connected` with the next
    `sequenceNumber`, as a string; one per stream."""

    def __init__(self) -> None:
        self._last = 0

    def stamp(self, message: dict[str, Any]) -> dict[str, Any]:
        if message["event"] != "connected":
            self._last += 1
            message["sequenceNumber"] = str(self._last)
        return message


def media_frames(ulaw: bytes) -> list[bytes]:
    """μ-law audio cut into the 20 ms frames a caller streams, the last padded with silence."""
    frames = [ulaw[start : start + FRAME_BYTES] for start in range(0, len(ulaw), FRAME_BYTES)]
    if frames:
        frames[-1] = frames[-1].ljust(FRAME_BYTES, SILENT_FRAME[:1])
    return frames


def is_silent(ulaw: bytes) -> bool:
    """True when a μ-law payload is all zero amplitude (padding a server may stream)."""
    return not ulaw.strip(b"\xff\x7f")

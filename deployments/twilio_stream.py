"""Checks every Twilio Media Streams message before it reaches a call.

Twilio sends `connected`, then `start`, then `media`/`dtmf`/`mark`, and `stop` last,
with increasing sequence numbers. Anything else — not JSON, an unknown event, a
message too large, events out of order — closes that one socket with a reason; no
other call notices.
"""

from __future__ import annotations

import binascii
import json
from base64 import b64decode

EVENTS = {"connected", "start", "media", "dtmf", "mark", "stop"}
# The largest payload Twilio sends is a few hundred bytes of audio; allow generous room.
MAX_MEDIA_PAYLOAD_CHARS = 16_000


class StreamProtocolError(ValueError):
    """The peer broke the Media Streams protocol; the message says how."""


class TwilioStreamGuard:
    """Validates the messages of one media stream, in order."""

    def __init__(self, max_message_bytes: int) -> None:
        self._max_bytes = max_message_bytes
        self._state = "new"  # new → connected → started → stopped
        self._last_sequence = 0
        self.stream_sid: str | None = None

    def check(self, raw: str) -> dict:
        """The parsed message, or `StreamProtocolError` saying what is wrong."""
        if len(raw) > self._max_bytes:
            raise StreamProtocolError(f"message of {len(raw)} bytes exceeds {self._max_bytes}")
        try:
            message = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise StreamProtocolError(f"malformed JSON: {exc.msg}") from None
        if not isinstance(message, dict):
            raise StreamProtocolError("a message must be a JSON object")
        event = message.get("event")
        if event not in EVENTS:
            raise StreamProtocolError(f"unknown event {event!r}")
        self._check_sequence(message)
        getattr(self, f"_on_{event}")(message)
        return message

    def _check_sequence(self, message: dict) -> None:
        raw = message.get("sequenceNumber")
        if raw is None:
            return
        try:
            sequence = int(raw)
        except (TypeError, ValueError):
            raise StreamProtocolError(f"bad sequenceNumber {raw!r}") from None
        if sequence <= self._last_sequence:
            raise StreamProtocolError(
                f"sequenceNumber {sequence} out of order after {self._last_sequence}"
            )
        self._last_sequence = sequence

    def _expect(self, *states: str, event: str) -> None:
        if self._state not in states:
            raise StreamProtocolError(f"'{event}' out of order (stream is {self._state})")

    def _check_stream_sid(self, message: dict) -> None:
        if message.get("streamSid") != self.stream_sid:
            raise StreamProtocolError("streamSid does not match the stream's")

    def _on_connected(self, message: dict) -> None:
        self._expect("new", event="connected")
        self._state = "connected"

    def _on_start(self, message: dict) -> None:
        self._expect("new", "connected", event="start")
        start = message.get("start")
        if not isinstance(start, dict) or not isinstance(start.get("callSid"), str):
            raise StreamProtocolError("'start' without start.callSid")
        stream_sid = message.get("streamSid") or start.get("streamSid")
        if not isinstance(stream_sid, str) or not stream_sid:
            raise StreamProtocolError("'start' without streamSid")
        media_format = start.get("mediaFormat") or {}
        if media_format and (
            media_format.get("encoding") != "audio/x-mulaw"
            or int(media_format.get("sampleRate", 8000)) != 8000
        ):
            raise StreamProtocolError(f"unsupported media format {media_format}")
        self.stream_sid = stream_sid
        self._state = "started"

    def _on_media(self, message: dict) -> None:
        self._expect("started", event="media")
        self._check_stream_sid(message)
        media = message.get("media")
        payload = media.get("payload") if isinstance(media, dict) else None
        if not isinstance(payload, str) or len(payload) > MAX_MEDIA_PAYLOAD_CHARS:
            raise StreamProtocolError("'media' without a valid payload")
        try:
            b64decode(payload, validate=True)
        except (binascii.Error, ValueError):
            raise StreamProtocolError("'media' payload is not base64") from None

    def _on_dtmf(self, message: dict) -> None:
        self._expect("started", event="dtmf")
        self._check_stream_sid(message)
        dtmf = message.get("dtmf")
        if not isinstance(dtmf, dict) or str(dtmf.get("digit")) not in set("0123456789*#"):
            raise StreamProtocolError("'dtmf' without a valid digit")

    def _on_mark(self, message: dict) -> None:
        self._expect("started", event="mark")
        self._check_stream_sid(message)

    def _on_stop(self, message: dict) -> None:
        self._expect("started", event="stop")
        self._state = "stopped"

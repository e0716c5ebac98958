"""Checks every Twilio Media Streams message before it reaches a call.

Twilio sends `connected`, then `start`, then `media`/`dtmf`/`mark`, and `stop` last,
with increasing sequence numbers. Anything else — not JSON, an unknown event, a
message too large, events out of order — closes that one socket with a reason; no
other call notices. `check` raises nothing but `StreamProtocolError`, and a message it
returns has what the ingress and the session's serializer read from it (a
`start.callSid`, `customParameters` as an object, a base64 `media.payload`, a keypad
`dtmf.digit`, a `mark.name`), so they need not check again.
"""

from __future__ import annotations

import binascii
import json
import re
from base64 import b64decode

EVENTS = {"connected", "start", "media", "dtmf", "mark", "stop"}
# The largest payload Twilio sends is a few hundred bytes of audio; allow generous room.
MAX_MEDIA_PAYLOAD_CHARS = 16_000
KEYPAD = frozenset("0123456789*#")
# Twilio numbers messages with a string of digits; a stream never reaches 10^18 of them.
SEQUENCE_PATTERN = re.compile(r"[0-9]{1,18}")


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
        # A character is at least one byte: encode only a message short enough to pass.
        if len(raw) > self._max_bytes or _utf8_size(raw) > self._max_bytes:
            raise StreamProtocolError(f"message exceeds {self._max_bytes} bytes")
        try:
            message = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise StreamProtocolError(f"malformed JSON: {exc.msg}") from None
        except (ValueError, RecursionError):  # a number too long, or nesting too deep
            raise StreamProtocolError("malformed JSON: beyond the parser's limits") from None
        if not isinstance(message, dict):
            raise StreamProtocolError("a message must be a JSON object")
        event = message.get("event")
        if not isinstance(event, str) or event not in EVENTS:
            raise StreamProtocolError(f"unknown event {_shown(event)}")
        self._check_sequence(message)
        getattr(self, f"_on_{event}")(message)
        return message

    def _check_sequence(self, message: dict) -> None:
        raw = message.get("sequenceNumber")
        if raw is None:
            return
        if isinstance(raw, int) and not isinstance(raw, bool):
            sequence = raw
        elif isinstance(raw, str) and SEQUENCE_PATTERN.fullmatch(raw):
            sequence = int(raw)
        else:
            raise StreamProtocolError(f"bad sequenceNumber {_shown(raw)}")
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
        if not isinstance(media_format, dict):
            raise StreamProtocolError(f"unsupported media format: {_shown(media_format)}")
        encoding, rate = media_format.get("encoding"), media_format.get("sampleRate", 8000)
        if media_format and (encoding != "audio/x-mulaw" or rate not in (8000, "8000")):
            raise StreamProtocolError(
                f"unsupported media format {_shown(encoding)} at {_shown(rate)} Hz"
            )
        if not isinstance(start.get("customParameters") or {}, dict):
            raise StreamProtocolError("'start' customParameters must be an object")
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
        digit = dtmf.get("digit") if isinstance(dtmf, dict) else None
        if not isinstance(digit, str) or digit not in KEYPAD:
            raise StreamProtocolError("'dtmf' without a valid digit")

    def _on_mark(self, message: dict) -> None:
        self._expect("started", event="mark")
        self._check_stream_sid(message)
        mark = message.get("mark")
        if not isinstance(mark, dict) or not isinstance(mark.get("name"), str):
            raise StreamProtocolError("'mark' without a mark.name")

    def _on_stop(self, message: dict) -> None:
        self._expect("started", event="stop")
        self._check_stream_sid(message)
        self._state = "stopped"


def _utf8_size(text: str) -> int:
    # "surrogatepass": a lone surrogate (never sent by a real peer) still has a size.
    return len(text.encode("utf-8", "surrogatepass"))


def _shown(value: object) -> str:
    """A bad value as a close reason may quote it: short, and never a whole structure
    (the repr of a deeply nested one can itself exceed the recursion limit)."""
    if isinstance(value, dict | list):
        return "an object" if isinstance(value, dict) else "an array"
    text = repr(value)
    return text if len(text) <= 40 else text[:40] + "…"

"""The ingress refuses broken Media Streams and text-mode messages, saying why."""

from __future__ import annotations

import json

import pytest

from actors.text_serializer import TextProtocolError, parse_text_event
from deployments.auth import TwilioSignatures
from deployments.twilio_stream import StreamProtocolError, TwilioStreamGuard

STREAM = "MZ" + "0" * 32


def _start(sequence: int = 2) -> str:
    return json.dumps(
        {
            "event": "start",
            "sequenceNumber": str(sequence),
            "streamSid": STREAM,
            "start": {
                "callSid": "CA" + "1" * 32,
                "streamSid": STREAM,
                "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
                "customParameters": {"token": "t"},
            },
        }
    )


def _media(sequence: int, payload: str = "//8=") -> str:
    return json.dumps(
        {
            "event": "media",
            "sequenceNumber": str(sequence),
            "streamSid": STREAM,
            "media": {"payload": payload},
        }
    )


def _started_guard() -> TwilioStreamGuard:
    guard = TwilioStreamGuard(max_message_bytes=4096)
    guard.check(json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"}))
    guard.check(_start())
    return guard


def test_a_well_formed_stream_passes_in_order() -> None:
    guard = _started_guard()
    guard.check(_media(3))
    guard.check(
        json.dumps(
            {"event": "dtmf", "sequenceNumber": "4", "streamSid": STREAM, "dtmf": {"digit": "1"}}
        )
    )
    guard.check(json.dumps({"event": "stop", "sequenceNumber": "5", "streamSid": STREAM}))
    assert guard.stream_sid == STREAM


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("{not json", "malformed JSON"),
        ("[1, 2]", "JSON object"),
        (json.dumps({"event": "bogus"}), "unknown event"),
        (json.dumps({"nothing": 1}), "unknown event"),
    ],
)
def test_garbage_is_refused_with_a_reason(raw: str, reason: str) -> None:
    with pytest.raises(StreamProtocolError, match=reason):
        TwilioStreamGuard(max_message_bytes=4096).check(raw)


def test_media_before_start_is_out_of_order() -> None:
    with pytest.raises(StreamProtocolError, match="out of order"):
        TwilioStreamGuard(max_message_bytes=4096).check(_media(1))


def test_a_second_start_is_out_of_order() -> None:
    guard = _started_guard()
    with pytest.raises(StreamProtocolError, match="out of order"):
        guard.check(_start(sequence=3))


def test_sequence_numbers_must_increase() -> None:
    guard = _started_guard()
    guard.check(_media(3))
    with pytest.raises(StreamProtocolError, match="sequenceNumber 3 out of order"):
        guard.check(_media(3))


def test_oversized_messages_are_refused() -> None:
    guard = _started_guard()
    with pytest.raises(StreamProtocolError, match="exceeds"):
        guard.check(_media(3, payload="A" * 8000))


def test_media_of_another_stream_or_not_base64_is_refused() -> None:
    guard = _started_guard()
    other = json.loads(_media(3))
    other["streamSid"] = "MZ" + "9" * 32
    with pytest.raises(StreamProtocolError, match="streamSid"):
        guard.check(json.dumps(other))
    with pytest.raises(StreamProtocolError, match="base64"):
        guard.check(_media(4, payload="not base64!"))


def test_unsupported_audio_format_is_refused() -> None:
    start = json.loads(_start())
    start["start"]["mediaFormat"]["encoding"] = "audio/l16"
    with pytest.raises(StreamProtocolError, match="media format"):
        TwilioStreamGuard(max_message_bytes=4096).check(json.dumps(start))


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        ({"event": "text", "text": 5}, "'text' must be a string"),
        ({"event": "dtmf", "digit": "x"}, "'digit'"),
        ({"event": "silence", "seconds": -1}, "'seconds'"),
        ({"event": "shout"}, "unknown event"),
    ],
)
def test_text_mode_refuses_bad_events(message: dict, reason: str) -> None:
    with pytest.raises(TextProtocolError, match=reason):
        parse_text_event(json.dumps(message))


def test_text_mode_accepts_every_caller_event() -> None:
    for message in (
        {"event": "start", "callSid": "CA1"},
        {"event": "text", "text": "hello"},
        {"event": "dtmf", "digit": "9"},
        {"event": "silence", "seconds": 6},
        {"event": "stop"},
    ):
        assert parse_text_event(json.dumps(message))["event"] == message["event"]


def test_an_empty_auth_token_validates_nothing() -> None:
    # The twilio library accepts a signature computed with an empty key.
    with pytest.raises(ValueError, match="auth token is required"):
        TwilioSignatures("", "http://127.0.0.1:8000")

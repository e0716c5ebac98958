"""The simulated caller signs as Twilio does: the server's RequestValidator accepts it."""

from __future__ import annotations

from twilio.request_validator import RequestValidator

from switchboard.caller.signing import stream_handshake_signature, webhook_signature
from switchboard.caller.twilio_protocol import CallParties, new_sid, voice_webhook_params

TOKEN = "0123456789abcdef0123456789abcdef"


def _webhook_params() -> dict[str, str]:
    parties = CallParties(new_sid("CA"), new_sid("AC"), "inbound", "+15551230001", "+15557650000")
    return voice_webhook_params(parties)


def test_webhook_signature_validates_on_the_exact_url_posted() -> None:
    url = "http://127.0.0.1:8000/twilio/voice"
    params = _webhook_params()
    signature = webhook_signature(TOKEN, url, params)
    assert RequestValidator(TOKEN).validate(url, params, signature)


def test_webhook_signature_fails_for_changed_params_url_or_token() -> None:
    url = "https://voice.example.com/twilio/voice"
    params = _webhook_params()
    signature = webhook_signature(TOKEN, url, params)
    assert not RequestValidator(TOKEN).validate(url, {**params, "From": "+15550000000"}, signature)
    assert not RequestValidator(TOKEN).validate(url + "?x=1", params, signature)
    assert not RequestValidator("another-token").validate(url, params, signature)


def test_stream_handshake_signature_covers_the_stream_url_with_no_parameters() -> None:
    stream_url = "wss://voice.example.com/twilio/stream?session=abc"
    signature = stream_handshake_signature(TOKEN, stream_url)
    assert RequestValidator(TOKEN).validate(stream_url, {}, signature)
    without_query = "wss://voice.example.com/twilio/stream"
    assert not RequestValidator(TOKEN).validate(without_query, {}, signature)

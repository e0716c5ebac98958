"""Signing requests as Twilio does, so the server's `X-Twilio-Signature` check passes.

Twilio signs a webhook with HMAC-SHA1 over the exact URL it requested followed by the
sorted form parameters, keyed by the account's auth token; the Media Streams WebSocket
handshake is signed over the Stream URL alone. The server checks both with
`twilio.request_validator.RequestValidator.validate`, so we compute them with the same
library rather than re-implementing the algorithm.
"""

from __future__ import annotations

from collections.abc import Mapping

from twilio.request_validator import RequestValidator

SIGNATURE_HEADER = "X-Twilio-Signature"


def webhook_signature(auth_token: str, url: str, params: Mapping[str, str]) -> str:
    """Signature of a form post to `url` (the URL exactly as posted)."""
    return RequestValidator(auth_token).compute_signature(url, dict(params))


def stream_handshake_signature(auth_token: str, stream_url: str) -> str:
    """Signature of the media-stream WebSocket handshake: the Stream URL, no parameters."""
    return RequestValidator(auth_token).compute_signature(stream_url, {})

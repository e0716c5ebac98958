"""Who may talk to the ingress: Twilio's signatures and the API's bearer token."""

from __future__ import annotations

import hmac
from collections.abc import Mapping

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from twilio.request_validator import RequestValidator, get_signature_algorithm

from deployments.api_errors import api_error

SIGNATURE_HEADER = "x-twilio-signature"
SIGNATURE_SETTINGS_HEADER = "x-twilio-webhooks-signature-settings"


class TwilioSignatures:
    """Checks `X-Twilio-Signature` on webhooks and stream handshakes.

    Signatures are computed on the public URL Twilio requested, never on the URL the
    request arrived at behind a proxy. An empty auth token is refused outright: the
    twilio library accepts a signature computed with an empty key.
    """

    def __init__(self, auth_token: str, public_url: str) -> None:
        if not auth_token:
            raise ValueError("a Twilio auth token is required to check signatures")
        self._validator = RequestValidator(auth_token)
        self._public_url = public_url.rstrip("/")

    def public(self, path: str, query: str = "", *, websocket: bool = False) -> str:
        base = self._public_url
        if websocket:
            base = "wss" + base[5:] if base.startswith("https") else "ws" + base[4:]
        return f"{base}{path}" + (f"?{query}" if query else "")

    def valid(self, headers: Headers, url: str, params: Mapping[str, str]) -> bool:
        signature = headers.get(SIGNATURE_HEADER)
        if not signature:
            return False
        algorithm = get_signature_algorithm(headers.get(SIGNATURE_SETTINGS_HEADER))
        return self._validator.validate(url, dict(params), signature, algorithm)


def bearer_ok(headers: Headers, api_token: str) -> bool:
    """True when the request carries `Authorization: Bearer <api_token>`."""
    scheme, _, token = headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token or not api_token:
        return False
    return hmac.compare_digest(token.strip().encode(), api_token.encode())


def bearer_refusal(headers: Headers, api_token: str) -> JSONResponse | None:
    """The 401 for a request without `Authorization: Bearer <api_token>`; None when it
    has it."""
    return None if bearer_ok(headers, api_token) else api_error(
        "missing or wrong bearer token", 401
    )

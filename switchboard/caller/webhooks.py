"""The HTTP half of a Twilio call: the voice webhook that asks for TwiML, and the
status callback that reports the call's end. Both are form posts signed as Twilio
signs them. The signing and the reading of an answer are plain functions, shared with
the locust audio user's synchronous client."""

from __future__ import annotations

import asyncio

import httpx

from switchboard.caller.result import CallFailed
from switchboard.caller.signing import SIGNATURE_HEADER, webhook_signature
from switchboard.caller.twilio_protocol import EndAnswer, StreamAnswer, TwimlError, parse_twiml

VOICE_PATH = "/twilio/voice"
STATUS_PATH = "/twilio/status"
# What Twilio's webhook requests identify themselves as.
USER_AGENT = "TwilioProxy/1.1"


def webhook_headers(auth_token: str, url: str, params: dict[str, str]) -> dict[str, str]:
    """The headers of Twilio's form post of `params` to `url`, signed."""
    return {SIGNATURE_HEADER: webhook_signature(auth_token, url, params), "User-Agent": USER_AGENT}


def voice_answer(url: str, response: httpx.Response) -> StreamAnswer | EndAnswer:
    """The TwiML of the voice webhook's answer; `CallFailed` when there is none to follow."""
    if response.status_code == 403:
        raise CallFailed(
            f"{url} refused the webhook's X-Twilio-Signature (HTTP 403): the server signs on "
            "SWITCHBOARD_PUBLIC_URL with SWITCHBOARD_TWILIO_AUTH_TOKEN; --url and the token "
            "must match them"
        )
    if response.status_code != 200:
        raise CallFailed(f"{url} answered HTTP {response.status_code}: {response.text[:300]}")
    try:
        return parse_twiml(response.text)
    except TwimlError as exc:
        raise CallFailed(f"{url} answered TwiML the caller cannot follow: {exc}") from None


async def _signed_post(
    http: httpx.AsyncClient, url: str, auth_token: str, params: dict[str, str]
) -> httpx.Response:
    return await http.post(url, data=params, headers=webhook_headers(auth_token, url, params))


async def request_twiml(
    http: httpx.AsyncClient, url: str, auth_token: str, params: dict[str, str]
) -> StreamAnswer | EndAnswer:
    """POST the voice webhook to `url` (the server's `VOICE_PATH`, or the `Url` a call was
    created with) and read its TwiML; `CallFailed` when there is none to follow."""
    try:
        response = await _signed_post(http, url, auth_token, params)
    except httpx.TransportError as exc:
        raise CallFailed(
            f"could not reach {url} ({exc.__class__.__name__}: {exc}); "
            "is `switchboard serve` running there?"
        ) from None
    return voice_answer(url, response)


async def request_next_twiml(
    http: httpx.AsyncClient, action_url: str, auth_token: str, params: dict[str, str],
    *, attempts: int = 5, pause_s: float = 1.0,
) -> StreamAnswer | EndAnswer:
    """After a stream ended: POST `<Connect action>` and read what to do next.

    A replica that just died may fail a request or two: those are retried, as Twilio
    retries a webhook it could not reach."""
    for attempt in range(attempts):
        try:
            response = await _signed_post(http, action_url, auth_token, params)
        except httpx.TransportError as exc:
            problem = f"could not reach {action_url} ({exc.__class__.__name__})"
        else:
            if response.status_code == 200:
                try:
                    return parse_twiml(response.text)
                except TwimlError as exc:
                    raise CallFailed(
                        f"{action_url} answered TwiML the caller cannot follow: {exc}"
                    ) from None
            problem = f"{action_url} answered HTTP {response.status_code}"
            if response.status_code < 500:
                raise CallFailed(problem)
        if attempt + 1 < attempts:
            await asyncio.sleep(pause_s)
    raise CallFailed(f"{problem} after {attempts} attempts")


async def post_status_callback(
    http: httpx.AsyncClient, url: str, auth_token: str, params: dict[str, str]
) -> str | None:
    """POST a status callback to `url`; returns a problem to report, or None."""
    try:
        response = await _signed_post(http, url, auth_token, params)
    except httpx.TransportError as exc:
        return f"status callback to {url} failed: {exc.__class__.__name__}: {exc}"
    if response.status_code >= 300:
        return f"status callback to {url} answered HTTP {response.status_code}"
    return None

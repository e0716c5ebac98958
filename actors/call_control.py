"""Hanging up and transferring live calls through Twilio's REST API.

`CallControl` wraps the official `twilio` client with its asynchronous HTTP client
(`TwilioAccount`, which `actors.messaging` shares for texts).
`SWITCHBOARD_TWILIO_API_BASE_URL` points it elsewhere: the local Twilio sandbox in
development and tests, or a Twilio region/edge host such as
`https://api.dublin.ie1.twilio.com` in production. Unset, the client picks its host as
it always does (`api.twilio.com`, or `TWILIO_REGION`/`TWILIO_EDGE`).

A failure is raised as `CallControlError`, never swallowed: a caller who asked for a
person and was not transferred must not be told otherwise.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

import aiohttp
from twilio.base.exceptions import TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.rest import Client
from twilio.twiml.voice_response import VoiceResponse

from switchboard.settings import VoiceAgentIntegrationConfig, get_settings

REQUEST_TIMEOUT_S = 10.0


class TwilioRequestError(RuntimeError):
    """A request to Twilio's REST API failed; the message says what Twilio answered."""

    def __init__(self, message: str, *, status: int | None = None, code: int | None = None):
        super().__init__(message)
        self.status = status  # the HTTP status Twilio answered; None: Twilio not reached
        self.code = code  # Twilio's error code (e.g. 20404), when it gave one


class CallControlError(TwilioRequestError):
    """Twilio did not carry out a hang-up or a transfer."""


def transfer_twiml(number: str) -> str:
    """`<Response><Dial>number</Dial></Response>`: what the call does once it leaves us."""
    response = VoiceResponse()
    response.dial(number)
    return str(response)


class TwilioAccount:
    """The official twilio client for one account, on its asynchronous HTTP client, pointed
    at `SWITCHBOARD_TWILIO_API_BASE_URL` when that is set. Subclasses name the error they
    raise (`error`) and what they do with it."""

    error: type[TwilioRequestError] = TwilioRequestError

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        *,
        api_base_url: str | None = None,
        timeout_s: float = REQUEST_TIMEOUT_S,
    ) -> None:
        if not account_sid or not auth_token:
            raise self.error(
                f"{type(self).__name__} needs SWITCHBOARD_TWILIO_ACCOUNT_SID and "
                "SWITCHBOARD_TWILIO_AUTH_TOKEN"
            )
        self._account_sid = account_sid
        self._auth_token = auth_token
        self._api_base_url = api_base_url
        self._timeout_s = timeout_s
        # Made on first use: the aiohttp session must belong to the loop that uses it.
        self._client: Client | None = None
        self._http: AsyncTwilioHttpClient | None = None

    @classmethod
    def from_settings(
        cls: type[_Account], settings: VoiceAgentIntegrationConfig | None = None, **kwargs: float
    ) -> _Account:
        settings = settings or get_settings()
        return cls(
            settings.twilio_account_sid or "",
            settings.secret("twilio_auth_token"),
            api_base_url=settings.twilio_api_base_url,
            **kwargs,
        )

    def _rest(self) -> Client:
        if self._client is None:
            self._http = AsyncTwilioHttpClient()
            client = Client(self._account_sid, self._auth_token, http_client=self._http)
            if self._api_base_url:
                # The Api domain builds every URL from its base_url; region and edge
                # would rewrite that host, so the configured URL is used as it is.
                client.api.base_url = self._api_base_url.rstrip("/")
                client.region = None
                client.edge = None
            self._client = client
        return self._client

    async def _request(self, action: str, request: Awaitable[_T]) -> _T:
        """Await one REST request, as `self.error` naming `action` if it fails."""
        try:
            # The async twilio client never applies its own timeout (it passes
            # timeout=None to aiohttp), so the deadline is kept here.
            async with asyncio.timeout(self._timeout_s):
                return await request
        except TwilioRestException as exc:
            raise self.error(
                f"Twilio refused to {action}: HTTP {exc.status} (code {exc.code}) {exc.msg}",
                status=exc.status,
                code=exc.code,
            ) from exc
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise self.error(
                f"could not reach Twilio to {action}: {exc.__class__.__name__}: {exc}"
            ) from exc

    async def aclose(self) -> None:
        """Close the HTTP session (call when the session's loop is done with it)."""
        if self._http is not None:
            await self._http.close()
        self._client = self._http = None

    async def __aenter__(self: _Account) -> _Account:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


_Account = TypeVar("_Account", bound=TwilioAccount)
_T = TypeVar("_T")


class CallControl(TwilioAccount):
    """Hang-ups and transfers for the calls of one Twilio account."""

    error = CallControlError

    async def hang_up(self, call_sid: str) -> None:
        """End the call (`Status=completed`)."""
        await self._update(call_sid, "hang up", status="completed")

    async def transfer(self, call_sid: str, number: str) -> None:
        """Send the call to `number`: it leaves the media stream and dials the person."""
        if not number:
            raise CallControlError(f"cannot transfer {call_sid}: no transfer number is set")
        await self._update(call_sid, f"transfer to {number}", twiml=transfer_twiml(number))

    async def _update(self, call_sid: str, action: str, **changes: str) -> None:
        await self._request(f"{action} call {call_sid}",
                            self._rest().calls(call_sid).update_async(**changes))

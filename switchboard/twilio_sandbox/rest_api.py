"""The sandbox's HTTP API: the part of Twilio's REST API Switchboard uses, and a log of it.

Twilio's protocol, as its clients see it: HTTP Basic auth with the account SID and
auth token, form-encoded requests, Call resources and errors as JSON
(`{code, message, more_info, status}`). The Calls resource (create, fetch, update) and
the Messages resource (`POST Messages.json` sends a text; `GET Messages.json`, filtered by
`To`, `From` and `DateSent`, and `GET Messages/{Sid}.json` read what was sent).
`GET /sandbox/requests` lists every API request received (method, path, form, query,
time, the status answered) for tests to read; `DELETE /sandbox/requests` empties the
list.

A call created with a `Url` is placed (`lead_phone`): the leads file
(`SWITCHBOARD_SANDBOX_LEADS`, `lead_book`) says who answers, and the sandbox plays the
lead against the application as Twilio would. `GET Calls.json` lists the calls it was
asked to create, filtered by `To`, `From` and `Status`, newest first; `GET
/sandbox/calls` shows each placed call's answer, error and transcript (for tests).
"""

from __future__ import annotations

import base64
import binascii
import secrets
import time
import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from switchboard.twilio_sandbox.calls import API_VERSION, CALL_SID, CallBook
from switchboard.twilio_sandbox.lead_phone import LeadPhone
from switchboard.twilio_sandbox.messages import MessageBook, MessageRefused
from switchboard.twilio_sandbox.paging import list_page

ACCOUNT_PREFIX = f"/{API_VERSION}/Accounts/{{account_sid}}"
# How long an unanswered call rings (`SWITCHBOARD_SANDBOX_RING_S`).
DEFAULT_RING_S = 5.0
Handler = Callable[[Request, dict[str, str]], Awaitable[Response]]


def twilio_error(status: int, code: int, message: str, **headers: str) -> JSONResponse:
    """An error as Twilio's REST API words it."""
    body = {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }
    return JSONResponse(body, status_code=status, headers=headers or None)


def not_found(request: Request) -> JSONResponse:
    return twilio_error(404, 20404, f"The requested resource {request.url.path} was not found")


class Sandbox:
    """One sandbox: its account, its calls and the requests it received."""

    def __init__(
        self, account_sid: str, auth_token: str, *, leads_file: Path | None = None,
        ring_s: float = DEFAULT_RING_S,
    ) -> None:
        self.account_sid = account_sid
        self._auth_token = auth_token
        self.calls = CallBook()
        self.phone = LeadPhone(auth_token, leads_file=leads_file, ring_s=ring_s)
        self.messages = MessageBook()
        self.requests: list[dict[str, Any]] = []

    def authorized(self, request: Request) -> bool:
        scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        return secrets.compare_digest(user, self.account_sid) and secrets.compare_digest(
            password, self._auth_token
        )

    def api(self, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        """Authenticate, run `handler` on the form, and log the request with its answer."""

        async def endpoint(request: Request) -> Response:
            form = {k: str(v) for k, v in (await request.form()).items()}
            if not self.authorized(request):
                response: Response = twilio_error(
                    401, 20003, "Authenticate", **{"WWW-Authenticate": 'Basic realm="Twilio API"'}
                )
            elif request.path_params["account_sid"] != self.account_sid:
                response = not_found(request)
            else:
                response = await handler(request, form)
            self.requests.append(
                {
                    "method": request.method,
                    "path": request.url.path,
                    "form": form,
                    "query": dict(request.query_params),
                    "at": time.time(),
                    "status": response.status_code,
                }
            )
            return response

        return endpoint

    # Twilio's Calls resource

    async def create_call(self, request: Request, form: dict[str, str]) -> Response:
        if not form.get("To"):
            return twilio_error(400, 21201, "No 'To' number is specified")
        if not form.get("From"):
            return twilio_error(400, 21213, "No 'From' number is specified")
        if not (form.get("Url") or form.get("Twiml") or form.get("ApplicationSid")):
            return twilio_error(400, 21200, "A 'Url', 'Twiml' or 'ApplicationSid' is required")
        if form.get("Twiml") and not _is_twiml(form["Twiml"]):
            return twilio_error(400, 12100, "Document parse failure: Twiml is not valid TwiML")
        call = self.calls.create(
            self.account_sid, form["To"], form["From"], form.get("Url"), form.get("Twiml")
        )
        response = JSONResponse(call.resource(), status_code=201)
        if call.url is not None:
            # Repeated in the form, once per event (the twilio client sends a list).
            events = (await request.form()).getlist("StatusCallbackEvent")
            self.phone.ring(call, form, {e for value in events for e in str(value).split()})
        return response

    async def list_calls(self, request: Request, form: dict[str, str]) -> Response:
        query = dict(request.query_params)
        path = f"/{API_VERSION}/Accounts/{self.account_sid}/Calls.json"
        found = [call.resource() for call in self.calls.matching(query)]
        return JSONResponse(list_page("calls", found, path, query))

    async def fetch_call(self, request: Request, form: dict[str, str]) -> Response:
        call = self.calls.get(request.path_params["call_sid"])
        return JSONResponse(call.resource()) if call else not_found(request)

    async def update_call(self, request: Request, form: dict[str, str]) -> Response:
        sid = request.path_params["call_sid"]
        call = self.calls.get(sid)
        if call is None:
            if not CALL_SID.match(sid):
                return not_found(request)
            call = self.calls.adopt(sid, self.account_sid)
        status, url, twiml = form.get("Status"), form.get("Url"), form.get("Twiml")
        if status is not None:
            if status not in ("completed", "canceled"):
                message = f"Status must be completed or canceled, not {status}"
                return twilio_error(400, 20001, message)
            if call.ended:
                # An ended call can no longer be hung up: Twilio answers 20404.
                return not_found(request)
            self.calls.hang_up(call, status)
        elif url is not None or twiml is not None:
            if call.ended:
                return twilio_error(400, 21220, "Call is not in-progress. Cannot redirect.")
            if twiml is not None and not _is_twiml(twiml):
                return twilio_error(400, 12100, "Document parse failure: Twiml is not valid TwiML")
            self.calls.redirect(call, url, twiml)
        return JSONResponse(call.resource())

    # Twilio's Messages resource

    async def create_message(self, request: Request, form: dict[str, str]) -> Response:
        try:
            message = self.messages.create(self.account_sid, form)
        except MessageRefused as refused:
            return twilio_error(refused.status, refused.code, refused.message)
        return JSONResponse(message.resource(), status_code=201)

    async def fetch_message(self, request: Request, form: dict[str, str]) -> Response:
        message = self.messages.get(request.path_params["message_sid"])
        return JSONResponse(message.resource()) if message else not_found(request)

    async def list_messages(self, request: Request, form: dict[str, str]) -> Response:
        return JSONResponse(self.messages.page(self.account_sid, dict(request.query_params)))

    # For tests

    async def placed_calls(self, request: Request) -> Response:
        return JSONResponse([
            {"sid": call.sid, "to": call.to, "status": call.status, "url": call.url,
             "answered_by": call.answered_by, "error": call.error,
             "transcript": call.transcript}
            for call in self.calls.matching({}) if call.direction == "outbound-api"
        ])  # fmt: skip

    async def list_requests(self, request: Request) -> Response:
        if request.method == "DELETE":
            self.requests.clear()
            return Response(status_code=204)
        return JSONResponse(self.requests)


def _is_twiml(text: str) -> bool:
    try:
        return ET.fromstring(text).tag == "Response"
    except ET.ParseError:
        return False


def create_app(
    account_sid: str, auth_token: str, *, leads_file: Path | None = None,
    ring_s: float = DEFAULT_RING_S,
) -> Starlette:
    """The sandbox as an ASGI app; `app.state.sandbox` is its `Sandbox`."""
    sandbox = Sandbox(account_sid, auth_token, leads_file=leads_file, ring_s=ring_s)
    call_path = ACCOUNT_PREFIX + "/Calls/{call_sid}.json"
    routes = [
        Route(ACCOUNT_PREFIX + "/Calls.json", sandbox.api(sandbox.create_call), methods=["POST"]),
        Route(ACCOUNT_PREFIX + "/Calls.json", sandbox.api(sandbox.list_calls), methods=["GET"]),
        Route(call_path, sandbox.api(sandbox.fetch_call), methods=["GET"]),
        Route(call_path, sandbox.api(sandbox.update_call), methods=["POST"]),
        Route(ACCOUNT_PREFIX + "/Messages.json", sandbox.api(sandbox.create_message),
              methods=["POST"]),
        Route(ACCOUNT_PREFIX + "/Messages.json", sandbox.api(sandbox.list_messages),
              methods=["GET"]),
        Route(ACCOUNT_PREFIX + "/Messages/{message_sid}.json", sandbox.api(sandbox.fetch_message),
              methods=["GET"]),
        Route("/sandbox/requests", sandbox.list_requests, methods=["GET", "DELETE"]),
        Route("/sandbox/calls", sandbox.placed_calls, methods=["GET"]),
    ]

    async def unknown(request: Request, exc: Exception) -> Response:
        return not_found(request)

    app = Starlette(routes=routes, exception_handlers={404: unknown})
    app.state.sandbox = sandbox
    return app

"""`TwilioIngress`: the Serve deployment Twilio and API clients talk to.

Routes:
- `POST /twilio/voice` — signed voice webhook → TwiML `<Connect><Stream>` with a
  one-time token (or `<Reject reason="busy">` at capacity).
- `WS /twilio/stream` — signed media stream; relayed to a warm `CallSessionActor`.
- `POST /twilio/status` — signed status callbacks, recorded.
- `WS /v1/text/stream` — text mode (bearer token).
- `GET /v1/calls/{call_sid}` — the call report (bearer token).
- `POST /v1/calls/{call_sid}/tier` — force or revoke a live call's premium tier (bearer
  token; `deployments.tier_admin`).
- `GET /healthz` — 200 once calls can be taken.

Every open WebSocket holds a `max_ongoing_requests` slot for the whole call, so
serve_config.yaml sizes that to calls per replica plus headroom for webhooks.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time

import asyncpg
from ray import serve
from ray.serve.handle import DeploymentHandle
from ray.serve.metrics import Counter, Gauge, Histogram
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket
from twilio.twiml.voice_response import Connect, VoiceResponse

from actors.pool import SessionPool
from actors.registry import CallRegistry
from actors.session import CallStart
from actors.text_serializer import TextProtocolError, parse_text_event
from db.outbox import Outbox
from db.pool import create_pool
from db.queries import call_report
from deployments.auth import TwilioSignatures, bearer_ok
from deployments.call_pump import CLOSE_PROTOCOL, PeerProtocolError, pump_call
from deployments.stream_tokens import PendingCall, StreamTokens
from deployments.tier_admin import change_tier, parse_tier_change
from deployments.twilio_stream import StreamProtocolError, TwilioStreamGuard
from switchboard.redis_client import connect as connect_redis
from switchboard.settings import get_settings

logger = logging.getLogger("ray.serve")

# How long a new stream may take to send `connected` and `start`.
START_TIMEOUT_S = 10.0
TWIML = "application/xml"


@serve.deployment
@serve.ingress()
class TwilioIngress:
    """Twilio webhooks and media streams, text mode and the call API."""

    async def __init__(
        self,
        recorder: DeploymentHandle,
        orchestrator: DeploymentHandle | None = None,
        budget: DeploymentHandle | None = None,
        warm_pool_size: int | None = None,
        session_num_cpus: float = 0.05,
    ) -> None:
        # Held so the recorder is part of the application; it drains the outbox.
        self._recorder = recorder
        self._budget = budget
        settings = self._settings = get_settings()
        self._api_token = settings.secret("api_token")
        self._signatures = TwilioSignatures(
            settings.secret("twilio_auth_token"), settings.public_url
        )
        self._redis = connect_redis(settings.redis_url)
        prefix = settings.redis_prefix
        self._tokens = StreamTokens(self._redis, prefix)
        self._registry = CallRegistry(self._redis, prefix, settings.performance.session_ttl_s)
        self._outbox = Outbox(self._redis, prefix)
        self._db: asyncpg.Pool | None = None
        self._pool = SessionPool(
            size=settings.performance.warm_pool_size if warm_pool_size is None else warm_pool_size,
            namespace=settings.ray_namespace,
            num_cpus=session_num_cpus,
            orchestrator=orchestrator,
            budget=budget,
        )
        self._pool.start()
        self._active_calls = 0
        self._metrics_calls = Counter(
            "switchboard_calls_started", "Calls whose stream started", tag_keys=("mode",)
        )
        self._metrics_refused = Counter(
            "switchboard_requests_refused", "Requests refused", tag_keys=("reason",)
        )
        self._metrics_active = Gauge("switchboard_active_calls", "Calls on this replica")
        self._metrics_take = Histogram(
            "switchboard_session_take_ms",
            "Time to take a session actor for a call",
            boundaries=[1, 5, 10, 50, 100, 500, 1000, 5000],
        )

    def __serve_build_asgi_app__(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/twilio/voice", self.voice, methods=["POST"]),
                Route("/twilio/status", self.status, methods=["POST"]),
                WebSocketRoute("/twilio/stream", self.stream),
                WebSocketRoute("/v1/text/stream", self.text_stream),
                Route("/v1/calls/{call_sid}", self.get_call, methods=["GET"]),
                Route("/v1/calls/{call_sid}/tier", self.set_tier, methods=["POST"]),
                Route("/healthz", self.healthz, methods=["GET"]),
            ]
        )

    async def check_health(self) -> None:
        await self._redis.ping()

    # Twilio webhooks

    async def _signed_form(self, request: Request) -> dict[str, str] | None:
        form = {key: str(value) for key, value in (await request.form()).items()}
        url = self._signatures.public(request.url.path, request.url.query)
        if not self._signatures.valid(request.headers, url, form):
            self._metrics_refused.inc(tags={"reason": "bad_signature"})
            logger.warning(f"refused unsigned or forged request to {request.url.path}")
            return None
        return form

    async def voice(self, request: Request) -> Response:
        form = await self._signed_form(request)
        if form is None:
            return PlainTextResponse("invalid Twilio signature", status_code=403)
        call_sid = form.get("CallSid", "")
        if not call_sid.startswith("CA"):
            return PlainTextResponse("CallSid missing", status_code=400)
        response = VoiceResponse()
        if await self._at_capacity():
            self._metrics_refused.inc(tags={"reason": "busy"})
            logger.warning(f"call {call_sid}: at capacity, answering busy")
            response.reject(reason="busy")
            return Response(str(response), media_type=TWIML)
        outbound = form.get("Direction", "inbound").startswith("outbound")
        token = await self._tokens.issue(
            PendingCall(
                call_sid=call_sid,
                # On an outbound call the lead is Twilio's `To`.
                from_number=form.get("To" if outbound else "From", ""),
                to_number=form.get("From" if outbound else "To", ""),
                direction="outbound" if outbound else "inbound",
                answered_by=form.get("AnsweredBy"),
            )
        )
        connect = Connect()
        stream = connect.stream(url=self._signatures.public("/twilio/stream", websocket=True))
        stream.parameter(name="token", value=token)
        response.append(connect)
        return Response(str(response), media_type=TWIML)

    async def status(self, request: Request) -> Response:
        form = await self._signed_form(request)
        if form is None:
            return PlainTextResponse("invalid Twilio signature", status_code=403)
        call_sid = form.get("CallSid", "")
        await self._outbox.status_callback(call_sid, form.get("CallStatus", ""), form)
        return Response(status_code=204)

    async def _at_capacity(self) -> bool:
        limit = self._settings.performance.max_calls_per_replica
        return self._active_calls >= limit

    # Media streams

    async def stream(self, websocket: WebSocket) -> None:
        url = self._signatures.public("/twilio/stream", websocket=True)
        if not self._signatures.valid(websocket.headers, url, {}):
            self._metrics_refused.inc(tags={"reason": "bad_signature"})
            logger.warning("refused media stream with a bad or missing signature")
            await websocket.close(code=CLOSE_PROTOCOL)
            return
        await websocket.accept()
        guard = TwilioStreamGuard(self._settings.performance.max_message_bytes)

        def check(raw: str) -> None:
            try:
                guard.check(raw)
            except StreamProtocolError as exc:
                raise PeerProtocolError(str(exc)) from None

        try:
            start = await asyncio.wait_for(self._await_start(websocket, check), START_TIMEOUT_S)
        except (PeerProtocolError, TimeoutError) as exc:
            reason = str(exc) or "no 'start' in time"
            logger.warning(f"closing media stream before start: {reason}")
            await websocket.close(code=CLOSE_PROTOCOL, reason=reason[:120])
            return
        except Exception:  # the peer left before starting
            return
        params = start["start"].get("customParameters") or {}
        pending = await self._tokens.redeem(str(params.get("token", "")))
        if pending is None or pending.call_sid != start["start"]["callSid"]:
            self._metrics_refused.inc(tags={"reason": "bad_stream_token"})
            logger.warning("closing media stream: unknown, used or mismatched stream token")
            await websocket.close(code=CLOSE_PROTOCOL, reason="invalid stream token")
            return
        await self._run_call(
            websocket,
            CallStart(
                call_sid=pending.call_sid,
                mode="audio",
                direction=pending.direction,  # type: ignore[arg-type]
                from_number=pending.from_number,
                to_number=pending.to_number,
                stream_sid=guard.stream_sid,
                answered_by=pending.answered_by,
            ),
            check,
        )

    async def _await_start(self, websocket: WebSocket, check) -> dict:
        while True:
            raw = await websocket.receive_text()
            check(raw)
            message = json.loads(raw)
            if message["event"] == "start":
                return message

    # Text mode

    async def text_stream(self, websocket: WebSocket) -> None:
        if not bearer_ok(websocket.headers, self._api_token):
            self._metrics_refused.inc(tags={"reason": "unauthorized"})
            await websocket.close(code=CLOSE_PROTOCOL)
            return
        await websocket.accept()

        def check(raw: str) -> None:
            if len(raw) > self._settings.performance.max_message_bytes:
                raise PeerProtocolError("message too large", code=1009)
            try:
                event = parse_text_event(raw)
            except TextProtocolError as exc:
                raise PeerProtocolError(str(exc)) from None
            if event["event"] == "start":
                raise PeerProtocolError("'start' sent twice")

        try:
            raw = await asyncio.wait_for(websocket.receive_text(), START_TIMEOUT_S)
            start = parse_text_event(raw)
            if start["event"] != "start" or not str(start.get("callSid", "")):
                raise TextProtocolError("the first message must be 'start' with a callSid")
        except (TextProtocolError, TimeoutError) as exc:
            await websocket.close(code=CLOSE_PROTOCOL, reason=(str(exc) or "no start")[:120])
            return
        except Exception:
            return
        if await self._at_capacity():
            await websocket.close(code=1013, reason="busy")
            return
        direction = "outbound" if start.get("direction") == "outbound" else "inbound"
        await self._run_call(
            websocket,
            CallStart(
                call_sid=str(start["callSid"])[:64],
                mode="text",
                direction=direction,
                from_number=str(start.get("from", ""))[:32],
                to_number=str(start.get("to", ""))[:32],
            ),
            check,
        )

    # Both modes

    async def _run_call(self, websocket: WebSocket, start: CallStart, check) -> None:
        taken_at = time.perf_counter()
        session = await self._pool.take()
        self._active_calls += 1
        self._metrics_active.set(self._active_calls)
        try:
            await session.handle.start_call.remote(start)
            self._metrics_take.observe((time.perf_counter() - taken_at) * 1000)
            self._metrics_calls.inc(tags={"mode": start.mode})
            reason = await pump_call(
                websocket,
                session.handle,
                check=check,
                batch_s=self._settings.performance.frame_batch_ms / 1000,
                call_sid=start.call_sid,
            )
            logger.info(f"call {start.call_sid} closed: {reason}")
        except Exception as exc:
            logger.exception(f"call {start.call_sid} failed: {exc}")
            await self._outbox.error(start.call_sid, f"ingress: {exc}")
            with contextlib.suppress(RuntimeError):
                await websocket.close(code=1011)
        finally:
            self._active_calls -= 1
            self._metrics_active.set(self._active_calls)

    # API

    async def get_call(self, request: Request) -> Response:
        if not bearer_ok(request.headers, self._api_token):
            return JSONResponse({"error": "missing or wrong bearer token"}, status_code=401)
        if self._db is None:
            self._db = await create_pool(self._settings.database_url)
        report = await call_report(self._db, request.path_params["call_sid"])
        if report is None:
            return JSONResponse({"error": "no such call"}, status_code=404)
        return JSONResponse(report)

    async def set_tier(self, request: Request) -> Response:
        if not bearer_ok(request.headers, self._api_token):
            return JSONResponse({"error": "missing or wrong bearer token"}, status_code=401)
        if self._budget is None:
            return JSONResponse({"error": "this application runs without a budget"}, 501)
        change = parse_tier_change(await request.body())
        if isinstance(change, str):
            return JSONResponse({"error": change}, status_code=400)
        return await change_tier(
            call_sid=request.path_params["call_sid"],
            change=change,
            registry=self._registry,
            budget=self._budget,
            namespace=self._settings.ray_namespace,
        )

    async def healthz(self, request: Request) -> Response:
        try:
            await self._redis.ping()
        except Exception as exc:
            return JSONResponse({"status": "redis unavailable", "error": str(exc)}, 503)
        if self._pool.ready_count == 0 and self._pool.size > 0:
            return JSONResponse({"status": "warming"}, status_code=503)
        return JSONResponse(
            {
                "status": "ok",
                "active_calls": self._active_calls,
                "warm": self._pool.ready_count,
                "sessions_spawned": self._pool.spawned,
            }
        )

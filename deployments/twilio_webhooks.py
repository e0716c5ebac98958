"""Twilio's webhooks: a call arrives, its stream ended, its status changed.

- `POST /twilio/voice` — a new call: `<Connect action><Stream>` with a one-time token
  and a warm session actor set aside for it; `<Reject reason="busy">` (new inbound
  calls only) at capacity or when no warm actor frees up within `warm_wait_s`, rather
  than silence while one starts; or `<Hangup/>` for an outbound call to a number on
  the do-not-call list (recorded as `opted_out`, blocked).
- `POST /twilio/voice/continue` — Twilio asks what to do after a call's stream ended: a
  live call gets a new stream (a new token, the same CallSid) on whichever replica took
  the request; an ended one `<Hangup/>`; one that reconnected too often an apology and
  `<Hangup/>`. Never busy.
- `POST /twilio/status` — recorded; a final status is passed to the call's actor, or
  ends a call nobody serves any more (`deployments.call_ending`).

Every request must carry a valid `X-Twilio-Signature`, computed on the public URL.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import asyncpg
import ray
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from actors.call_sweeper import CallSweeper
from actors.registry import CallRegistry
from actors.session_pool import SessionPool
from db.outbox import Outbox
from db.queries import is_do_not_call
from deployments.auth import TwilioSignatures
from deployments.call_ending import CallEnding
from deployments.ingress_metrics import IngressMetrics
from deployments.live_settings import LiveSettings
from deployments.stream_tokens import PendingCall, StreamTokens
from deployments.twilio_forms import StatusCallbackForm, VoiceWebhook, WebhookFormError
from deployments.twiml import CONTINUE_PATH, RESUME_APOLOGY, connect_stream, hang_up, reject_busy
from switchboard.flags import Lead
from switchboard.logging_setup import bind_call
from switchboard.models import CallFacts, CallSession, CallStatus, Outcome

logger = logging.getLogger("ray.serve")

TWIML = "application/xml"
DNC_TIMEOUT_S = 2.0


def _twiml(text: str) -> Response:
    return Response(text, media_type=TWIML)


def _route_prefix(request: Request) -> str:
    """The route prefix of this application ('' at '/'), as Serve's proxy set it."""
    return str(request.scope.get("root_path", "")).rstrip("/")


class TwilioWebhooks:
    """The ingress's answers to Twilio's webhooks."""

    def __init__(
        self,
        *,
        live: LiveSettings,
        signatures: TwilioSignatures,
        tokens: StreamTokens,
        registry: CallRegistry,
        outbox: Outbox,
        sweeper: CallSweeper,
        metrics: IngressMetrics,
        at_capacity: Callable[[], Awaitable[bool]],
        pool: SessionPool,
        database: Callable[[], Awaitable[asyncpg.Pool]],
    ) -> None:
        self._live = live
        self._signatures = signatures
        self._tokens = tokens
        self._registry = registry
        self._outbox = outbox
        self._ending = CallEnding(
            registry, sweeper,
            lambda name: ray.get_actor(name, namespace=self._live.settings.ray_namespace),
        )
        self._metrics = metrics
        self._at_capacity = at_capacity
        self._pool = pool
        self._database = database

    async def _signed_form(self, request: Request) -> dict[str, str] | None:
        form = {key: str(value) for key, value in (await request.form()).items()}
        url = self._signatures.public(request.url.path, request.url.query)
        if not self._signatures.valid(request.headers, url, form):
            self._metrics.refuse("bad_signature")
            logger.warning(f"refused unsigned or forged request to {request.url.path}")
            return None
        return form

    def _stream_twiml(self, token: str, prefix: str) -> Response:
        """`prefix`: the route prefix of the application that is to serve the stream
        (public URLs always include it)."""
        return _twiml(
            connect_stream(
                stream_url=self._signatures.public(f"{prefix}/twilio/stream", websocket=True),
                action_url=self._signatures.public(f"{prefix}{CONTINUE_PATH}"),
                token=token,
            )
        )

    # A new call

    async def _voice_form(self, request: Request) -> VoiceWebhook | Response:
        form = await self._signed_form(request)
        if form is None:
            return PlainTextResponse("invalid Twilio signature", status_code=403)
        try:
            call = VoiceWebhook.from_form(form, request.query_params)
        except WebhookFormError as exc:
            self._metrics.refuse("bad_form")
            return PlainTextResponse(str(exc), status_code=400)
        bind_call(call.call_sid)  # the rest of this request is about this call
        return call

    async def voice(self, request: Request) -> Response:
        call = await self._voice_form(request)
        if isinstance(call, Response):
            return call
        outbound = call.direction == "outbound"
        if outbound and await self._blocked(call):
            return _twiml(hang_up())
        if not outbound and await self._at_capacity():
            self._metrics.refuse("busy")
            logger.warning(f"call {call.call_sid}: at capacity, answering busy")
            return _twiml(reject_busy())
        prefix = _route_prefix(request)
        live = self._live.current
        if live.goes_to_canary(Lead(call.lead_number, call.direction, call.campaign)):
            prefix = live.canary.route_prefix
            logger.info(f"call {call.call_sid}: to the canary at {prefix}")
        elif not await self._set_actor_aside(call):
            self._metrics.refuse("no_warm_actor")
            logger.warning(f"call {call.call_sid}: no warm session actor, answering busy")
            return _twiml(reject_busy())
        return self._stream_twiml(await self._tokens.issue(call.pending_call()), prefix)

    async def _set_actor_aside(self, call: VoiceWebhook) -> bool:
        """False only for an inbound call that no warm actor could be had for. An
        answered outbound call cannot be refused: its actor starts cold if need be."""
        if not self._pool.enabled:
            return True
        wait_s = self._live.settings.performance.warm_wait_s
        reserved = await self._pool.reserve(call.call_sid, wait_s)
        return reserved or call.direction == "outbound"

    async def _blocked(self, call: VoiceWebhook) -> bool:
        """An outbound call to a number on the do-not-call list is never connected.

        If the list cannot be read the call is not connected either: calling someone who
        asked not to be called is worse than a missed call."""
        lead = call.lead_number
        try:
            listed = await asyncio.wait_for(
                is_do_not_call(await self._database(), lead), DNC_TIMEOUT_S
            )
            why = f"blocked: {lead} is on the do-not-call list"
        except Exception as exc:
            listed, why = True, f"blocked: the do-not-call list could not be read ({exc!r})"
        if not listed:
            return False
        self._metrics.refuse("do_not_call")
        logger.warning(f"call {call.call_sid}: {why}")
        session = CallSession(
            call_sid=call.call_sid,
            direction="outbound",
            from_number=lead,
            to_number=call.agent_number,
            answered_by=call.answered_by,
            status=CallStatus.COMPLETED,
            outcome=Outcome.OPTED_OUT,
            errors=[why],
        )
        await self._outbox.call_started(session)
        await self._outbox.call_ended(
            session, facts=CallFacts(), qualification_score=0.0, cost_usd=0.0, cost_breakdown={}
        )
        return True

    # After a stream ended

    async def continue_call(self, request: Request) -> Response:
        call = await self._voice_form(request)
        if isinstance(call, Response):
            return call
        call_sid = call.call_sid
        entry = await self._registry.entry(call_sid)
        if entry is None or not entry.live or entry.identity.mode != "audio":
            return _twiml(hang_up())
        resumes = await self._registry.count_resume(call_sid)
        if resumes > self._live.settings.recovery.max_resumes:
            logger.warning(f"call {call_sid}: reconnected {resumes - 1} times; hanging up")
            self._metrics.recovery("stream_lost", "too_many_resumes")
            return _twiml(hang_up(say=RESUME_APOLOGY))
        identity = entry.identity
        token = await self._tokens.issue(
            PendingCall(
                call_sid=call_sid,
                from_number=identity.from_number,
                to_number=identity.to_number,
                direction=identity.direction,
                answered_by=identity.answered_by,
                resume=True,
                last_served_at=entry.heartbeat_at,
                failure=(
                    f"the media stream of session actor {entry.actor} (ingress pid "
                    f"{entry.ingress_pid}) was lost; Twilio reconnected"
                ),
            )
        )
        logger.info(f"call {call_sid}: stream ended; resuming it on a new stream ({resumes})")
        return self._stream_twiml(token, _route_prefix(request))

    # Status callbacks

    async def status(self, request: Request) -> Response:
        form = await self._signed_form(request)
        if form is None:
            return PlainTextResponse("invalid Twilio signature", status_code=403)
        try:
            callback = StatusCallbackForm.from_form(form, request.query_params)
        except WebhookFormError as exc:
            self._metrics.refuse("bad_form")
            return PlainTextResponse(str(exc), status_code=400)
        bind_call(callback.call_sid)
        await self._outbox.status_callback(callback.call_sid, callback.call_status, form)
        if callback.final:
            # A call that ended before its stream opened (the caller hung up while it
            # rang) gives its warm actor back at once, not after the reservation lapses.
            self._pool.release(callback.call_sid)
            await self._ending.twilio_ended(callback.call_sid, callback.call_status)
        return Response(status_code=204)

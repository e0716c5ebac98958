"""The call sockets of the ingress: Twilio media streams and text-mode streams.

Each socket is checked before anything is spent on it (signature or bearer token, then
`start` within a deadline, then the one-time stream token), then its call is claimed in
the call registry, a warm session actor takes it, and a `CallRelay` carries it to its
end. When the actor serving a call fails, the relay asks here for a replacement: the
call is taken over in the registry (a new generation), a warm actor restores it from its
checkpoint, and the relay replays what the caller said since. A stream that resumes a
call after a reconnect (its token issued by `/twilio/voice/continue`) goes the same way.
An actor whose call has ended goes back to the pool for the next call.

Sockets that never start a call — a flood of idle connections, a slow drip of bytes —
are closed and counted, and their number is capped, so they cannot take the
`max_ongoing_requests` slots real calls need.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace

import ray
from starlette.websockets import WebSocket

from actors.call_sweeper import CallSweeper
from actors.registry import CallIdentity, CallRegistry
from actors.session import CallNotResumable, CallStart, Resume
from actors.session_pool import SessionPool
from actors.text_serializer import TextProtocolError, parse_text_event
from deployments.auth import TwilioSignatures, bearer_ok
from deployments.call_relay import (
    CLOSE_NORMAL,
    CLOSE_PROTOCOL,
    REPLACEMENT_ATTEMPTS,
    CallRelay,
    PeerProtocolError,
    Replacer,
    ServingActor,
)
from deployments.ingress_metrics import IngressMetrics
from deployments.live_settings import LiveSettings
from deployments.stream_tokens import PendingCall, StreamTokens
from deployments.twilio_stream import StreamProtocolError, TwilioStreamGuard
from switchboard import tracing
from switchboard.flags import Lead
from switchboard.logging_setup import bind_call
from switchboard.settings import VoiceAgentIntegrationConfig

logger = logging.getLogger("ray.serve")

CLOSE_TRY_AGAIN = 1013
# A cold actor loads its speech engines before it answers; never wait longer than this.
START_CALL_TIMEOUT_S = 60.0


class CallStreams:
    """Takes call sockets, starts their calls, and keeps them going through failures."""

    def __init__(
        self,
        *,
        live: LiveSettings,
        signatures: TwilioSignatures,
        api_token: str,
        tokens: StreamTokens,
        registry: CallRegistry,
        pool: SessionPool,
        sweeper: CallSweeper,
        metrics: IngressMetrics,
    ) -> None:
        self._live = live
        self._signatures = signatures
        self._api_token = api_token
        self._tokens = tokens
        self._registry = registry
        self._pool = pool
        self._sweeper = sweeper
        self._metrics = metrics
        self._unstarted = 0
        self.active_calls = 0
        self._held: set[str] = set()  # calls whose sockets this replica holds
        self._recycling: set[asyncio.Task] = set()

    @property
    def _settings(self) -> VoiceAgentIntegrationConfig:
        # What this replica serves now; a call keeps the version it started with.
        return self._live.settings

    async def keep_alive_forever(self) -> None:
        """Tell the registry which calls' sockets this replica holds, so the sweeper
        never ends a call whose caller is still on the line (its actor may be starting,
        or being replaced)."""
        every_s = self._settings.recovery.heartbeat_s
        while True:
            await asyncio.sleep(every_s)
            try:
                await self._registry.touch(sorted(self._held))
            except Exception as exc:  # Redis away: the grace period covers a short outage
                logger.warning(f"could not touch the calls this replica holds: {exc!r}")

    # Twilio media streams

    async def media_stream(self, websocket: WebSocket) -> None:
        # The path as requested, route prefix included (a canary serves under its own).
        url = self._signatures.public(websocket.url.path, websocket=True)
        if not self._signatures.valid(websocket.headers, url, {}):
            self._metrics.refuse("bad_signature")
            logger.warning("refused media stream with a bad or missing signature")
            await websocket.close(code=CLOSE_PROTOCOL)
            return
        guard = TwilioStreamGuard(self._settings.performance.max_message_bytes)

        def check(raw: str) -> None:
            try:
                guard.check(raw)
            except StreamProtocolError as exc:
                raise PeerProtocolError(str(exc)) from None

        start = await self._started(websocket, lambda: self._await_start(websocket, check))
        if start is None:
            return
        params = start["start"].get("customParameters") or {}
        pending = await self._tokens.redeem(str(params.get("token", "")))
        if pending is None or pending.call_sid != start["start"]["callSid"]:
            self._metrics.refuse("bad_stream_token")
            logger.warning("closing media stream: unknown, used or mismatched stream token")
            await websocket.close(code=CLOSE_PROTOCOL, reason="invalid stream token")
            return
        call = CallStart(
            call_sid=pending.call_sid,
            mode="audio",
            direction=pending.direction,  # type: ignore[arg-type]
            from_number=pending.from_number,
            to_number=pending.to_number,
            stream_sid=guard.stream_sid,
            answered_by=pending.answered_by,
            campaign=pending.campaign,
        )
        if pending.resume:
            await self._resume_on_new_stream(websocket, call, pending, check)
        else:
            await self._serve_new(websocket, call, check)

    async def _await_start(self, websocket: WebSocket, check: Callable[[str], None]) -> dict:
        while True:
            raw = await websocket.receive_text()
            check(raw)
            message = json.loads(raw)
            if message["event"] == "start":
                return message

    async def _started(self, websocket: WebSocket, first: Callable) -> dict | None:
        """Accept the socket and wait for its `start`; None if it was closed instead."""
        if self._unstarted >= self._settings.performance.max_unstarted_streams:
            self._metrics.refuse("flood")
            # Accepted only to say why: "try again", not a forbidden handshake.
            await websocket.accept()
            await websocket.close(code=CLOSE_TRY_AGAIN, reason="too many unstarted streams")
            return None
        self._unstarted += 1
        try:
            await websocket.accept()
            return await asyncio.wait_for(first(), self._settings.performance.start_timeout_s)
        except TimeoutError:
            self._metrics.refuse("no_start")
            logger.warning("closing a stream that sent no 'start' in time")
            await _close(websocket, CLOSE_PROTOCOL, "no 'start' in time")
        except (PeerProtocolError, TextProtocolError) as exc:
            self._metrics.refuse("protocol")
            logger.warning(f"closing a stream before start: {exc}")
            code = exc.code if isinstance(exc, PeerProtocolError) else CLOSE_PROTOCOL
            await _close(websocket, code, str(exc)[:120])
        except Exception:  # the peer left before starting
            pass
        finally:
            self._unstarted -= 1
        return None

    # Text mode

    async def text_stream(self, websocket: WebSocket) -> None:
        if not bearer_ok(websocket.headers, self._api_token):
            self._metrics.refuse("unauthorized")
            await websocket.close(code=CLOSE_PROTOCOL)
            return
        max_bytes = self._settings.performance.max_message_bytes

        def check(raw: str) -> None:
            if len(raw) > max_bytes:
                raise PeerProtocolError("message too large", code=1009)
            try:
                event = parse_text_event(raw)
            except TextProtocolError as exc:
                raise PeerProtocolError(str(exc)) from None
            if event["event"] == "start":
                raise PeerProtocolError("'start' sent twice")

        async def first() -> dict:
            start = parse_text_event(await websocket.receive_text())
            if start["event"] != "start" or not str(start.get("callSid", "")):
                raise TextProtocolError("the first message must be 'start' with a callSid")
            return start

        start = await self._started(websocket, first)
        if start is None:
            return
        if self.active_calls >= self._settings.performance.max_calls_per_replica:
            self._metrics.refuse("busy")
            await websocket.close(code=CLOSE_TRY_AGAIN, reason="busy")
            return
        direction = "outbound" if start.get("direction") == "outbound" else "inbound"
        await self._serve_new(
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

    # Serving a call

    async def _serve_new(
        self, websocket: WebSocket, call: CallStart, check: Callable[[str], None]
    ) -> None:
        # The root of the call's trace: it lasts as long as the call's socket, and the
        # session actor's spans hang under it (its context travels in `CallStart.trace`).
        with tracing.span(
            "call",
            kind=tracing.SpanKind.SERVER,
            attributes={"call.sid": call.call_sid, "call.mode": call.mode,
                        "call.direction": call.direction},
        ) as call_span:
            call = replace(call, trace=tracing.inject_span(call_span))
            await self._serve_new_traced(websocket, call, check)

    async def _serve_new_traced(
        self, websocket: WebSocket, call: CallStart, check: Callable[[str], None]
    ) -> None:
        # The socket's task, and the relay's tasks, serve this call.
        bind_call(call.call_sid, tracing.trace_id_of(call.trace))
        identity = CallIdentity(
            call_sid=call.call_sid,
            mode=call.mode,
            direction=call.direction,
            from_number=call.from_number,
            to_number=call.to_number,
            answered_by=call.answered_by,
        )
        if not await self._registry.claim_new(identity):
            self._metrics.refuse("duplicate_call")
            logger.warning(f"refused a second stream for the known call {call.call_sid}")
            await _close(websocket, CLOSE_PROTOCOL, f"call {call.call_sid} is already known")
            return
        call = replace(
            call,
            stream_key=uuid.uuid4().hex,
            ingress_pid=os.getpid(),
            config=self._live.for_call(Lead(call.from_number, call.direction, call.campaign)),
        )
        with self._holding(call.call_sid):
            serving = await self._first_actor(call)
            if serving is None:
                await _close(websocket, 1011, "no session available")
                return
            self._metrics.calls_started.inc(tags={"mode": call.mode})
            await self._relay(websocket, call, serving, check, forwarded_reply=0)

    async def _first_actor(self, call: CallStart) -> ServingActor | None:
        """An actor for a new call. One that dies while it takes the call is replaced:
        resumed from its first checkpoint if it wrote one, else started afresh."""
        failure: Exception | None = None
        for _ in range(REPLACEMENT_ATTEMPTS):
            if failure is None:
                starting = self._start_actor(call, None)
            else:
                starting = self._restart_new_call(call, failure)
            try:
                return await starting
            except CallNotResumable:
                return None  # the call ended meanwhile
            except Exception as exc:
                logger.warning(f"call {call.call_sid}: an actor failed to take it: {exc!r}")
                failure = exc
        await self._sweeper.finalise(
            call.call_sid, f"no session actor could take it: {failure}", cause="no_actor"
        )
        return None

    async def _restart_new_call(self, call: CallStart, failure: Exception) -> ServingActor:
        generation = await self._registry.take_over(call.call_sid)
        if generation is None:
            raise CallNotResumable(f"call {call.call_sid} ended")
        call = replace(call, generation=generation)
        resume = Resume(
            replay=[],
            forwarded_reply=0,
            failure_id=uuid.uuid4().hex,
            failed=f"the session actor taking the call failed ({type(failure).__name__})",
            failed_at=time.time(),
        )
        try:
            return await self._start_actor(call, resume)
        except CallNotResumable:
            # It died before its first checkpoint: nothing was said yet, start afresh.
            return await self._start_actor(call, None)

    @contextlib.contextmanager
    def _holding(self, call_sid: str) -> Iterator[None]:
        self._held.add(call_sid)
        try:
            yield
        finally:
            self._held.discard(call_sid)

    async def _resume_on_new_stream(
        self,
        websocket: WebSocket,
        call: CallStart,
        pending: PendingCall,
        check: Callable[[str], None],
    ) -> None:
        """Twilio reconnected a live call: it goes on from its checkpoint on a new actor."""
        bind_call(call.call_sid)
        call = replace(call, stream_key=uuid.uuid4().hex, ingress_pid=os.getpid())
        failure = Resume(
            replay=[],
            forwarded_reply=None,  # whatever was in flight on the old stream is lost
            failure_id=uuid.uuid4().hex,
            failed=pending.failure or "the call's media stream was lost",
            failed_at=pending.last_served_at or time.time(),
        )
        replace_actor = self._replacer(call, cause="stream_lost")
        with self._holding(call.call_sid):
            serving = None
            for _ in range(3):
                try:
                    serving = await replace_actor(failure)
                    break
                except Exception as exc:
                    logger.warning(f"call {call.call_sid}: resuming failed: {exc!r}")
            if serving is None:
                await _close(websocket, CLOSE_NORMAL, "call ended")
                return
            await self._relay(websocket, call, serving, check, forwarded_reply=None)

    async def _relay(
        self,
        websocket: WebSocket,
        call: CallStart,
        serving: ServingActor,
        check: Callable[[str], None],
        *,
        forwarded_reply: int | None,
    ) -> None:
        settings = self._settings
        idle_s = (
            settings.performance.stream_idle_timeout_s
            if call.mode == "audio"
            else settings.performance.text_idle_timeout_s
        )
        relay = CallRelay(
            websocket,
            serving,
            mode=call.mode,
            check=check,
            replace=self._replacer(call, cause="actor_failed"),
            batch_s=settings.performance.frame_batch_ms / 1000,
            deadline_s=settings.recovery.actor_deadline_s,
            hung_s=settings.recovery.actor_hung_s,
            idle_timeout_s=idle_s,
            replay_window_s=settings.recovery.replay_window_s,
            call_sid=call.call_sid,
            forwarded_reply=forwarded_reply,
        )
        self.active_calls += 1
        self._metrics.active_calls.set(self.active_calls)
        try:
            reason = await relay.run()
            if reason.startswith(("idle", "protocol")):
                self._metrics.refuse(reason.partition(":")[0])
        finally:
            # Also when Serve cancelled the request on the peer's disconnect.
            logger.info(f"call {call.call_sid} closed: {relay.reason}")
            if relay.late_answers:
                self._metrics.late_answers.inc(relay.late_answers)
            self.active_calls -= 1
            self._metrics.active_calls.set(self.active_calls)
            if relay.call_over and relay.actor is not None:
                # Its record is written and its last words sent: the actor is free for
                # the next call. Not awaited: the request may have been cancelled.
                task = asyncio.get_running_loop().create_task(
                    self._pool.recycle(relay.actor.name, relay.actor.handle)
                )
                self._recycling.add(task)
                task.add_done_callback(self._recycling.discard)

    def _replacer(self, call: CallStart, *, cause: str) -> Replacer:
        async def replace_actor(failure: Resume) -> ServingActor | None:
            generation = await self._registry.take_over(call.call_sid)
            if generation is None:
                self._metrics.recovery(cause, "ended")
                return None  # it ended meanwhile (the caller hung up, the sweeper ran)
            try:
                serving = await self._start_actor(replace(call, generation=generation), failure)
            except CallNotResumable as exc:
                self._metrics.recovery(cause, "not_resumable")
                await self._sweeper.finalise(
                    call.call_sid, f"{failure.failed}, and it could not be resumed: {exc}",
                    cause="not_resumable",
                )
                return None
            self._metrics.recovery(cause, "resumed")
            logger.info(f"call {call.call_sid}: resumed on {serving.name} ({failure.failed})")
            return serving

        return replace_actor

    async def _start_actor(self, call: CallStart, resume: Resume | None) -> ServingActor:
        taken_at = time.perf_counter()
        pooled = await self._pool.take(call.call_sid)
        try:
            await asyncio.wait_for(
                pooled.handle.start_call.remote(call, resume), START_CALL_TIMEOUT_S
            )
        except BaseException:
            _kill(ServingActor(pooled.name, pooled.handle))
            raise
        self._metrics.session_take_ms.observe((time.perf_counter() - taken_at) * 1000)
        return ServingActor(pooled.name, pooled.handle)


def _kill(actor: ServingActor) -> None:
    with contextlib.suppress(Exception):
        ray.kill(actor.handle, no_restart=True)


async def _close(websocket: WebSocket, code: int, reason: str) -> None:
    with contextlib.suppress(RuntimeError):
        await websocket.close(code=code, reason=reason)

"""Relays one call between the peer's WebSocket and its session actor, and moves the
call to a new actor when the one serving it fails.

A Starlette WebSocket cannot cross to another actor, so the ingress relays: inbound
messages are checked, numbered and sent to the actor in small batches (a Ray call per
20 ms media frame would cost more than the audio); outbound messages are drained from
the actor and written to the socket.

The relay keeps the caller's messages since the actor's last checkpoint (`ReplayBuffer`,
bounded by age). When the actor fails — a `deliver` or `collect` raises, or nothing
answers within the deadline and the actor cannot show that it is alive — the relay
kills what is left of it and asks the ingress for a replacement (`Replacer`), handing
over those messages and the number of the last agent reply whose turn end reached the
caller. The caller's socket never notices.

How the call ends on the peer's side decides what the actor hears: a `stop` (or any
close of a text socket) is a hang-up; an audio socket that closes without `stop` is
only detached — Twilio will reconnect through `<Connect action>` if the call is alive.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import ray
from ray import ObjectRef
from ray.actor import ActorHandle
from ray.exceptions import RayError
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from actors.session import Resume
from actors.transport import Outbound
from actors.turn_ends import reply_ended

logger = logging.getLogger("ray.serve")

# Close codes: 1000 normal, 1003 unsupported data, 1008 policy, 1009 too big, 1011 error.
CLOSE_NORMAL = 1000
CLOSE_PROTOCOL = 1008
# Twilio events that must not wait for the batch window: a caller's key press or
# hang-up, and the echo of a mark (turn taking depends on it).
URGENT_EVENTS = ('"stop"', '"dtmf"', '"mark"', '"text"', '"silence"')
STOP_EVENT = '"stop"'
COLLECT_WAIT_S = 0.5
# How long a relay whose peer left waits for the actor to close the call's record.
WIND_DOWN_S = 10.0
# Replacement actors tried for one failure before the call is given up.
REPLACEMENT_ATTEMPTS = 3


class PeerProtocolError(Exception):
    """Raised by a message check; the socket is closed with `code` and the message."""

    def __init__(self, reason: str, code: int = CLOSE_PROTOCOL) -> None:
        super().__init__(reason)
        self.code = code


class PeerIdle(Exception):
    """The peer sent nothing for longer than its protocol allows."""


@dataclass(frozen=True)
class ServingActor:
    name: str
    handle: ActorHandle


# Given what a replacement needs, start one: the actor now serving the call, or None
# when the call cannot go on (it has ended, or there is nothing to resume it from).
Replacer = Callable[[Resume], Awaitable[ServingActor | None]]


class ReplayBuffer:
    """The caller's messages since the last checkpoint, numbered from 1, bounded by age."""

    def __init__(self, window_s: float) -> None:
        self._window_s = window_s
        self._entries: deque[tuple[int, str, float]] = deque()
        self.last_index = 0

    def append(self, raw: str) -> int:
        self.last_index += 1
        now = time.monotonic()
        self._entries.append((self.last_index, raw, now))
        while self._entries and self._entries[0][2] < now - self._window_s:
            self._entries.popleft()
        return self.last_index

    def since(self, index: int) -> list[tuple[int, str]]:
        """Entries after `index`, oldest first."""
        return [(i, raw) for i, raw, _ in self._entries if i > index]

    def forget_through(self, index: int) -> None:
        """A checkpoint covers everything up to `index`."""
        while self._entries and self._entries[0][0] <= index:
            self._entries.popleft()

    def __len__(self) -> int:
        return len(self._entries)


class CallRelay:
    """Relays one call until it ends; replaces its actor when it fails."""

    def __init__(
        self,
        websocket: WebSocket,
        actor: ServingActor,
        *,
        mode: str,
        check: Callable[[str], None],
        replace: Replacer,
        batch_s: float,
        deadline_s: float,
        hung_s: float,
        idle_timeout_s: float,
        replay_window_s: float,
        call_sid: str,
        forwarded_reply: int | None = 0,
    ) -> None:
        self._ws = websocket
        self._actor: ServingActor | None = actor
        self._mode = mode
        self._check = check
        self._replace_with = replace
        self._batch_s = batch_s
        self._deadline_s = deadline_s
        self._hung_s = hung_s
        self._idle_timeout_s = idle_timeout_s
        self._call_sid = call_sid
        self._buffer = ReplayBuffer(replay_window_s)
        self._delivered = 0
        self._forwarded_reply = forwarded_reply
        self._last_served = time.time()
        self._stop_seen = False
        self._lock = asyncio.Lock()
        self.replacements = 0
        self.late_answers = 0  # past the deadline, waited for: the actor was alive
        self.reason = "completed"
        self.call_over = False  # the actor closed the call (its record is written)

    async def run(self) -> str:
        """Relay until the call ends; returns why it ended."""
        outbound_task = asyncio.create_task(self._outbound())
        inbound_task = asyncio.create_task(self._inbound())
        try:
            await outbound_task
            # The call is over on the actor's side: Twilio closes the stream when a call
            # leaves it, and so do we.
            if not inbound_task.done():
                inbound_task.cancel()
            await _close(self._ws, CLOSE_NORMAL, "call ended")
        except asyncio.CancelledError:
            # Serve cancels a request once its client disconnects (a replica serving
            # HTTP itself does so at once), while the peer's last messages, a `stop`
            # among them, still wait to be read. The inbound side reads them out and
            # tells the actor how the call ended before the relay lets go.
            logger.info(f"call {self._call_sid}: the peer disconnected")
            try:
                await asyncio.wait_for(asyncio.shield(inbound_task), 2 * self._deadline_s)
                if self._stop_seen or self._mode == "text":
                    await self._collect_until_over()
            except Exception as exc:
                logger.warning(f"call {self._call_sid}: winding down: {exc!r}")
            raise
        finally:
            for task in (inbound_task, outbound_task):
                if not task.done():
                    task.cancel()
            await asyncio.gather(inbound_task, outbound_task, return_exceptions=True)
        return self.reason

    # Peer → actor

    async def _inbound(self) -> None:
        loop = asyncio.get_running_loop()
        pending = False
        deadline = loop.time()
        try:
            while True:
                timeout = max(0.0, deadline - loop.time()) if pending else self._idle_timeout_s
                try:
                    raw = await asyncio.wait_for(self._ws.receive_text(), timeout=timeout)
                except TimeoutError:
                    if not pending:
                        raise PeerIdle(f"nothing received for {self._idle_timeout_s:g} s") from None
                    raw = None
                if raw is not None:
                    self._check(raw)
                    head = raw[:64]
                    self._stop_seen = self._stop_seen or STOP_EVENT in head
                    self._buffer.append(raw)
                    if not pending:
                        deadline = loop.time() + self._batch_s
                    pending = True
                urgent = raw is not None and any(event in raw[:64] for event in URGENT_EVENTS)
                if pending and (raw is None or urgent or loop.time() >= deadline):
                    await self._deliver()
                    pending = False
        except PeerProtocolError as exc:
            self.reason = f"protocol error: {exc}"
            logger.warning(f"call {self._call_sid}: closing stream: {exc}")
            await self._deliver()
            await _close(self._ws, exc.code, str(exc)[:120])
            await self._tell_actor("peer_gone")
        except PeerIdle as exc:
            self.reason = f"idle: {exc}"
            logger.warning(f"call {self._call_sid}: closing an idle stream: {exc}")
            await _close(self._ws, CLOSE_PROTOCOL, "idle")
            await self._peer_left()
        except (WebSocketDisconnect, RuntimeError):
            await self._deliver()
            await self._peer_left()

    async def _peer_left(self) -> None:
        if self._stop_seen or self._mode == "text":
            await self._tell_actor("peer_gone")
        else:
            # No `stop`: not a hang-up while Twilio may still reconnect the call.
            self.reason = "stream lost without stop"
            await self._tell_actor("detach")

    async def _deliver(self) -> None:
        entries = self._buffer.since(self._delivered)
        actor = self._actor
        if not entries or actor is None:
            return
        try:
            await self._answer(
                actor,
                actor.handle.deliver.remote([raw for _, raw in entries], entries[0][0]),
                self._deadline_s,
            )
        except (RayError, TimeoutError) as exc:
            await self._replace(actor, exc)
            return
        self._delivered = max(self._delivered, entries[-1][0])
        self._last_served = time.time()

    @property
    def actor(self) -> ServingActor | None:
        """The actor serving the call now."""
        return self._actor

    async def _tell_actor(self, method: str) -> None:
        actor = self._actor
        if actor is None:
            return
        with contextlib.suppress(RayError, TimeoutError):
            await asyncio.wait_for(getattr(actor.handle, method).remote(), self._deadline_s)

    # Actor → peer

    async def _outbound(self) -> None:
        while True:
            actor = self._actor
            if actor is None:
                return
            try:
                outbound: Outbound | None = await self._answer(
                    actor,
                    actor.handle.collect.remote(COLLECT_WAIT_S),
                    COLLECT_WAIT_S + self._deadline_s,
                )
            except (RayError, TimeoutError) as exc:
                if await self._replace(actor, exc):
                    continue
                return
            if outbound is None:
                self.call_over = True
                return
            self._last_served = time.time()
            self._buffer.forget_through(outbound.checkpointed)
            try:
                for message in outbound.messages:
                    await self._ws.send_text(message)
                    reply = reply_ended(message)
                    if reply is not None:
                        self._forwarded_reply = reply
            except (WebSocketDisconnect, RuntimeError):
                return

    async def _collect_until_over(self) -> None:
        """The socket is gone and the actor told the call ended: take what it still
        sends (nobody hears it now) until it says the call is over."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + WIND_DOWN_S
        while (actor := self._actor) is not None and loop.time() < deadline:
            outbound = await asyncio.wait_for(
                actor.handle.collect.remote(COLLECT_WAIT_S), COLLECT_WAIT_S + self._deadline_s
            )
            if outbound is None:
                self.call_over = True
                return

    # Failure

    async def _answer(self, actor: ServingActor, request: ObjectRef, wait_s: float) -> Any:
        """What `actor` answers to `request`. Past `wait_s` the actor is asked, on a loop
        of its own, whether it is alive: one whose calls' loop still runs is only late
        (a busy machine) and is waited for, up to `hung_s` in all. Moving a call costs
        its caller seconds of silence and a replayed turn, more than a late answer.
        TimeoutError when it does not answer that, or its loop has stopped."""
        answer = asyncio.wrap_future(request.future())
        loop = asyncio.get_running_loop()
        give_up_at = loop.time() + self._hung_s
        while True:
            try:
                return await asyncio.wait_for(asyncio.shield(answer), wait_s)
            except TimeoutError:
                loop_idle_s = await self._loop_idle_s(actor)
                if (
                    loop_idle_s is None
                    or loop_idle_s >= self._hung_s
                    or loop.time() >= give_up_at
                ):
                    # Nobody waits for it now; the actor is killed on replacement, and
                    # its error must not be logged as an exception never retrieved.
                    answer.cancel()
                    raise
                self.late_answers += 1
                logger.warning(
                    f"call {self._call_sid}: session actor {actor.name} is late (its loop "
                    f"ran {loop_idle_s:.1f} s ago); waiting for it"
                )
                wait_s = self._deadline_s

    async def _loop_idle_s(self, actor: ServingActor) -> float | None:
        """Seconds since the actor's event loop ran; None if the actor does not answer."""
        try:
            return await asyncio.wait_for(actor.handle.liveness.remote(), self._deadline_s)
        except (RayError, TimeoutError):
            return None

    async def _replace(self, failed: ServingActor, exc: BaseException) -> bool:
        """Move the call to a new actor; False if it cannot go on (the socket is closed)."""
        replaced = await self._replace_locked(failed, exc)
        if replaced:
            # What the caller said while the replacement started was not in its replay.
            await self._deliver()
        return replaced

    async def _replace_locked(self, failed: ServingActor, exc: BaseException) -> bool:
        async with self._lock:
            if self._actor is not failed:
                return self._actor is not None  # someone else replaced it already
            self._actor = None
            what = "no answer" if isinstance(exc, TimeoutError) else type(exc).__name__
            replayed_through = self._buffer.last_index
            failure = Resume(
                replay=self._buffer.since(0),
                forwarded_reply=self._forwarded_reply,
                failure_id=uuid.uuid4().hex,
                failed=f"session actor {failed.name} failed ({what})",
                failed_at=self._last_served,
            )
            logger.warning(f"call {self._call_sid}: {failure.failed}; moving it to a new actor")
            with contextlib.suppress(Exception):
                ray.kill(failed.handle, no_restart=True)  # a hung actor must not wake up
            for _ in range(REPLACEMENT_ATTEMPTS):
                try:
                    replacement = await self._replace_with(failure)
                except Exception as attempt_failed:  # that actor failed too: another one
                    logger.warning(f"call {self._call_sid}: replacement failed: {attempt_failed!r}")
                    continue
                if replacement is None:
                    break
                self._actor = replacement
                self._delivered = replayed_through
                self.replacements += 1
                return True
            self.reason = f"not resumable after {failure.failed}"
            await _close(self._ws, CLOSE_NORMAL, "call ended")
            return False


async def _close(websocket: WebSocket, code: int, reason: str) -> None:
    if websocket.application_state == WebSocketState.CONNECTED:
        with contextlib.suppress(RuntimeError):
            await websocket.close(code=code, reason=reason)

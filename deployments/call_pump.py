"""Pumps one call's messages between the peer's WebSocket and its session actor.

A Starlette WebSocket cannot cross to another actor, so the ingress relays: inbound
messages are checked, then sent to the actor in small batches (a Ray call per 20 ms
media frame would cost more than the audio); outbound messages are drained from the
actor and written to the socket. When either side ends, the other is told.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from ray.actor import ActorHandle
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

logger = logging.getLogger("ray.serve")

# Close codes: 1000 normal, 1003 unsupported data, 1008 policy, 1009 too big, 1011 error.
CLOSE_NORMAL = 1000
CLOSE_PROTOCOL = 1008
# Twilio events that must not wait for the batch window: a caller's key press or
# hang-up, and the echo of a mark (turn taking depends on it).
URGENT_EVENTS = ('"stop"', '"dtmf"', '"mark"', '"text"', '"silence"')


class PeerProtocolError(Exception):
    """Raised by a message check; the socket is closed with `code` and the message."""

    def __init__(self, reason: str, code: int = CLOSE_PROTOCOL) -> None:
        super().__init__(reason)
        self.code = code


async def pump_call(
    websocket: WebSocket,
    actor: ActorHandle,
    *,
    check: Callable[[str], None],
    batch_s: float,
    call_sid: str,
) -> str:
    """Relay until the call ends; returns why it ended."""
    outbound_done = asyncio.Event()
    reason = "completed"

    async def inbound() -> None:
        nonlocal reason
        batch: list[str] = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + batch_s
        try:
            while True:
                timeout = max(0.0, deadline - loop.time()) if batch else None
                try:
                    raw = await asyncio.wait_for(websocket.receive_text(), timeout=timeout)
                except TimeoutError:
                    raw = None
                if raw is not None:
                    check(raw)
                    if not batch:
                        deadline = loop.time() + batch_s
                    batch.append(raw)
                urgent = raw is not None and any(e in raw[:64] for e in URGENT_EVENTS)
                if batch and (raw is None or urgent or loop.time() >= deadline):
                    await actor.deliver.remote(batch)
                    batch = []
        except PeerProtocolError as exc:
            reason = f"protocol error: {exc}"
            logger.warning(f"call {call_sid}: closing stream: {exc}")
            if batch:
                await actor.deliver.remote(batch)
            await _close(websocket, exc.code, str(exc)[:120])
        except (WebSocketDisconnect, RuntimeError):
            if batch:
                await actor.deliver.remote(batch)
        await actor.peer_gone.remote()

    async def outbound() -> None:
        try:
            while True:
                messages = await actor.collect.remote(0.5)
                if messages is None:
                    break
                for message in messages:
                    await websocket.send_text(message)
        except (WebSocketDisconnect, RuntimeError):
            pass
        finally:
            outbound_done.set()

    inbound_task = asyncio.create_task(inbound())
    outbound_task = asyncio.create_task(outbound())
    try:
        await outbound_done.wait()
        # The call is over on the actor's side: Twilio closes the stream when a call
        # leaves it, and so do we.
        if not inbound_task.done():
            inbound_task.cancel()
        await _close(websocket, CLOSE_NORMAL, "call ended")
    finally:
        for task in (inbound_task, outbound_task):
            if not task.done():
                task.cancel()
        await asyncio.gather(inbound_task, outbound_task, return_exceptions=True)
    return reason


async def _close(websocket: WebSocket, code: int, reason: str) -> None:
    if websocket.application_state == WebSocketState.CONNECTED:
        with contextlib.suppress(RuntimeError):
            await websocket.close(code=code, reason=reason)

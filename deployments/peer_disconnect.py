"""Hands a WebSocket peer's last messages to the app before its disconnect.

Serve's replica reads the socket on its own event loop and queues each message for the
app's loop with `call_soon_threadsafe`; once it has read the disconnect, its receive
returns the disconnect whenever that queue looks empty. A caller who hangs up sends
`stop` and closes at once, so the app, asking between the two, can be told of the
disconnect while the `stop` is still on its way over: the hang-up would look like a
lost stream, and the call would wait for a reconnection that never comes.

`LastMessagesFirst` wraps `receive` for WebSocket scopes: on a disconnect it lets the
loop run the queued hand-overs and asks again; anything still queued comes first, and
the disconnect is only passed on when nothing is.
"""

from __future__ import annotations

import asyncio

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Long enough for the replica's loop to hand over what it read before the disconnect:
# those hand-overs are already scheduled on this loop when the disconnect is seen.
SETTLE_S = 0.02


class LastMessagesFirst:
    """ASGI middleware: a WebSocket's queued messages reach the app before its disconnect."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket":
            await self.app(scope, receive, send)
            return
        await self.app(scope, settled(receive), send)


def settled(receive: Receive) -> Receive:
    """`receive`, whose disconnect is passed on only once nothing else is queued."""

    async def receive_settled() -> Message:
        message = await receive()
        if message["type"] != "websocket.disconnect":
            return message
        await asyncio.sleep(SETTLE_S)
        # Serve's receive returns what is still queued first, then repeats the
        # disconnect; a server whose receive waits after a disconnect has nothing queued.
        try:
            return await asyncio.wait_for(receive(), SETTLE_S)
        except TimeoutError:
            return message

    return receive_settled

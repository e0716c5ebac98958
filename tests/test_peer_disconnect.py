"""A caller's `stop`, sent as the socket closes, reaches the app before the disconnect,
also when Serve's replica is still handing it over from its own event loop."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterable

from ray.serve._private.direct_ingress_http_util import ASGIDIReceiveProxy
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import WebSocketRoute
from starlette.types import Message
from starlette.websockets import WebSocket, WebSocketDisconnect

from deployments.peer_disconnect import LastMessagesFirst, settled

STOP = json.dumps(
    {
        "event": "stop",
        "sequenceNumber": "412",
        "streamSid": "MZ0123456789abcdef0123456789abcdef",
        "stop": {"accountSid": "AC0123456789abcdef0123456789abcdef",
                 "callSid": "CA0123456789abcdef0123456789abcdef"},
    }
)
CONNECT: Message = {"type": "websocket.connect"}
STOP_MESSAGE: Message = {"type": "websocket.receive", "text": STOP}
HANG_UP: Message = {"type": "websocket.disconnect", "code": 1000}


def serve_read_the_socket(messages: Iterable[Message]) -> ASGIDIReceiveProxy:
    """Serve's receive for the app, once the replica has read the socket through to the
    disconnect on its own loop, handing each message to the app's loop. Blocks the app's
    loop meanwhile, so the hand-overs wait in its queue, as they do while it is busy."""
    pending = list(messages)

    async def socket() -> Message:
        return pending.pop(0)

    proxy = ASGIDIReceiveProxy({"type": "websocket"}, socket, asyncio.get_running_loop())
    thread = threading.Thread(target=asyncio.run, args=(proxy._fetch_until_disconnect(),))
    thread.start()
    thread.join()
    return proxy


def recording_app(heard: list[str]) -> Starlette:
    async def stream(websocket: WebSocket) -> None:
        await websocket.accept()
        try:
            while True:
                heard.append(await websocket.receive_text())
        except WebSocketDisconnect:
            heard.append("disconnect")

    return Starlette(
        routes=[WebSocketRoute("/twilio/stream", stream)],
        middleware=[Middleware(LastMessagesFirst)],
    )


async def test_a_stop_still_being_handed_over_comes_before_the_disconnect() -> None:
    proxy = serve_read_the_socket([STOP_MESSAGE, HANG_UP])
    # The race itself: Serve's receive already answers with the disconnect.
    assert (await proxy())["type"] == "websocket.disconnect"

    receive = settled(proxy)

    assert await receive() == STOP_MESSAGE
    assert (await receive())["type"] == "websocket.disconnect"


async def test_the_app_hears_the_callers_stop_then_the_hang_up() -> None:
    proxy = serve_read_the_socket([CONNECT, STOP_MESSAGE, HANG_UP])
    heard: list[str] = []
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {"type": "websocket", "path": "/twilio/stream", "headers": [], "query_string": b""}
    await asyncio.wait_for(recording_app(heard)(scope, proxy, send), 5)

    assert sent[0]["type"] == "websocket.accept"
    assert heard == [STOP, "disconnect"]


async def test_a_receive_that_waits_after_the_disconnect_has_it_passed_on() -> None:
    # An ASGI server need not answer a receive after the disconnect (Starlette's test
    # client's queue just waits).
    queue: asyncio.Queue[Message] = asyncio.Queue()
    queue.put_nowait(HANG_UP)

    message = await asyncio.wait_for(settled(queue.get)(), 1)

    assert message == HANG_UP

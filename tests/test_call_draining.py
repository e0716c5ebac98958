"""A draining ingress replica's uvicorn server keeps its live calls: the listener closes,
accepted WebSockets stay open until their call ends (`deployments.call_draining`)."""

from __future__ import annotations

import asyncio
import socket

import pytest
import uvicorn
import websockets
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from deployments.call_draining import keep_calls_through_shutdown


async def _echo(websocket: WebSocket) -> None:
    await websocket.accept()
    try:
        while True:
            await websocket.send_text(await websocket.receive_text())
    except WebSocketDisconnect:
        pass


async def _server() -> tuple[uvicorn.Server, asyncio.Task, int]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    app = Starlette(routes=[WebSocketRoute("/call", _echo)])
    # As Serve's direct ingress runs it: uvicorn's own choice of WebSocket protocol.
    server = uvicorn.Server(uvicorn.Config(app, lifespan="off", log_config=None))
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        await asyncio.sleep(0.01)
    return server, task, sock.getsockname()[1]


async def test_a_live_call_outlasts_its_servers_shutdown_and_new_calls_are_refused() -> None:
    keep_calls_through_shutdown()
    server, task, port = await _server()
    async with websockets.connect(f"ws://127.0.0.1:{port}/call") as call:
        await call.send("before")
        assert await call.recv() == "before"
        server.should_exit = True  # what Serve does to stop a draining replica accepting
        await asyncio.sleep(0.5)
        await call.send("while draining")
        assert await asyncio.wait_for(call.recv(), 2) == "while draining"
        with pytest.raises(OSError):
            await websockets.connect(f"ws://127.0.0.1:{port}/call", open_timeout=2)
        assert not task.done()  # the server waits for the call
    await asyncio.wait_for(task, 5)  # and exits once it ended


async def test_keeping_calls_is_set_up_once_however_often_it_is_asked() -> None:
    from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

    keep_calls_through_shutdown()
    first = WebSocketsSansIOProtocol.shutdown
    keep_calls_through_shutdown()
    assert WebSocketsSansIOProtocol.shutdown is first

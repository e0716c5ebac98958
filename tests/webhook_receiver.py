"""A CRM's webhook endpoint for the tests and the benchmark: a real HTTP server (aiohttp)
on a port of its own, which verifies every request's signature with
`switchboard.webhook_signing.verify`, as a receiver is told to.

It can be taken down and brought back on the same port (`stop`, `start`: connections
are refused meanwhile), or made to answer an error (`answer_status = 503`), to act out
an outage. What it accepted is in `events`, duplicates included.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from switchboard.local_services import server_port
from switchboard.webhook_signing import SIGNATURE_HEADER, InvalidSignature, verify


@dataclass(frozen=True)
class ReceivedEvent:
    type: str
    id: str
    created_at: str
    data: dict[str, Any]
    # Wall-clock seconds when it arrived.
    received_at: float


class WebhookReceiver:
    """`async with WebhookReceiver(secret) as receiver:` serves at `receiver.url`."""

    def __init__(self, secret: str, *, port: int | None = None, path: str = "/hooks") -> None:
        self.secret = secret
        self.port = port or server_port()
        self.path = path
        self.events: list[ReceivedEvent] = []
        # Requests whose signature did not verify (the reason each time).
        self.bad_signatures: list[str] = []
        # Requests answered with `answer_status` instead of being accepted.
        self.refused = 0
        # 200: accept. Anything else: answer that, and keep nothing.
        self.answer_status = 200
        self._arrived = asyncio.Condition()
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.path}"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post(self.path, self._receive)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        # reuse_address: brought back on the same port right after `stop`.
        await web.TCPSite(self._runner, "127.0.0.1", self.port, reuse_address=True).start()

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> WebhookReceiver:
        await self.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.stop()

    def of_type(self, event_type: str) -> list[ReceivedEvent]:
        return [event for event in self.events if event.type == event_type]

    def distinct(self, event_type: str | None = None) -> dict[str, ReceivedEvent]:
        """The first arrival of each event id (of one type, or all)."""
        first: dict[str, ReceivedEvent] = {}
        for event in self.events:
            if event_type is None or event.type == event_type:
                first.setdefault(event.id, event)
        return first

    async def wait_for(self, count: int, event_type: str | None = None, *,
                       timeout_s: float = 30.0) -> dict[str, ReceivedEvent]:
        """Wait until `count` distinct events (of `event_type`) have arrived."""
        async with self._arrived:
            await asyncio.wait_for(
                self._arrived.wait_for(lambda: len(self.distinct(event_type)) >= count),
                timeout_s,
            )
        return self.distinct(event_type)

    async def _receive(self, request: web.Request) -> web.Response:
        body = await request.read()  # the raw bytes: what was signed
        try:
            verify(body, request.headers.get(SIGNATURE_HEADER), self.secret)
        except InvalidSignature as exc:
            self.bad_signatures.append(str(exc))
            return web.Response(status=400, text=str(exc))
        if self.answer_status != 200:
            self.refused += 1
            return web.Response(status=self.answer_status)
        payload = json.loads(body)
        async with self._arrived:
            self.events.append(
                ReceivedEvent(
                    type=payload["type"],
                    id=payload["id"],
                    created_at=payload["created_at"],
                    data=payload["data"],
                    received_at=time.time(),
                )
            )
            self._arrived.notify_all()
        return web.Response(status=200)

"""What the chaos tests share: finding the processes that serve a call, killing them, and
driving a text-mode call line by line so a fault can be put exactly where a test wants
it (between two turns, or between a caller's line and the agent's answer)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import time
from collections.abc import Awaitable, Callable

import httpx
import redis.asyncio as aioredis
import websockets

from switchboard.scenario import Dtmf, Hangup, Scenario, Silence
from tests.e2e import RunningSwitchboard

AGENT_TURN_TIMEOUT_S = 30.0


async def registry_entry(server: RunningSwitchboard, call_sid: str) -> dict[str, str]:
    redis = aioredis.from_url(server.redis_url, decode_responses=True)
    try:
        return await redis.hgetall(f"{server.redis_prefix}:call:{call_sid}")
    finally:
        await redis.aclose()


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def serving_pid(server: RunningSwitchboard, call_sid: str, field: str = "pid") -> int:
    """The pid of the session actor (or, with `field="ingress_pid"`, the ingress replica)
    serving the call now."""
    async with asyncio.timeout(30):
        while True:
            entry = await registry_entry(server, call_sid)
            if entry.get(field):
                return int(entry[field])
            await asyncio.sleep(0.05)


async def call_started(server: RunningSwitchboard, call_sid: str) -> None:
    """Wait until the call has been taken: its first checkpoint is written (a fault before
    that is a fault of starting the call, not of serving it)."""
    redis = aioredis.from_url(server.redis_url)
    try:
        async with asyncio.timeout(30):
            while not await redis.exists(f"{server.redis_prefix}:session:{call_sid}"):
                await asyncio.sleep(0.02)
    except TimeoutError:
        entry = await registry_entry(server, call_sid)
        message = f"{call_sid} has no checkpoint after 30 s (registry: {entry})"
        raise AssertionError(message) from None
    finally:
        await redis.aclose()


async def kill_serving(server: RunningSwitchboard, call_sid: str, field: str = "pid") -> int:
    """SIGKILL what serves the call; returns its pid once it is gone."""
    pid = await serving_pid(server, call_sid, field)
    os.kill(pid, signal.SIGKILL)
    async with asyncio.timeout(10):
        while alive(pid):
            await asyncio.sleep(0.02)
    return pid


async def _agent_turn(ws: websockets.ClientConnection, timeout_s: float) -> bool:
    """Read the agent's events up to its turn end; True if it hung up."""
    async with asyncio.timeout(timeout_s):
        while True:
            event = json.loads(await ws.recv())
            if event["event"] == "hangup":
                return True
            if event["event"] == "turn_end":
                return False


async def play_text_call(
    server: RunningSwitchboard,
    scenario: Scenario,
    call_sid: str,
    *,
    before_line: int | None = None,
    fault: Callable[[], Awaitable[None]] | None = None,
    reprompt_after_s: float = 6.0,
) -> None:
    """Play `scenario` on the text stream, turn by turn; run `fault` just before line
    `before_line` is sent (so whatever it breaks must still answer that line)."""
    url = server.base_url.replace("http", "ws") + "/v1/text/stream"
    headers = {"Authorization": f"Bearer {server.api_token}"}
    async with websockets.connect(url, additional_headers=headers) as ws:
        await ws.send(
            json.dumps(
                {
                    "event": "start",
                    "callSid": call_sid,
                    "from": scenario.from_number,
                    "to": scenario.to_number,
                    "direction": scenario.direction,
                }
            )
        )
        if scenario.direction == "inbound" and await _agent_turn(ws, AGENT_TURN_TIMEOUT_S):
            return
        for index, line in enumerate(scenario.lines):
            if index == before_line and fault is not None:
                await fault()
            if isinstance(line, Hangup):
                with contextlib.suppress(websockets.ConnectionClosed):
                    await ws.send(json.dumps({"event": "stop"}))
                return
            if isinstance(line, Dtmf):
                message: dict = {"event": "dtmf", "digit": line.dtmf}
            elif isinstance(line, Silence):
                message = {"event": "silence", "seconds": line.silence_s}
            else:
                message = {"event": "text", "text": line}
            try:
                await ws.send(json.dumps(message))
            except websockets.ConnectionClosed:
                return  # the agent ended the call
            if isinstance(line, Silence) and line.silence_s < reprompt_after_s:
                continue  # too short for a reprompt: the agent says nothing
            try:
                if await _agent_turn(ws, AGENT_TURN_TIMEOUT_S):
                    return
            except websockets.ConnectionClosed:
                return
        with contextlib.suppress(websockets.ConnectionClosed):
            await ws.send(json.dumps({"event": "stop"}))


async def warm_pool(server: RunningSwitchboard, size: int, timeout_s: float = 300) -> None:
    """Wait until the ingress holds `size` warm session actors (a drill spends them fast)."""
    async with httpx.AsyncClient(base_url=server.base_url) as client, asyncio.timeout(timeout_s):
        while (await client.get("/healthz")).json().get("warm", 0) < size:
            await asyncio.sleep(0.5)


async def final_report(server: RunningSwitchboard, call_sid: str, timeout_s: float = 30) -> dict:
    """The call's report once it is final (completed or failed)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            report = await server.report(call_sid, final=False, timeout_s=2)
        except AssertionError:
            report = None
        if report is not None and report["final"]:
            return report
        if time.monotonic() > deadline:
            raise AssertionError(f"no final report for {call_sid}: {report}")
        await asyncio.sleep(0.25)

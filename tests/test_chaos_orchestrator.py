"""Chaos: the orchestrator hangs mid-call. The caller still hears an answer within
the turn timeout (the direct path), the breaker opens, closes again once the
orchestrator is back, and the call completes with the right outcome."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis
import websockets

from switchboard.caller.twilio_protocol import new_sid
from tests.e2e import RunningSwitchboard, run_switchboard

pytestmark = pytest.mark.slow

TURN_TIMEOUT_S = 1.5
RESET_TIMEOUT_S = 4.0


@pytest.fixture(scope="module")
def chaos_switchboard(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSwitchboard]:
    with run_switchboard(
        tmp_path_factory.mktemp("chaos"),
        SWITCHBOARD_PERFORMANCE__TURN_TIMEOUT_S=str(TURN_TIMEOUT_S),
        SWITCHBOARD_CIRCUIT_BREAKER__FAIL_MAX="2",
        SWITCHBOARD_CIRCUIT_BREAKER__RESET_TIMEOUT_S=str(RESET_TIMEOUT_S),
    ) as server:
        yield server


def _orchestrator_pids() -> list[int]:
    pids = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        with contextlib.suppress(OSError):
            if b"OrchestratorDeployment" in Path(f"/proc/{pid}/cmdline").read_bytes():
                pids.append(int(pid))
    return pids


class TextCall:
    def __init__(self, ws) -> None:
        self.ws = ws

    async def turn(self, message: dict) -> tuple[list[str], float, bool]:
        """Send one caller event; the agent's sentences, seconds to the first, hung up."""
        started = time.monotonic()
        await self.ws.send(json.dumps(message))
        sentences: list[str] = []
        first_at = None
        while True:
            event = json.loads(await self.ws.recv())
            if event["event"] == "agent":
                first_at = first_at or time.monotonic()
                sentences.append(event["text"])
            elif event["event"] == "turn_end":
                return sentences, (first_at or time.monotonic()) - started, False
            elif event["event"] == "hangup":
                return sentences, (first_at or time.monotonic()) - started, True


async def _breaker_state(server: RunningSwitchboard) -> str | None:
    redis = aioredis.from_url(server.redis_url, decode_responses=True)
    try:
        return await redis.get(f"{server.redis_prefix}:breaker:orchestrator:pybreaker:state")
    finally:
        await redis.aclose()


async def test_a_hung_orchestrator_never_leaves_the_caller_in_silence(
    chaos_switchboard: RunningSwitchboard,
) -> None:
    server = chaos_switchboard
    call_sid = new_sid("CA")
    url = server.base_url.replace("http", "ws") + "/v1/text/stream"
    headers = {"Authorization": f"Bearer {server.api_token}"}
    async with websockets.connect(url, additional_headers=headers) as ws:
        call = TextCall(ws)
        await ws.send(json.dumps({"event": "start", "callSid": call_sid, "from": "+15550111"}))
        while json.loads(await ws.recv())["event"] != "turn_end":
            pass
        await call.turn({"event": "text", "text": "Yes, this is Lee."})
        await call.turn({"event": "text", "text": "Sure, go ahead."})

        pids = _orchestrator_pids()
        assert pids, "no orchestrator replica found"
        for pid in pids:
            os.kill(pid, signal.SIGSTOP)  # hangs: accepts nothing, answers nothing
        try:
            for line in (
                "Our phones ring off the hook and we miss half the calls.",
                "We can spend eighty thousand dollars a year.",
                "I am the founder, I decide.",
            ):
                sentences, waited_s, _ = await call.turn({"event": "text", "text": line})
                assert sentences, f"silence after {line!r}"
                assert waited_s < TURN_TIMEOUT_S + 1.0
            assert await _breaker_state(server) == "open"
        finally:
            for pid in pids:
                os.kill(pid, signal.SIGCONT)

        await asyncio.sleep(RESET_TIMEOUT_S + 0.5)
        sentences, _, _ = await call.turn({"event": "text", "text": "Within two months."})
        assert sentences
        assert await _breaker_state(server) == "closed"
        await call.turn({"event": "dtmf", "digit": "1"})
        await call.turn({"event": "text", "text": "No, that's all, thanks."})
        # The agent's goodbye ends its turn, then the agent ends the call.
        assert json.loads(await ws.recv())["event"] == "hangup"

    report = await server.report(call_sid)
    assert report["outcome"] == "qualified"
    assert report["facts"]["budget_usd"] == 80000
    assert report["fallback_turns"] >= 3
    assert [t["agent"] for t in report["turns"]]

"""Chaos: Redis stops for 10 s in the middle of a call.

Switchboard runs on a private Redis with AOF on a free port. Mid-call the server is
stopped for 10 s: every caller turn is still answered (the session keeps its state in
memory, the direct path answers while the agents cannot checkpoint), and when Redis is
back the record catches up, the agents take over again, and the budget's counters add
up to exactly what the call's record says it cost.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from decimal import Decimal

import pytest
import redis.asyncio as aioredis

from switchboard.local_services import LocalRedis, private_directory
from tests.chaos import final_report, warm_pool
from tests.e2e import RunningSwitchboard, live_text_call, run_switchboard

pytestmark = pytest.mark.slow

OUTAGE_S = 10.0
BREAKER_RESET_S = 3.0
TURN_TIMEOUT_S = 2.0

BEFORE = ["Hi, this is Ari speaking.", "Sure, go ahead."]
DURING = [
    "We miss a lot of calls after hours and lose the leads.",
    "We could spend about seventy thousand dollars a year.",
    "I own the company, so I decide.",
]
AFTER = ["We want it running within two months.", "Thursday at nine works.", "No, that's all."]


@pytest.fixture(scope="module")
def private_redis() -> Iterator[LocalRedis]:
    server = LocalRedis(private_directory("switchboard-chaos-redis-")).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def on_private_redis(
    tmp_path_factory: pytest.TempPathFactory, private_redis: LocalRedis
) -> Iterator[RunningSwitchboard]:
    with run_switchboard(
        tmp_path_factory.mktemp("chaos-redis"),
        REDIS_URL=private_redis.url,
        SWITCHBOARD_PERFORMANCE__TURN_TIMEOUT_S=str(TURN_TIMEOUT_S),
        SWITCHBOARD_CIRCUIT_BREAKER__RESET_TIMEOUT_S=str(BREAKER_RESET_S),
    ) as server:
        yield server


async def test_a_ten_second_redis_outage_costs_the_caller_no_answer(
    on_private_redis: RunningSwitchboard, private_redis: LocalRedis
) -> None:
    server = on_private_redis
    await warm_pool(server, 1)
    async with live_text_call(server, from_number="+15550141") as call:
        for line in BEFORE:
            assert (await call.say(line)).sentences
        private_redis.stop()
        stopped = time.monotonic()
        for line in DURING:
            heard = await asyncio.wait_for(call.say(line), TURN_TIMEOUT_S + 5)
            assert heard.sentences, f"no answer to {line!r} while Redis was down"
            await asyncio.sleep(OUTAGE_S / len(DURING) - heard.waited_s)
        await asyncio.sleep(max(0.0, OUTAGE_S - (time.monotonic() - stopped)))
        private_redis.start()
        await asyncio.sleep(BREAKER_RESET_S + 1)
        for line in AFTER:
            heard = await call.say(line)
            assert heard.sentences or heard.hung_up
            if heard.hung_up:
                break
        if not heard.hung_up:
            assert (await call.agent_turn()).hung_up
    report = await final_report(server, call.call_sid)
    assert report["status"] == "completed"
    assert report["outcome"] == "qualified", report["turns"]
    assert report["facts"]["budget_usd"] == 70000
    assert [turn["user_text"] for turn in report["turns"]] == [*BEFORE, *DURING, *AFTER]
    # While Redis was down the direct path answered; once it was back the agents did,
    # from the state the direct path had reached.
    assert any(turn["fallback"] for turn in report["turns"][len(BEFORE):][: len(DURING)])
    assert not report["turns"][-1]["fallback"]
    await _budget_counters_match(server, call.call_sid, report)


async def _budget_counters_match(server: RunningSwitchboard, call_sid: str, report: dict) -> None:
    """The ledger (which lived through the restart on AOF) says what the record says."""
    redis = aioredis.from_url(server.redis_url, decode_responses=True)
    try:
        call = await redis.hgetall(f"{server.redis_prefix}:budget:call:{call_sid}")
        days = [key async for key in redis.scan_iter(f"{server.redis_prefix}:budget:day:*")]
        day_cost = sum([int(await redis.hget(day, "cost") or 0) for day in days])
    finally:
        await redis.aclose()
    call_cost = Decimal(call["cost"]) / 1_000_000
    assert call_cost == Decimal(str(report["cost_usd"])).quantize(Decimal("0.000001"))
    # The only call on this Redis: the day's total is its cost, counted once.
    assert day_cost == int(call["cost"])
    assert call_cost > 0

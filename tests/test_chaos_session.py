"""Chaos: a call's session actor is SIGKILLed mid-call, and the call goes on.

20 text calls (the public scenarios, played again and again) and 2 audio calls each lose
their session actor at a random moment: between two turns, or between the caller's line
and the agent's answer. Every call still reaches its expected outcome and facts, its
record counts the recovery (`recovered` = 1) and says what failed and how long the
caller waited. In one audio call the kill lands after the caller finished a sentence and
before the agent answered it: that sentence is still answered.

A session actor frozen (SIGSTOP) for longer than the deadline and its liveness check is
taken for hung and its call moves; one frozen for less (a busy machine starving it) is
only late, and keeps its call.

A call made unresumable on purpose (its checkpoint deleted, then its actor killed) ends
`failed` within the grace period, and its premium hold is returned.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import time
from collections.abc import Iterator

import pytest
import redis.asyncio as aioredis

from switchboard.caller.turns import TurnObserver
from switchboard.caller.twilio_protocol import new_sid
from switchboard.scenario import Hangup, Scenario, load_scenario
from tests.chaos import (
    call_started,
    final_report,
    kill_serving,
    play_text_call,
    registry_entry,
    serving_pid,
    warm_pool,
)
from tests.e2e import (
    SCENARIO_FILES,
    SCENARIOS,
    RunningSwitchboard,
    assert_report_meets_expectations,
    live_text_call,
    run_switchboard,
)

pytestmark = [
    pytest.mark.slow,
]

TEXT_CALLS = 20
TEXT_CALLS_AT_ONCE = 3
# Every call takes a warm actor, and every kill another for the replacement; when the
# pool runs dry a text call simply waits for a cold one.
WARM_POOL = 3
GRACE_S = 12.0


@pytest.fixture(scope="module")
def chaos_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSwitchboard]:
    with run_switchboard(
        tmp_path_factory.mktemp("chaos-session"),
        SWITCHBOARD_PERFORMANCE__WARM_POOL_SIZE=str(WARM_POOL),
        SWITCHBOARD_RECOVERY__RESUME_GRACE_S=str(GRACE_S),
        SWITCHBOARD_RECOVERY__SWEEP_INTERVAL_S="1",
    ) as server:
        yield server


def _assert_recovered_once(report: dict) -> None:
    assert report["recovered"] == 1, report["errors"]
    lines = [error for error in report["errors"] if "resumed on" in error]
    assert len(lines) == 1, report["errors"]
    assert "session actor" in lines[0] and "failed" in lines[0]
    assert "waited" in lines[0], lines[0]


async def _text_call_losing_its_actor(
    server: RunningSwitchboard, scenario: Scenario, rng: random.Random
) -> dict:
    spoken = [i for i, line in enumerate(scenario.lines) if not isinstance(line, Hangup)]
    # A scenario's last line may come after the agent has ended the call (the voicemail's
    # silence, the opt-out's goodbye): a kill there would find no call to kill.
    before_line = rng.choice(spoken[:-1] or spoken)
    call_sid = new_sid("CA")
    # Between two turns (the actor dies while the caller thinks), or at the moment the
    # caller speaks (the line reaches an actor that is already dead).
    pause_s = rng.choice([rng.uniform(0.05, 0.6), 0.0])

    async def fault() -> None:
        await call_started(server, call_sid)
        await kill_serving(server, call_sid)
        await asyncio.sleep(pause_s)

    await play_text_call(server, scenario, call_sid, before_line=before_line, fault=fault)
    report = await final_report(server, call_sid)
    return report


@pytest.mark.timeout(900)
async def test_twenty_text_calls_each_lose_their_actor_and_reach_their_outcome(
    chaos_server: RunningSwitchboard,
) -> None:
    await warm_pool(chaos_server, WARM_POOL)
    rng = random.Random(7)
    scenarios = [load_scenario(path) for path in SCENARIO_FILES]
    plays = [scenarios[i % len(scenarios)] for i in range(TEXT_CALLS)]
    reports: list[tuple[Scenario, dict]] = []
    for start in range(0, TEXT_CALLS, TEXT_CALLS_AT_ONCE):
        batch = plays[start : start + TEXT_CALLS_AT_ONCE]
        results = await asyncio.gather(
            *(_text_call_losing_its_actor(chaos_server, s, rng) for s in batch)
        )
        reports += zip(batch, results, strict=True)
    for scenario, report in reports:
        assert report["status"] == "completed", (scenario.name, report["errors"])
        assert_report_meets_expectations(report, scenario)
        _assert_recovered_once(report)


@pytest.mark.timeout(300)
async def test_an_audio_sentence_cut_off_from_its_answer_by_a_crash_is_still_answered(
    chaos_server: RunningSwitchboard,
) -> None:
    await warm_pool(chaos_server, 2)
    scenario = load_scenario(SCENARIOS / "qualified-ops-director.yaml")
    budget_line = next(line for line in scenario.lines if "budget" in str(line))
    call_sid = new_sid("CA")
    killed = asyncio.Event()
    kills: list[asyncio.Task] = []

    async def kill_before_the_answer() -> None:
        # The caller has just finished; the VAD waits 0.5 s of silence before the turn
        # ends, so the agent cannot have answered yet.
        await asyncio.sleep(0.15)
        await kill_serving(chaos_server, call_sid)
        killed.set()

    def on_caller_turn(line: str) -> None:
        if line == budget_line and not kills:
            kills.append(asyncio.create_task(kill_before_the_answer()))

    await chaos_server.call(
        scenario, text=False, call_sid=call_sid,
        observer=TurnObserver(on_caller_turn=on_caller_turn),
    )
    assert killed.is_set()
    report = await final_report(chaos_server, call_sid)
    assert_report_meets_expectations(report, scenario)
    _assert_recovered_once(report)
    # The budget was stated once, to the actor that died, and heard by its replacement.
    assert report["facts"]["budget_usd"] == 50000


@pytest.mark.timeout(300)
async def test_an_audio_call_losing_its_actor_at_a_random_moment_reaches_its_outcome(
    chaos_server: RunningSwitchboard,
) -> None:
    await warm_pool(chaos_server, 2)
    scenario = load_scenario(SCENARIOS / "nurture-not-decider.yaml")
    call_sid = new_sid("CA")
    started = time.monotonic()
    delay_s = random.Random(11).uniform(4.0, 20.0)

    async def kill_later() -> None:
        await asyncio.sleep(delay_s)
        await kill_serving(chaos_server, call_sid)

    killer = asyncio.create_task(kill_later())
    await chaos_server.call(scenario, text=False, call_sid=call_sid)
    assert killer.done() and killer.exception() is None, (
        f"the call ended after {time.monotonic() - started:.1f} s, before the kill at "
        f"{delay_s:.1f} s"
    )
    report = await final_report(chaos_server, call_sid)
    assert_report_meets_expectations(report, scenario)
    _assert_recovered_once(report)


async def _text_call_whose_actor_freezes(
    server: RunningSwitchboard, frozen_s: float
) -> dict:
    """A qualified lead's text call whose actor is stopped (SIGSTOP) for `frozen_s` just
    before the caller states the budget; returns its final report."""
    scenario = load_scenario(SCENARIOS / "qualified-ops-director.yaml")
    before_line = next(i for i, line in enumerate(scenario.lines) if "budget" in str(line))
    call_sid = new_sid("CA")
    thawed: list[asyncio.Task] = []

    async def thaw_later(pid: int) -> None:
        await asyncio.sleep(frozen_s)
        with contextlib.suppress(ProcessLookupError):  # taken for hung and killed
            os.kill(pid, signal.SIGCONT)

    async def freeze() -> None:
        await call_started(server, call_sid)
        pid = await serving_pid(server, call_sid)
        os.kill(pid, signal.SIGSTOP)
        thawed.append(asyncio.create_task(thaw_later(pid)))

    try:
        await play_text_call(server, scenario, call_sid, before_line=before_line, fault=freeze)
    finally:
        await asyncio.gather(*thawed)
    assert thawed, "the call ended before its actor was frozen"
    report = await final_report(server, call_sid)
    assert_report_meets_expectations(report, scenario)
    assert report["facts"]["budget_usd"] == 50000
    return report


@pytest.mark.timeout(300)
async def test_an_actor_frozen_past_its_liveness_check_is_taken_for_hung_and_its_call_moves(
    chaos_server: RunningSwitchboard,
) -> None:
    await warm_pool(chaos_server, 2)
    # 3 s without an answer, then 3 s for the liveness check: a process frozen for 20 s
    # answers neither.
    report = await _text_call_whose_actor_freezes(chaos_server, frozen_s=20)
    _assert_recovered_once(report)
    assert "no answer" in next(e for e in report["errors"] if "resumed on" in e)


@pytest.mark.timeout(300)
async def test_an_actor_late_but_alive_keeps_its_call(
    chaos_server: RunningSwitchboard,
) -> None:
    await warm_pool(chaos_server, 2)
    # Past the 3 s deadline, within the liveness check's: the process answers that it
    # is alive, and the call waits for it rather than moving.
    report = await _text_call_whose_actor_freezes(chaos_server, frozen_s=4.5)
    assert report["recovered"] == 0, report["errors"]
    assert report["status"] == "completed"


async def test_a_call_that_cannot_be_resumed_ends_failed_and_returns_its_hold(
    chaos_server: RunningSwitchboard,
) -> None:
    await warm_pool(chaos_server, 2)
    server = chaos_server
    redis = aioredis.from_url(server.redis_url, decode_responses=True)
    try:
        async with live_text_call(server, from_number="+15550117") as call:
            await call.say("Hi, this is Kai.")
            await call.say("Sure, go ahead.")
            await call.say("We spend about two hundred thousand dollars a year on this.")
            budget_key = f"{server.redis_prefix}:budget:call:{call.call_sid}"
            async with asyncio.timeout(20):  # the premium grant follows the turn
                while await redis.hget(budget_key, "tier") != "premium":
                    await asyncio.sleep(0.1)
            assert int(await redis.hget(budget_key, "held") or 0) > 0
            await redis.delete(f"{server.redis_prefix}:session:{call.call_sid}")
            killed_at = time.monotonic()
            await kill_serving(server, call.call_sid)
            report = await final_report(server, call.call_sid, timeout_s=GRACE_S)
        assert time.monotonic() - killed_at < GRACE_S
        assert report["status"] == "failed"
        assert report["outcome"] == "abandoned"
        assert any("could not be resumed" in error for error in report["errors"])
        assert report["facts"]["budget_usd"] == 200000  # what the record already had
        assert int(await redis.hget(budget_key, "held") or 0) == 0
        entry = await registry_entry(server, call.call_sid)
        assert entry["state"] == "ended"
    finally:
        await redis.aclose()

"""Against a real `serve run`: phone calls with audio, as Twilio carries them.

The caller speaks with eSpeak NG in real-time 20 ms μ-law frames; Switchboard hears
it with Silero VAD and PocketSphinx, answers, and speaks back with eSpeak NG.
"""

from __future__ import annotations

import asyncio
import json
import os
import time

import redis.asyncio as aioredis

from switchboard.caller.speech import synthesize_ulaw
from switchboard.scenario import load_scenario
from tests.e2e import SCENARIOS, RunningSwitchboard, live_audio_call


async def test_qualified_ops_director_qualifies_over_audio(switchboard: RunningSwitchboard) -> None:
    scenario = load_scenario(SCENARIOS / "qualified-ops-director.yaml")
    result = await switchboard.call(scenario, text=False)
    report = await switchboard.report(result.call_sid)
    assert report["outcome"] == "qualified", json.dumps(report["turns"], indent=1)
    assert report["facts"]["budget_usd"] == 50000
    assert report["facts"]["decision_maker"] is True
    assert report["facts"]["timeline_months"] == 3
    # A turn's latency runs from the end of the caller's speech to the reply's first
    # audio; a reply overtaken by the caller's next turn before its audio started has
    # none. CI, with the cluster drills beside this test, once saw one such turn (a
    # line heard as two turns is one way it happens); one is allowed, no more.
    untimed = [turn for turn in report["turns"][:-1] if not turn["latency_ms"]]
    assert report["turns"] and len(untimed) <= 1, json.dumps(report["turns"], indent=1)
    assert report["cost_breakdown"]["tts"] > 0 and report["cost_breakdown"]["stt"] > 0
    assert result.first_agent_audio_ms is not None


async def test_a_live_media_stream_runs_through_haproxy_to_its_ingress_replica(
    switchboard: RunningSwitchboard,
) -> None:
    """Serve's Python proxy relays nothing of a call: HAProxy holds the socket open to
    the ingress replica's own port for as long as the call lasts."""
    async with live_audio_call(switchboard) as call:
        while (await call.next_event())["event"] != "media":
            pass
        servers = await asyncio.to_thread(switchboard.haproxy_servers)
        await call.hang_up()
    replicas = {n: s for n, s in servers.items() if n.startswith("SERVE_REPLICA_")}
    fallback = {n: s for n, s in servers.items() if n.startswith("SERVE_PROXY_ACTOR")}
    assert replicas and fallback, servers
    assert sum(int(s["scur"]) for s in replicas.values()) >= 1, replicas
    assert all(s["status"] == "UP" for s in replicas.values()), replicas
    assert sum(int(s["stot"]) for s in fallback.values()) == 0, fallback


async def _registry_entry(switchboard: RunningSwitchboard, call_sid: str) -> dict:
    redis = aioredis.from_url(switchboard.redis_url, decode_responses=True)
    try:
        return await redis.hgetall(f"{switchboard.redis_prefix}:call:{call_sid}")
    finally:
        await redis.aclose()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def test_caller_hanging_up_mid_sentence_records_abandoned_and_frees_the_actor(
    switchboard: RunningSwitchboard,
) -> None:
    ulaw = await synthesize_ulaw(
        "Hello, yes, this is Robin, and I wanted to ask about your pricing"
    )
    recycled = (await switchboard.health())["sessions_recycled"]
    async with live_audio_call(switchboard) as call:
        # Wait for the greeting to start, then talk over it and hang up mid-sentence.
        while (await call.next_event())["event"] != "media":
            pass
        pid = int((await _registry_entry(switchboard, call.call_sid))["pid"])
        await call.speak(ulaw[: len(ulaw) // 2])
        await call.hang_up()
    hung_up = time.monotonic()

    async def freed() -> bool:
        # The count is the server's: another test's call may have freed its actor
        # meanwhile, so this call's own entry must be ended too (it is, before its actor
        # is handed back). Kept, marked ended, so a late reconnect is hung up, not resumed.
        entry = await _registry_entry(switchboard, call.call_sid)
        health = await switchboard.health()
        return entry.get("state") == "ended" and health["sessions_recycled"] > recycled

    while not await freed():
        # A bound, not a speed target: a loaded CI machine took 5.6 s.
        assert time.monotonic() - hung_up < 20.0, "the call's actor was not freed in 20 s"
        await asyncio.sleep(0.1)
    report = await switchboard.report(call.call_sid, timeout_s=5)
    assert report["outcome"] == "abandoned"
    assert report["status"] == "completed"

    # Freed, not killed: the process waits in the pool for another call.
    assert _alive(pid)

"""Against a real `serve run`: phone calls with audio, as Twilio carries them.

The caller speaks with eSpeak NG in real-time 20 ms μ-law frames; Switchboard hears
it with Silero VAD and PocketSphinx, answers, and speaks back with eSpeak NG.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import time

import httpx
import pytest
import redis.asyncio as aioredis
import websockets

from switchboard.caller.signing import stream_handshake_signature, webhook_signature
from switchboard.caller.speech import synthesize_ulaw
from switchboard.caller.twilio_protocol import (
    CallParties,
    connected_message,
    media_message,
    new_sid,
    parse_twiml,
    start_message,
    stop_message,
    voice_webhook_params,
)
from switchboard.scenario import load_scenario
from tests.e2e import SCENARIOS, RunningSwitchboard

FRAME_BYTES = 160  # 20 ms of 8 kHz μ-law


@pytest.mark.skipif(
    not SCENARIOS.is_dir(), reason="../shared/scenarios is not beside this checkout"
)
async def test_qualified_ops_director_qualifies_over_audio(switchboard: RunningSwitchboard) -> None:
    scenario = load_scenario(SCENARIOS / "qualified-ops-director.yaml")
    result = await switchboard.call(scenario, text=False)
    report = await switchboard.report(result.call_sid)
    assert report["outcome"] == "qualified", json.dumps(report["turns"], indent=1)
    assert report["facts"]["budget_usd"] == 50000
    assert report["facts"]["decision_maker"] is True
    assert report["facts"]["timeline_months"] == 3
    assert report["turns"] and all(turn["latency_ms"] for turn in report["turns"][:-1])
    assert report["cost_breakdown"]["tts"] > 0 and report["cost_breakdown"]["stt"] > 0
    assert result.first_agent_audio_ms is not None


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


async def test_caller_hanging_up_mid_sentence_ends_the_actor_and_records_abandoned(
    switchboard: RunningSwitchboard,
) -> None:
    parties = CallParties(new_sid("CA"), switchboard.account_sid, "inbound", "+15553", "+15552")
    params = voice_webhook_params(parties)
    url = f"{switchboard.base_url}/twilio/voice"
    async with httpx.AsyncClient() as client:
        twiml = await client.post(
            url,
            data=params,
            headers={"X-Twilio-Signature": webhook_signature(switchboard.auth_token, url, params)},
        )
    answer = parse_twiml(twiml.text)
    stream_sid = new_sid("MZ")
    headers = {"X-Twilio-Signature": stream_handshake_signature(switchboard.auth_token, answer.url)}
    ulaw = await synthesize_ulaw(
        "Hello, yes, this is Robin, and I wanted to ask about your pricing"
    )
    half = ulaw[: len(ulaw) // 2]

    async with websockets.connect(answer.url, additional_headers=headers) as ws:
        await ws.send(json.dumps(connected_message()))
        await ws.send(
            json.dumps(
                start_message(stream_sid, parties.call_sid, parties.account_sid, answer.parameters)
            )
        )
        # Wait for the greeting to start, then talk over it and hang up mid-sentence.
        while json.loads(await ws.recv())["event"] != "media":
            pass
        entry = await _registry_entry(switchboard, parties.call_sid)
        pid = int(entry["pid"])
        assert _alive(pid)
        started = time.monotonic()
        for chunk in range(0, len(half), FRAME_BYTES):
            payload = base64.b64encode(half[chunk : chunk + FRAME_BYTES]).decode()
            await ws.send(
                json.dumps(media_message(stream_sid, chunk // FRAME_BYTES + 1, chunk // 8, payload))
            )
            await asyncio.sleep(max(0.0, started + (chunk + FRAME_BYTES) / 8000 - time.monotonic()))
        await ws.send(json.dumps(stop_message(stream_sid, parties.call_sid, parties.account_sid)))
    hung_up = time.monotonic()

    while _alive(pid) and time.monotonic() - hung_up < 5.0:
        await asyncio.sleep(0.1)
    assert not _alive(pid), "the session actor outlived the call by 5 s"
    assert await _registry_entry(switchboard, parties.call_sid) == {}
    report = await switchboard.report(parties.call_sid, timeout_s=5)
    assert report["outcome"] == "abandoned"
    assert report["status"] == "completed"

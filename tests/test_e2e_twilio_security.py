"""Against a real `serve run`: nothing unsigned gets in, and a broken stream disturbs
no other call."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
import redis.asyncio as aioredis
import websockets

from switchboard.caller.signing import stream_handshake_signature, webhook_signature
from switchboard.caller.twilio_protocol import (
    CallParties,
    connected_message,
    new_sid,
    parse_twiml,
    start_message,
    voice_webhook_params,
)
from tests.e2e import RunningSwitchboard

SIGNATURE = "X-Twilio-Signature"


def _webhook(switchboard: RunningSwitchboard) -> dict[str, str]:
    parties = CallParties(new_sid("CA"), switchboard.account_sid, "inbound", "+15551", "+15552")
    return voice_webhook_params(parties)


async def _health(switchboard: RunningSwitchboard) -> dict:
    async with httpx.AsyncClient(base_url=switchboard.base_url) as client:
        return (await client.get("/healthz")).json()


async def _settled_spawn_count(switchboard: RunningSwitchboard) -> int:
    # The warm pool refills in the background; wait until it is full and still.
    for _ in range(120):
        health = await _health(switchboard)
        if health.get("warm", 0) >= 1:
            return health["sessions_spawned"]
        await asyncio.sleep(0.5)
    raise AssertionError(f"warm pool never filled: {health}")


async def _stream_tokens(switchboard: RunningSwitchboard) -> int:
    redis = aioredis.from_url(switchboard.redis_url)
    try:
        return len(await redis.keys(f"{switchboard.redis_prefix}:stream-token:*"))
    finally:
        await redis.aclose()


async def _signed_twiml(switchboard: RunningSwitchboard, params: dict[str, str]):
    url = f"{switchboard.base_url}/twilio/voice"
    headers = {SIGNATURE: webhook_signature(switchboard.auth_token, url, params)}
    async with httpx.AsyncClient() as client:
        response = await client.post(url, data=params, headers=headers)
    assert response.status_code == 200
    return parse_twiml(response.text)


@pytest.mark.parametrize("signature", [None, "Zm9yZ2VkIHNpZ25hdHVyZQ==", "wrong-token"])
async def test_forged_or_missing_webhook_signature_gets_403_and_starts_nothing(
    switchboard: RunningSwitchboard, signature: str | None
) -> None:
    spawned = await _settled_spawn_count(switchboard)
    tokens = await _stream_tokens(switchboard)
    params = _webhook(switchboard)
    url = f"{switchboard.base_url}/twilio/voice"
    headers = {}
    if signature == "wrong-token":
        headers[SIGNATURE] = webhook_signature("not-the-auth-token", url, params)
    elif signature:
        headers[SIGNATURE] = signature
    async with httpx.AsyncClient() as client:
        response = await client.post(url, data=params, headers=headers)
        status = await client.post(
            f"{switchboard.base_url}/twilio/status", data=params, headers=headers
        )
    assert response.status_code == 403 and status.status_code == 403
    assert "<Stream" not in response.text
    assert await _stream_tokens(switchboard) == tokens
    assert (await _health(switchboard))["sessions_spawned"] == spawned


async def test_a_signed_webhook_gets_a_stream_with_a_one_time_token(
    switchboard: RunningSwitchboard,
) -> None:
    answer = await _signed_twiml(switchboard, _webhook(switchboard))
    assert answer.url.endswith("/twilio/stream") and answer.url.startswith("ws://")
    assert len(answer.parameters["token"]) >= 24


async def test_unsigned_stream_handshake_is_refused(switchboard: RunningSwitchboard) -> None:
    answer = await _signed_twiml(switchboard, _webhook(switchboard))
    spawned = await _settled_spawn_count(switchboard)
    for headers in ({}, {SIGNATURE: stream_handshake_signature("forged", answer.url)}):
        with pytest.raises(websockets.InvalidStatus) as refused:
            async with websockets.connect(answer.url, additional_headers=headers):
                pass
        assert refused.value.response.status_code == 403
    assert (await _health(switchboard))["sessions_spawned"] == spawned


async def _open_stream(switchboard: RunningSwitchboard, url: str):
    headers = {SIGNATURE: stream_handshake_signature(switchboard.auth_token, url)}
    return await websockets.connect(url, additional_headers=headers)


async def test_stream_with_a_wrong_or_reused_token_is_closed_before_any_audio(
    switchboard: RunningSwitchboard,
) -> None:
    params = _webhook(switchboard)
    answer = await _signed_twiml(switchboard, params)
    spawned = await _settled_spawn_count(switchboard)
    for token in ("made-up-token", None):
        ws = await _open_stream(switchboard, answer.url)
        custom = {"token": token} if token else {}
        await ws.send(json.dumps(connected_message()))
        await ws.send(json.dumps(start_message(new_sid("MZ"), params["CallSid"], "AC1", custom)))
        await ws.wait_closed()
        assert ws.close_code == 1008 and "invalid stream token" in ws.close_reason
    assert (await _health(switchboard))["sessions_spawned"] == spawned

    # The right token works once; a replay of it is refused.
    ws = await _open_stream(switchboard, answer.url)
    await ws.send(json.dumps(connected_message()))
    await ws.send(
        json.dumps(start_message(new_sid("MZ"), params["CallSid"], "AC1", answer.parameters))
    )
    replay = await _open_stream(switchboard, answer.url)
    await replay.send(json.dumps(connected_message()))
    await replay.send(
        json.dumps(start_message(new_sid("MZ"), params["CallSid"], "AC1", answer.parameters))
    )
    await replay.wait_closed()
    assert replay.close_code == 1008
    await ws.close()


async def test_garbage_on_a_media_stream_closes_it_while_another_call_goes_on(
    switchboard: RunningSwitchboard,
) -> None:
    text_url = switchboard.base_url.replace("http", "ws") + "/v1/text/stream"
    auth = {"Authorization": f"Bearer {switchboard.api_token}"}
    async with websockets.connect(text_url, additional_headers=auth) as other:
        await other.send(json.dumps({"event": "start", "callSid": new_sid("CA"), "from": "+1555"}))
        greeting = json.loads(await other.recv())
        assert greeting["event"] == "agent"

        for garbage in ("{oops", json.dumps({"event": "teleport"}), "x" * 100_000):
            answer = await _signed_twiml(switchboard, _webhook(switchboard))
            ws = await _open_stream(switchboard, answer.url)
            await ws.send(json.dumps(connected_message()))
            await ws.send(garbage)
            await ws.wait_closed()
            assert ws.close_code == 1008, garbage[:20]

        await other.send(json.dumps({"event": "text", "text": "Hi, this is Sam."}))
        events: list[dict] = []
        while sum(e["event"] == "turn_end" for e in events) < 2:
            events.append(json.loads(await asyncio.wait_for(other.recv(), 10)))
        assert events[-2]["event"] == "agent"

"""Against a real `serve run`: nothing unsigned gets in, and a broken stream disturbs
no other call."""

from __future__ import annotations

import asyncio
import contextlib
import json

import asyncpg
import httpx
import pytest
import redis.asyncio as aioredis
import websockets

from switchboard.caller.signing import stream_handshake_signature, webhook_signature
from switchboard.caller.twilio_protocol import (
    CallParties,
    EndAnswer,
    connected_message,
    new_sid,
    start_message,
    voice_webhook_params,
)
from tests.e2e import RunningSwitchboard, live_text_call, voice_webhook

SIGNATURE = "X-Twilio-Signature"


def _webhook(switchboard: RunningSwitchboard) -> dict[str, str]:
    parties = CallParties(new_sid("CA"), switchboard.account_sid, "inbound", "+15551", "+15552")
    return voice_webhook_params(parties)


async def _settled_spawn_count(switchboard: RunningSwitchboard) -> int:
    # The warm pool refills in the background (a signed webhook sets an actor aside and
    # raises its target); wait until it is full and still, twice in a row.
    settled = 0
    for _ in range(240):
        health = await switchboard.health()
        full = health["starting"] == 0 and health["warm"] >= max(1, health["target"])
        settled = settled + 1 if full else 0
        if settled == 2:
            return health["sessions_spawned"]
        await asyncio.sleep(0.5)
    raise AssertionError(f"warm pool never filled: {health}")


async def _stream_tokens(switchboard: RunningSwitchboard) -> int:
    redis = aioredis.from_url(switchboard.redis_url)
    try:
        return len(await redis.keys(f"{switchboard.redis_prefix}:stream-token:*"))
    finally:
        await redis.aclose()


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
    assert (await switchboard.health())["sessions_spawned"] == spawned


async def test_a_signed_webhook_gets_a_stream_with_a_one_time_token(
    switchboard: RunningSwitchboard,
) -> None:
    answer = await voice_webhook(switchboard, _webhook(switchboard))
    assert answer.url.endswith("/twilio/stream") and answer.url.startswith("ws://")
    assert len(answer.parameters["token"]) >= 24


async def test_unsigned_stream_handshake_is_refused(switchboard: RunningSwitchboard) -> None:
    answer = await voice_webhook(switchboard, _webhook(switchboard))
    spawned = await _settled_spawn_count(switchboard)
    for headers in ({}, {SIGNATURE: stream_handshake_signature("forged", answer.url)}):
        with pytest.raises(websockets.InvalidStatus) as refused:
            async with websockets.connect(answer.url, additional_headers=headers):
                pass
        assert refused.value.response.status_code == 403
    assert (await switchboard.health())["sessions_spawned"] == spawned


async def _open_stream(switchboard: RunningSwitchboard, url: str):
    headers = {SIGNATURE: stream_handshake_signature(switchboard.auth_token, url)}
    return await websockets.connect(url, additional_headers=headers)


async def test_stream_with_a_wrong_or_reused_token_is_closed_before_any_audio(
    switchboard: RunningSwitchboard,
) -> None:
    params = _webhook(switchboard)
    answer = await voice_webhook(switchboard, params)
    spawned = await _settled_spawn_count(switchboard)
    for token in ("made-up-token", None):
        ws = await _open_stream(switchboard, answer.url)
        custom = {"token": token} if token else {}
        await ws.send(json.dumps(connected_message()))
        await ws.send(json.dumps(start_message(new_sid("MZ"), params["CallSid"], "AC1", custom)))
        await ws.wait_closed()
        assert ws.close_code == 1008 and "invalid stream token" in ws.close_reason
    assert (await switchboard.health())["sessions_spawned"] == spawned

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
            answer = await voice_webhook(switchboard, _webhook(switchboard))
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


async def test_streams_that_never_start_are_closed_and_a_flood_of_them_is_capped(
    switchboard: RunningSwitchboard,
) -> None:
    url = switchboard.base_url.replace("http", "ws") + "/twilio/stream"
    headers = {SIGNATURE: stream_handshake_signature(switchboard.auth_token, url)}
    # All at once: each may wait for its `start` only 5 s.
    idle = await asyncio.gather(
        *(websockets.connect(url, additional_headers=headers) for _ in range(8))
    )
    # The cap is reached: one more is closed at once, asking to try again.
    extra = await websockets.connect(url, additional_headers=headers)
    await asyncio.wait_for(extra.wait_closed(), 5)
    assert extra.close_code == 1013
    # Each idle socket is closed once its time to start has run out...
    for ws in idle:
        await asyncio.wait_for(ws.wait_closed(), 30)
        assert ws.close_code == 1008 and "start" in ws.close_reason
    # ...and the places they held are free again for real calls.
    text_url = switchboard.base_url.replace("http", "ws") + "/v1/text/stream"
    auth = {"Authorization": f"Bearer {switchboard.api_token}"}
    async with websockets.connect(text_url, additional_headers=auth) as call:
        await call.send(json.dumps({"event": "start", "callSid": new_sid("CA"), "from": "+1"}))
        assert json.loads(await asyncio.wait_for(call.recv(), 30))["event"] == "agent"


async def test_a_media_stream_that_goes_quiet_is_closed_as_idle(
    switchboard: RunningSwitchboard,
) -> None:
    params = _webhook(switchboard)
    answer = await voice_webhook(switchboard, params)
    ws = await _open_stream(switchboard, answer.url)
    await ws.send(json.dumps(connected_message()))
    await ws.send(
        json.dumps(start_message(new_sid("MZ"), params["CallSid"], "AC1", answer.parameters))
    )
    # Twilio sends a frame every 20 ms; this stream sends nothing more.
    async with asyncio.timeout(30):
        with contextlib.suppress(websockets.ConnectionClosed):
            while True:
                await ws.recv()
    assert ws.close_code == 1008 and ws.close_reason == "idle"


async def test_a_text_call_cannot_take_the_callsid_of_a_live_call(
    switchboard: RunningSwitchboard,
) -> None:
    async with live_text_call(switchboard, from_number="+15550151") as call:
        text_url = switchboard.base_url.replace("http", "ws") + "/v1/text/stream"
        auth = {"Authorization": f"Bearer {switchboard.api_token}"}
        async with websockets.connect(text_url, additional_headers=auth) as hijack:
            await hijack.send(
                json.dumps({"event": "start", "callSid": call.call_sid, "from": "+1999"})
            )
            await asyncio.wait_for(hijack.wait_closed(), 10)
        assert hijack.close_code == 1008 and "already known" in hijack.close_reason
        assert (await call.say("Hi, this is Lou.")).sentences


async def test_an_outbound_call_to_a_do_not_call_number_is_hung_up_and_recorded(
    switchboard: RunningSwitchboard,
) -> None:
    lead = "+15550176543"
    db = await asyncpg.connect(switchboard.database_url)
    try:
        await db.execute(
            "INSERT INTO do_not_call (number) VALUES ($1) ON CONFLICT DO NOTHING", lead
        )
    finally:
        await db.close()
    parties = CallParties(new_sid("CA"), switchboard.account_sid, "outbound", "+15557650000", lead)
    answer = await voice_webhook(switchboard, voice_webhook_params(parties))
    assert isinstance(answer, EndAnswer) and answer.kind == "hangup"
    report = await switchboard.report(parties.call_sid)
    assert report["outcome"] == "opted_out"
    assert any("do-not-call" in error and "blocked" in error for error in report["errors"])

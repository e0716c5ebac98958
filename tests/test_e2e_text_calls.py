"""Against a real `serve run`: calls in text mode reach their outcomes, and the call
report holds what the caller said and what the agents did."""

from __future__ import annotations

import json

import httpx
import pytest
import websockets

from db.pool import create_pool
from db.queries import is_do_not_call
from switchboard.scenario import load_scenario, parse_scenario
from tests.e2e import (
    SCENARIO_FILES,
    RunningSwitchboard,
    assert_report_meets_expectations,
)


@pytest.mark.parametrize("path", SCENARIO_FILES, ids=lambda p: p.stem)
async def test_public_scenario_reaches_its_outcome_in_text_mode(
    switchboard: RunningSwitchboard, path
) -> None:
    scenario = load_scenario(path)
    result = await switchboard.call(scenario, text=True)
    report = await switchboard.report(result.call_sid)
    assert_report_meets_expectations(report, scenario)
    spoken = [line for line in scenario.lines if isinstance(line, str)]
    recorded = [turn["user_text"] for turn in report["turns"]]
    assert [line for line in spoken if line in recorded] == spoken[: len(recorded)]


async def test_report_of_a_call_carries_turns_transitions_and_cost(
    switchboard: RunningSwitchboard,
) -> None:
    scenario = parse_scenario(
        {
            "name": "report-shape",
            "from": "+15551234567",
            "to": "+15557650000",
            "lines": [
                "Hi, Jordan here.",
                "Sure.",
                "We miss calls at night and lose customers.",
                "About seventy five k a year.",
                "I am the owner.",
                "Next month.",
                {"dtmf": "1"},
                "Nope, that's everything.",
            ],
        }
    )
    result = await switchboard.call(scenario, text=True)
    report = await switchboard.report(result.call_sid)
    assert report["outcome"] == "qualified"
    assert report["qualification_score"] == 1.0
    assert report["facts"]["budget_usd"] == 75000
    assert report["facts"]["meeting_time"]
    agents = [t["to_agent"] for t in report["transitions"]]
    assert agents[0] == "greeter" and "scheduler" in agents
    assert all(turn["latency_ms"] is not None for turn in report["turns"])
    assert any(turn["user_text"] == "[pressed 1]" for turn in report["turns"])
    assert set(report["cost_breakdown"]) == {"telephony", "stt", "llm", "tts"}
    assert report["cost_usd"] == pytest.approx(sum(report["cost_breakdown"].values()), abs=1e-4)
    assert report["fallback_turns"] == 0 and report["recovered"] == 0
    # What it ran on: serve_config.yaml's live settings, no flags, this code.
    assert report["config_version"] == "1" and report["flags"] == {}
    assert report["app"] == "switchboard" and report["app_version"].startswith("0.1.0")
    assert report["trace_id"] is None


async def test_the_config_api_shows_the_live_settings_served(
    switchboard: RunningSwitchboard,
) -> None:
    async with httpx.AsyncClient(base_url=switchboard.base_url) as client:
        missing = await client.get("/v1/config")
        served = await client.get(
            "/v1/config", headers={"Authorization": f"Bearer {switchboard.api_token}"}
        )
    assert missing.status_code == 401
    body = served.json()
    assert body["app"] == "switchboard" and body["version"] == "1"
    assert body["user_config"]["canary"] == {"percent": 0, "route_prefix": "/canary"}
    assert body["kill_switch"] is False and body["rejected"] is None


async def test_call_api_needs_the_bearer_token(switchboard: RunningSwitchboard) -> None:
    async with httpx.AsyncClient(base_url=switchboard.base_url) as client:
        missing = await client.get("/v1/calls/CA123")
        wrong = await client.get("/v1/calls/CA123", headers={"Authorization": "Bearer nope"})
        unknown = await client.get(
            "/v1/calls/CA123", headers={"Authorization": f"Bearer {switchboard.api_token}"}
        )
    assert missing.status_code == 401 and wrong.status_code == 401
    assert unknown.status_code == 404


async def test_text_stream_without_the_token_is_refused(switchboard: RunningSwitchboard) -> None:
    url = switchboard.base_url.replace("http", "ws") + "/v1/text/stream"
    with pytest.raises(websockets.InvalidStatus) as refused:
        async with websockets.connect(url):
            pass
    assert refused.value.response.status_code == 403


async def test_bad_text_message_closes_only_that_call(switchboard: RunningSwitchboard) -> None:
    url = switchboard.base_url.replace("http", "ws") + "/v1/text/stream"
    headers = {"Authorization": f"Bearer {switchboard.api_token}"}
    async with (
        websockets.connect(url, additional_headers=headers) as good,
        websockets.connect(url, additional_headers=headers) as bad,
    ):
        for ws, sid in ((good, "CAgoodtext0001"), (bad, "CAbadtext00001")):
            await ws.send(
                json.dumps({"event": "start", "callSid": sid, "from": "+1555", "to": "+1"})
            )
        await bad.send("{this is not json")
        await bad.wait_closed()
        assert bad.close_code == 1008 and "not JSON" in bad.close_reason
        # The other call goes on: it still gets the greeting and answers.
        await good.send(json.dumps({"event": "text", "text": "Hi, this is Alex."}))
        events: list[dict] = []
        # The greeting's turn, then the answer's.
        while sum(e["event"] == "turn_end" for e in events) < 2:
            events.append(json.loads(await good.recv()))
        assert [e for e in events if e["event"] == "agent"][-1]["text"]


async def test_an_opted_out_number_goes_on_the_do_not_call_list(
    switchboard: RunningSwitchboard,
) -> None:
    scenario = parse_scenario(
        {
            "name": "opt-out-list",
            "direction": "outbound",
            "from": "+15557770123",
            "to": "+15557650000",
            "lines": ["Hello?", "Stop calling me. Remove my number from your list."],
        }
    )
    result = await switchboard.call(scenario, text=True)
    report = await switchboard.report(result.call_sid)
    assert report["outcome"] == "opted_out"
    pool = await create_pool(switchboard.database_url)
    try:
        assert await is_do_not_call(pool, "+15557770123")
        assert not await is_do_not_call(pool, "+15557770124")
    finally:
        await pool.close()

"""Against a real `serve run`: the production speech path, Pipecat's Deepgram STT and
OpenAI TTS services, each talking to its local protocol server, carries a whole
scenario call over audio to its outcome."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import httpx
import pytest

from switchboard.scenario import load_scenario
from switchboard.speech_server import SpeechServerProcess
from tests.e2e import (
    SCENARIOS,
    RunningSwitchboard,
    assert_report_meets_expectations,
    run_switchboard,
)

ENGINE_KEY = secrets.token_hex(16)


@pytest.fixture(scope="module")
def speech_server() -> Iterator[SpeechServerProcess]:
    with SpeechServerProcess.start(ENGINE_KEY) as server:
        yield server


@pytest.fixture(scope="module")
def remote_engines_switchboard(
    tmp_path_factory: pytest.TempPathFactory, speech_server: SpeechServerProcess
) -> Iterator[RunningSwitchboard]:
    with run_switchboard(
        tmp_path_factory.mktemp("remote-engines"),
        SWITCHBOARD_SPEECH__STT="deepgram",
        SWITCHBOARD_SPEECH__DEEPGRAM_API_KEY=ENGINE_KEY,
        SWITCHBOARD_SPEECH__DEEPGRAM_BASE_URL=speech_server.ws_url,
        SWITCHBOARD_SPEECH__TTS="openai",
        SWITCHBOARD_SPEECH__OPENAI_API_KEY=ENGINE_KEY,
        SWITCHBOARD_SPEECH__OPENAI_BASE_URL=speech_server.openai_base_url,
        SWITCHBOARD_PERFORMANCE__WARM_POOL_SIZE="1",
    ) as server:
        yield server


def engine_stats(server: SpeechServerProcess) -> dict:
    response = httpx.get(f"{server.url}/stats", headers={"Authorization": f"Token {ENGINE_KEY}"})
    response.raise_for_status()
    return response.json()


# A whole scenario in real time after starting Switchboard and the speech server: about
# two minutes idle; a loaded CI machine took more than the default 300 s.
@pytest.mark.timeout(600)
async def test_scenario_call_qualifies_through_deepgram_and_openai_speech_services(
    remote_engines_switchboard: RunningSwitchboard, speech_server: SpeechServerProcess
) -> None:
    before = engine_stats(speech_server)
    scenario = load_scenario(SCENARIOS / "qualified-ops-director.yaml")
    result = await remote_engines_switchboard.call(scenario, text=False)
    report = await remote_engines_switchboard.report(result.call_sid)
    assert_report_meets_expectations(report, scenario)
    assert report["fallback_turns"] == 0, report["errors"]
    assert result.first_agent_audio_ms is not None
    after = engine_stats(speech_server)
    # Every caller line was heard by the remote recogniser and every agent line spoken
    # by the remote voice: the offline engines in the session actor did none of it.
    caller_lines = sum(1 for line in scenario.lines if isinstance(line, str))
    assert after["transcripts"] - before["transcripts"] >= caller_lines
    agent_turns = [turn for turn in report["turns"] if turn["agent_text"]]
    assert after["speech_requests"] - before["speech_requests"] >= len(agent_turns)
    assert after["listen_sessions"] - before["listen_sessions"] == 1

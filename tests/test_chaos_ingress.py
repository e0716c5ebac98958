"""Chaos: the ingress replica holding a call is SIGKILLed mid-call.

With two ingress replicas, an audio call whose replica dies comes back the way Twilio
brings it back: its stream closes, the simulated caller requests the `<Connect action>`
URL, the surviving replica answers with a new stream for the same CallSid, and the call
resumes there from its checkpoint and qualifies. A text call cannot reconnect: its
record is closed by the sweeper, `failed`, within the grace period.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest

from switchboard.caller.twilio_protocol import new_sid
from switchboard.scenario import load_scenario
from tests.chaos import final_report, kill_serving, warm_pool
from tests.e2e import (
    SCENARIOS,
    RunningSwitchboard,
    assert_report_meets_expectations,
    deployment_config,
    live_text_call,
    run_switchboard,
    serve_config,
)

pytestmark = [
    pytest.mark.slow,
]

GRACE_S = 10.0


def _two_ingress_replicas(config: dict) -> None:
    ingress = deployment_config(config, "TwilioIngress")
    ingress.pop("autoscaling_config", None)
    ingress["num_replicas"] = 2


@pytest.fixture(scope="module")
def two_ingresses(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSwitchboard]:
    workdir = tmp_path_factory.mktemp("chaos-ingress")
    with run_switchboard(
        workdir,
        config=serve_config(workdir, _two_ingress_replicas),
        SWITCHBOARD_RECOVERY__RESUME_GRACE_S=str(GRACE_S),
        SWITCHBOARD_RECOVERY__SWEEP_INTERVAL_S="1",
    ) as server:
        yield server


async def test_an_audio_call_whose_ingress_dies_resumes_on_a_new_stream_and_qualifies(
    two_ingresses: RunningSwitchboard,
) -> None:
    server = two_ingresses
    await warm_pool(server, 2)
    scenario = load_scenario(SCENARIOS / "qualified-ops-director.yaml")
    call_sid = new_sid("CA")
    killed: list[int] = []

    async def kill_its_ingress() -> None:
        await asyncio.sleep(9.0)  # mid-call: a few turns in
        killed.append(await kill_serving(server, call_sid, field="ingress_pid"))

    killer = asyncio.create_task(kill_its_ingress())
    result = await server.call(scenario, text=False, call_sid=call_sid)
    await killer
    assert killed, "the ingress was not killed"
    assert result.streams == 2, "the call did not come back on a second stream"
    report = await final_report(server, call_sid)
    assert_report_meets_expectations(report, scenario)
    assert report["recovered"] == 1, report["errors"]
    assert any("Twilio reconnected" in error for error in report["errors"]), report["errors"]


async def test_a_text_call_whose_ingress_dies_is_closed_failed_by_the_sweeper(
    two_ingresses: RunningSwitchboard,
) -> None:
    server = two_ingresses
    await warm_pool(server, 1)
    async with live_text_call(server, from_number="+15550131") as call:
        await call.say("Hi, this is Noor.")
        killed_at = time.monotonic()
        await kill_serving(server, call.call_sid, field="ingress_pid")
    report = await final_report(server, call.call_sid, timeout_s=GRACE_S + 15)
    assert time.monotonic() - killed_at < GRACE_S + 15
    assert report["status"] == "failed"
    assert report["outcome"] == "abandoned"
    assert any("not resumed" in error for error in report["errors"]), report["errors"]

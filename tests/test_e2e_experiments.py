"""Against a real `switchboard serve` whose live settings hold an experiment: a text
call hears its variant's greeting and question order, its record shows the experiment
and the variant, a lead's second call gets the same variant, and the experiment's
analytics count the calls by the variants recorded.

The live settings are read from the Serve config a server starts with, so this module
runs a Switchboard of its own (slow tier) from serve_config.yaml with an experiment
added to its `user_config`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from switchboard.experiments import ExperimentRule, assign_variant
from switchboard.flags import Lead
from tests.e2e import RunningSwitchboard, live_text_call, run_switchboard, serve_config

pytestmark = [pytest.mark.slow, pytest.mark.parallel_safe, pytest.mark.timeout(600)]

EXPERIMENT = "opening"
WARM_GREETING = ["Hello and welcome to {company}, {agent} speaking.",
                 "This call may be recorded."]
OPENING: dict[str, Any] = {
    "variants": {
        "control": {},
        "warm": {"script": {"replies": {"greeting": WARM_GREETING},
                            "question_order": ["timeline", "need", "budget", "authority"]}},
    },
    "split": {"control": 50, "warm": 50},
    "directions": ["inbound"],
}


def _number_in(variant: str) -> str:
    """A lead's number the experiment gives `variant` (the assignment is a pure hash)."""
    rule = ExperimentRule.model_validate(OPENING)
    return next(number for number in (f"+1555801{n:04d}" for n in range(1000))
                if assign_variant(EXPERIMENT, rule, Lead(number)) == variant)


@pytest.fixture(scope="module")
def experiment_switchboard(tmp_path_factory: pytest.TempPathFactory
                           ) -> Iterator[RunningSwitchboard]:
    workdir = tmp_path_factory.mktemp("experiments")

    def with_experiment(config: dict) -> None:
        for deployment in config["applications"][0]["deployments"]:
            if "user_config" in deployment:  # one block for every deployment that reads it
                deployment["user_config"] = {"version": "ab-1",
                                             "experiments": {EXPERIMENT: OPENING}}

    with run_switchboard(workdir, config=serve_config(workdir, with_experiment)) as server:
        yield server


async def test_a_call_hears_its_variant_and_its_record_shows_it(
    experiment_switchboard: RunningSwitchboard,
) -> None:
    server = experiment_switchboard
    heard: dict[str, dict[str, Any]] = {}
    for variant in ("control", "warm"):
        number = _number_in(variant)
        calls = []
        for _ in range(2):  # the lead calls twice: the same variant both times
            async with live_text_call(server, number) as call:
                greeting = call.greeting
                await call.say("This is Sam.")
                asked = (await call.say("Sure, go ahead.")).sentences
            report = await server.report(call.call_sid)
            calls.append({"greeting": greeting, "asked": asked, "report": report})
        heard[variant] = calls[0]
        for made in calls:
            assert made["report"]["experiment"] == EXPERIMENT
            assert made["report"]["variant"] == variant
            assert made["report"]["config_version"] == "ab-1"
            assert made["greeting"] == calls[0]["greeting"]

    control, warm = heard["control"], heard["warm"]
    assert warm["greeting"][0] == "Hello and welcome to Switchboard, Alex speaking."
    assert control["greeting"][0] == "Thanks for calling Switchboard, this is Alex."
    assert "When would you want something like this in place?" in warm["asked"]
    assert "What's your biggest challenge with handling calls or leads today?" in control["asked"]

    async with httpx.AsyncClient(base_url=server.base_url) as client:
        response = await client.get(f"/v1/analytics/experiments/{EXPERIMENT}",
                                    headers={"Authorization": f"Bearer {server.api_token}"})
    assert response.status_code == 200, response.text
    counted = {row["variant"]: row["calls"] for row in response.json()["variants"]}
    assert counted == {"control": 2, "warm": 2}

"""An experiment's variant picks the LLM's models and adds to its prompts (`llm`), end to
end: a call the ingress put in the variant is answered by the orchestrator deployment
with chat-completion requests for the variant's model, carrying the variant's words;
any other call asks for the environment's models with the built-in prompts. Against the
local OpenAI-compatible server (`test_llm_openai_double`) and real Redis."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from deployments.live_settings import LiveSettings
from deployments.orchestrator_deployment import OrchestratorDeployment
from graph.llm import TieredLLM
from switchboard.experiments import ExperimentRule, assign_variant
from switchboard.flags import Lead
from switchboard.models import CallSession
from switchboard.settings import VoiceAgentIntegrationConfig, load_settings
from tests.test_llm_openai_double import OpenAIDouble, openai_double

ENV_ECONOMY, ENV_PREMIUM = "economy-model", "premium-model"
TRIAL = "Mention that the first month is free."
EUROS = "Amounts may be said in euros; report them as US dollars at par."
OPENING = ["This is Dana.", "Sure.", "We lose leads after hours."]
SWITCHED = {"economy_model": "variant-economy", "premium_model": "variant-premium",
            "reply_instructions": TRIAL, "extract_instructions": EUROS}


def model_test(version: str = "1") -> dict[str, Any]:
    return {"version": version, "experiments": {"model_test": {
        "variants": {"control": {}, "switched": {"llm": SWITCHED}},
        "split": {"control": 50, "switched": 50}}}}


def lead_in(variant: str) -> Lead:
    """The first test lead the experiment puts in `variant`."""
    rule = ExperimentRule.model_validate(model_test()["experiments"]["model_test"])
    for n in range(1000):
        lead = Lead(f"+1555{n:07d}", "inbound")
        if assign_variant("model_test", rule, lead) == variant:
            return lead
    raise AssertionError(f"no lead in {variant}")


def env_settings(double: OpenAIDouble, prefix: str) -> VoiceAgentIntegrationConfig:
    return load_settings(
        transfer_number="+15557650100", redis_prefix=prefix, llm_base_url=double.base_url,
        llm_economy_model=ENV_ECONOMY, llm_premium_model=ENV_PREMIUM)


@pytest.fixture
async def double() -> AsyncIterator[OpenAIDouble]:
    async with openai_double() as running:
        yield running


@pytest.fixture
async def deployment(double: OpenAIDouble, redis_prefix: str) -> AsyncIterator[Any]:
    """The orchestrator deployment's replica, in this process, deployed with the
    experiment (as `serve deploy` hands every deployment the same block)."""
    replica = OrchestratorDeployment.func_or_class(env_settings(double, redis_prefix))
    await replica.reconfigure(model_test())
    yield replica
    await replica._orchestrator.aclose()


async def start_call(double: OpenAIDouble, prefix: str, lead: Lead,
                     block: dict[str, Any] | None) -> dict[str, Any]:
    """What the session actor carries to every turn of a new call from `lead`: the live
    settings the ingress gave it at its start (`CallSession.live_settings_ref`)."""
    ingress = LiveSettings(env_settings(double, prefix), app="")
    if block is not None:
        await ingress.reconfigure(block)
    config = ingress.for_call(lead)
    session = CallSession(call_sid=f"CA{uuid.uuid4().hex}", from_number=lead.number,
                          config_version=config.version, live_config=config.block,
                          flags=config.flags, experiment=config.experiment,
                          variant=config.variant)
    return session.live_settings_ref()


async def converse(deployment: Any, double: OpenAIDouble, config: dict[str, Any],
                   lines: list[str], **metadata: Any) -> list[dict[str, Any]]:
    """The chat-completion requests one call's turns made."""
    call_id = f"CA{uuid.uuid4().hex}"
    before = len(double.requests)
    await deployment.process_voice_input(call_id, "", {"event": "start", "config": config})
    for line in lines:
        result = await deployment.process_voice_input(
            call_id, line, {"event": "text", "config": config, **metadata})
        assert not result["fallback"] and not result["errors"], result
    return double.requests[before:]


def system_prompt(request: dict[str, Any]) -> str:
    assert request["messages"][0]["role"] == "system"
    return str(request["messages"][0]["content"])


def extractions(requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in requests if "response_format" in r]


def replies(requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in requests if r.get("stream")]


async def test_a_variants_model_and_instructions_reach_the_chat_completion_requests(
    double: OpenAIDouble, deployment: Any, redis_prefix: str,
) -> None:
    config = await start_call(double, redis_prefix, lead_in("switched"), model_test())
    assert config["variant"] == "switched"

    requests = await converse(deployment, double, config, OPENING)

    assert extractions(requests) and replies(requests)
    assert {r["model"] for r in requests} == {"variant-economy"}
    for request in replies(requests):
        assert system_prompt(request).endswith("\n\n" + TRIAL)
        assert EUROS not in str(request["messages"])
    for request in extractions(requests):
        assert system_prompt(request).endswith("\n\n" + EUROS)
        assert TRIAL not in str(request["messages"])

    premium = await converse(deployment, double, config, ["About fifty grand a year."],
                             tier="premium")
    assert {r["model"] for r in premium} == {"variant-premium"}


async def test_the_other_variant_and_a_call_in_no_experiment_ask_for_the_environments_models(
    double: OpenAIDouble, deployment: Any, redis_prefix: str,
) -> None:
    control = await start_call(double, redis_prefix, lead_in("control"), model_test())
    assert control["variant"] == "control"
    outside = await start_call(double, redis_prefix, lead_in("switched"), None)
    assert outside["experiment"] is None and outside["version"] == "env"

    for config in (control, outside):
        requests = await converse(deployment, double, config, OPENING)
        assert extractions(requests) and replies(requests)
        assert {r["model"] for r in requests} == {ENV_ECONOMY}
        for request in requests:
            assert TRIAL not in str(request["messages"])
            assert EUROS not in str(request["messages"])
            assert "\n\n" not in system_prompt(request)  # the built-in prompt alone
        premium = await converse(deployment, double, config, ["About fifty grand a year."],
                                 tier="premium")
        assert {r["model"] for r in premium} == {ENV_PREMIUM}


async def test_a_live_call_keeps_its_variants_model_after_the_experiment_is_stopped(
    double: OpenAIDouble, deployment: Any, redis_prefix: str,
) -> None:
    config = await start_call(double, redis_prefix, lead_in("switched"), model_test())
    await deployment.reconfigure({"version": "2"})  # the experiment stopped

    requests = await converse(deployment, double, config, OPENING)

    assert {r["model"] for r in requests} == {"variant-economy"}
    new_call = await start_call(double, redis_prefix, lead_in("switched"), {"version": "2"})
    requests = await converse(deployment, double, new_call, OPENING[:1])
    assert {r["model"] for r in requests} == {ENV_ECONOMY}


async def test_closing_a_variants_llm_leaves_the_shared_client_open(
    double: OpenAIDouble, redis_prefix: str,
) -> None:
    base = env_settings(double, redis_prefix)
    primary = TieredLLM(base)
    variant = primary.for_settings(base.model_copy(update={"llm": base.llm.model_copy(
        update={"economy_model": "variant-economy"})}))
    assert variant.client is primary.client
    assert (variant.model("economy"), primary.model("economy")) == ("variant-economy",
                                                                    ENV_ECONOMY)
    await variant.aclose()
    assert not primary.client.is_closed()
    await primary.aclose()
    assert primary.client.is_closed()

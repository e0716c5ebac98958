"""Experiments (A/B): a variant per lead by the split, sticky, inside the targeting; a
block refused with the field named; a call keeps its variant whatever deploys follow."""

from __future__ import annotations

import hashlib
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from db.call_attempts import attempt_key
from deployments.live_settings import LiveSettings, PerVersion
from deployments.twilio_forms import VoiceWebhook
from switchboard.cli import main as cli_main
from switchboard.experiments import ExperimentRule, assign_experiment, assign_variant
from switchboard.flags import Lead
from switchboard.live_config import LiveConfigError, call_settings, parse_live_config
from switchboard.models import CallSession
from switchboard.settings import load_settings

BASE = load_settings(twilio_auth_token="t", api_token="a")
LEADS = [f"+1555{n:07d}" for n in range(4000)]
NEW_GREETING = ["Hi, {agent} here from {company}.", "This call may be recorded."]


def greeting_test(split: dict[str, float] | None = None, **targeting: Any) -> dict[str, Any]:
    return {
        "variants": {
            "a": {},
            "b": {"script": {"replies": {"greeting": NEW_GREETING}},
                  "qualification": {"min_budget_usd": 20000}},
        },
        "split": split or {"a": 50, "b": 50},
        **targeting,
    }


def model_test(llm: dict[str, Any]) -> dict[str, Any]:
    """An experiment whose variant b asks the LLM differently."""
    return {"variants": {"a": {}, "b": {"llm": llm}}, "split": {"a": 50, "b": 50}}


def block(version: str = "1", **experiments: dict[str, Any]) -> dict[str, Any]:
    return {"version": version, "experiments": experiments}


def test_each_variant_gets_its_share_of_leads_within_two_points() -> None:
    rule = ExperimentRule.model_validate(greeting_test({"a": 30, "b": 70}))
    counts = Counter(assign_variant("greeting_test", rule, Lead(number)) for number in LEADS)
    assert set(counts) == {"a", "b"}
    assert abs(counts["a"] / len(LEADS) - 0.30) < 0.02
    assert abs(counts["b"] / len(LEADS) - 0.70) < 0.02


def test_a_three_way_split_gives_every_variant_its_share() -> None:
    rule = ExperimentRule.model_validate({
        "variants": {"a": {}, "b": {}, "c": {}}, "split": {"a": 20, "b": 30, "c": 50}})
    counts = Counter(assign_variant("three", rule, Lead(number)) for number in LEADS)
    for variant, share in {"a": 0.2, "b": 0.3, "c": 0.5}.items():
        assert abs(counts[variant] / len(LEADS) - share) < 0.025


def test_a_lead_gets_the_same_variant_on_every_call() -> None:
    rule = ExperimentRule.model_validate(greeting_test())
    first = [assign_variant("greeting_test", rule, Lead(number)) for number in LEADS[:500]]
    again = [assign_variant("greeting_test", rule, Lead(number, "inbound")) for number in
             LEADS[:500]]
    assert first == again


def test_assignment_is_the_flag_hash_laid_over_the_split_by_variant_name() -> None:
    rule = ExperimentRule.model_validate(greeting_test({"b": 75, "a": 25}))
    for number in LEADS[:300]:
        digest = hashlib.sha256(f"greeting_test:{number}".encode()).hexdigest()
        bucket = int(digest[:8], 16) % 10000
        expected = "a" if bucket < 2500 else "b"  # a's slice first: variants by name
        assert assign_variant("greeting_test", rule, Lead(number)) == expected


def test_an_experiment_takes_only_the_leads_it_targets() -> None:
    rule = ExperimentRule.model_validate(
        greeting_test(directions=["outbound"], campaigns=["spring"], number_prefixes=["+1555"]))
    number = "+15550001111"
    assert assign_variant("t", rule, Lead(number, "outbound", "spring")) is not None
    assert assign_variant("t", rule, Lead(number, "inbound", "spring")) is None
    assert assign_variant("t", rule, Lead(number, "outbound", "autumn")) is None
    assert assign_variant("t", rule, Lead(number, "outbound", None)) is None
    assert assign_variant("t", rule, Lead("+14150001111", "outbound", "spring")) is None


def test_a_call_takes_part_in_the_first_experiment_by_name_that_targets_it() -> None:
    live = parse_live_config(block(
        zeta=greeting_test(),
        alpha=greeting_test(directions=["outbound"]),
    ), BASE)
    inbound = assign_experiment(live.experiments, Lead("+15550001111", "inbound"))
    outbound = assign_experiment(live.experiments, Lead("+15550001111", "outbound"))
    assert inbound is not None and inbound[0] == "zeta"
    assert outbound is not None and outbound[0] == "alpha"


def test_a_variant_is_its_overrides_over_the_blocks_settings() -> None:
    live = parse_live_config(
        {**block(greeting_test=greeting_test()), "qualification": {"max_timeline_months": 3}},
        BASE,
    )
    b = live.settings_for("greeting_test", "b")
    assert b.script.replies["greeting"] == NEW_GREETING
    assert b.qualification.min_budget_usd == 20000
    assert b.qualification.max_timeline_months == 3  # the block's, under the variant's
    a = live.settings_for("greeting_test", "a")
    assert a == live.settings and a.script.replies == {}
    assert live.settings_for(None, None) == live.settings
    assert live.block["experiments"]["greeting_test"]["split"] == {"a": 50, "b": 50}


def test_a_variant_may_pick_the_llms_models_and_add_to_its_prompts() -> None:
    llm = {"premium_model": "premium-b", "reply_instructions": "  Mention the free trial. "}
    live = parse_live_config(block(model_test=model_test(llm)), BASE)
    b = live.settings_for("model_test", "b")
    assert b.llm_model("premium") == "premium-b"
    assert b.llm_model("economy") == BASE.llm_economy_model  # not set: the environment's
    assert b.llm.reply_instructions == "Mention the free trial."
    assert b.llm_base_url == BASE.llm_base_url and b.llm_api_key == BASE.llm_api_key
    a = live.settings_for("model_test", "a")
    assert (a.llm_model("economy"), a.llm_model("premium")) == (
        BASE.llm_economy_model, BASE.llm_premium_model)
    assert a.llm.reply_instructions == a.llm.extract_instructions == ""


@pytest.mark.parametrize(
    ("experiment", "field", "message"),
    [
        (greeting_test({"a": 50, "b": 40}), "experiments.greeting_test.split", "not 100"),
        (greeting_test({"a": 50, "c": 50}), "experiments.greeting_test.split", "unknown variants"),
        ({"variants": {"a": {}}, "split": {"a": 100}}, "experiments.greeting_test.variants",
         "at least 2"),
        ({"variants": {"a": {}, "b": {"qualification": {"min_budget_usd": -5}}},
          "split": {"a": 50, "b": 50}},
         "experiments.greeting_test.variants.b.qualification.min_budget_usd", "greater"),
        ({"variants": {"a": {}, "b": {"qualification": {"min_budgt": 5}}},
          "split": {"a": 50, "b": 50}},
         "experiments.greeting_test.variants.b.qualification.min_budgt", "no such setting"),
        ({"variants": {"a": {}, "b": {"script": {"replies": {"greting": ["Hi."]}}}},
          "split": {"a": 50, "b": 50}},
         "experiments.greeting_test.variants.b.script.replies", "greting"),
        ({"variants": {"a": {}, "b": {"performance": {"turn_timeout_s": 1}}},
          "split": {"a": 50, "b": 50}},
         "experiments.greeting_test.variants", "b.performance"),
        ({"variants": {"a": {}, "b": {"agent_integration": {"enabled": False}}},
          "split": {"a": 50, "b": 50}},
         "experiments.greeting_test.variants", "b.agent_integration.enabled"),
        ({**greeting_test(), "directions": ["sideways"]},
         "experiments.greeting_test.directions", "inbound"),
        # A variant names a model and words, never an endpoint or a key.
        (model_test({"base_url": "https://elsewhere.example/v1"}),
         "experiments.model_test.variants.b.llm.base_url", "SWITCHBOARD_LLM_BASE_URL"),
        (model_test({"api_key": "sk-x"}),
         "experiments.model_test.variants.b.llm.api_key", "SWITCHBOARD_LLM_API_KEY"),
        (model_test({"economy_model": "https://elsewhere.example/v1"}),
         "experiments.model_test.variants.b.llm.economy_model", "not an endpoint"),
        (model_test({"premium_model": "gpt 4o"}),
         "experiments.model_test.variants.b.llm.premium_model", "not a model name"),
        (model_test({"system_prompt": "You are a pirate."}),
         "experiments.model_test.variants.b.llm.system_prompt", "no such setting"),
        (model_test({"reply_instructions": "Be brief. " * 250}),
         "experiments.model_test.variants.b.llm.reply_instructions", "at most 2000"),
    ],
)
def test_a_bad_experiment_is_refused_with_the_field_named(
    experiment: dict[str, Any], field: str, message: str
) -> None:
    name = field.split(".")[1]
    with pytest.raises(LiveConfigError) as refused:
        parse_live_config(block(**{name: experiment}), BASE)
    assert refused.value.field.startswith(field), refused.value
    assert message in str(refused.value)


async def test_reconfigure_refuses_a_bad_experiment_and_keeps_serving() -> None:
    live = LiveSettings(BASE, app="switchboard")
    await live.reconfigure(block("1", greeting_test=greeting_test()))
    await live.reconfigure(block("2", greeting_test=greeting_test({"a": 60, "b": 60})))
    assert live.current.version == "1"
    rejected = live.describe()["rejected"]
    assert rejected["version"] == "2"
    assert rejected["field"] == "experiments.greeting_test.split"


def _session(config: Any, number: str) -> CallSession:
    """What the session actor makes of a new call's config (`_session_for`)."""
    return CallSession(call_sid="CA" + "0" * 32, from_number=number,
                       config_version=config.version, live_config=config.block,
                       flags=config.flags, experiment=config.experiment,
                       variant=config.variant)


async def test_a_live_call_keeps_its_variant_when_the_experiment_is_re_split_or_stopped(
) -> None:
    live = LiveSettings(BASE, app="switchboard")
    await live.reconfigure(block("1", greeting_test=greeting_test({"a": 0, "b": 100})))
    lead = Lead("+15550001111", "inbound")
    started = live.for_call(lead)
    assert (started.experiment, started.variant) == ("greeting_test", "b")
    call = _session(started, lead.number)
    workflows = PerVersion(live, lambda settings: settings, env=BASE)

    # Re-split: every new call now gets a; the live call is still b.
    await live.reconfigure(block("2", greeting_test=greeting_test({"a": 100, "b": 0})))
    assert live.for_call(lead).variant == "a"
    # Stopped: new calls are in no experiment; the live call is still b.
    await live.reconfigure({"version": "3"})
    later = live.for_call(lead)
    assert (later.experiment, later.variant) == (None, None)

    for settings in (call_settings(call.live_settings_ref(), BASE),
                     workflows.for_call(call.live_settings_ref())):
        assert settings.script.replies["greeting"] == NEW_GREETING
        assert settings.qualification.min_budget_usd == 20000
    # A call of the same version in the other variant is served by its own settings.
    other = call.model_copy(update={"variant": "a"})
    assert workflows.for_call(other.live_settings_ref()).script.replies == {}


async def test_a_campaign_call_is_targeted_by_the_campaign_its_dialer_placed_it_for() -> None:
    live = LiveSettings(BASE, app="switchboard")
    await live.reconfigure(block("1", spring_pitch={**greeting_test(), "campaigns": [12]}))
    form = {"CallSid": "CA" + "1" * 32, "AccountSid": "AC1", "Direction": "outbound-api",
            "From": "+15557650000", "To": "+15550001111", "CallStatus": "in-progress"}
    for attempt, expected in ((attempt_key(12, 3, 1), "spring_pitch"),
                              (attempt_key(13, 3, 1), None), (None, None)):
        query = {"attempt": attempt} if attempt else None
        pending = VoiceWebhook.from_form(form, query).pending_call()
        assert pending.campaign == (attempt and attempt.split("-")[0][1:])
        # As the stream does (`CallStreams._serve_new`): the lead, its direction, campaign.
        lead = Lead(pending.from_number, pending.direction, pending.campaign)  # type: ignore[arg-type]
        assert live.for_call(lead).experiment == expected


def test_config_check_names_the_bad_field_of_an_experiment(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "block.yaml"
    path.write_text(yaml.safe_dump(block("4", opening=greeting_test({"a": 50, "b": 40}))))
    assert cli_main(["config", "check", str(path)]) == 1
    out = capsys.readouterr().out
    assert "user_config: invalid: experiments.opening.split: the shares add up to 90" in out

"""Live settings: a `user_config` block checked whole, laid over the environment's
settings, refused with the field named, and kept across deploys (real Redis)."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import pytest
import redis.asyncio as redis
import yaml

from deployments.live_settings import LiveSettings, PerVersion
from switchboard.cli import main as cli_main
from switchboard.config_command import check
from switchboard.flags import Lead
from switchboard.live_config import ENV_VERSION, LiveConfigError, parse_live_config
from switchboard.live_config_store import LiveConfigStore
from switchboard.settings import load_settings

ROOT = Path(__file__).resolve().parents[1]
BASE = load_settings(
    twilio_auth_token="t", api_token="a", performance={"turn_timeout_s": 2.5, "warm_pool_size": 0}
)


def test_a_block_overrides_only_the_fields_it_holds() -> None:
    live = parse_live_config(
        {"version": 7, "qualification": {"min_budget_usd": 20000},
         "performance": {"max_calls_per_replica": 10}},
        BASE,
    )
    assert live.version == "7"
    assert live.settings.qualification.min_budget_usd == 20000
    assert live.settings.qualification.max_timeline_months == 6  # the default, untouched
    assert live.settings.performance.turn_timeout_s == 2.5  # the environment's, untouched
    assert live.settings.performance.max_calls_per_replica == 10
    assert live.settings.twilio_auth_token == BASE.twilio_auth_token


def test_no_block_is_the_environments_settings() -> None:
    live = parse_live_config(None, BASE)
    assert live.version == ENV_VERSION and live.settings is BASE and not live.kill_switch


@pytest.mark.parametrize(
    ("block", "field"),
    [
        ({"qualification": {}}, "version"),
        ({"version": "2", "qualification": {"min_budget_usd": -5}},
         "qualification.min_budget_usd"),
        ({"version": "2", "qualification": {"min_budjet_usd": 5}}, "qualification.min_budjet_usd"),
        ({"version": "2", "speech": {"tts": "espeak"}}, "speech"),
        ({"version": "2", "redis_url": "redis://elsewhere"}, "redis_url"),
        ({"version": "2", "flags": {"x": {"percent": 120}}}, "flags.x.percent"),
        ({"version": "2", "flags": {"x": {"percent": 5, "region": "eu"}}}, "flags.x.region"),
        ({"version": "2", "canary": {"percent": 10, "route_prefix": "canary"}},
         "canary.route_prefix"),
        ({"version": "2", "circuit_breaker": "tight"}, "circuit_breaker"),
        ({"version": "2", "llm_base_url": "https://elsewhere.example/v1"}, "llm_base_url"),
        ({"version": "2", "llm": {"base_url": "https://elsewhere.example/v1"}},
         "llm.base_url"),
        ({"version": "2", "llm": {"economy_model": ""}}, "llm.economy_model"),
        (["version", "2"], "user_config"),
    ],
)
def test_a_bad_block_is_refused_with_the_field_named(block: object, field: str) -> None:
    with pytest.raises(LiveConfigError) as refused:
        parse_live_config(block, BASE)  # type: ignore[arg-type]
    assert refused.value.field == field
    assert str(refused.value).startswith(f"{field}: ")


def test_the_kill_switch_beats_the_flag_which_beats_the_environment() -> None:
    flag = {"integration_enabled": {"percent": 100}}
    killed = parse_live_config(
        {"version": "k", "agent_integration": {"enabled": False}, "flags": flag}, BASE)
    flagged_off = parse_live_config(
        {"version": "f", "flags": {"integration_enabled": {"percent": 0}}}, BASE)
    env_off = load_settings(agent_integration={"enabled": False})
    flagged_on_over_env = parse_live_config({"version": "g", "flags": flag}, env_off)
    lead = Lead("+15550001111")
    assert killed.kill_switch
    assert not killed.integration_enabled({"integration_enabled": True})
    assert not flagged_off.integration_enabled({"integration_enabled": False})
    assert flagged_on_over_env.integration_enabled({"integration_enabled": True})
    assert not parse_live_config(None, env_off).integration_enabled({})
    assert parse_live_config({"version": "h"}, BASE).integration_enabled({})
    assert not parse_live_config({"version": "h"}, BASE).goes_to_canary(lead)


async def test_a_replica_keeps_its_last_good_version_when_a_block_is_refused() -> None:
    live = LiveSettings(BASE, app="switchboard")
    await live.reconfigure({"version": "1", "qualification": {"min_budget_usd": 15000}})
    await live.reconfigure({"version": "2", "qualification": {"min_budget_usd": "lots"}})
    assert live.current.version == "1"
    assert live.settings.qualification.min_budget_usd == 15000
    described = live.describe()
    assert described["version"] == "1"
    assert described["rejected"]["version"] == "2"
    assert described["rejected"]["field"] == "qualification.min_budget_usd"
    await live.reconfigure({"version": "3"})
    assert live.current.version == "3" and live.describe()["rejected"] is None


async def test_a_new_call_gets_the_version_and_the_flags_of_its_lead() -> None:
    live = LiveSettings(BASE, app="switchboard")
    flags = {
        "integration_enabled": {"percent": 100},
        "outbound_only": {"percent": 100, "directions": ["outbound"]},
    }
    await live.reconfigure({"version": "5", "flags": flags})
    config = live.for_call(Lead("+15550001111", "inbound"))
    assert config.version == "5" and config.app == "switchboard" and config.app_version
    assert config.flags == {"integration_enabled": True, "outbound_only": False}
    assert config.integration_enabled


async def test_accepted_blocks_and_the_kill_switch_are_published_for_other_replicas(
    redis_client: redis.Redis, redis_prefix: str
) -> None:
    store = LiveConfigStore(redis_client, redis_prefix, "switchboard")
    ingress = LiveSettings(BASE, app="switchboard", store=store, publish=True)
    await ingress.reconfigure({"version": "9", "agent_integration": {"enabled": False}})
    await asyncio.wait_for(ingress._publishing, 5)  # type: ignore[arg-type]
    assert await store.kill_switch()
    assert (await store.last_good())["version"] == "9"
    # A replica that starts with a bad block serves the last good one, not the defaults.
    fresh = LiveSettings(BASE, app="switchboard", store=store)
    await fresh.reconfigure({"version": "10", "performance": {"turn_timeout_s": 0}})
    assert fresh.current.version == "9" and fresh.current.kill_switch
    assert fresh.rejected is not None and fresh.rejected["field"] == "performance.turn_timeout_s"
    await ingress.reconfigure({"version": "11"})
    await asyncio.wait_for(ingress._publishing, 5)  # type: ignore[arg-type]
    assert not await store.kill_switch()
    # Another application's switch is its own.
    assert not await LiveConfigStore(redis_client, redis_prefix, "canary").kill_switch()


def test_config_check_passes_the_shipped_serve_config() -> None:
    out = io.StringIO()
    assert check(ROOT / "serve_config.yaml", out) == 0
    assert "switchboard/TwilioIngress: version 1 is valid" in out.getvalue()


def test_config_check_names_the_bad_field_and_the_deployment(tmp_path: Path) -> None:
    config = yaml.safe_load((ROOT / "serve_config.yaml").read_text())
    ingress = config["applications"][0]["deployments"][0]
    ingress["user_config"] = {"version": "2", "tier_escalation": {"per_call_cap_usd": -1}}
    path = tmp_path / "serve_config.yaml"
    path.write_text(yaml.safe_dump(config))
    out = io.StringIO()
    assert check(path, out) == 1
    text = out.getvalue()
    assert "switchboard/TwilioIngress: invalid: tier_escalation.per_call_cap_usd" in text
    # The orchestrator still has version 1: deployments of one app must agree.
    assert "differs from the other deployments of switchboard" in text


def test_switchboard_config_check_checks_a_bare_block(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good, bad = tmp_path / "good.yaml", tmp_path / "bad.yaml"
    good.write_text("version: '4'\nflags:\n  integration_enabled: {percent: 20}\n")
    bad.write_text("version: '4'\nflags:\n  integration_enabled: {percent: 200}\n")
    assert cli_main(["config", "check", str(good)]) == 0
    assert cli_main(["config", "check", str(bad)]) == 1
    out = capsys.readouterr().out
    assert "user_config: version 4 is valid" in out
    assert "user_config: invalid: flags.integration_enabled.percent" in out


async def test_each_call_is_served_by_the_version_it_started_with() -> None:
    live = LiveSettings(BASE, app="switchboard")
    await live.reconfigure({"version": "1", "qualification": {"min_budget_usd": 1000}})
    made: list[str] = []

    def build(settings: object) -> str:
        made.append(str(settings.qualification.min_budget_usd))  # type: ignore[attr-defined]
        return made[-1]

    per_version = PerVersion(live, build, env="env", keep=2)
    assert per_version.current() == "1000.0"
    await live.reconfigure({"version": "2", "qualification": {"min_budget_usd": 2000}})
    block_1 = {"version": "1", "qualification": {"min_budget_usd": 1000}}
    old_call = {"version": "1", "block": block_1}
    assert per_version.for_call(old_call) == "1000.0"  # built once, kept
    assert per_version.current() == "2000.0"
    assert made == ["1000.0", "2000.0"]
    assert per_version.for_call({"version": "env", "block": {}}) == "env"
    assert per_version.for_call({"version": "9", "block": {"version": "9", "speech": {}}}) == "env"


def test_the_information_link_is_a_script_text_a_deploy_may_change() -> None:
    live = parse_live_config(
        {"version": "links", "agent_integration": {"info_link": "https://acme.example/v2"}}, BASE
    )
    assert live.settings.agent_integration.info_link == "https://acme.example/v2"
    with pytest.raises(LiveConfigError) as refused:
        parse_live_config({"version": "bad", "agent_integration": {"info_link": "v2"}}, BASE)
    assert refused.value.field == "agent_integration.info_link"


def test_a_deploy_may_change_the_llms_models_and_prompt_words_but_not_its_endpoint() -> None:
    live = parse_live_config(
        {"version": "models", "llm": {"economy_model": "economy-2",
                                      "extract_instructions": "Budgets may be in euros."}},
        BASE,
    )
    assert live.settings.llm_model("economy") == "economy-2"
    assert live.settings.llm_model("premium") == BASE.llm_premium_model
    assert live.settings.llm.extract_instructions == "Budgets may be in euros."
    assert live.block["llm"]["economy_model"] == "economy-2"
    with pytest.raises(LiveConfigError) as refused:
        parse_live_config({"version": "bad", "llm": {"api_key": "sk-x"}}, BASE)
    assert refused.value.field == "llm.api_key"
    assert "SWITCHBOARD_LLM_API_KEY" in refused.value.message

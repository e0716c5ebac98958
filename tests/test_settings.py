"""Settings: read from the environment and an optional file, bad values named, secrets
kept out of sight, the public URL following the listener when it is not set."""

from __future__ import annotations

from pathlib import Path

import pytest

from switchboard.settings import SettingsError, load_settings


def test_a_bad_value_stops_start_up_naming_the_variable(monkeypatch) -> None:
    monkeypatch.setenv("SWITCHBOARD_PORT", "eighty")
    monkeypatch.setenv("SWITCHBOARD_TIER_ESCALATION__DAILY_BUDGET_USD", "-5")
    with pytest.raises(SettingsError) as refused:
        load_settings()
    message = str(refused.value)
    assert "SWITCHBOARD_PORT" in message
    assert "SWITCHBOARD_TIER_ESCALATION__DAILY_BUDGET_USD" in message


def test_nested_groups_come_from_double_underscore_variables(monkeypatch) -> None:
    monkeypatch.setenv("SWITCHBOARD_TIER_ESCALATION__PREMIUM_RESERVATION_USD", "0.2")
    monkeypatch.setenv("SWITCHBOARD_QUALIFICATION__PREMIUM_SCORE", "1")
    settings = load_settings()
    assert settings.tier_escalation.premium_reservation_usd == 0.2
    assert settings.qualification.premium_score == 1


def test_a_missing_settings_file_is_named(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SWITCHBOARD_SETTINGS_FILE", str(tmp_path / "nope.yaml"))
    with pytest.raises(SettingsError, match="nope.yaml"):
        load_settings()


def test_secrets_never_show_in_the_settings_printed(monkeypatch) -> None:
    monkeypatch.setenv("SWITCHBOARD_TWILIO_AUTH_TOKEN", "tw-very-secret")
    monkeypatch.setenv("SWITCHBOARD_API_TOKEN", "api-very-secret")
    settings = load_settings()
    shown = repr(settings) + str(settings) + settings.model_dump_json()
    assert "very-secret" not in shown
    assert settings.secret("twilio_auth_token") == "tw-very-secret"


def test_the_public_url_follows_the_port_unless_set(monkeypatch) -> None:
    monkeypatch.delenv("SWITCHBOARD_PUBLIC_URL", raising=False)
    monkeypatch.setenv("SWITCHBOARD_PORT", "8123")
    assert load_settings().public_url == "http://127.0.0.1:8123"
    assert load_settings(host="0.0.0.0").public_url == "http://127.0.0.1:8123"
    monkeypatch.setenv("SWITCHBOARD_PUBLIC_URL", "https://voice.example.com/")
    assert load_settings().public_url == "https://voice.example.com"


def test_a_warm_pool_ceiling_below_its_floor_is_refused_naming_both(monkeypatch) -> None:
    monkeypatch.setenv("SWITCHBOARD_PERFORMANCE__WARM_POOL_SIZE", "6")
    monkeypatch.setenv("SWITCHBOARD_PERFORMANCE__WARM_POOL_MAX", "4")
    with pytest.raises(SettingsError, match=r"warm_pool_max \(4\) must be at least warm_pool_size"):
        load_settings()


def test_the_information_link_and_its_text_come_from_the_agent_integration_group(
    monkeypatch,
) -> None:
    monkeypatch.setenv("SWITCHBOARD_AGENT_INTEGRATION__INFO_LINK", "https://acme.example/info")
    monkeypatch.setenv("SWITCHBOARD_AGENT_INTEGRATION__COMPANY_NAME", "Acme")
    settings = load_settings()
    assert settings.agent_integration.info_link == "https://acme.example/info"
    assert settings.agent_integration.info_sms_text("https://acme.example/info") == (
        "Thanks for your interest in Acme! Here are the details: https://acme.example/info")
    assert load_settings(agent_integration={"info_link": ""}).agent_integration.info_link is None


@pytest.mark.parametrize(("field", "value", "says"), [
    ("INFO_LINK", "acme.example/info", "http(s) URL"),
    ("INFO_SMS_BODY", "Here are the details.", "{link}"),
    ("INFO_SMS_BODY", "Hi {name}: {link}", "may use only"),
])
def test_a_bad_information_link_or_text_stops_start_up(monkeypatch, field: str, value: str,
                                                       says: str) -> None:
    monkeypatch.setenv(f"SWITCHBOARD_AGENT_INTEGRATION__{field}", value)
    with pytest.raises(SettingsError, match=f"SWITCHBOARD_AGENT_INTEGRATION__{field}") as bad:
        load_settings()
    assert says in str(bad.value)


def test_the_llm_models_are_the_environments_unless_the_llm_group_names_others(
    monkeypatch,
) -> None:
    monkeypatch.setenv("SWITCHBOARD_LLM_ECONOMY_MODEL", "small-model")
    monkeypatch.setenv("SWITCHBOARD_LLM_PREMIUM_MODEL", "large-model")
    settings = load_settings()
    assert (settings.llm_model("economy"), settings.llm_model("premium")) == (
        "small-model", "large-model")
    assert settings.llm.reply_instructions == ""

    monkeypatch.setenv("SWITCHBOARD_LLM__PREMIUM_MODEL", "larger-model")
    monkeypatch.setenv("SWITCHBOARD_LLM__REPLY_INSTRUCTIONS", "Speak warmly.")
    settings = load_settings()
    assert (settings.llm_model("economy"), settings.llm_model("premium")) == (
        "small-model", "larger-model")
    assert settings.llm.reply_instructions == "Speak warmly."

"""Live settings: the `user_config` block a deployment's `reconfigure()` applies.

A block has a `version`, any of the settings groups that may change while calls run
(`qualification`, `tier_escalation`, `agent_integration`, `performance`,
`circuit_breaker`, `recovery`, `script`, `llm`), `flags`, `experiments` and `canary`. Values
in the block override the environment's for the fields they hold; everything else stays
as the environment set it. A block is checked whole before anything uses it: an unknown
key or a bad value is a `LiveConfigError` naming the field
(`qualification.min_budget_usd: ...`).

A call runs on the block it started with (`CallConfig`, handed to its session actor
and kept in its checkpoint), with one exception: the kill switch
(`agent_integration.enabled: false`, the direct path only) reaches live calls on their
next turn. Precedence for whether a call gets the agents: the kill switch, then the
`integration_enabled` flag, then the environment's default.

An experiment's variant (`switchboard.experiments`) is decided at the call's start too,
from the block it started with, and its overrides are laid over that block's settings
for the whole call (`LiveConfig.settings_for`): a deploy that starts, re-splits or
stops the experiment reaches new calls only.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from switchboard.experiments import (
    VARIANT_GROUPS,
    ExperimentRule,
    assign_experiment,
    name_error,
)
from switchboard.flags import INTEGRATION_FLAG, FlagRule, Lead, assign_flags, in_share
from switchboard.settings import VoiceAgentIntegrationConfig

logger = logging.getLogger("ray")

# The settings groups a deploy may change while calls run. Addresses, secrets, speech
# engines and logging are read from the environment when a process starts.
LIVE_GROUPS = (
    "qualification",
    "tier_escalation",
    "agent_integration",
    "performance",
    "circuit_breaker",
    "recovery",
    "script",
    "llm",
)
# Why a field a reader might look for in a group is not there.
_NOT_IN_GROUP = {
    "llm": "llm sets economy_model, premium_model, reply_instructions and "
           "extract_instructions; the endpoint and key are the environment's "
           "SWITCHBOARD_LLM_BASE_URL and SWITCHBOARD_LLM_API_KEY",
}
# The version of a replica that has no `user_config`: the environment's settings.
ENV_VERSION = "env"
CANARY = "canary"


class LiveConfigError(ValueError):
    """A `user_config` block that cannot be used; says which field and why."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field = field_name
        self.message = message


class CanaryShare(BaseModel):
    """The share of new calls the stable application sends to the canary application."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    percent: float = Field(0, ge=0, le=100)
    route_prefix: str = "/canary"

    @field_validator("route_prefix")
    @classmethod
    def _a_prefix(cls, value: str) -> str:
        if not value.startswith("/") or value == "/" or value.endswith("/"):
            raise ValueError("must be a route prefix such as /canary")
        return value


class _Envelope(BaseModel):
    """The parts of a block that are not settings groups."""

    model_config = ConfigDict(extra="forbid")

    version: str = Field(min_length=1, max_length=64)
    flags: dict[str, FlagRule] = {}
    experiments: dict[str, ExperimentRule] = {}
    canary: CanaryShare = CanaryShare()

    @field_validator("experiments")
    @classmethod
    def _names(cls, value: dict[str, ExperimentRule]) -> dict[str, ExperimentRule]:
        for name in value:
            if (problem := name_error(name)) is not None:
                raise ValueError(f"{name!r}: {problem}")
        return value

    @field_validator("version", mode="before")
    @classmethod
    def _text(cls, value: Any) -> Any:
        # YAML reads `version: 2` as a number; a version is a name.
        number = isinstance(value, int | float) and not isinstance(value, bool)
        return str(value) if number else value


@dataclass(frozen=True)
class LiveConfig:
    """A checked block, and the settings it makes over the environment's."""

    version: str
    block: dict[str, Any]
    settings: VoiceAgentIntegrationConfig
    flags: dict[str, FlagRule] = field(default_factory=dict)
    experiments: dict[str, ExperimentRule] = field(default_factory=dict)
    canary: CanaryShare = CanaryShare()
    # (experiment, variant) -> the settings of a call given that variant.
    variants: dict[tuple[str, str], VoiceAgentIntegrationConfig] = field(default_factory=dict)

    def settings_for(self, experiment: str | None, variant: str | None
                     ) -> VoiceAgentIntegrationConfig:
        """The settings of a call in `variant` of `experiment` (none: this block's)."""
        if experiment is None or variant is None:
            return self.settings
        return self.variants.get((experiment, variant), self.settings)

    @property
    def kill_switch(self) -> bool:
        """True when this block turns the agents off for every call, live ones included."""
        return self.block.get("agent_integration", {}).get("enabled") is False

    def integration_enabled(self, flags: Mapping[str, bool]) -> bool:
        if self.kill_switch:
            return False
        if INTEGRATION_FLAG in flags:
            return flags[INTEGRATION_FLAG]
        return self.settings.agent_integration.enabled

    def goes_to_canary(self, lead: Lead) -> bool:
        return self.canary.percent > 0 and in_share(CANARY, lead.number, self.canary.percent)


def _message(msg: str) -> str:
    return msg.removeprefix("Value error, ")  # pydantic's prefix says nothing to a reader


def _location(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc) or "user_config"


def parse_live_config(
    block: Mapping[str, Any] | None, base: VoiceAgentIntegrationConfig
) -> LiveConfig:
    """Check `block` and lay it over `base`; `LiveConfigError` names what is wrong."""
    if block is None:
        return LiveConfig(version=ENV_VERSION, block={}, settings=base)
    if not isinstance(block, Mapping):
        raise LiveConfigError("user_config", "must be a mapping with a version")
    envelope_keys = set(_Envelope.model_fields)
    unknown = sorted(set(block) - envelope_keys - set(LIVE_GROUPS))
    if unknown:
        raise LiveConfigError(
            unknown[0],
            "not a live setting (live: "
            f"{', '.join(('version', *LIVE_GROUPS, 'flags', 'experiments', 'canary'))})",
        )
    try:
        envelope = _Envelope.model_validate({k: v for k, v in block.items() if k in envelope_keys})
    except ValidationError as exc:
        error = exc.errors()[0]
        raise LiveConfigError(_location(error["loc"]), _message(error["msg"])) from None
    groups: dict[str, BaseModel] = {}
    for name in LIVE_GROUPS:
        if name not in block:
            continue
        groups[name] = _group(name, block[name], getattr(base, name))
    settings = base.model_copy(update=groups)
    variants = {
        (name, variant): _variant_settings(f"experiments.{name}.variants.{variant}",
                                           overrides, settings)
        for name, rule in envelope.experiments.items()
        for variant, overrides in rule.variants.items()
    }
    plain = {name: dict(block[name]) for name in LIVE_GROUPS if name in block}
    return LiveConfig(
        version=envelope.version,
        block={
            "version": envelope.version,
            **plain,
            "flags": {name: rule.model_dump(exclude_none=True)
                      for name, rule in envelope.flags.items()},
            "experiments": {name: rule.model_dump(exclude_none=True)
                            for name, rule in envelope.experiments.items()},
            "canary": envelope.canary.model_dump(),
        },
        settings=settings,
        flags=envelope.flags,
        experiments=envelope.experiments,
        canary=envelope.canary,
        variants=variants,
    )


def _variant_settings(where: str, overrides: Mapping[str, Any],
                      settings: VoiceAgentIntegrationConfig) -> VoiceAgentIntegrationConfig:
    """A variant's overrides over the block's settings; `LiveConfigError` names the field
    under `where` (`experiments.greeting.variants.b.qualification.min_budget_usd`)."""
    groups: dict[str, BaseModel] = {}
    for name in VARIANT_GROUPS:
        if name not in overrides:
            continue
        try:
            groups[name] = _group(name, overrides[name], getattr(settings, name))
        except LiveConfigError as exc:
            raise LiveConfigError(f"{where}.{exc.field}", exc.message) from None
    return settings.model_copy(update=groups)


def _group(name: str, overrides: Any, current: BaseModel) -> BaseModel:
    if not isinstance(overrides, Mapping):
        raise LiveConfigError(name, "must be a mapping of settings")
    model = type(current)
    unknown = sorted(set(overrides) - set(model.model_fields))
    if unknown:
        hint = _NOT_IN_GROUP.get(name)
        raise LiveConfigError(f"{name}.{unknown[0]}",
                              f"no such setting; {hint}" if hint else "no such setting")
    try:
        return model.model_validate({**current.model_dump(), **overrides})
    except ValidationError as exc:
        error = exc.errors()[0]
        raise LiveConfigError(f"{name}.{_location(error['loc'])}", _message(error["msg"])) from None


@dataclass(frozen=True)
class CallConfig:
    """What one call runs on, from its start to its end (and across a recovery)."""

    version: str = ENV_VERSION
    block: dict[str, Any] = field(default_factory=dict)
    flags: dict[str, bool] = field(default_factory=dict)
    # The experiment the call takes part in and its variant (None: none).
    experiment: str | None = None
    variant: str | None = None
    integration_enabled: bool = True
    # The Serve application that took the call, whose kill switch it follows.
    app: str = ""
    app_version: str = ""

    @classmethod
    def for_call(
        cls, live: LiveConfig, lead: Lead, *, app: str = "", app_version: str = ""
    ) -> CallConfig:
        flags = assign_flags(live.flags, lead)
        experiment, variant = assign_experiment(live.experiments, lead) or (None, None)
        return cls(
            version=live.version,
            block=live.block,
            flags=flags,
            experiment=experiment,
            variant=variant,
            integration_enabled=live.integration_enabled(flags),
            app=app,
            app_version=app_version,
        )


def call_settings(config: Mapping[str, Any], base: VoiceAgentIntegrationConfig
                  ) -> VoiceAgentIntegrationConfig:
    """A call's settings from what it carries (`CallSession.live_settings_ref`): the block
    it started with over `base`, and its experiment variant's overrides over that.
    `LiveConfigError` when this code version cannot read the block."""
    live = parse_live_config(config.get("block") or None, base)
    return live.settings_for(config.get("experiment"), config.get("variant"))


def call_settings_or_base(config: Mapping[str, Any], base: VoiceAgentIntegrationConfig,
                          call_sid: str) -> VoiceAgentIntegrationConfig:
    """`call_settings`, or `base` when this code version cannot read the call's block: the
    call is served (or swept) on the environment's settings, and the log says so."""
    try:
        return call_settings(config, base)
    except LiveConfigError as exc:
        logger.warning(f"call {call_sid}: live settings {config.get('version')} unreadable "
                       f"here ({exc}); serving with the environment's")
        return base

"""Experiments (A/B): which variant of the agents a call gets, decided per lead.

An experiment (`user_config.experiments`) names two or more variants, each a partial
agent configuration: overrides of the settings groups the agents read
(`VARIANT_GROUPS`: the qualification policy, `agent_integration`, the script's
wording and question order, and `llm`: the models and the words added to the LLM's
prompts), a split in percent over them, and targeting like a
flag's (directions, campaigns, number prefixes).

A lead inside the targeting gets the variant whose slice of the split its flag hash
falls in: the variants are laid end to end by name, and the first whose running total
holds the lead (`switchboard.flags.in_share(experiment, number, total)`) is its
variant. A lead therefore gets the same variant on every call while the split stands.
A call takes part in one experiment at most (its record has one `experiment` column):
the first, by name, whose targeting includes it.

This module checks an experiment's shape; `switchboard.live_config` checks each
variant's overrides against the settings models and lays them over a call's settings.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from pydantic import Field, ValidationInfo, field_validator

from switchboard.flags import Lead, Targeting, in_share, targeted

# The settings groups a variant may override: what the agents read on a call. The kill
# switch (`agent_integration.enabled`) is the deployment's, never a variant's; so are
# the LLM's endpoint and key (not in `llm`: a variant names a model, not where it runs).
VARIANT_GROUPS = ("qualification", "agent_integration", "script", "llm")
_NOT_IN_A_VARIANT = {"agent_integration": ("enabled",)}
# Experiment and variant names go in the call record and in URLs.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


class ExperimentRule(Targeting):
    """One experiment of `user_config.experiments`."""

    # Variant name -> {group: {field: value}}; the fields are checked against the
    # settings models by `switchboard.live_config`, which knows the settings they override.
    variants: dict[str, dict[str, Any]] = Field(min_length=2)
    # Variant name -> percent of the targeted leads; the shares add up to 100.
    split: dict[str, float]

    @field_validator("variants")
    @classmethod
    def _variant_overrides(cls, value: dict[str, Any]) -> dict[str, Any]:
        for name, overrides in value.items():
            if (problem := name_error(name)) is not None:
                raise ValueError(f"{name!r}: {problem}")
            if not isinstance(overrides, Mapping):
                raise ValueError(f"{name}: must be a mapping of settings groups")
            for group, fields in overrides.items():
                if group not in VARIANT_GROUPS:
                    raise ValueError(f"{name}.{group}: a variant may set only "
                                     f"{', '.join(VARIANT_GROUPS)}")
                for fixed in _NOT_IN_A_VARIANT.get(group, ()):
                    if isinstance(fields, Mapping) and fixed in fields:
                        raise ValueError(f"{name}.{group}.{fixed}: not a variant's to set "
                                         "(the integration_enabled flag does that)")
        return value

    @field_validator("split")
    @classmethod
    def _percentages(cls, value: dict[str, float], info: ValidationInfo) -> dict[str, float]:
        variants = info.data.get("variants")  # absent when they were refused already
        if variants is not None and set(value) != set(variants):
            unknown = sorted(set(value) - set(variants))
            missing = sorted(set(variants) - set(value))
            raise ValueError(f"names unknown variants {unknown}" if unknown
                             else f"has no share for the variants {missing}")
        for name, share in value.items():
            if not 0 <= share <= 100:
                raise ValueError(f"{name}: {share} is not a percentage")
        if not math.isclose(sum(value.values()), 100, abs_tol=1e-6):
            raise ValueError(f"the shares add up to {sum(value.values()):g}, not 100")
        return value


def assign_variant(name: str, rule: ExperimentRule, lead: Lead) -> str | None:
    """The variant of experiment `name` this lead gets; None outside its targeting."""
    if not targeted(rule, lead):
        return None
    total = 0.0
    for variant in sorted(rule.split):
        share = rule.split[variant]
        total += share
        if share > 0 and in_share(name, lead.number, total):
            return variant
    return None  # the shares add up to a hair under 100 and the lead's hash is past them


def assign_experiment(
    experiments: Mapping[str, ExperimentRule], lead: Lead
) -> tuple[str, str] | None:
    """(experiment, variant) for this lead: the first experiment by name that takes it."""
    for name in sorted(experiments):
        variant = assign_variant(name, experiments[name], lead)
        if variant is not None:
            return name, variant
    return None


def name_error(name: str) -> str | None:
    """Why `name` cannot name an experiment or a variant, or None."""
    return None if _NAME.fullmatch(name) else "a name is letters, digits, . _ - (at most 64)"

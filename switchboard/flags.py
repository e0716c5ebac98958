"""Feature flags: which calls get a feature, decided per lead, the same on every call.

A flag has a `percent` and optional targeting (directions, campaigns by id, number
prefixes; a call's campaign is the one whose dialer placed it).
A lead inside the targeting gets the flag when the stable hash of (flag name, the
lead's number) falls under the percentage (DESIGN.md:
`int(sha256(f"{name}:{number}")[:8], 16) % 10000 < percent * 100`), so a lead hears the
same thing on every call, and raising the percentage only ever adds leads.

The lead's number is the caller's on an inbound call and the dialled one on an
outbound call (a call's `from_number` everywhere in Switchboard). The canary share
(which application takes a call) is decided the same way, under the name `canary`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from switchboard.models import Direction

# The flag that turns the agents on for a share of calls (else the direct path only).
INTEGRATION_FLAG = "integration_enabled"


class Targeting(BaseModel):
    """Which leads a flag or an experiment applies to (unset: every lead)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    directions: list[Direction] | None = None
    # Campaign ids (`/v1/campaigns`); YAML reads `[12]` as numbers.
    campaigns: list[str] | None = None
    number_prefixes: list[str] | None = None

    @field_validator("campaigns", mode="before")
    @classmethod
    def _ids_as_text(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [str(item) if isinstance(item, int) and not isinstance(item, bool)
                    else item for item in value]
        return value


class FlagRule(Targeting):
    """One flag of `user_config.flags`."""

    percent: float = Field(ge=0, le=100)


@dataclass(frozen=True)
class Lead:
    """Who a call is with, as far as targeting is concerned."""

    number: str
    direction: Direction = "inbound"
    campaign: str | None = None


def in_share(name: str, number: str, percent: float) -> bool:
    """True when `number` falls inside `percent` % of leads for `name` (stable)."""
    digest = hashlib.sha256(f"{name}:{number}".encode()).hexdigest()
    return int(digest[:8], 16) % 10000 < percent * 100


def targeted(rule: Targeting, lead: Lead) -> bool:
    """True when the lead is inside the rule's targeting (no targeting: everyone)."""
    if rule.directions is not None and lead.direction not in rule.directions:
        return False
    if rule.campaigns is not None and lead.campaign not in rule.campaigns:
        return False
    prefixes = rule.number_prefixes
    return prefixes is None or any(lead.number.startswith(prefix) for prefix in prefixes)


def flag_on(name: str, rule: FlagRule, lead: Lead) -> bool:
    return targeted(rule, lead) and in_share(name, lead.number, rule.percent)


def assign_flags(flags: dict[str, FlagRule], lead: Lead) -> dict[str, bool]:
    """Every flag's answer for this lead."""
    return {name: flag_on(name, rule, lead) for name, rule in sorted(flags.items())}

"""How many calls a campaign may place now: its pacing, and the ingress's free capacity.

A campaign places at most `max_concurrent` calls at once and `calls_per_minute` in any
sliding minute. Both counts come from the attempts in PostgreSQL (in flight, and dialled
in the last 60 s), so a restarted dialer paces exactly as the one before it did. Beyond
that, no campaign may take more than the calls the ingress can still answer
(`dial_capacity.DialCapacity` reserves them before each dial).
"""

from __future__ import annotations

from dataclasses import dataclass

PACING_WINDOW_S = 60.0


@dataclass(frozen=True)
class Pacing:
    """A campaign's limits (its `campaigns` row)."""

    max_concurrent: int
    calls_per_minute: int


@dataclass(frozen=True)
class CampaignLoad:
    """What a campaign has going: attempts in flight (written, not yet settled) and
    attempts dialled within the last `PACING_WINDOW_S`."""

    in_flight: int
    dialled_last_minute: int


def calls_allowed(pacing: Pacing, load: CampaignLoad, free_capacity: int) -> int:
    """Calls the campaign may place now (never negative)."""
    by_concurrency = pacing.max_concurrent - load.in_flight
    by_rate = pacing.calls_per_minute - load.dialled_last_minute
    return max(0, min(by_concurrency, by_rate, free_capacity))

"""The dialer's metrics: calls placed, and attempts settled by status.

Ray metrics exported as `ray_<name>`, made once per replica; counts are `LiveGauge`s
(`switchboard.metrics`), on the endpoint at zero from start-up for every status.
"""

from __future__ import annotations

from ray.serve.metrics import Gauge

from db.campaigns import ATTEMPT_STATUSES
from switchboard.metrics import LiveGauge

# What an attempt can end as (all statuses but the ones in flight).
SETTLED_STATUSES = tuple(s for s in ATTEMPT_STATUSES if s not in ("queued", "dialing",
                                                                  "in_progress"))


class DialerMetrics:
    def __init__(self) -> None:
        self.dials = LiveGauge(Gauge(
            "switchboard_dials_placed_total",
            "Calls the dialer asked Twilio to place (a per-replica total)",
        ), zero=[{}])  # fmt: skip
        self.attempts = LiveGauge(Gauge(
            "switchboard_dial_attempts_settled_total",
            "Campaign attempts settled (a per-replica total), by status "
            f"({'|'.join(SETTLED_STATUSES)})",
            tag_keys=("status",),
        ), zero=[{"status": status} for status in SETTLED_STATUSES])  # fmt: skip

    def dialled(self) -> None:
        self.dials.inc()

    def settled(self, status: str) -> None:
        self.attempts.inc(tags={"status": status})

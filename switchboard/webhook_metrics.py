"""The post-call webhooks' metrics: deliveries by result, and how long after a call's
end its events reached the receiver.

Ray metrics (`ray.serve.metrics`), exported as `ray_<name>`; made once per process by
the delivery worker (in the recorder replicas). The deliveries are a count kept as a
`LiveGauge` (`switchboard.metrics`): on the endpoint at zero for every event type and
result from the worker's start (Ray's `Counter.inc(0)` raises).
"""

from __future__ import annotations

from typing import ClassVar

from ray.serve.metrics import Gauge, Histogram

from switchboard.metrics import LiveGauge
from switchboard.settings import WEBHOOK_EVENT_TYPES

# The `result` of `switchboard_webhook_deliveries`: delivered (a 2xx), retried (a
# network error, a timeout, 408, 429 or 5xx, with attempts left) or dead (moved to
# the dead-letter list: out of attempts, refused with another 4xx, or no endpoint).
RESULTS = ("delivered", "retried", "dead")

DELIVERY_DELAY_BOUNDARIES_MS = [50, 100, 250, 500, 1000, 2500, 5000, 15_000, 60_000, 300_000,
                                3_600_000]


class WebhookMetrics:
    """What the delivery worker counts in this process."""

    _instance: ClassVar[WebhookMetrics | None] = None

    def __init__(self) -> None:
        self.deliveries = LiveGauge(Gauge(
            "switchboard_webhook_deliveries_total",
            f"Webhook delivery attempts by event type and result ({'|'.join(RESULTS)}; a "
            "per-process total)",
            tag_keys=("type", "result"),
        ), zero=[
            {"type": event_type, "result": result}
            for event_type in WEBHOOK_EVENT_TYPES for result in RESULTS
        ])  # fmt: skip
        self.delivery_delay = Histogram(
            "switchboard_webhook_delivery_delay_ms",
            "From an event's creation (the call's record made final) to its delivery",
            boundaries=DELIVERY_DELAY_BOUNDARIES_MS,
            tag_keys=("type",),
        )

    @classmethod
    def get(cls) -> WebhookMetrics:
        if cls._instance is None:
            cls._instance = cls()
        return cls._instance

    def attempted(self, event_type: str, result: str) -> None:
        self.deliveries.inc(tags={"type": event_type, "result": result})

    def delivered_after(self, event_type: str, delay_ms: float) -> None:
        self.delivery_delay.observe(delay_ms, tags={"type": event_type})

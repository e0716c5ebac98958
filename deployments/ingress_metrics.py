"""The ingress's own metrics: calls taken, requests refused, recoveries.

Ray metrics (`ray.serve.metrics`), exported as `ray_<name>`; made once per replica.
"""

from __future__ import annotations

from ray.serve.metrics import Counter, Gauge, Histogram


class IngressMetrics:
    """What one ingress replica counts."""

    def __init__(self) -> None:
        self.calls_started = Counter(
            "switchboard_calls_started", "Calls whose stream started", tag_keys=("mode",)
        )
        self.refused = Counter(
            "switchboard_requests_refused",
            "Requests and sockets refused or closed, by reason (bad_signature, busy, "
            "no_warm_actor, no_start, flood, idle, protocol, duplicate_call, ...)",
            tag_keys=("reason",),
        )
        self.active_calls = Gauge("switchboard_active_calls", "Calls on this replica")
        self.session_take_ms = Histogram(
            "switchboard_session_take_ms",
            "Time to take a session actor for a call",
            boundaries=[1, 5, 10, 50, 100, 500, 1000, 5000],
        )
        self.recoveries = Counter(
            "switchboard_call_recoveries",
            "Calls moved to a new session actor after a failure, by what failed and how "
            "it went (resumed, not_resumable, ended)",
            tag_keys=("cause", "result"),
        )
        self.late_answers = Counter(
            "switchboard_session_late_answers",
            "Session actor answers past the deadline that were waited for, because the "
            "actor showed it was alive (a busy machine, not a failure)",
        )

    def refuse(self, reason: str) -> None:
        self.refused.inc(tags={"reason": reason})

    def recovery(self, cause: str, result: str) -> None:
        self.recoveries.inc(tags={"cause": cause, "result": result})

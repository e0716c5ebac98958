"""The ingress's own metrics: calls taken, requests refused, recoveries, the calls and
warm session actors it holds.

Ray metrics (`ray.serve.metrics`), exported as `ray_<name>`; made once per replica, at
its start. The counts and levels are `LiveGauge`s (`switchboard.metrics`): on the
endpoint from start-up, each count at zero for its known label sets.
"""

from __future__ import annotations

from ray.serve.metrics import Gauge, Histogram

from switchboard.metrics import LiveGauge

# Every `reason` the ingress refuses or closes with (`refuse`): its Twilio webhooks, its
# media streams, and a relay closed idle or on a protocol error.
REFUSAL_REASONS = ("bad_signature", "bad_form", "bad_stream_token", "unauthorized", "busy",
                   "no_warm_actor", "no_start", "flood", "idle", "protocol", "duplicate_call",
                   "do_not_call")
# What a recovery moved the call for, and how it went (`recovery`).
RECOVERY_CAUSES = ("stream_lost", "actor_failed")
RECOVERY_RESULTS = ("resumed", "not_resumable", "ended", "too_many_resumes")
CALL_MODES = ("audio", "text")


class IngressMetrics:
    """What one ingress replica counts."""

    def __init__(self) -> None:
        self.calls_started = LiveGauge(Gauge(
            "switchboard_calls_started_total",
            "Calls whose stream started (a per-replica total)",
            tag_keys=("mode",),
        ), zero=[{"mode": mode} for mode in CALL_MODES])  # fmt: skip
        self.refused = LiveGauge(Gauge(
            "switchboard_requests_refused_total",
            "Requests and sockets refused or closed (a per-replica total), by reason "
            f"({'|'.join(REFUSAL_REASONS)})",
            tag_keys=("reason",),
        ), zero=[{"reason": reason} for reason in REFUSAL_REASONS])  # fmt: skip
        self.active_calls = LiveGauge(Gauge("switchboard_active_calls", "Calls on this replica"),
                                      zero=[{}])  # fmt: skip
        self.warm_actors = LiveGauge(Gauge(
            "switchboard_warm_actors",
            "Warm session actors waiting in this replica's pool for a call",
        ), zero=[{}])  # fmt: skip
        self.session_take_ms = Histogram(
            "switchboard_session_take_ms",
            "Time to take a session actor for a call",
            boundaries=[1, 5, 10, 50, 100, 500, 1000, 5000],
        )
        self.recoveries = LiveGauge(Gauge(
            "switchboard_call_recoveries_total",
            "Calls moved to a new session actor after a failure (a per-replica total), by "
            f"what failed ({'|'.join(RECOVERY_CAUSES)}) and how it went "
            f"({'|'.join(RECOVERY_RESULTS)})",
            tag_keys=("cause", "result"),
        ), zero=[
            {"cause": cause, "result": result}
            for cause in RECOVERY_CAUSES for result in RECOVERY_RESULTS
        ])  # fmt: skip
        self.late_answers = LiveGauge(Gauge(
            "switchboard_session_late_answers_total",
            "Session actor answers past the deadline that were waited for, because the "
            "actor showed it was alive (a busy machine, not a failure; a per-replica total)",
        ), zero=[{}])  # fmt: skip

    def refuse(self, reason: str) -> None:
        self.refused.inc(tags={"reason": reason})

    def recovery(self, cause: str, result: str) -> None:
        self.recoveries.inc(tags={"cause": cause, "result": result})

"""`VoiceAgentIntegrationMetrics`: the metrics DESIGN.md names, defined in one place; and
`LiveGauge`, which keeps a metric on Ray's Prometheus endpoint from start-up.

Agent processing latency, tier escalation rate (tier decisions by outcome), agent
transition count, fallback activation count, state sync failures and circuit breaker
trips; and the agents' LLM: its final failures by call and reason, and its retries. For
operators besides (docs/observability.md): turn latency (end of caller speech to the
first agent audio), the speech services' time to first byte (from Pipecat's metrics
frames), the orchestrator breaker's state, the cost of each call and the calls that
failed. They are Ray metrics (`ray.serve.metrics`), which Ray exports to its dashboard
and Prometheus as `ray_<name>` from any replica or actor; a `prometheus_client` metric
inside a replica would not be exported.

Each process makes its own set on first use (`VoiceAgentIntegrationMetrics.get()`): the
orchestrator replicas observe latency, transitions and sync failures; the session actors
count fallbacks, breaker trips and failed breaker syncs, and observe turns, time to
first byte and cost; the budget counts its decisions; the orchestrator's LLM
(`graph.llm`) counts its failures and retries; the ingress's sweeper counts failed calls.
The ingress makes the set at start-up, so every count is on the endpoint, at zero,
before anything happens.

Counts at zero. Ray 2.60's `Counter.inc(0)` raises and its Counter has no public way to
record 0, so a Counter's label set appears only at its first count: a failure that never
happened is absent, not 0, and `increase()` misses a series' first event. The counts
here are therefore per-process totals published as Ray Gauges named `..._total` (the name
Ray gives a Counter, so queries read them as counters): set to 0 for their known label
sets when the process makes them, and only ever raised. A gauge is also dropped by Ray's
agent when not set again within two report intervals (seen: gone 20-45 s after its last
`set`), so `LiveGauge` sets every value it holds again every `REPUBLISH_S` seconds, from
one daemon thread per process; the levels (active calls, warm actors, breaker state,
outbox backlog) use it for the same reason.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Callable, Iterable, Mapping
from typing import ClassVar

from ray.serve.metrics import Gauge, Histogram

from switchboard.models import TierDecision

logger = logging.getLogger("ray")

# The `reason` of `switchboard_llm_failures`, as `graph.llm` classifies a failure.
LLM_FAILURE_REASONS = ("timeout", "connection", "http_5xx", "http_429", "http_4xx",
                       "invalid_output", "empty")
LLM_CALLS = ("extract", "reply")
# The `reason` of `switchboard_fallback_activations` (`actors.orchestrated_path`).
FALLBACK_REASONS = ("breaker_open", "timeout", "workflow_failed", "orchestrator_error")
# The `operation` of `switchboard_state_sync_failures`.
SYNC_OPERATIONS = ("turn", "adopt", "breaker", "heartbeat", "session")
# The `cause` of `switchboard_calls_failed` (`actors.call_sweeper`): nobody served the call
# for the grace period, or Twilio ended it while it waited; its replacement actor could
# not resume it; no session actor could take it.
CALL_FAILURE_CAUSES = ("abandoned", "not_resumable", "no_actor")
# The `service` of `switchboard_service_ttfb_ms`: what the Pipecat processor stands for.
SPEECH_SERVICES = ("stt", "llm", "tts")
# `switchboard_orchestrator_breaker_state`.
BREAKER_STATES = {"closed": 0, "half-open": 1, "open": 2}

LATENCY_BOUNDARIES_MS = [5, 10, 25, 50, 100, 250, 500, 1000, 2500]
# A turn: end of caller speech to first agent audio, which includes speech recognition,
# the agents and the first sentence's synthesis; the turn deadline is 4 s.
TURN_LATENCY_BOUNDARIES_MS = [100, 250, 500, 750, 1000, 1500, 2000, 3000, 4000, 6000, 10000]
TTFB_BOUNDARIES_MS = [5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000]
COST_BOUNDARIES_USD = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5]

REPUBLISH_S = 5.0

Tags = tuple[tuple[str, str], ...]


class LiveGauge:
    """A Ray gauge that stays on the endpoint: it holds the last value of each label set
    and sets it again every `REPUBLISH_S` (see the module docstring). `inc` makes it a
    count: a total that starts at 0 for every label set in `zero` and only rises."""

    def __init__(self, gauge: Gauge, zero: Iterable[Mapping[str, str]] = ()) -> None:
        self._gauge = gauge
        self._values: dict[Tags, float] = {}
        self._lock = threading.Lock()
        self._source: Callable[[], float] | None = None
        for tags in zero:
            self.set(0, tags)
        _Republisher.watch(self)

    def set(self, value: float, tags: Mapping[str, str] | None = None) -> None:
        key = _key(tags)
        with self._lock:
            self._values[key] = float(value)
        self._gauge.set(float(value), tags=dict(key))

    def inc(self, value: float = 1.0, tags: Mapping[str, str] | None = None) -> None:
        if value <= 0:
            raise ValueError(f"a count only rises; got {value}")
        key = _key(tags)
        with self._lock:
            total = self._values[key] = self._values.get(key, 0.0) + value
        self._gauge.set(total, tags=dict(key))

    def follow(self, source: Callable[[], float]) -> None:
        """Take the (untagged) value from `source` at every republication: for a level
        its owner reads cheaply but changes in many places (a pool's warm actors)."""
        self._source = source
        self.republish()

    def value(self, tags: Mapping[str, str] | None = None) -> float | None:
        with self._lock:
            return self._values.get(_key(tags))

    def republish(self) -> None:
        if self._source is not None:
            value = float(self._source())
            with self._lock:
                self._values[()] = value
        with self._lock:
            values = list(self._values.items())
        for key, value in values:
            self._gauge.set(value, tags=dict(key))


def _key(tags: Mapping[str, str] | None) -> Tags:
    return tuple(sorted((tags or {}).items()))


class _Republisher:
    """The process's thread that sets every `LiveGauge` again, every `REPUBLISH_S`."""

    # Weak: a gauge whose owner is gone (a replica's metrics, a finished watch) stops
    # being set, and Ray drops it as it should.
    _gauges: ClassVar[weakref.WeakSet[LiveGauge]] = weakref.WeakSet()
    _lock: ClassVar[threading.Lock] = threading.Lock()
    _thread: ClassVar[threading.Thread | None] = None

    @classmethod
    def watch(cls, gauge: LiveGauge) -> None:
        with cls._lock:
            cls._gauges.add(gauge)
            if cls._thread is None:
                cls._thread = threading.Thread(
                    target=cls._run, name="switchboard-metrics", daemon=True
                )
                cls._thread.start()

    @classmethod
    def _run(cls) -> None:
        stop = threading.Event()  # never set: the thread lives as long as the process
        while not stop.wait(REPUBLISH_S):
            with cls._lock:
                gauges = list(cls._gauges)
            for gauge in gauges:
                try:
                    gauge.republish()
                except Exception:  # one bad gauge must not stop the others
                    logger.exception("could not republish a metric")


class VoiceAgentIntegrationMetrics:
    """The integration's metrics in this process."""

    _instance: ClassVar[VoiceAgentIntegrationMetrics | None] = None

    def __init__(self) -> None:
        self.agent_processing_latency = Histogram(
            "switchboard_agent_processing_latency_ms",
            "Time the agents' workflow takes for one caller turn",
            boundaries=LATENCY_BOUNDARIES_MS,
            tag_keys=("agent",),
        )
        self.turn_latency = Histogram(
            "switchboard_turn_latency_ms",
            "One caller turn, from the end of the caller's speech to the first audio of "
            "the agent's reply (audio calls; a text call's turn ends at the reply)",
            boundaries=TURN_LATENCY_BOUNDARIES_MS,
            tag_keys=("mode",),
        )
        self.service_ttfb = Histogram(
            "switchboard_service_ttfb_ms",
            "Time to first byte of a call's speech and language services, from Pipecat's "
            f"metrics frames, by service ({'|'.join(SPEECH_SERVICES)}) and processor",
            boundaries=TTFB_BOUNDARIES_MS,
            tag_keys=("service", "processor"),
        )
        self.call_cost = Histogram(
            "switchboard_call_cost_usd",
            "What one call cost (USD: speech, the agents' tier, telephony), at its end",
            boundaries=COST_BOUNDARIES_USD,
            tag_keys=("status",),
        )
        self.agent_transitions = LiveGauge(Gauge(
            "switchboard_agent_transitions_total",
            "Agent handoffs (a per-process total)",
            tag_keys=("from_agent", "to_agent"),
        ))  # fmt: skip
        self.fallback_activations = LiveGauge(Gauge(
            "switchboard_fallback_activations_total",
            "Caller turns answered by the direct path instead of the agents (a per-process "
            f"total), by reason ({'|'.join(FALLBACK_REASONS)})",
            tag_keys=("reason",),
        ), zero=[{"reason": reason} for reason in FALLBACK_REASONS])  # fmt: skip
        self.state_sync_failures = LiveGauge(Gauge(
            "switchboard_state_sync_failures_total",
            "State that could not be synced (a per-process total): a failed workflow turn "
            "(operation=turn), a failed hand-over from the direct path (operation=adopt), a "
            "round of the orchestrator breaker's state sync with Redis (operation=breaker), "
            "a session's heartbeat or journal write (operation=heartbeat|session)",
            tag_keys=("operation",),
        ), zero=[{"operation": operation} for operation in SYNC_OPERATIONS])  # fmt: skip
        self.circuit_breaker_trips = LiveGauge(Gauge(
            "switchboard_circuit_breaker_trips_total",
            "Times the orchestrator breaker opened (a per-process total)",
        ), zero=[{}])  # fmt: skip
        self.breaker_state = LiveGauge(Gauge(
            "switchboard_orchestrator_breaker_state",
            "The orchestrator breaker in this process: 0 closed, 1 half-open, 2 open",
        ))  # fmt: skip
        # The tier escalation rate is granted / all decisions with trigger != admin.
        self.tier_decisions = LiveGauge(Gauge(
            "switchboard_tier_decisions_total",
            "Tier decisions of the budget, by tier, approval and reason (a per-process total)",
            tag_keys=("tier", "approved", "reason"),
        ), zero=[
            {"tier": "premium", "approved": "true", "reason": "granted"},
            {"tier": "premium", "approved": "false", "reason": "daily_budget"},
            {"tier": "premium", "approved": "false", "reason": "per_call_cap"},
        ])  # fmt: skip
        # An LLM call that failed after every attempt its deadline allowed (the agents
        # then used rules or a template); a retry that succeeded is not a failure.
        self.llm_failures = LiveGauge(Gauge(
            "switchboard_llm_failures_total",
            "LLM calls that finally failed (a per-process total), by call (extract|reply) "
            f"and reason ({'|'.join(LLM_FAILURE_REASONS)})",
            tag_keys=("call", "reason"),
        ), zero=[
            {"call": call, "reason": reason}
            for call in LLM_CALLS for reason in LLM_FAILURE_REASONS
        ])  # fmt: skip
        self.llm_retries = LiveGauge(Gauge(
            "switchboard_llm_retries_total",
            "LLM attempts retried after a timeout, connection error, 429 or 5xx, by call "
            "(a per-process total)",
            tag_keys=("call",),
        ), zero=[{"call": call} for call in LLM_CALLS])  # fmt: skip
        self.calls_failed = LiveGauge(Gauge(
            "switchboard_calls_failed_total",
            "Calls ended failed because nothing could carry them on (a per-process total), "
            f"by cause ({'|'.join(CALL_FAILURE_CAUSES)})",
            tag_keys=("cause",),
        ), zero=[{"cause": cause} for cause in CALL_FAILURE_CAUSES])  # fmt: skip

    @classmethod
    def get(cls) -> VoiceAgentIntegrationMetrics:
        if cls._instance is None:
            cls._instance = cls()
        return cls._instance

    def agent_turn(self, agent: str, latency_ms: float, transitions: list[dict]) -> None:
        self.agent_processing_latency.observe(latency_ms, tags={"agent": agent})
        for hop in transitions:
            self.agent_transitions.inc(
                tags={"from_agent": hop["from_agent"], "to_agent": hop["to_agent"]}
            )

    def turn_answered(self, mode: str, latency_ms: float) -> None:
        self.turn_latency.observe(latency_ms, tags={"mode": mode})

    def service_first_byte(self, service: str, processor: str, ttfb_s: float) -> None:
        self.service_ttfb.observe(
            ttfb_s * 1000, tags={"service": service, "processor": processor}
        )

    def call_ended(self, status: str, cost_usd: float) -> None:
        self.call_cost.observe(cost_usd, tags={"status": status})

    def call_failed(self, cause: str) -> None:
        self.calls_failed.inc(tags={"cause": cause})

    def fallback(self, reason: str) -> None:
        self.fallback_activations.inc(tags={"reason": reason})

    def state_sync_failed(self, operation: str) -> None:
        self.state_sync_failures.inc(tags={"operation": operation})

    def breaker_tripped(self) -> None:
        self.circuit_breaker_trips.inc()

    def breaker_is(self, state: str) -> None:
        self.breaker_state.set(BREAKER_STATES.get(state, BREAKER_STATES["open"]))

    def tier_decided(self, decision: TierDecision, reason: str) -> None:
        self.tier_decisions.inc(
            tags={
                "tier": decision.tier,
                "approved": str(decision.approved).lower(),
                "reason": reason,
            }
        )

    def llm_failed(self, call: str, reason: str) -> None:
        self.llm_failures.inc(tags={"call": call, "reason": reason})

    def llm_retried(self, call: str) -> None:
        self.llm_retries.inc(tags={"call": call})


class BudgetDayMetrics:
    """The day's premium budget, as the budget deployment's replicas read it from the
    ledger (they share it, so they agree; a dashboard takes their `max`)."""

    def __init__(self) -> None:
        self.committed = LiveGauge(Gauge(
            "switchboard_budget_committed_usd",
            "Premium committed today (UTC): spent plus held by calls in progress, USD",
        ), zero=[{}])  # fmt: skip
        self.cap = LiveGauge(Gauge(
            "switchboard_budget_daily_cap_usd",
            "The premium tier's daily budget (tiers.daily_budget_usd), USD",
        ))  # fmt: skip

    def show(self, committed_usd: float, cap_usd: float) -> None:
        self.committed.set(committed_usd)
        self.cap.set(cap_usd)

"""`VoiceAgentIntegrationMetrics`: the metrics DESIGN.md names, defined in one place.

Agent processing latency, tier escalation rate (tier decisions by outcome), agent
transition count, fallback activation count, state sync failures and circuit breaker
trips; and the agents' LLM: its final failures by call and reason, and its retries.
They are Ray metrics (`ray.util.metrics`), which Ray exports to its dashboard and
Prometheus as `ray_<name>` from any replica or actor; a `prometheus_client` metric inside
a replica would not be exported.

Each process makes its own set on first use (`VoiceAgentIntegrationMetrics.get()`): the
orchestrator replicas observe latency, transitions and sync failures; the session actors
count fallbacks, breaker trips and failed breaker syncs; the budget counts its
decisions; the orchestrator's LLM (`graph.llm`) counts its failures and retries.

Tagged counters are exported once a tag set is first counted: Ray's `Counter.inc(0)`
raises, so they are not pre-created at zero.
"""

from __future__ import annotations

from typing import ClassVar

from ray.serve.metrics import Counter, Histogram

from switchboard.models import TierDecision

# The `reason` of `switchboard_llm_failures`, as `graph.llm` classifies a failure.
LLM_FAILURE_REASONS = ("timeout", "connection", "http_5xx", "http_429", "http_4xx",
                       "invalid_output", "empty")

LATENCY_BOUNDARIES_MS = [5, 10, 25, 50, 100, 250, 500, 1000, 2500]


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
        self.agent_transitions = Counter(
            "switchboard_agent_transitions",
            "Agent handoffs",
            tag_keys=("from_agent", "to_agent"),
        )
        self.fallback_activations = Counter(
            "switchboard_fallback_activations",
            "Caller turns answered by the direct path instead of the agents",
            tag_keys=("reason",),
        )
        self.state_sync_failures = Counter(
            "switchboard_state_sync_failures",
            "State that could not be synced: a failed workflow turn (operation=turn), a "
            "failed hand-over from the direct path (operation=adopt), or a round of the "
            "orchestrator breaker's state sync with Redis (operation=breaker)",
            tag_keys=("operation",),
        )
        self.circuit_breaker_trips = Counter(
            "switchboard_circuit_breaker_trips", "Times the orchestrator breaker opened"
        )
        # The tier escalation rate is granted / all decisions with trigger != admin.
        self.tier_decisions = Counter(
            "switchboard_tier_decisions",
            "Tier decisions of the budget, by tier, approval and reason",
            tag_keys=("tier", "approved", "reason"),
        )
        # An LLM call that failed after every attempt its deadline allowed (the agents
        # then used rules or a template); a retry that succeeded is not a failure.
        self.llm_failures = Counter(
            "switchboard_llm_failures",
            "LLM calls that finally failed, by call (extract|reply) and reason "
            f"({'|'.join(LLM_FAILURE_REASONS)})",
            tag_keys=("call", "reason"),
        )
        self.llm_retries = Counter(
            "switchboard_llm_retries",
            "LLM attempts retried after a timeout, connection error, 429 or 5xx, by call",
            tag_keys=("call",),
        )

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

    def fallback(self, reason: str) -> None:
        self.fallback_activations.inc(tags={"reason": reason})

    def state_sync_failed(self, operation: str) -> None:
        self.state_sync_failures.inc(tags={"operation": operation})

    def breaker_tripped(self) -> None:
        self.circuit_breaker_trips.inc()

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

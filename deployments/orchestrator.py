"""`OrchestratorDeployment`: the agents' workflow as an autoscaled Serve deployment.

Each caller turn is one request (`process_voice_input`); the conversation lives in the
Redis checkpointer under `thread_id` = CallSid, so consecutive turns of a call may land
on any replica, or on a new one after a replica died.

This file owns the deployment and its metrics: agent processing latency, agent
transitions, orchestrator fallbacks and state sync failures
(`switchboard_state_sync_failures`: a turn whose workflow failed, so the call's
`VoiceAgentIntegrationContext.sync_status` went `failed`, or an `adopt_conversation`
that could not hand the direct path's state to the agents). Every answer names the
replica that served it (`replica_id`, the replica's unique id within the deployment;
None outside Serve), so callers, logs and tests can see which replica took a turn.
"""

from __future__ import annotations

import logging
from typing import Any

from ray import serve
from ray.serve.exceptions import RayServeException
from ray.serve.metrics import Counter, Histogram

from graph.orchestrator import AgentOrchestrator
from switchboard.settings import VoiceAgentIntegrationConfig

logger = logging.getLogger("ray.serve")


def _replica_id() -> str | None:
    """This replica's unique id within its deployment; None when not run by Serve."""
    try:
        return serve.get_replica_context().replica_id.unique_id
    except RayServeException:
        return None


@serve.deployment
class OrchestratorDeployment:
    def __init__(self, settings: VoiceAgentIntegrationConfig | None = None) -> None:
        self._orchestrator = AgentOrchestrator(settings)
        self.replica_id = _replica_id()
        self._latency = Histogram(
            "switchboard_agent_processing_latency_ms",
            "Time the agents' workflow takes for one caller turn",
            boundaries=[5, 10, 25, 50, 100, 250, 500, 1000, 2500],
            tag_keys=("agent",),
        )
        self._transitions = Counter(
            "switchboard_agent_transitions", "Agent handoffs", tag_keys=("from_agent", "to_agent")
        )
        self._fallbacks = Counter(
            "switchboard_orchestrator_fallbacks", "Turns the workflow could not run"
        )
        self._sync_failures = Counter(
            "switchboard_state_sync_failures",
            "Conversation state the agents could not sync: a failed workflow turn "
            "(operation=turn) or a failed hand-over from the direct path (operation=adopt)",
            tag_keys=("operation",),
        )

    async def process_voice_input(
        self, call_id: str, text: str, metadata: dict[str, Any]
    ) -> dict[str, Any]:
        response = await self._orchestrator.process_voice_input(call_id, text, metadata)
        if response["fallback"]:
            self._fallbacks.inc()
            self._sync_failures.inc(tags={"operation": "turn"})
        else:
            self._latency.observe(response["latency_ms"], tags={"agent": response["agent"]})
            for hop in response["transitions"]:
                self._transitions.inc(
                    tags={"from_agent": hop["from_agent"], "to_agent": hop["to_agent"]}
                )
        return {**response, "replica_id": self.replica_id}

    async def adopt_conversation(self, call_id: str, conversation: dict[str, Any]) -> None:
        try:
            await self._orchestrator.adopt_conversation(call_id, conversation)
        except Exception:
            self._sync_failures.inc(tags={"operation": "adopt"})
            logger.warning("could not adopt the conversation of %s", call_id, exc_info=True)
            raise

    async def check_health(self) -> None:
        await self._orchestrator.redis.ping()

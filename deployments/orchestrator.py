"""`OrchestratorDeployment`: the agents' workflow as an autoscaled Serve deployment.

Each caller turn is one request (`process_voice_input`); the conversation lives in the
Redis checkpointer under `thread_id` = CallSid, so consecutive turns of a call may land
on any replica, or on a new one after a replica died.
"""

from __future__ import annotations

import logging
from typing import Any

from ray import serve
from ray.serve.metrics import Counter, Histogram

from graph.orchestrator import AgentOrchestrator

logger = logging.getLogger("ray.serve")


@serve.deployment
class OrchestratorDeployment:
    def __init__(self) -> None:
        self._orchestrator = AgentOrchestrator()
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

    async def process_voice_input(
        self, call_id: str, text: str, metadata: dict[str, Any]
    ) -> dict[str, Any]:
        response = await self._orchestrator.process_voice_input(call_id, text, metadata)
        if response["fallback"]:
            self._fallbacks.inc()
        else:
            self._latency.observe(response["latency_ms"], tags={"agent": response["agent"]})
            for hop in response["transitions"]:
                self._transitions.inc(
                    tags={"from_agent": hop["from_agent"], "to_agent": hop["to_agent"]}
                )
        return response

    async def adopt_conversation(self, call_id: str, conversation: dict[str, Any]) -> None:
        await self._orchestrator.adopt_conversation(call_id, conversation)

    async def check_health(self) -> None:
        await self._orchestrator.redis.ping()

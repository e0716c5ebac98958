"""`OrchestratorDeployment`: the agents' workflow as an autoscaled Serve deployment.

Each caller turn is one request; the conversation lives in the Redis checkpointer
under `thread_id` = CallSid, so consecutive turns of a call may land on any replica, or
on a new one after a replica died. The session asks with `stream_voice_input` through a
streaming handle (`handle.options(stream=True)`): each sentence of the reply reaches it
as soon as the agents have it, so the caller hears the first while the LLM writes the
rest; `process_voice_input` is the same turn answered whole.

It observes the agents' metrics (`switchboard.metrics`): processing latency and
transitions per turn, and state sync failures: a turn whose workflow failed, so the
call's `VoiceAgentIntegrationContext.sync_status` went `failed`, or an
`adopt_conversation` that could not hand the direct path's state to the agents.

A replayed turn (`replayed: True`: a turn the workflow had already run, answered from
its checkpoint after a session actor was replaced) is counted in no metric: its latency
and transitions were observed when it ran, and observing them again would count one
turn twice. It is logged (by `graph.workflow.orchestrator`) instead. A stale turn is answered
with the fallback and counts as a state sync failure, as any turn that could not run.

A turn carries the live settings its call started with (`metadata["config"]`: version
and `user_config` block), and is answered by them: a call keeps its version across a
deploy, whichever replica takes its turns. One workflow per version is kept (the most
recent few), sharing this replica's Redis client and LLM client (each asks for its own
settings' models and prompts: `TieredLLM.for_settings`). A turn without them is
answered by what this replica's `reconfigure()` last accepted.

Every answer names the replica that served it (`replica_id`, its unique id within the
deployment; None outside Serve), so logs and tests can see which replica took a turn.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

from ray import serve
from ray.serve.exceptions import RayServeException

from deployments.live_settings import LiveSettings, PerVersion, application_name
from graph.workflow.orchestrator import AgentOrchestrator
from switchboard import tracing
from switchboard.live_config_store import LiveConfigStore
from switchboard.logging_setup import setup_replica_logging
from switchboard.metrics import VoiceAgentIntegrationMetrics
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
        base = self._orchestrator.settings
        setup_replica_logging(base.monitoring.log_level)
        tracing.setup_tracing("orchestrator")
        app = application_name()
        self._live = LiveSettings(
            base, app=app, store=LiveConfigStore(self._orchestrator.redis, base.redis_prefix, app)
        )
        primary = self._orchestrator
        self._workflows = PerVersion(
            self._live,
            lambda settings: AgentOrchestrator(
                settings, redis=primary.redis,
                llm=primary.llm.for_settings(settings) if primary.llm is not None else None),
            env=primary,
        )
        self.replica_id = _replica_id()
        self._metrics = VoiceAgentIntegrationMetrics.get()

    async def reconfigure(self, user_config: dict) -> None:
        await self._live.reconfigure(user_config)

    async def stream_voice_input(
        self, call_id: str, text: str, metadata: dict[str, Any]
    ) -> AsyncIterator[dict[str, Any]]:
        """One caller turn, as `AgentOrchestrator.stream_voice_input`: `{"type":
        "sentence", "text", "agent"}` as each sentence is ready, then `{"type": "result",
        "result": {...}}` (with this replica's `replica_id`)."""
        workflow = self._workflows.for_call(metadata.get("config"))
        response: dict[str, Any] = {}
        # Under the session's span of this turn (its context is `metadata["trace"]`);
        # the agents' nodes and the LLM calls they make are this span's children.
        with tracing.span(
            "orchestrator",
            metadata.get("trace"),
            kind=tracing.SpanKind.SERVER,
            attributes={"call.sid": call_id, "turn.number": metadata.get("turn"),
                        "turn.event": metadata.get("event"), "replica.id": self.replica_id},
        ) as turn_span:
            async for item in workflow.stream_voice_input(call_id, text, metadata):
                if item["type"] == "result":
                    response = item["result"]
                else:
                    yield item
            if turn_span is not None:
                turn_span.set_attribute("agent", str(response.get("agent")))
                turn_span.set_attribute("fallback", bool(response.get("fallback")))
        if response["fallback"]:
            self._metrics.state_sync_failed("turn")
        elif response.get("replayed"):
            pass  # observed when the turn ran: counting it again would count it twice
        else:
            self._metrics.agent_turn(
                response["agent"], response["latency_ms"], response["transitions"]
            )
        yield {"type": "result", "result": {**response, "replica_id": self.replica_id}}

    async def process_voice_input(
        self, call_id: str, text: str, metadata: dict[str, Any]
    ) -> dict[str, Any]:
        """One caller turn, answered whole (`stream_voice_input`'s result)."""
        result: dict[str, Any] = {}
        async for item in self.stream_voice_input(call_id, text, metadata):
            if item["type"] == "result":
                result = item["result"]
        return result

    async def adopt_conversation(self, call_id: str, conversation: dict[str, Any]) -> None:
        try:
            await self._orchestrator.adopt_conversation(call_id, conversation)
        except Exception:
            self._metrics.state_sync_failed("adopt")
            logger.warning("could not adopt the conversation of %s", call_id, exc_info=True)
            raise

    async def check_health(self) -> None:
        await self._orchestrator.redis.ping()

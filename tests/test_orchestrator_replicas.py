"""One conversation, several orchestrator replicas: state lives in Redis, not in a replica.

Owns the proof, against a real Serve deployment of `OrchestratorDeployment` with two
replicas in a local Ray, that consecutive turns of one call served by different replicas
continue the same conversation to the right outcome and facts:

- with a request router that sends each request to a replica other than the one that took
  the previous request (Serve's public `RequestRouter` API), so every consecutive pair of
  turns is served by two different replicas, deterministically;
- with Serve's default router, killing the replica that served the last turn: the next turn
  necessarily lands on another replica (the survivor or its replacement).

Each answer names its replica (`replica_id`, added by the deployment). The conversation is
also played through one in-process `AgentOrchestrator`: the replicas must say exactly what
a single orchestrator says.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import ray
from ray import serve
from ray.actor import ActorHandle
from ray.serve.config import RequestRouterConfig
from ray.serve.handle import DeploymentHandle
from ray.serve.request_router import (
    FIFOMixin,
    PendingRequest,
    ReplicaID,
    RequestRouter,
    RunningReplica,
)

from deployments.orchestrator_deployment import OrchestratorDeployment
from graph.workflow.orchestrator import AgentOrchestrator
from switchboard.settings import VoiceAgentIntegrationConfig, load_settings

pytestmark = [pytest.mark.slow, pytest.mark.parallel_safe]

DEPLOYMENT = "OrchestratorDeployment"
INBOUND = {"direction": "inbound"}

# Two callers who qualify (need, budget, decision, timeline), book and say goodbye.
JORDAN = [
    "Hi, Jordan here.",
    "Yeah, go ahead, I've got a moment.",
    "Honestly our receptionists can't keep up and callers end up in voicemail.",
    "We've set aside roughly forty thousand a year for this.",
    "I'm the COO, so I sign off on it.",
    "Ideally we'd have it running in the next two months.",
    "Thursday afternoon at two would be good.",
    "Nope, that covers it. Thanks!",
]
MARCUS = [
    "This is Marcus from the clinic.",
    "Sure, I can spare a couple of minutes.",
    "Patients keep getting a busy signal when they try to book appointments.",
    "We could put about seventy-five thousand dollars a year toward it.",
    "Yes, it's my call, I own the practice.",
    "We need this sorted within four months.",
    "Monday at eleven works.",
    "That's everything, bye.",
]


class AlternatingRouter(FIFOMixin, RequestRouter):
    """Prefers any replica but the one that took the previous request.

    Requests sent one after another therefore alternate between two replicas; the replica
    that took the last one is still a fallback, so no request waits for lack of a replica.
    """

    _last: ReplicaID | None = None

    async def choose_replicas(
        self,
        candidate_replicas: list[RunningReplica],
        pending_request: PendingRequest | None = None,
    ) -> list[list[RunningReplica]]:
        ordered = sorted(candidate_replicas, key=lambda replica: replica.replica_id.unique_id)
        others = [replica for replica in ordered if replica.replica_id != self._last]
        last = [replica for replica in ordered if replica.replica_id == self._last]
        return [ranked for ranked in (others, last) if ranked]

    def on_request_routed(
        self, pending_request: PendingRequest, replica_id: ReplicaID, result: Any
    ) -> None:
        # Called once a replica accepted the request (Serve's strict max_ongoing_requests,
        # the default outside Ray Client); the test asserts the alternation it relies on.
        self._last = replica_id


def settings_for(prefix: str) -> VoiceAgentIntegrationConfig:
    return load_settings(transfer_number="+15557650100", redis_prefix=prefix)


def two_replicas(
    app: str, settings: VoiceAgentIntegrationConfig, **options: Any
) -> DeploymentHandle:
    """`OrchestratorDeployment` with two replicas, as application `app`; its handle."""
    deployment = OrchestratorDeployment.options(
        num_replicas=2,
        ray_actor_options={"num_cpus": 0.1},
        health_check_period_s=1,
        **options,
    )
    return serve.run(deployment.bind(settings), name=app, route_prefix=None)


def new_call() -> str:
    return f"CA{uuid.uuid4().hex}"


async def turn(handle: DeploymentHandle, call_id: str, kind: str, text: str = "") -> dict:
    return await handle.process_voice_input.remote(call_id, text, {**INBOUND, "event": kind})


async def single_orchestrator(settings: VoiceAgentIntegrationConfig, lines: list[str]) -> list:
    """The same conversation through one in-process orchestrator: the reference."""
    orchestrator = AgentOrchestrator(settings, llm=None)
    call_id = new_call()
    try:
        results = [
            await orchestrator.process_voice_input(call_id, "", {**INBOUND, "event": "start"})
        ]
        for line in lines:
            results.append(
                await orchestrator.process_voice_input(call_id, line, {**INBOUND, "event": "text"})
            )
        return results
    finally:
        await orchestrator.aclose()


def said(result: dict) -> tuple:
    """What a turn's answer is about: words, agent, outcome, facts, score, end of call."""
    return (
        result["sentences"],
        result["agent"],
        result["outcome"],
        result["facts"],
        result["qualification_score"],
        result["end_call"],
        result["fallback"],
    )


def assert_qualified(final: dict, *, budget_usd: float, timeline_months: float) -> None:
    assert final["outcome"] == "qualified"
    assert final["facts"]["budget_usd"] == budget_usd
    assert final["facts"]["decision_maker"] is True
    assert final["facts"]["timeline_months"] == timeline_months
    assert final["facts"]["need"]
    assert final["qualification_score"] == 1.0
    assert final["end_call"] and final["agent"] == "wrap_up"


def replica_actor(app: str, replica_id: str) -> ActorHandle:
    """The Ray actor of a replica (Serve names it `SERVE_REPLICA::app#deployment#id`)."""
    return ray.get_actor(f"SERVE_REPLICA::{app}#{DEPLOYMENT}#{replica_id}", namespace="serve")


async def test_alternating_replicas_carry_one_conversation_to_qualified(
    local_ray: None, redis_prefix: str
) -> None:
    app = f"orch-alternate-{uuid.uuid4().hex[:6]}"
    settings = settings_for(redis_prefix)
    handle = two_replicas(
        app,
        settings,
        request_router_config=RequestRouterConfig(request_router_class=AlternatingRouter),
    )
    try:
        # The handle learns the replicas from the controller: warm it up until it has
        # sent requests to both (bounded), so the call below alternates from its first turn.
        seen: set[str] = set()
        for _ in range(20):
            seen.add((await turn(handle, new_call(), "start"))["replica_id"])
            if len(seen) == 2:
                break
        assert len(seen) == 2, "the second replica never took a request"

        call_id = new_call()
        results = [await turn(handle, call_id, "start")]
        for line in JORDAN:
            results.append(await turn(handle, call_id, "text", line))
    finally:
        serve.delete(app)

    replicas = [result["replica_id"] for result in results]
    assert set(replicas) == seen
    assert all(a != b for a, b in zip(replicas, replicas[1:], strict=False)), replicas
    assert not any(result["fallback"] for result in results)

    # The name learned on one replica is used by the other in the next turn and at the end.
    assert results[1]["sentences"][0] == "Nice to meet you, Jordan."
    # The time was read back; closing let it stand: booked, then goodbye by name.
    assert results[-1]["sentences"][0].startswith("Perfect, you're booked for Thursday")
    assert "Thanks for your time, Jordan." in results[-1]["sentences"]
    # Facts learned on one replica are still known on the other, turn after turn.
    for before, after in zip(results, results[1:], strict=False):
        for name, value in before["facts"].items():
            if value is not None and name != "meeting_time":
                assert after["facts"][name] == value, (name, before["replica_id"])
    assert_qualified(results[-1], budget_usd=40_000, timeline_months=2)
    assert results[-1]["facts"]["meeting_time"] == "Thursday at 2 PM"

    reference = await single_orchestrator(settings, JORDAN)
    assert [said(result) for result in results] == [said(result) for result in reference]
    handoffs = [
        (hop["from_agent"], hop["to_agent"], hop["trigger"])
        for result in results
        for hop in result["transitions"]
    ]
    assert handoffs == [
        (hop["from_agent"], hop["to_agent"], hop["trigger"])
        for result in reference
        for hop in result["transitions"]
    ]


async def test_the_call_continues_on_another_replica_after_its_replica_is_killed(
    local_ray: None, redis_prefix: str
) -> None:
    app = f"orch-failover-{uuid.uuid4().hex[:6]}"
    settings = settings_for(redis_prefix)
    handle = two_replicas(app, settings)  # Serve's default router
    call_id = new_call()
    try:
        results = [await turn(handle, call_id, "start")]
        for line in MARCUS[:4]:  # up to and including the budget
            results.append(await turn(handle, call_id, "text", line))
        killed = results[-1]["replica_id"]
        assert results[-1]["facts"]["budget_usd"] == 75_000
        ray.kill(replica_actor(app, killed), no_restart=True)

        after_kill = [await turn(handle, call_id, "text", line) for line in MARCUS[4:]]
    finally:
        serve.delete(app)

    assert all(result["replica_id"] != killed for result in after_kill)
    assert not any(result["fallback"] for result in results + after_kill)
    # The first answer after the kill builds on what the dead replica learned.
    first = after_kill[0]
    assert first["facts"]["budget_usd"] == 75_000 and first["facts"]["need"]
    assert first["sentences"] == [
        "Great, thanks.",
        "When would you want something like this in place?",
    ]
    assert after_kill[-1]["sentences"][0].startswith("Perfect, you're booked for Monday")
    assert "Thanks for your time, Marcus." in after_kill[-1]["sentences"]
    assert_qualified(after_kill[-1], budget_usd=75_000, timeline_months=4)

    reference = await single_orchestrator(settings, MARCUS)
    assert [said(result) for result in results + after_kill] == [said(r) for r in reference]

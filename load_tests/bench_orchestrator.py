"""Orchestrator benchmark: what the agents' workflow costs per caller turn, and how many
turns one `OrchestratorDeployment` replica sustains on this machine.

This file owns three measurements, on the real Redis (REDIS_URL, else 127.0.0.1:6379,
under a key prefix of its own that it deletes afterwards) and a local Ray:

(a) orchestrator time per turn, p50 / p95, over realistic conversations: the workflow
    alone (`AgentOrchestrator.process_voice_input` in this process) and through a
    1-replica Serve deployment handle (adds the Ray hop: routing, serialisation, the
    replica's event loop); the replica's own `latency_ms` is reported too, so the hop
    is the difference;
(b) turns per second one replica sustains: N concurrent synthetic calls through the
    1-replica deployment, N rising, throughput and p95 per level;
(c) what orchestration adds over the direct path: `DirectResponder.respond` (the
    templated script, in process) against a turn through the deployment handle, for
    the same caller lines; the difference is what the orchestrator adds between end of
    caller speech and first agent audio.

Nothing here asserts a timing: it prints and writes JSON (default
`load_tests/results/bench_orchestrator.json`, git-ignored). Request loops are bounded in
count and time.

    .venv/bin/python -m load_tests.bench_orchestrator --turns 300 --concurrency 1 2 4 8 16 32
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import ray
import redis.asyncio as aioredis
import yaml
from ray import serve
from ray.serve.handle import DeploymentHandle

from actors.direct_path import DirectResponder
from actors.responder import CallerEvent
from deployments.orchestrator_deployment import OrchestratorDeployment
from graph.workflow.orchestrator import AgentOrchestrator
from load_tests.results import RESULTS
from switchboard.local_services import start_local_ray
from switchboard.models import CallSession
from switchboard.settings import VoiceAgentIntegrationConfig, load_settings

ROOT = Path(__file__).resolve().parent.parent
TURN_TIMEOUT_S = 30.0

# Callers written for this benchmark: mostly full qualification calls (about nine turns),
# with the shorter endings real traffic has (a long timeline, no budget, a transfer,
# an opt-out). Phrasings vary on purpose, so extraction does real work.
CONVERSATIONS: list[list[str]] = [
    [
        "Hey there, it's Wei.",
        "Okay, make it quick.",
        "We run a small plumbing shop and half the calls on weekends go nowhere.",
        "Maybe twenty-five grand annually.",
        "Me and my business partner decide together.",
        "Hopefully before the end of next month.",
        "Yes.",
        "No, I'm good, thank you.",
    ],
    [
        "Ines here, hi.",
        "Alright, I can talk for a bit.",
        "Our dispatchers are swamped and customers hang up after waiting on hold.",
        "We budgeted something like sixty thousand dollars for the year.",
        "I head up customer service and the budget is mine.",
        "We'd like it up and running in about three months.",
        "Could we do Wednesday at three instead?",
        "That's it, have a good one.",
    ],
    [
        "Good morning, Farah speaking.",
        "I have a few minutes, sure.",
        "Our sales team can't follow up on inbound leads fast enough.",
        "Around a hundred and twenty thousand dollars per year.",
        "It would go through our VP, she makes the final call.",
        "Probably sometime next year, no rush.",
        "No thanks, bye.",
    ],
    [
        "Hello, this is Tom.",
        "What's this about?",
        "We're a two person bakery, we don't really get many calls.",
        "Maybe a couple thousand dollars, tops.",
    ],
    [
        "Yes, Lucia here.",
        "Go on.",
        "Actually, can I speak with a human please?",
    ],
    [
        "This is Ben.",
        "Please take me off your list and don't call me again.",
    ],
    [
        "Hi, my name is Grace.",
        "Sure thing.",
        "Leads from our website sit for days before anyone calls them back.",
        "Somewhere around thirty five thousand a year.",
        "Yes, I'm the owner, it's up to me.",
        "In about six weeks would be ideal.",
        "Friday morning at nine.",
        "Nothing else, thanks a lot.",
    ],
]

TurnFn = Callable[[str, str, dict[str, Any]], Awaitable[dict[str, Any]]]


# --- figures ------------------------------------------------------------------------


def summary(samples_ms: list[float]) -> dict[str, float | int | None]:
    """n, p50, p95, p99, mean and max of `samples_ms`, in ms (None when empty)."""
    if not samples_ms:
        return {"n": 0, "p50": None, "p95": None, "p99": None, "mean": None, "max": None}
    ordered = sorted(samples_ms)
    cuts = statistics.quantiles(ordered, n=100, method="inclusive") if len(ordered) > 1 else []

    def at(share: int) -> float:
        return round(cuts[share - 1] if cuts else ordered[0], 3)

    return {
        "n": len(ordered),
        "p50": at(50),
        "p95": at(95),
        "p99": at(99),
        "mean": round(statistics.fmean(ordered), 3),
        "max": round(ordered[-1], 3),
    }


def load_average() -> list[float]:
    return [round(value, 2) for value in os.getloadavg()]


def uptime() -> str:
    try:
        return subprocess.run(
            ["uptime"], capture_output=True, text=True, check=False
        ).stdout.strip()
    except OSError:
        return ""


def production_options() -> dict[str, Any]:
    """`max_ongoing_requests` and `num_cpus` of the orchestrator in serve_config.yaml."""
    options: dict[str, Any] = {"max_ongoing_requests": 32, "ray_actor_options": {"num_cpus": 0.1}}
    try:
        config = yaml.safe_load((ROOT / "serve_config.yaml").read_text())
        for app in config.get("applications", []):
            for deployment in app.get("deployments", []):
                if deployment.get("name") == "OrchestratorDeployment":
                    if "max_ongoing_requests" in deployment:
                        options["max_ongoing_requests"] = deployment["max_ongoing_requests"]
                    cpus = deployment.get("ray_actor_options", {}).get("num_cpus")
                    if cpus is not None:
                        options["ray_actor_options"] = {"num_cpus": cpus}
    except (OSError, yaml.YAMLError):
        pass
    return options


# --- one conversation -----------------------------------------------------------------


def new_call() -> str:
    return f"CA{uuid.uuid4().hex}"


async def converse(turn: TurnFn, lines: list[str]) -> list[tuple[float, dict[str, Any]]]:
    """Play one call (start, then the lines until the agent ends it): per turn, the
    wall time in ms and the answer."""
    call_id = new_call()
    events = [("start", ""), *(("text", line) for line in lines)]
    timed: list[tuple[float, dict[str, Any]]] = []
    for kind, text in events:
        started = time.perf_counter()
        result = await asyncio.wait_for(
            turn(call_id, text, {"event": kind, "direction": "inbound"}), TURN_TIMEOUT_S
        )
        timed.append(((time.perf_counter() - started) * 1000, result))
        if result.get("end_call") or result.get("transfer"):
            break
    return timed


async def direct_conversation(
    settings: VoiceAgentIntegrationConfig, lines: list[str]
) -> list[tuple[float, bool]]:
    """The same call on the direct path: per turn, ms and whether the call ended."""
    responder = DirectResponder(settings, CallSession(call_sid=new_call(), mode="text"))
    timed: list[tuple[float, bool]] = []
    started = time.perf_counter()
    await responder.open()
    timed.append(((time.perf_counter() - started) * 1000, False))
    for line in lines:
        started = time.perf_counter()
        reply = await responder.respond(CallerEvent("text", line))
        timed.append(((time.perf_counter() - started) * 1000, reply.end_call or reply.transfer))
        if reply.end_call or reply.transfer:
            break
    return timed


# --- (a) and (c): per-turn cost -------------------------------------------------------


async def per_turn(
    settings: VoiceAgentIntegrationConfig,
    orchestrator: AgentOrchestrator,
    handle: DeploymentHandle,
    turns: int,
) -> dict[str, Any]:
    """Conversations, each played three ways in turn (workflow in process, through the
    handle, direct path) until `turns` orchestrator turns were timed each way."""

    async def via_handle(call_id: str, text: str, metadata: dict[str, Any]) -> dict[str, Any]:
        return await handle.process_voice_input.remote(call_id, text, metadata)

    workflow_ms: list[float] = []
    handle_ms: list[float] = []
    replica_ms: list[float] = []
    hop_ms: list[float] = []
    direct_ms: list[float] = []
    paired_extra_ms: list[float] = []
    outcomes: dict[str, int] = {}
    fallbacks = 0
    index = 0
    while len(handle_ms) < turns:
        lines = CONVERSATIONS[index % len(CONVERSATIONS)]
        index += 1
        in_process = await converse(orchestrator.process_voice_input, lines)
        served = await converse(via_handle, lines)
        direct = await direct_conversation(settings, lines)
        workflow_ms += [ms for ms, _ in in_process]
        handle_ms += [ms for ms, _ in served]
        replica_ms += [r["latency_ms"] for _, r in served if r["latency_ms"] is not None]
        hop_ms += [ms - r["latency_ms"] for ms, r in served if r["latency_ms"] is not None]
        direct_ms += [ms for ms, _ in direct]
        paired_extra_ms += [
            served_ms - direct_turn_ms
            for (served_ms, _), (direct_turn_ms, _) in zip(served, direct, strict=False)
        ]
        fallbacks += sum(1 for _, r in served if r["fallback"])
        outcome = str(served[-1][1]["outcome"])
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    return {
        "conversations": index,
        "outcomes": outcomes,
        "fallback_turns": fallbacks,
        "a_workflow_in_process_ms": summary(workflow_ms),
        "a_through_handle_ms": summary(handle_ms),
        "a_inside_replica_ms": summary(replica_ms),
        "a_ray_hop_ms": summary(hop_ms),
        "c_direct_path_ms": summary(direct_ms),
        "c_orchestration_adds_ms": summary(paired_extra_ms),
    }


# --- (b): throughput of one replica ---------------------------------------------------


async def throughput(
    handle: DeploymentHandle, concurrency: int, turns: int, max_seconds: float
) -> dict[str, Any]:
    """`concurrency` callers, each playing conversations back to back, until `turns`
    turns are done or `max_seconds` pass; turns per second and latency."""
    latencies_ms: list[float] = []
    inside_ms: list[float] = []
    failures: list[str] = []
    fallbacks = 0
    budget = {"left": turns}
    deadline = time.monotonic() + max_seconds

    async def caller(worker: int) -> None:
        nonlocal fallbacks
        index = worker
        while budget["left"] > 0 and time.monotonic() < deadline:
            call_id = new_call()
            lines = CONVERSATIONS[index % len(CONVERSATIONS)]
            index += 1
            events = [("start", ""), *(("text", line) for line in lines)]
            for kind, text in events:
                if budget["left"] <= 0 or time.monotonic() >= deadline:
                    return
                budget["left"] -= 1
                started = time.perf_counter()
                try:
                    result = await asyncio.wait_for(
                        handle.process_voice_input.remote(
                            call_id, text, {"event": kind, "direction": "inbound"}
                        ),
                        TURN_TIMEOUT_S,
                    )
                except Exception as exc:  # counted, not fatal: the level goes on
                    failures.append(f"{type(exc).__name__}: {exc}"[:200])
                    break
                latencies_ms.append((time.perf_counter() - started) * 1000)
                if result["fallback"]:
                    fallbacks += 1
                elif result["latency_ms"] is not None:
                    inside_ms.append(result["latency_ms"])
                if result["end_call"] or result["transfer"]:
                    break

    load_before = load_average()
    started = time.perf_counter()
    await asyncio.gather(*(caller(worker) for worker in range(concurrency)))
    elapsed_s = time.perf_counter() - started
    return {
        "concurrency": concurrency,
        "turns": len(latencies_ms),
        "seconds": round(elapsed_s, 3),
        "turns_per_s": round(len(latencies_ms) / elapsed_s, 2) if elapsed_s else None,
        "latency_ms": summary(latencies_ms),
        "inside_replica_ms": summary(inside_ms),
        "fallback_turns": fallbacks,
        "failures": len(failures),
        "first_failures": failures[:3],
        "load_average_before": load_before,
    }


# --- the run --------------------------------------------------------------------------


async def delete_keys(settings: VoiceAgentIntegrationConfig) -> int:
    client = aioredis.from_url(settings.redis_url)
    try:
        keys = [key async for key in client.scan_iter(match=f"{settings.redis_prefix}:*")]
        for start in range(0, len(keys), 500):
            await client.delete(*keys[start : start + 500])
        return len(keys)
    finally:
        await client.aclose()


async def run(args: argparse.Namespace) -> dict[str, Any]:
    settings = load_settings(
        redis_prefix=f"bench-orch-{uuid.uuid4().hex[:8]}", transfer_number="+15557650100"
    )
    results: dict[str, Any] = {
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "ray": ray.__version__,
            "uptime_before": uptime(),
            "llm": settings.llm_configured,
        },
        "settings": {
            "turns": args.turns,
            "concurrency": args.concurrency,
            "level_turns": args.level_turns,
            "level_seconds": args.level_seconds,
        },
    }
    orchestrator = AgentOrchestrator(settings)
    start_local_ray()
    options = production_options()
    results["deployment"] = {"num_replicas": 1, **options}
    try:
        deployment = OrchestratorDeployment.options(num_replicas=1, **options)
        handle = serve.run(deployment.bind(settings), name="bench-orchestrator", route_prefix=None)
        print(f"uptime: {results['machine']['uptime_before']}", flush=True)

        print("warm-up ...", flush=True)
        await per_turn(settings, orchestrator, handle, turns=len(CONVERSATIONS) * 6)

        print(f"(a)/(c) per-turn cost over {args.turns} turns ...", flush=True)
        results["per_turn"] = await per_turn(settings, orchestrator, handle, args.turns)
        print(json.dumps(results["per_turn"], indent=2), flush=True)

        print("(b) one replica under concurrent calls ...", flush=True)
        levels = []
        for concurrency in args.concurrency:
            level = await throughput(
                handle,
                concurrency,
                turns=max(args.level_turns, concurrency * 20),
                max_seconds=args.level_seconds,
            )
            levels.append(level)
            print(
                f"  concurrency {concurrency:>3}: {level['turns_per_s']} turns/s, "
                f"p50 {level['latency_ms']['p50']} ms, p95 {level['latency_ms']['p95']} ms, "
                f"{level['failures']} failures, {level['fallback_turns']} fallbacks",
                flush=True,
            )
        results["throughput"] = levels
        results["throughput_peak_turns_per_s"] = max(
            (level["turns_per_s"] or 0 for level in levels), default=None
        )
    finally:
        serve.shutdown()
        ray.shutdown()
        await orchestrator.aclose()
        results["redis_keys_deleted"] = await delete_keys(settings)
    results["machine"]["uptime_after"] = uptime()
    return results


def _concurrency_levels(values: list[str]) -> list[int]:
    levels = [int(part) for value in values for part in value.split(",") if part.strip()]
    if not levels or min(levels) < 1:
        raise argparse.ArgumentTypeError("concurrency levels are positive integers")
    return levels


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--turns", type=int, default=300, help="turns timed each way for (a) and (c)"
    )
    parser.add_argument(
        "--concurrency",
        nargs="+",
        default=["1", "2", "4", "8", "16", "32"],
        help="concurrent calls per level for (b), e.g. 1 2 4 8 or 1,2,4,8",
    )
    parser.add_argument(
        "--level-turns", type=int, default=1000, help="turns per level for (b) (at least 20 x N)"
    )
    parser.add_argument(
        "--level-seconds", type=float, default=30.0, help="at most this long per level for (b)"
    )
    parser.add_argument(
        "--json",
        type=Path,
        default=RESULTS / "bench_orchestrator.json",
        help="where to write the results",
    )
    args = parser.parse_args(argv)
    args.concurrency = _concurrency_levels(args.concurrency)
    results = asyncio.run(run(args))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))
    print(f"written to {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

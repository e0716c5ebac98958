"""Voice benchmark: Switchboard against the plain Pipecat bot, side by side.

Measures, with the simulated caller of `switchboard call` (real 20 ms μ-law frames
at real time, signed as Twilio signs):
- `start` → first greeting audio, median of N calls (Switchboard warm pool and cold,
  and the baseline);
- end of caller speech → first agent audio over multi-turn calls, p50 / p95 / p99, at
  each of `--concurrency` (default 1 4 8 16), stopping after the first step with a
  failed call or a playback gap over 100 ms inside an agent turn;
- CPU per call by process group (`process_usage`: proxy, ingress, session actors,
  orchestrator, other Serve replicas, Ray, Redis and PostgreSQL, engines, the caller),
  as a share of one core per second of call, and Switchboard's own share (all but the
  engines and the caller) beside the plain bot's whole process;
- memory (RSS, and the private memory (USS) one more call adds, of each `CallSessionActor`;
  the baseline's whole process; peaks by group);
- the most concurrent calls held with turn p95 within 10 % of the first step's;
- what the orchestration adds: the same turn latency with the agents' orchestrator
  switched off (`SWITCHBOARD_AGENT_INTEGRATION__ENABLED=false`, the session's direct
  path answers every turn), at the first concurrency step.

Each with both engine modes (`--engines offline remote`): offline engines inside the
session actor (and inside the plain bot), or Pipecat's Deepgram and OpenAI services
against the local speech server, whose CPU is reported apart ("engines").

    .venv/bin/python -m load_tests.bench_voice --calls 10 --concurrency 1 4 8 16 [--rounds 3]

Results are printed and written to `load_tests/results/bench_voice.json`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from load_tests.process_usage import RUNTIME_GROUPS, ProcessSampler, memory_of
from load_tests.results import save_results
from switchboard.caller.audio_caller import run_audio_call
from switchboard.caller.transcript import Transcript
from switchboard.caller.twilio_protocol import new_sid
from switchboard.local_services import server_port
from switchboard.scenario import Scenario, parse_scenario
from switchboard.serve_command import healthy
from switchboard.speech_server import SpeechServerProcess
from switchboard.speech_server.launch import ONE_MATH_THREAD
from tests.chaos import warm_pool
from tests.e2e import RunningSwitchboard, run_switchboard

GAP_LIMIT_MS = 100.0

# The caller answers the greeting, then hangs up once the agent has finished.
GREETING_ONLY = {"name": "bench-greeting", "from": "+15551110000", "to": "+15557650000",
                 "lines": [{"hangup": True}]}  # fmt: skip
# A conversation of several turns, written for the benchmark.
CONVERSATION = {
    "name": "bench-conversation",
    "from": "+15551110001",
    "to": "+15557650000",
    "lines": [
        "Hi, this is Morgan.",
        "Yes, I have a minute.",
        "Our front desk misses too many calls.",
        "We could spend about thirty thousand dollars a year.",
        "I own the business, so it is my decision.",
        "Within two months.",
        {"hangup": True},
    ],
}


@dataclass
class Target:
    name: str
    base_url: str
    auth_token: str = "baseline"
    account_sid: str = field(default_factory=lambda: new_sid("AC"))
    process_pattern: str = "CallSessionActor"
    # The process groups (`process_usage`) that are this target's own runtime.
    own_groups: tuple[str, ...] = RUNTIME_GROUPS


async def one_call(target: Target, scenario: Scenario):
    return await run_audio_call(
        scenario,
        base_url=target.base_url,
        auth_token=target.auth_token,
        account_sid=target.account_sid,
        call_sid=new_sid("CA"),
        transcript=Transcript(io.StringIO()),
    )


def percentile(values: list[float], share: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


async def greeting_latency(target: Target, calls: int, pause_s: float) -> dict:
    scenario = parse_scenario(GREETING_ONLY)
    samples = []
    for _ in range(calls):
        leg = await one_call(target, scenario)
        if leg.first_agent_audio_ms is not None:
            samples.append(leg.first_agent_audio_ms)
        await asyncio.sleep(pause_s)  # lets a warm pool refill, as between real calls
    return {
        "calls": calls,
        "measured": len(samples),
        "median_ms": statistics.median(samples) if samples else None,
        "p95_ms": percentile(samples, 0.95),
    }


async def idle_cores(seconds: float = 10.0) -> dict[str, float]:
    """What each process group uses with no call up (cores): Ray's daemons, idle warm
    actors, pollers. Subtracted from a run's CPU to give what each call adds."""
    async with ProcessSampler(extra={os.getpid(): "caller"}) as idle:
        await asyncio.sleep(seconds)
    return idle.cores()


async def pool_counts(target: Target) -> dict[str, int]:
    """Session actors started and recycled so far (Switchboard's `/healthz`; nothing for
    the plain bot): how many process starts a step cost."""
    with contextlib.suppress(Exception):
        async with httpx.AsyncClient(base_url=target.base_url, timeout=5) as client:
            health = (await client.get("/healthz")).json()
            return {key: int(health[key]) for key in ("sessions_spawned", "sessions_recycled")}
    return {}


async def conversation_calls(
    target: Target, concurrency: int, stagger_s: float, idle: dict[str, float] | None = None,
    rounds: int = 1,
) -> dict:
    """`concurrency` callers, each placing `rounds` conversations one after another."""
    scenario = parse_scenario(CONVERSATION)
    memory: list[float] = []
    private: list[float] = []

    async def sample_memory() -> None:
        while True:
            rss, own = memory_of(target.process_pattern)
            memory.extend(rss)
            private.extend(own)
            await asyncio.sleep(2.0)

    async def caller(index: int) -> list:
        await asyncio.sleep(index * stagger_s)
        legs: list = []
        for _ in range(rounds):
            try:
                legs.append(await one_call(target, scenario))
            except Exception as exc:  # a failed call is counted, the caller goes on
                legs.append(exc)
        return legs

    pool_before = await pool_counts(target)
    sampler_task = asyncio.create_task(sample_memory())
    started = time.monotonic()
    try:
        async with ProcessSampler(extra={os.getpid(): "caller"}) as processes:
            by_caller = await asyncio.gather(*(caller(i) for i in range(concurrency)))
            legs = [leg for legs_of_one in by_caller for leg in legs_of_one]
    finally:
        sampler_task.cancel()
    pool_after = await pool_counts(target)
    failures = [repr(leg) for leg in legs if isinstance(leg, BaseException)]
    legs = [leg for leg in legs if not isinstance(leg, BaseException)]
    latencies = [t.latency_ms for leg in legs for t in leg.timings if t.latency_ms is not None]
    gaps = [gap for leg in legs for gap in leg.playback_gaps_ms]
    call_seconds = sum(leg.duration_s for leg in legs) or 1.0
    usage = processes.usage()
    idle = idle or {}
    # What calls added, as a share of one core per call: CPU seconds beyond the idle
    # rate, over seconds of call.
    cpu = {
        group: round(100 * (u.cpu_s - idle.get(group, 0.0) * processes.elapsed_s) / call_seconds, 2)
        for group, u in sorted(usage.items())
    }
    return {
        "concurrency": concurrency,
        "calls": concurrency * rounds,
        "completed": len(legs),
        "failures": failures[:3],
        "wall_s": round(time.monotonic() - started, 1),
        "turns": len(latencies),
        "latency_p50_ms": percentile(latencies, 0.5),
        "latency_p95_ms": percentile(latencies, 0.95),
        "latency_p99_ms": percentile(latencies, 0.99),
        "max_gap_ms": max(gaps, default=0.0),
        "gaps_over_limit": sum(1 for gap in gaps if gap > GAP_LIMIT_MS),
        "rss_per_process_mb": round(statistics.median(memory), 1) if memory else None,
        "private_per_process_mb": round(statistics.median(private), 1) if private else None,
        "cpu_pct_core_per_call": cpu,
        "idle_pct_core": {group: round(100 * cores, 2) for group, cores in sorted(idle.items())},
        "own_cpu_pct_core_per_call": round(sum(cpu.get(g, 0.0) for g in target.own_groups), 2),
        "peak_rss_mb": {group: round(u.peak_rss_mb) for group, u in sorted(usage.items())},
        "session_actors": {key: pool_after[key] - pool_before[key] for key in pool_after},
    }


def clean(run: dict) -> bool:
    """Every call completed, with no playback gap over the limit."""
    return not run["failures"] and run["gaps_over_limit"] == 0


async def capacity(target: Target, steps: list[int], rounds: int = 1) -> dict:
    """Conversations at each concurrency in `steps`, stopping after the first where a call
    failed; `held` is the most concurrent clean run (`clean`) whose turn p95 is within
    10 % of the first step's. A step with a gap goes on to the next: one gap at low load
    is noise on a shared machine, and the next steps show whether it is capacity."""
    runs = []
    held = 0
    idle = await idle_cores()
    for concurrency in steps:
        run = await conversation_calls(
            target, concurrency, stagger_s=0.5, idle=idle, rounds=rounds
        )
        runs.append(run)
        print(f"  {target.name}: {json.dumps(run)}", flush=True)
        if run["failures"] or run["completed"] < run["calls"]:
            break
        first_p95 = runs[0]["latency_p95_ms"]
        p95 = run["latency_p95_ms"]
        if clean(run) and first_p95 and p95 and p95 <= 1.1 * first_p95:
            held = concurrency
    return {"held_concurrency": held, "runs": runs}


@contextlib.contextmanager
def baseline_bot(env: dict[str, str]):
    port = server_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "load_tests.baseline_bot", "--port", str(port)],
        # its offline engines on one math thread, as Ray gives Switchboard's actors
        env={**os.environ, **env, **ONE_MATH_THREAD},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while not _answers(base_url):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the baseline bot did not start")
            time.sleep(0.5)
        yield Target(
            "baseline", base_url, process_pattern="load_tests.baseline_bot",
            own_groups=("baseline",),
        ), process  # fmt: skip
    finally:
        process.terminate()
        process.wait(10)


def _answers(base_url: str) -> bool:
    import urllib.request

    try:
        request = urllib.request.Request(f"{base_url}/twilio/status", method="POST", data=b"")
        with urllib.request.urlopen(request, timeout=2):
            return True
    except OSError:
        return False


def switchboard_target(server: RunningSwitchboard) -> Target:
    return Target("switchboard", server.base_url, server.auth_token, server.account_sid)


async def _measure(target: Target, args: argparse.Namespace, label: str, steps: list[int]) -> dict:
    print(f"{label}: greeting latency over {args.calls} calls", flush=True)
    greeting = await greeting_latency(target, args.calls, pause_s=args.pause)
    print(f"  {json.dumps(greeting)}", flush=True)
    print(f"{label}: turn latency, CPU and capacity at {steps} calls", flush=True)
    return {"greeting": greeting, **(await capacity(target, steps, args.rounds))}


def _run_switchboard(args: argparse.Namespace, label: str, steps: list[int], **env: str) -> dict:
    # Warm actors for the largest step, so capacity is not limited by actor starts.
    env.setdefault("SWITCHBOARD_PERFORMANCE__WARM_POOL_SIZE", str(max([3, *steps])))
    env.setdefault("SWITCHBOARD_PERFORMANCE__WARM_POOL_MAX", str(max([12, *steps])))
    with tempfile.TemporaryDirectory() as workdir, run_switchboard(Path(workdir), **env) as server:
        while not healthy(server.base_url):
            time.sleep(0.5)
        # Measured once the pool is full: actors starting beside a call slow its greeting.
        asyncio.run(warm_pool(server, int(env["SWITCHBOARD_PERFORMANCE__WARM_POOL_SIZE"])))
        return asyncio.run(_measure(switchboard_target(server), args, label, steps))


@contextlib.contextmanager
def speech_engines(mode: str):
    """The environment that picks the engines: offline in process, or Pipecat's Deepgram
    and OpenAI services against the local speech server (its own process)."""
    if mode == "offline":
        yield {}
        return
    key = uuid.uuid4().hex
    with SpeechServerProcess.start(key) as server:
        yield {
            "SWITCHBOARD_SPEECH__STT": "deepgram",
            "SWITCHBOARD_SPEECH__DEEPGRAM_API_KEY": key,
            "SWITCHBOARD_SPEECH__DEEPGRAM_BASE_URL": server.ws_url,
            "SWITCHBOARD_SPEECH__TTS": "openai",
            "SWITCHBOARD_SPEECH__OPENAI_API_KEY": key,
            "SWITCHBOARD_SPEECH__OPENAI_BASE_URL": server.openai_base_url,
        }


def run_engines(args: argparse.Namespace, mode: str) -> dict:
    """Switchboard (warm pool, then the variants not skipped) and the plain bot, with one
    engine mode."""
    results: dict[str, object] = {}
    with speech_engines(mode) as env:
        results["switchboard"] = _run_switchboard(
            args, f"[{mode}] switchboard", args.concurrency, **env
        )
        if "cold" not in args.skip:
            cold_args = argparse.Namespace(**{**vars(args)})
            results["switchboard_cold"] = _run_switchboard(
                cold_args, f"[{mode}] switchboard (no warm pool)", [],
                SWITCHBOARD_PERFORMANCE__WARM_POOL_SIZE="0", **env,
            )  # fmt: skip
        if "direct" not in args.skip:
            results["switchboard_direct_path"] = _run_switchboard(
                args, f"[{mode}] switchboard (direct path, no orchestrator)",
                args.concurrency[:1], SWITCHBOARD_AGENT_INTEGRATION__ENABLED="false", **env,
            )  # fmt: skip
        if "baseline" not in args.skip:
            with baseline_bot(env) as (target, _process):
                results["baseline"] = asyncio.run(
                    _measure(target, args, f"[{mode}] plain Pipecat bot", args.concurrency)
                )
    return results


def _ratio(ours: float | None, theirs: float | None) -> str:
    return f" ({ours / theirs:.2f}×)" if ours is not None and theirs else ""


def markdown(results: dict) -> str:
    """The benchmark's table per engine mode: Switchboard, the plain bot and the ratio."""
    lines = []
    for mode in ("offline", "remote"):
        if mode not in results:
            continue
        ours, plain = results[mode]["switchboard"], results[mode].get("baseline", {})
        plain_runs = {run["concurrency"]: run for run in plain.get("runs", [])}
        g, pg = ours["greeting"], plain.get("greeting", {})
        lines += [
            f"\n### engines {mode}\n",
            "| calls | turn p50 / p95 / p99 ms (× plain) | max gap ms | Switchboard's own CPU, "
            "% of a core per call (× plain) | engines | session RSS MB (private) |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
        for run in ours["runs"]:
            base = plain_runs.get(run["concurrency"], {})
            if run["latency_p50_ms"] is None:
                lines.append(f"| {run['concurrency']} | no turns: {run['failures']} | | | | |")
                continue

            def cell(key: str, run: dict = run, base: dict = base) -> str:
                return f"{run[key]:.0f}{_ratio(run[key], base.get(key))}"

            own = run["own_cpu_pct_core_per_call"]
            lines.append(
                f"| {run['concurrency']} | {cell('latency_p50_ms')} / {cell('latency_p95_ms')} / "
                f"{run['latency_p99_ms']:.0f} | {run['max_gap_ms']:.0f} "
                f"| {own:.1f}{_ratio(own, base.get('own_cpu_pct_core_per_call'))} "
                f"| {run['cpu_pct_core_per_call'].get('engines', 0.0):.1f} "
                f"| {run['rss_per_process_mb']} ({run.get('private_per_process_mb')}) |"
            )
        groups = [
            g for g in RUNTIME_GROUPS if any(g in r["cpu_pct_core_per_call"] for r in ours["runs"])
        ]
        lines += [
            "\n| calls | " + " | ".join(groups) + " | engines | caller |",
            "| --- |" + " --- |" * (len(groups) + 2),
        ]
        for run in ours["runs"]:
            cpu = run["cpu_pct_core_per_call"]
            cells = [f"{cpu.get(g, 0.0):.1f}" for g in [*groups, "engines", "caller"]]
            lines.append(f"| {run['concurrency']} | " + " | ".join(cells) + " |")
        if ours["runs"]:
            idle = ours["runs"][0]["idle_pct_core"]
            fixed = sum(idle.get(g, 0.0) for g in RUNTIME_GROUPS)
            lines.append(
                f"\nidle, no call up (not in the per-call figures): {fixed:.1f} % of a core "
                f"({', '.join(f'{g} {v:.1f}' for g, v in idle.items() if v >= 0.5)})"
            )
        lines.append(
            f"\ngreeting median / p95: {g['median_ms']} / {g['p95_ms']} ms "
            f"(plain bot {pg.get('median_ms')} / {pg.get('p95_ms')} ms); held with turn p95 "
            f"within 10 % of one call: {ours['held_concurrency']} "
            f"(plain bot {plain.get('held_concurrency')})"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20, help="calls for greeting latency")
    parser.add_argument("--pause", type=float, default=2.0, help="seconds between those calls")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 8, 16])
    parser.add_argument("--rounds", type=int, default=1,
                        help="conversations each caller places in turn at every step "
                             "(one call at one concurrency is only six turns)")
    parser.add_argument("--engines", nargs="+", default=["offline", "remote"],
                        choices=["offline", "remote"])  # fmt: skip
    parser.add_argument("--skip", nargs="*", default=[], choices=["cold", "direct", "baseline"])
    args = parser.parse_args(argv)

    results: dict[str, object] = {
        "machine": f"{os.cpu_count()} cores",
        "gap_limit_ms": GAP_LIMIT_MS,
    }
    for mode in args.engines:
        results[mode] = run_engines(args, mode)
    save_results("bench_voice", results)
    print(json.dumps(results, indent=2))
    print(markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())

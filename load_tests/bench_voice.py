"""Voice benchmark: Switchboard against the plain Pipecat bot, side by side.

Measures, with the simulated caller of `switchboard call` (real 20 ms μ-law frames
at real time, signed as Twilio signs):
- `start` → first greeting audio, median of N calls (Switchboard warm pool and cold,
  and the baseline);
- end of caller speech → first agent audio over multi-turn calls, p50 / p95;
- memory per call (RSS of each `CallSessionActor` process; the baseline's growth
  per call);
- the most concurrent audio calls with no playback gap over 100 ms inside an agent
  turn, ramping up until one appears;
- what the orchestration adds: the same turn latency with the agents' orchestrator
  switched off (`SWITCHBOARD_AGENT_INTEGRATION__ENABLED=false`, the session's direct
  path answers every turn), at the first concurrency step.

    .venv/bin/python -m load_tests.bench_voice --calls 20 --max-concurrency 12

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
from dataclasses import dataclass, field
from pathlib import Path

from switchboard.caller.audio_caller import run_audio_call
from switchboard.caller.transcript import Transcript
from switchboard.caller.twilio_protocol import new_sid
from switchboard.local_services import free_port
from switchboard.scenario import Scenario, parse_scenario
from switchboard.serve_command import healthy
from tests.e2e import RunningSwitchboard, run_switchboard

RESULTS = Path(__file__).parent / "results"
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


def rss_of(pattern: str) -> list[float]:
    """RSS in MB of every process whose command line contains `pattern`."""
    sizes = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        with contextlib.suppress(OSError):
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            if pattern in cmdline:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        sizes.append(int(line.split()[1]) / 1024)
    return sizes


async def conversation_calls(target: Target, concurrency: int, stagger_s: float) -> dict:
    scenario = parse_scenario(CONVERSATION)
    memory: list[float] = []

    async def sample_memory() -> None:
        while True:
            memory.extend(rss_of(target.process_pattern))
            await asyncio.sleep(2.0)

    async def call(index: int):
        await asyncio.sleep(index * stagger_s)
        return await one_call(target, scenario)

    sampler = asyncio.create_task(sample_memory())
    started = time.monotonic()
    try:
        legs = await asyncio.gather(*(call(i) for i in range(concurrency)), return_exceptions=True)
    finally:
        sampler.cancel()
    failures = [repr(leg) for leg in legs if isinstance(leg, BaseException)]
    legs = [leg for leg in legs if not isinstance(leg, BaseException)]
    latencies = [t.latency_ms for leg in legs for t in leg.timings if t.latency_ms is not None]
    gaps = [gap for leg in legs for gap in leg.playback_gaps_ms]
    return {
        "concurrency": concurrency,
        "completed": len(legs),
        "failures": failures[:3],
        "wall_s": round(time.monotonic() - started, 1),
        "turns": len(latencies),
        "latency_p50_ms": percentile(latencies, 0.5),
        "latency_p95_ms": percentile(latencies, 0.95),
        "max_gap_ms": max(gaps, default=0.0),
        "gaps_over_limit": sum(1 for gap in gaps if gap > GAP_LIMIT_MS),
        "rss_per_process_mb": round(statistics.median(memory), 1) if memory else None,
    }


async def capacity(target: Target, max_concurrency: int, step: int) -> dict:
    runs = []
    best = 0
    for concurrency in range(step, max_concurrency + 1, step):
        run = await conversation_calls(target, concurrency, stagger_s=0.5)
        runs.append(run)
        print(f"  {target.name}: {json.dumps(run)}", flush=True)
        clean = not run["failures"] and run["gaps_over_limit"] == 0
        if not clean:
            break
        best = concurrency
    return {"max_clean_concurrency": best, "runs": runs}


@contextlib.contextmanager
def baseline_bot():
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "load_tests.baseline_bot", "--port", str(port)],
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
        yield Target("baseline", base_url, process_pattern="load_tests.baseline_bot"), process
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


async def _measure(target: Target, args: argparse.Namespace, label: str) -> dict:
    print(f"{label}: greeting latency over {args.calls} calls", flush=True)
    greeting = await greeting_latency(target, args.calls, pause_s=args.pause)
    print(f"  {json.dumps(greeting)}", flush=True)
    print(f"{label}: turn latency and capacity", flush=True)
    return {"greeting": greeting, **(await capacity(target, args.max_concurrency, args.step))}


def _run_switchboard(args: argparse.Namespace, label: str, **env: str) -> dict:
    with tempfile.TemporaryDirectory() as workdir, run_switchboard(Path(workdir), **env) as server:
        while not healthy(server.base_url):
            time.sleep(0.5)
        time.sleep(5)  # the warm pool fills after the first health check
        return asyncio.run(_measure(switchboard_target(server), args, label))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20, help="calls for greeting latency")
    parser.add_argument("--pause", type=float, default=2.0, help="seconds between those calls")
    parser.add_argument("--max-concurrency", type=int, default=12)
    parser.add_argument("--step", type=int, default=2)
    parser.add_argument("--skip", nargs="*", default=[], choices=["cold", "direct", "baseline"])
    args = parser.parse_args(argv)

    results: dict[str, object] = {
        "machine": f"{os.cpu_count()} cores",
        "gap_limit_ms": GAP_LIMIT_MS,
    }
    results["switchboard"] = _run_switchboard(args, "switchboard (warm pool)")
    if "cold" not in args.skip:
        cold_args = argparse.Namespace(**{**vars(args), "max_concurrency": 0})
        results["switchboard_cold"] = _run_switchboard(
            cold_args, "switchboard (no warm pool)", SWITCHBOARD_PERFORMANCE__WARM_POOL_SIZE="0"
        )
    if "direct" not in args.skip:
        direct_args = argparse.Namespace(**{**vars(args), "max_concurrency": args.step})
        results["switchboard_direct_path"] = _run_switchboard(
            direct_args,
            "switchboard (direct path, no orchestrator)",
            SWITCHBOARD_AGENT_INTEGRATION__ENABLED="false",
        )
    if "baseline" not in args.skip:
        with baseline_bot() as (target, _process):
            results["baseline"] = asyncio.run(_measure(target, args, "plain Pipecat bot"))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "bench_voice.json").write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

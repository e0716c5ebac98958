"""Burst benchmark: callers arriving 1 s apart, as a sales line gets them.

For each wave size (1, 4, 8, 16 by default) a fresh Switchboard starts idle, its warm
pool at its floor; then that many audio calls arrive one second apart (the simulated
caller of `switchboard call`, real 20 ms μ-law frames, signed as Twilio signs). Each
caller answers the greeting and hangs up. Per call, from the caller's side:
- answered: ring (the voice webhook posted) to the first agent audio heard;
- or refused: ring to `<Reject reason="busy">`.
Also the RSS of a warm session actor before the wave, and after it the pool's own
figures (`/healthz`): actors started, cold starts, the median actor start time.

    .venv/bin/python -m load_tests.bench_bursts --waves 1 4 8 16

Results are printed and written to `load_tests/results/bench_bursts.json`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from load_tests.bench_voice import (
    GREETING_ONLY,
    Target,
    one_call,
    percentile,
    switchboard_target,
)
from load_tests.process_usage import rss_of
from load_tests.results import save_results
from switchboard.caller import CallFailed
from switchboard.scenario import parse_scenario
from tests.chaos import warm_pool
from tests.e2e import RunningSwitchboard, run_switchboard

POOL_WAIT_S = 240.0


async def _caller(target: Target, delay_s: float) -> dict:
    await asyncio.sleep(delay_s)
    ringing = time.monotonic()
    try:
        leg = await one_call(target, parse_scenario(GREETING_ONLY))
    except CallFailed as exc:
        refused = "busy" in str(exc)
        return {"refused": refused, "failed": None if refused else str(exc),
                "answer_ms": round((time.monotonic() - ringing) * 1000, 1)}  # fmt: skip
    greeting = (
        None
        if leg.first_agent_audio_ms is None
        else round((leg.answered_ms or 0) + leg.first_agent_audio_ms, 1)
    )
    return {"refused": False, "failed": None, "answer_ms": leg.answered_ms,
            "greeting_ms": greeting}  # fmt: skip


async def _wave(server: RunningSwitchboard, calls: int, spacing_s: float) -> dict:
    await warm_pool(server, (await server.health())["target"], timeout_s=POOL_WAIT_S)
    before = await server.health()
    warm_rss = statistics.median(rss_of("CallSessionActor") or [0.0])  # idle, before calls
    target = switchboard_target(server)
    legs = await asyncio.gather(*(_caller(target, i * spacing_s) for i in range(calls)))
    after = await server.health()
    greetings = [leg["greeting_ms"] for leg in legs if leg.get("greeting_ms") is not None]
    refusals = [leg["answer_ms"] for leg in legs if leg["refused"]]
    return {
        "calls": calls,
        "warm_at_start": before["warm"],
        "answered": len(greetings),
        "refused_busy": len(refusals),
        # Connected, yet the caller gave up before hearing any greeting: silence.
        "never_greeted": sum(
            1
            for leg in legs
            if not leg["refused"] and not leg["failed"] and leg.get("greeting_ms") is None
        ),
        "failed": [leg["failed"] for leg in legs if leg["failed"]],
        "greeting_p50_ms": percentile(greetings, 0.5),
        "greeting_p95_ms": percentile(greetings, 0.95),
        "greeting_max_ms": max(greetings, default=None),
        "busy_answer_max_ms": max(refusals, default=None),
        "actors_started": after["sessions_spawned"] - before["sessions_spawned"],
        "cold_starts": after["cold_starts"] - before["cold_starts"],
        "actor_start_s": after["start_s"],
        "warm_actor_rss_mb": warm_rss,
    }


def run_wave(calls: int, spacing_s: float, env: dict[str, str]) -> dict:
    with tempfile.TemporaryDirectory() as workdir, run_switchboard(Path(workdir), **env) as server:
        return asyncio.run(_wave(server, calls, spacing_s))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--waves", type=int, nargs="+", default=[1, 4, 8, 16])
    parser.add_argument("--spacing", type=float, default=1.0, help="seconds between arrivals")
    parser.add_argument(
        "--env", nargs="*", default=[], metavar="NAME=VALUE",
        help="settings for the server, e.g. SWITCHBOARD_PERFORMANCE__WARM_POOL_SIZE=4",
    )  # fmt: skip
    args = parser.parse_args(argv)
    env = dict(item.split("=", 1) for item in args.env)
    results: dict[str, object] = {"machine": f"{os.cpu_count()} cores", "env": env, "waves": []}
    for calls in args.waves:
        print(f"wave of {calls} calls, {args.spacing} s apart", flush=True)
        wave = run_wave(calls, args.spacing, env)
        print(f"  {json.dumps(wave)}", flush=True)
        results["waves"].append(wave)  # type: ignore[union-attr]
    save_results("bench_bursts", results)
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

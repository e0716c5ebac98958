"""Tracing benchmark: what OpenTelemetry tracing costs a call, side by side in one run.

The same audio conversation (`bench_voice.CONVERSATION`, real-time μ-law from the
simulated caller) against Switchboard twice: with tracing off (no
`OTEL_EXPORTER_OTLP_ENDPOINT`: nothing imported, nothing exported) and on (every span
exported over OTLP/HTTP to a local receiver that decodes them, as a collector would).
Reported for each: end of caller speech → first agent audio p50 / p95 over the
calls' turns, and Switchboard's own CPU per call (`bench_voice.conversation_calls`:
share of one core per second of call, idle subtracted), and the spans received.

    .venv/bin/python -m load_tests.bench_tracing [--calls 3] [--concurrency 1]

Results are printed and written to `load_tests/results/bench_tracing.json`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path

from load_tests.bench_voice import conversation_calls, idle_cores, switchboard_target
from load_tests.results import save_results
from switchboard.serve_command import healthy
from tests.chaos import warm_pool
from tests.e2e import RunningSwitchboard, run_switchboard
from tests.otlp_receiver import otlp_receiver


async def _runs(server: RunningSwitchboard, calls: int, concurrency: int) -> dict:
    target = switchboard_target(server)
    idle = await idle_cores()
    runs = [await conversation_calls(target, concurrency, 0.5, idle) for _ in range(calls)]
    p50s = [run["latency_p50_ms"] for run in runs if run["latency_p50_ms"] is not None]
    return {
        "calls": sum(run["completed"] for run in runs),
        "failures": [failure for run in runs for failure in run["failures"]],
        "turn_p50_ms": [run["latency_p50_ms"] for run in runs],
        "turn_p95_ms": [run["latency_p95_ms"] for run in runs],
        "turn_p50_median_ms": statistics.median(p50s) if p50s else None,
        "own_cpu_pct_core_per_call": [run["own_cpu_pct_core_per_call"] for run in runs],
    }


def measure(label: str, calls: int, concurrency: int, **env: str) -> dict:
    env = {"SWITCHBOARD_PERFORMANCE__WARM_POOL_SIZE": str(max(2, concurrency)), **env}
    with tempfile.TemporaryDirectory() as workdir, run_switchboard(Path(workdir), **env) as server:
        while not healthy(server.base_url):
            time.sleep(0.5)
        asyncio.run(warm_pool(server, int(env["SWITCHBOARD_PERFORMANCE__WARM_POOL_SIZE"])))
        result = asyncio.run(_runs(server, calls, concurrency))
    print(f"{label}: {json.dumps(result)}", flush=True)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=3, help="conversations per side")
    parser.add_argument("--concurrency", type=int, default=1)
    args = parser.parse_args(argv)
    results: dict = {"off": measure("tracing off", args.calls, args.concurrency)}
    with otlp_receiver() as receiver:
        results["on"] = measure(
            "tracing on", args.calls, args.concurrency,
            OTEL_EXPORTER_OTLP_ENDPOINT=receiver.url, OTEL_SERVICE_NAME="switchboard-bench",
        )  # fmt: skip
        results["on"]["spans_received"] = len(receiver.spans)
        results["on"]["traces_received"] = len({span.trace_id for span in receiver.spans})
    save_results("bench_tracing", results)
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Webhook delivery benchmark: how long after a call ends the CRM hears about it.

A Switchboard (`switchboard serve`) starts with one webhook endpoint, a local receiver
that verifies every signature (`tests.webhook_receiver`). Then `--calls` text calls of
a qualifying scenario run, `--concurrency` at a time. Per call:

- end_to_delivery_ms: from the call's end (the report's `ended_at`, when the session
  ended it) to the arrival of its `call.completed` (and of its last event);
- final_to_delivery_ms: from the event's `created_at` (the commit that made the record
  final) to its arrival: the delivery worker's own share; the rest is the recorder's.

    .venv/bin/python -m load_tests.bench_webhooks --calls 20 --concurrency 1

Results are printed and written to `load_tests/results/bench_webhooks.json`.

Measured (2 cores, shared with other work; 20 calls per run, default settings):

| at once | end -> call.completed | end -> last event | final -> delivered |
|---------|-----------------------|-------------------|--------------------|
| 1       | 68 / 157 ms           | 84 / 199 ms       | 58 / 106 ms        |
| 4       | 204 / 301 ms          | 219 / 334 ms      | 150 / 200 ms       |

(p50 / p95 each.) The receiver runs in the same event loop as the simulated callers,
so at 4 at once part of the figure is the benchmark's own loop being busy. No event was
missing and every signature verified.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
from datetime import datetime
from pathlib import Path

from load_tests.bench_voice import percentile
from load_tests.results import save_results
from switchboard.local_services import server_port
from switchboard.scenario import load_scenario
from tests.e2e import SCENARIOS, RunningSwitchboard, run_switchboard
from tests.webhook_receiver import WebhookReceiver

SECRET = "whsec_bench"
SCENARIO = SCENARIOS / "qualified-ops-director.yaml"
EVENTS_PER_CALL = 3  # call.completed, lead.qualified, meeting.booked


def _seconds(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


async def _one_call(server: RunningSwitchboard, receiver: WebhookReceiver) -> dict:
    result = await server.call(load_scenario(SCENARIO), text=True)
    report = await server.report(result.call_sid, timeout_s=30)
    ended = _seconds(report["ended_at"])
    deadline = asyncio.get_running_loop().time() + 60
    while True:
        mine = [e for e in receiver.distinct().values() if e.data["call_sid"] == result.call_sid]
        if len(mine) >= EVENTS_PER_CALL or asyncio.get_running_loop().time() > deadline:
            break
        await asyncio.sleep(0.01)
    completed = next((e for e in mine if e.type == "call.completed"), None)
    if completed is None:
        return {"call_sid": result.call_sid, "missing": True}
    return {
        "call_sid": result.call_sid,
        "missing": len(mine) < EVENTS_PER_CALL,
        "end_to_delivery_ms": round((completed.received_at - ended) * 1000, 1),
        "end_to_last_event_ms": round((max(e.received_at for e in mine) - ended) * 1000, 1),
        "final_to_delivery_ms": round(
            (completed.received_at - _seconds(completed.created_at)) * 1000, 1),
    }


async def _run(server: RunningSwitchboard, port: int, calls: int, concurrency: int) -> dict:
    async with WebhookReceiver(SECRET, port=port) as receiver:
        await server.call(load_scenario(SCENARIO), text=True)  # warm up, not counted
        gate = asyncio.Semaphore(concurrency)

        async def limited() -> dict:
            async with gate:
                return await _one_call(server, receiver)

        legs = await asyncio.gather(*(limited() for _ in range(calls)))
    measured = [leg for leg in legs if not leg.get("missing")]

    def figures(key: str) -> dict:
        values = [leg[key] for leg in measured]
        return {"p50": percentile(values, 0.5), "p95": percentile(values, 0.95),
                "max": max(values, default=None)}

    return {
        "calls": calls,
        "concurrency": concurrency,
        "delivered": len(measured),
        "missing": [leg["call_sid"] for leg in legs if leg.get("missing")],
        "bad_signatures": len(receiver.bad_signatures),
        "end_to_delivery_ms": figures("end_to_delivery_ms"),
        "end_to_last_event_ms": figures("end_to_last_event_ms"),
        "final_to_delivery_ms": figures("final_to_delivery_ms"),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4])
    args = parser.parse_args(argv)
    port = server_port()
    env = {"SWITCHBOARD_WEBHOOKS": json.dumps(
        [{"url": f"http://127.0.0.1:{port}/hooks", "secret": SECRET}])}
    results: dict[str, object] = {"machine": f"{os.cpu_count()} cores", "runs": []}
    with tempfile.TemporaryDirectory() as workdir, run_switchboard(Path(workdir), **env) as server:
        for concurrency in args.concurrency:
            print(f"{args.calls} calls, {concurrency} at a time", flush=True)
            run = asyncio.run(_run(server, port, args.calls, concurrency))
            print(f"  {json.dumps(run)}", flush=True)
            results["runs"].append(run)  # type: ignore[union-attr]
    save_results("bench_webhooks", results)
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

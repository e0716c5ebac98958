"""Analytics benchmark: every `/v1/calls` and `/v1/analytics/...` endpoint over 100,000
calls.

A scratch database of its own (`switchboard_bench_analytics_<random>`, dropped at the
end) is migrated and seeded with `--calls` generated calls over `--days` days, with
their turns and transitions (`load_tests.analytics_seed`, in SQL). Each endpoint is then
requested `--runs` times through the ingress's ASGI routes (query, shaping and JSON; no
network or Serve proxy), over the whole range (every call) and over its last day.

    .venv/bin/python -m load_tests.bench_analytics --calls 100000 --runs 7

Results are printed and written to `load_tests/results/bench_analytics.json`.

Measured (2 cores shared with a CI run, load average 9 to 17; 100,000 calls, 465,514
turns over 30 days; p50 of 7 runs, the slowest run in brackets):

| endpoint                   | all 100,000 calls | last day |
|----------------------------|-------------------|----------|
| /v1/calls (a page)         | 2.3 (2.8) ms      | 4.7 ms   |
| /v1/analytics/funnel       | 59 (72) ms        | 3.7 ms   |
| /v1/analytics/outcomes     | 341 (382) ms      | 14 ms    |
| /v1/analytics/costs        | 208 (280) ms      | 9.2 ms   |
| /v1/analytics/latency      | 316 (588) ms      | 18 ms    |
| /v1/analytics/drop-off     | 188 (213) ms      | 12 ms    |
| /v1/analytics/trends       | 101 (140) ms      | 7.9 ms   |
| /v1/analytics/experiments  | 53 (67) ms        | 2.6 ms   |

The CSV export of all 100,000 calls (19 MB) took 2.5 s. Seeding took 16 s.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx

from db.migrate import migrate
from db.pool import create_pool
from deployments.analytics_api import AnalyticsApi
from load_tests.analytics_seed import EXPERIMENT, seed_calls
from load_tests.results import save_results
from tests.db_fixtures import admin_dsn, with_database
from tests.ingress_routes import ingress_app

TOKEN = "bench"
ENDPOINTS = (
    "/v1/calls",
    "/v1/calls?outcome=qualified&direction=outbound",
    "/v1/analytics/funnel",
    "/v1/analytics/outcomes",
    "/v1/analytics/costs",
    "/v1/analytics/latency",
    "/v1/analytics/drop-off",
    "/v1/analytics/trends",
    f"/v1/analytics/experiments/{EXPERIMENT}",
)


async def time_endpoint(
    client: httpx.AsyncClient, url: str, params: dict[str, str], runs: int
) -> dict[str, Any]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        answer = await client.get(url, params=params)
        times.append((time.perf_counter() - started) * 1000)
        answer.raise_for_status()
    return {
        "p50_ms": round(statistics.median(times), 1),
        "min_ms": round(min(times), 1),
        "max_ms": round(max(times), 1),
        "runs": runs,
    }


async def run(calls: int, days: float, runs: int) -> dict[str, Any]:
    name = f"switchboard_bench_analytics_{uuid.uuid4().hex[:8]}"
    server = admin_dsn()
    admin = await asyncpg.connect(server)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    dsn = with_database(server, name)
    try:
        await migrate(dsn, "up")
        end = datetime.now(UTC)
        conn = await asyncpg.connect(dsn)
        started = time.perf_counter()
        await seed_calls(conn, calls, end=end, days=days)
        seed_s = time.perf_counter() - started
        turns = await conn.fetchval("SELECT count(*) FROM turns")
        await conn.close()
        pool = await create_pool(dsn, max_size=2)
        try:
            async def database() -> asyncpg.Pool:
                return pool

            # The ingress's own route table, with the analytics API real.
            app = ingress_app(_analytics=AnalyticsApi(api_token=TOKEN, database=database))
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://bench",
                headers={"Authorization": f"Bearer {TOKEN}"}, timeout=120,
            ) as client:
                ranges = {
                    "all": {},
                    "last_day": {"since": (end - timedelta(days=1)).isoformat()},
                }
                timings: dict[str, dict[str, Any]] = {}
                for range_name, params in ranges.items():
                    for endpoint in ENDPOINTS:
                        url, _, query = endpoint.partition("?")
                        extra = dict(p.split("=") for p in query.split("&")) if query else {}
                        # One warm-up: the first request also plans and fills the cache.
                        await client.get(url, params={**params, **extra})
                        timings[f"{endpoint} [{range_name}]"] = await time_endpoint(
                            client, url, {**params, **extra}, runs)
                export_started = time.perf_counter()
                export = await client.get("/v1/calls", params={"format": "csv"})
                export_ms = (time.perf_counter() - export_started) * 1000
        finally:
            await pool.close()
    finally:
        admin = await asyncpg.connect(server)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
    return {
        "calls": calls,
        "turns": turns,
        "days": days,
        "seed_s": round(seed_s, 1),
        "endpoints": timings,
        "csv_export_all_calls": {"ms": round(export_ms, 1),
                                 "rows": export.text.count("\n") - 1,
                                 "bytes": len(export.content)},
        "measured_at": datetime.now(UTC).isoformat(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=100_000)
    parser.add_argument("--days", type=float, default=30.0)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    results = asyncio.run(run(args.calls, args.days, args.runs))
    path = save_results("bench_analytics", results)
    print(f"{results['calls']} calls, {results['turns']} turns over {results['days']} days "
          f"(seeded in {results['seed_s']} s)\n")
    print(f"{'endpoint [range]':<72} {'p50 ms':>8} {'min':>8} {'max':>8}")
    for endpoint, timing in results["endpoints"].items():
        print(f"{endpoint:<72} {timing['p50_ms']:>8} {timing['min_ms']:>8} "
              f"{timing['max_ms']:>8}")
    export = results["csv_export_all_calls"]
    print(f"\nCSV export of all calls: {export['rows']} rows, {export['bytes']} bytes, "
          f"{export['ms']:.0f} ms\nsaved to {path}")


if __name__ == "__main__":
    main()

"""Console benchmark: each page's weight and its time to first render in headless
Chromium (Debian's `chromium` and `chromium-driver`, driven by selenium).

The console (`deployments.console.Console`, mounted at `/console` as the ingress mounts
it) is served by uvicorn over a scratch database (`switchboard_bench_console_<random>`,
dropped at the end) seeded with `--calls` generated calls over 30 days
(`load_tests.analytics_seed`) and a campaign, and a Redis key prefix of its own. Each
page is loaded `--runs` times with the browser's cache off, so every run fetches the
page and everything it uses:

- weight: bytes over the wire (gzip where the console compresses: pages and scripts
  over 1 KiB) and decoded, the document and every script and style it loads;
- first render: `first-contentful-paint` of the Paint Timing API, from navigation start;
  `load` is the load event (every script run, the charts drawn).

    .venv/bin/python -m load_tests.bench_console --calls 10000 --runs 5

Results are printed and written to `load_tests/results/bench_console.json`.

Measured (2 cores shared with other test runs, load average about 15; 10,000 calls;
Chromium 156 headless; cache off; p50 of 5 loads):

| page              | over the wire | decoded   | first paint | load   |
|-------------------|---------------|-----------|-------------|--------|
| login             | 20.5 KiB      | 56.4 KiB  | 84 ms       | 72 ms  |
| live calls        | 20.2 KiB      | 56.8 KiB  | 76 ms       | 81 ms  |
| recent calls (50) | 22.0 KiB      | 76.7 KiB  | 100 ms      | 91 ms  |
| a call            | 20.9 KiB      | 60.4 KiB  | 78 ms       | 79 ms  |
| campaigns         | 20.3 KiB      | 57.1 KiB  | 88 ms       | 82 ms  |
| experiments       | 90.5 KiB      | 263.3 KiB | 108 ms      | 166 ms |
| funnel and trends | 91.6 KiB      | 269.1 KiB | 116 ms      | 160 ms |

htmx (16.5 KiB gzipped) is on every page; Chart.js (69 KiB gzipped) only on the two
pages with charts. With the cache on, a page after the first is its document alone
(1 to 2 KiB over the wire).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import redis.asyncio as redis
import uvicorn
from selenium import webdriver
from selenium.webdriver.common.by import By
from starlette.applications import Starlette
from starlette.routing import Mount

from actors.registry import CallRegistry
from db.campaigns import change_state, create_campaign
from db.migrate import migrate
from db.pool import create_pool
from deployments.console import Console
from load_tests.analytics_seed import seed_calls
from load_tests.results import save_results
from switchboard.lead_import import parse_leads
from switchboard.local_services import server_port
from switchboard.settings import CampaignSettings
from tests.db_fixtures import admin_dsn, redis_url, with_database

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
TOKEN = "bench-console-" + uuid.uuid4().hex

# What the Performance API says about the page just loaded.
_PAGE_METRICS_JS = """
const nav = performance.getEntriesByType('navigation')[0];
const paints = {};
for (const p of performance.getEntriesByType('paint')) { paints[p.name] = p.startTime; }
const resources = performance.getEntriesByType('resource').map(r => ({
  name: r.name, transfer: r.transferSize, decoded: r.decodedBodySize}));
return {
  document_transfer: nav.transferSize, document_decoded: nav.decodedBodySize,
  resources: resources,
  first_contentful_paint_ms: paints['first-contentful-paint'] ?? null,
  dom_content_loaded_ms: nav.domContentLoadedEventEnd, load_ms: nav.loadEventEnd,
};
"""


def headless_chromium(*, width: int = 1280, height: int = 900) -> webdriver.Chrome:
    """Debian's Chromium through its chromedriver (never a downloaded browser)."""
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                     "--disable-gpu", "--no-first-run", "--disable-extensions",
                     f"--window-size={width},{height}"):
        options.add_argument(argument)
    service = webdriver.ChromeService(executable_path=str(CHROMEDRIVER))
    return webdriver.Chrome(options=options, service=service)


def page_metrics(driver: webdriver.Chrome) -> dict[str, Any]:
    """The weight and paint times of the page the browser has just loaded."""
    raw = driver.execute_script(_PAGE_METRICS_JS)
    resources = raw.pop("resources")
    return {
        **raw,
        "resources": len(resources),
        "transfer_bytes": raw["document_transfer"] + sum(r["transfer"] for r in resources),
        "decoded_bytes": raw["document_decoded"] + sum(r["decoded"] for r in resources),
    }


def log_in(driver: webdriver.Chrome, base_url: str, token: str) -> None:
    """Log in through the login form, as an operator does."""
    driver.get(f"{base_url}/console/login")
    driver.find_element(By.ID, "token").send_keys(token)
    driver.find_element(By.CSS_SELECTOR, "form.login button").click()


def measure_page(driver: webdriver.Chrome, url: str, runs: int) -> dict[str, Any]:
    samples = []
    for _ in range(runs):
        driver.get(url)
        # The load event has fired once `loadEventEnd` is set.
        deadline = time.monotonic() + 30
        while not driver.execute_script(
            "return performance.getEntriesByType('navigation')[0].loadEventEnd > 0"
        ):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{url} did not load")
            time.sleep(0.05)
        samples.append(page_metrics(driver))

    def median(key: str) -> float | None:
        values = [s[key] for s in samples if s[key] is not None]
        return round(statistics.median(values), 1) if values else None

    last = samples[-1]
    return {
        "transfer_bytes": last["transfer_bytes"],
        "decoded_bytes": last["decoded_bytes"],
        "resources": last["resources"],
        "first_contentful_paint_ms_p50": median("first_contentful_paint_ms"),
        "dom_content_loaded_ms_p50": median("dom_content_loaded_ms"),
        "load_ms_p50": median("load_ms"),
        "runs": runs,
    }


@contextlib.asynccontextmanager
async def served_console(calls: int) -> AsyncIterator[tuple[str, str]]:
    """The console over a scratch seeded database on a free port; yields (base URL, a
    finished call's CallSid)."""
    name = f"switchboard_bench_console_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(admin_dsn())
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    dsn = with_database(admin_dsn(), name)
    prefix = f"bench-console-{uuid.uuid4().hex[:8]}"
    client = redis.from_url(redis_url())
    pool: asyncpg.Pool | None = None
    try:
        await migrate(dsn, "up")
        conn = await asyncpg.connect(dsn)
        await seed_calls(conn, calls, end=datetime.now(UTC), days=30)
        call_sid = await conn.fetchval(
            "SELECT call_sid FROM calls WHERE status = 'completed' ORDER BY started_at DESC "
            "LIMIT 1")
        await conn.close()
        pool = await create_pool(dsn, max_size=4)
        leads = parse_leads(
            ("number\n" + "".join(f"+1212555{n:04d}\n" for n in range(200))).encode(),
            max_leads=1000)
        campaign = await create_campaign(pool, "bench", CampaignSettings(), leads)
        await change_state(pool, campaign.id, "start")

        async def database() -> asyncpg.Pool:
            assert pool is not None
            return pool

        console = Console(api_token=TOKEN, public_url="http://127.0.0.1",
                          database=database, registry=CallRegistry(client, prefix, 60))
        port = server_port()
        server = uvicorn.Server(uvicorn.Config(
            Starlette(routes=[Mount("/console", app=console)]), host="127.0.0.1", port=port,
            log_level="warning"))
        serving = asyncio.create_task(server.serve())
        while not server.started:
            await asyncio.sleep(0.05)
        try:
            yield f"http://127.0.0.1:{port}", call_sid
        finally:
            server.should_exit = True
            await serving
    finally:
        if pool is not None:
            await pool.close()
        await client.aclose()
        admin = await asyncpg.connect(admin_dsn())
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def measure_console(base_url: str, token: str, call_sid: str, runs: int) -> dict[str, Any]:
    driver = headless_chromium()
    try:
        driver.execute_cdp_cmd("Network.enable", {})
        driver.execute_cdp_cmd("Network.setCacheDisabled", {"cacheDisabled": True})
        pages = {"login": f"{base_url}/console/login"}
        results = {"login": measure_page(driver, pages["login"], runs)}
        log_in(driver, base_url, token)
        for page, path in (("live calls", "/"), ("recent calls", "/calls"),
                           ("a call", f"/calls/{call_sid}"), ("campaigns", "/campaigns"),
                           ("experiments", "/experiments"),
                           ("funnel and trends", "/analytics")):
            results[page] = measure_page(driver, f"{base_url}/console{path}", runs)
        return results
    finally:
        driver.quit()


async def run(calls: int, runs: int) -> dict[str, Any]:
    async with served_console(calls) as (base_url, call_sid):
        pages = await asyncio.to_thread(measure_console, base_url, TOKEN, call_sid, runs)
    return {"calls": calls, "pages": pages, "measured_at": datetime.now(UTC).isoformat()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    results = asyncio.run(run(args.calls, args.runs))
    path = save_results("bench_console", results)
    print(format_table(results["pages"]))
    print(f"written to {path}")


def format_table(pages: dict[str, dict[str, Any]]) -> str:
    """The figures of `measure_console`, one line per page."""

    def ms(value: float | None) -> str:
        return "—" if value is None else f"{value:.0f} ms"

    lines = [f"{'page':<18} {'over the wire':>13} {'decoded':>10} {'first paint':>11} "
             f"{'load':>8}"]
    for page, figures in pages.items():
        lines.append(
            f"{page:<18} {figures['transfer_bytes'] / 1024:>9.1f} KiB "
            f"{figures['decoded_bytes'] / 1024:>6.1f} KiB "
            f"{ms(figures['first_contentful_paint_ms_p50']):>11} "
            f"{ms(figures['load_ms_p50']):>8}")
    return "\n".join(lines)


if __name__ == "__main__":
    main()

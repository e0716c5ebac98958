"""The operator console in a real browser (slow tier): headless Chromium (Debian's
`chromium` and `chromium-driver`, driven by selenium) against a real `switchboard serve`
whose live settings hold an experiment.

The operator logs in with the API token through the login form, watches a live text
call's transcript grow as the caller speaks, opens a finished call, pauses a campaign
with its button, and sees the experiment's chart drawn; without the session the pages
send the browser to the login page and the data calls are refused. Screenshots of each
step are kept in `test-artifacts/console/` (or `$SWITCHBOARD_TEST_ARTIFACTS/console/`),
and each page's weight and time to first render are printed (figures, never asserted:
`load_tests/bench_console.py` measures them properly).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import httpx
import pytest
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver import Chrome
from selenium.webdriver.common.by import By

from load_tests.bench_console import (
    CHROMEDRIVER,
    CHROMIUM,
    format_table,
    headless_chromium,
    log_in,
    page_metrics,
)
from switchboard.experiments import ExperimentRule, assign_variant
from switchboard.flags import Lead
from tests.e2e import ROOT, RunningSwitchboard, live_text_call, run_switchboard, serve_config

pytestmark = [pytest.mark.slow, pytest.mark.parallel_safe, pytest.mark.timeout(900)]

ARTIFACTS = Path(os.environ.get("SWITCHBOARD_TEST_ARTIFACTS", ROOT / "test-artifacts")) / "console"
WAIT_S = 20.0
T = TypeVar("T")

# An experiment on the greeting: the chart has two variants to show.
EXPERIMENT = "console-opening"
OPENING: dict[str, Any] = {
    "variants": {
        "control": {},
        "warm": {"script": {"replies": {"greeting": [
            "Hello and welcome to {company}, {agent} speaking."]}}},
    },
    "split": {"control": 50, "warm": 50},
    "directions": ["inbound"],
}


def number_in(variant: str) -> str:
    """A lead's number the experiment gives `variant` (the assignment is a pure hash)."""
    rule = ExperimentRule.model_validate(OPENING)
    return next(number for number in (f"+1555802{n:04d}" for n in range(1000))
                if assign_variant(EXPERIMENT, rule, Lead(number)) == variant)

if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
    # CI installs them (.ci/run); elsewhere say what is missing rather than fail.
    if os.environ.get("CI", "").lower() == "true":
        raise RuntimeError("CI needs Debian's chromium and chromium-driver (see .ci/run)")
    pytest.skip("needs Debian's chromium and chromium-driver: "
                "apt-get install chromium chromium-driver", allow_module_level=True)


@pytest.fixture(scope="module")
def console_switchboard(tmp_path_factory: pytest.TempPathFactory
                        ) -> Iterator[RunningSwitchboard]:
    workdir = tmp_path_factory.mktemp("console")

    def with_experiment(config: dict) -> None:
        for deployment in config["applications"][0]["deployments"]:
            if "user_config" in deployment:
                deployment["user_config"] = {"version": "console-1",
                                             "experiments": {EXPERIMENT: OPENING}}

    with run_switchboard(workdir, config=serve_config(workdir, with_experiment)) as server:
        yield server


@pytest.fixture(scope="module")
def browser() -> Iterator[Chrome]:
    driver = headless_chromium()
    try:
        yield driver
    finally:
        driver.quit()


def wait_for(what: str, condition: Callable[[], T | None], timeout_s: float = WAIT_S) -> T:
    """`condition()` once it is truthy; fails naming `what` after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            value = condition()
        except (StaleElementReferenceException, WebDriverException):
            value = None  # htmx swapped the element out while it was being read
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def click(driver: Chrome, what: str, selector: str) -> None:
    """Clicks the element `selector` picks. The live calls and campaigns tables are
    swapped by htmx every second or two: an element found just before a swap is stale by
    the time it is clicked (seen on a loaded machine), so it is found again until a click
    lands."""
    def clicked() -> bool:
        driver.find_element(By.CSS_SELECTOR, selector).click()
        return True

    wait_for(what, clicked)


def screenshot(driver: Chrome, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(ARTIFACTS / f"{name}.png"))


def transcript(driver: Chrome) -> list[str]:
    # Read in one script: the live call's page is swapped every second, and elements
    # found first and read after could be gone in between.
    return driver.execute_script(
        "return [...document.querySelectorAll('#transcript li:not(.empty)')]"
        ".map(item => item.innerText)")


def closed_window() -> str:
    """Calling hours that are not now in Chicago: the dialer leaves the campaign's leads
    alone (the test is about the console, not the dialer)."""
    hour = datetime.now(UTC).astimezone(ZoneInfo("America/Chicago")).hour
    start = (hour + 2) % 23
    return f"{start:02d}:00-{start + 1:02d}:00"


async def make_running_campaign(server: RunningSwitchboard) -> int:
    token = {"Authorization": f"Bearer {server.api_token}"}
    async with httpx.AsyncClient(base_url=server.base_url, headers=token, timeout=15) as api:
        created = await api.post(
            "/v1/campaigns", params={"name": "Browser spring", "window": closed_window()},
            content="number,timezone\n+12125550161,America/Chicago\n"
                    "+12125550162,America/Chicago\n",
            headers={"Content-Type": "text/csv"})
        assert created.status_code == 201, created.text
        campaign_id = created.json()["id"]
        started = await api.post(f"/v1/campaigns/{campaign_id}/start")
        assert started.json()["state"] == "running", started.text
    return campaign_id


async def campaign_state(server: RunningSwitchboard, campaign_id: int) -> str:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=15) as api:
        answer = await api.get(f"/v1/campaigns/{campaign_id}",
                               headers={"Authorization": f"Bearer {server.api_token}"})
    return answer.json()["state"]


async def in_browser(action: Callable[..., T], *args: Any) -> T:
    """Selenium blocks: run it beside the event loop that holds the live call."""
    return await asyncio.to_thread(action, *args)


async def test_an_operator_follows_calls_pauses_a_campaign_and_reads_the_experiment(
    console_switchboard: RunningSwitchboard, browser: Chrome
) -> None:
    server, driver = console_switchboard, browser
    base = f"{server.base_url}/console"
    weights: dict[str, dict[str, Any]] = {}

    # Finished calls, one per variant of the experiment.
    finished = []
    for variant in ("control", "warm"):
        async with live_text_call(server, number_in(variant)) as call:
            await call.say("This is Sam from Acme.")
            await call.say("Sure, go ahead.")
        finished.append(await server.report(call.call_sid))
    campaign_id = await make_running_campaign(server)

    # Without a session the console sends the browser to its login page.
    await in_browser(driver.get, f"{base}/calls")
    assert driver.current_url == f"{base}/login"
    weights["login"] = await in_browser(page_metrics, driver)
    screenshot(driver, "01-login")
    await in_browser(log_in, driver, server.base_url, server.api_token)
    wait_for("the live calls page", lambda: "Live calls" in driver.title)
    weights["live calls"] = await in_browser(page_metrics, driver)
    # The session cookie is HttpOnly: no script on the page can read it.
    assert "switchboard_console" not in driver.execute_script("return document.cookie")
    assert server.api_token not in driver.page_source

    # A live call appears on the live page; its transcript grows as the caller speaks.
    async with live_text_call(server, number_in("warm")) as call:
        row = f'tr[data-call-sid="{call.call_sid}"] a'
        await in_browser(wait_for, "the live call's row",
                         lambda: driver.find_elements(By.CSS_SELECTOR, row))
        screenshot(driver, "02-live-calls")
        await in_browser(click, driver, "the live call's link", row)
        await in_browser(wait_for, "the live call's page",
                         lambda: driver.find_elements(By.CSS_SELECTOR, "#call-detail.live"))
        before = len(transcript(driver))
        for n, line in enumerate(("Hi, this is Robin from Northwind.",
                                  "We miss a lot of calls after hours."), start=1):
            await call.say(line)
            lines = await in_browser(
                wait_for, f"the transcript to show {line!r}",
                lambda line=line: [t for t in transcript(driver) if line in t])
            assert lines
            assert len(transcript(driver)) >= before + n
            screenshot(driver, f"03-live-transcript-{n}")
    await in_browser(wait_for, "the call's page to show it ended", lambda: driver.find_elements(
        By.CSS_SELECTOR, '#call-detail[data-status="completed"]:not(.live)'))
    screenshot(driver, "04-live-call-ended")

    # A finished call: its transcript with latencies, transitions, tiers, costs.
    done = finished[0]
    await in_browser(driver.get, f"{base}/calls?experiment={EXPERIMENT}")
    await in_browser(driver.find_element(
        By.CSS_SELECTOR, f'tr[data-call-sid="{done["call_sid"]}"] a').click)
    await in_browser(wait_for, "the finished call's page",
                     lambda: driver.find_elements(By.ID, "transcript"))
    weights["a call"] = await in_browser(page_metrics, driver)
    page = driver.find_element(By.TAG_NAME, "main").text
    for turn in done["turns"]:
        if turn["user_text"]:
            assert turn["user_text"] in page
        if turn["latency_ms"] is not None:
            assert f"{turn['latency_ms']:,.0f} ms" in page
    for transition in done["transitions"]:
        assert transition["trigger"] in page
    assert f"${done['cost_usd']:,.4f}" in page
    assert not driver.find_elements(By.CSS_SELECTOR, "#call-detail.live")
    screenshot(driver, "05-finished-call")

    # A campaign paused with its button.
    await in_browser(driver.get, f"{base}/campaigns")
    weights["campaigns"] = await in_browser(page_metrics, driver)
    await in_browser(click, driver, "the pause button", f'#campaign-{campaign_id} button.pause')
    await in_browser(wait_for, "the campaign to show paused", lambda: driver.find_elements(
        By.CSS_SELECTOR, f'#campaign-{campaign_id}[data-state="paused"] button.resume'))
    assert await campaign_state(server, campaign_id) == "paused"
    screenshot(driver, "06-campaign-paused")

    # The experiment's chart: each variant's conversion over its 95 % interval.
    await in_browser(driver.get, f"{base}/experiments?name={EXPERIMENT}")
    drawn = await in_browser(wait_for, "the experiment chart", lambda: driver.execute_script(
        """const canvas = document.querySelector('canvas[data-chart="experiment-chart"]');
           const chart = canvas && window.Chart && Chart.getChart(canvas);
           if (!chart) return null;
           const pixels = canvas.getContext('2d')
               .getImageData(0, 0, canvas.width, canvas.height).data;
           let inked = 0;
           for (let i = 3; i < pixels.length; i += 4) if (pixels[i] > 0) inked++;
           return {labels: chart.data.labels, datasets: chart.data.datasets.length,
                   inked: inked};"""))
    assert sorted(drawn["labels"]) == ["control", "warm"]
    assert drawn["datasets"] == 2 and drawn["inked"] > 1000
    weights["experiments"] = await in_browser(page_metrics, driver)
    screenshot(driver, "07-experiment-chart")

    await in_browser(driver.get, f"{base}/analytics")
    await in_browser(wait_for, "the funnel and trends charts", lambda: driver.execute_script(
        "return window.Chart && [...document.querySelectorAll('canvas[data-chart]')]"
        ".every(c => Chart.getChart(c))"))
    weights["funnel and trends"] = await in_browser(page_metrics, driver)
    screenshot(driver, "08-funnel-and-trends")

    # Logged out, the data calls are refused and the pages lead to the login page.
    status = driver.execute_script(
        "return fetch(arguments[0], {credentials: 'omit'}).then(r => r.status)",
        f"{base}/live/rows")
    assert status == 401
    await in_browser(driver.find_element(By.CSS_SELECTOR, "header form button").click)
    await in_browser(wait_for, "the login page", lambda: driver.current_url == f"{base}/login")
    await in_browser(driver.get, f"{base}/experiments")
    assert driver.current_url == f"{base}/login"

    print("\nconsole pages in headless Chromium (first load of each, warm cache):")
    print(format_table({
        page: {**figures, "first_contentful_paint_ms_p50": figures["first_contentful_paint_ms"],
               "load_ms_p50": figures["load_ms"]}
        for page, figures in weights.items()
    }))

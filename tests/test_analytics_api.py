"""`GET /v1/calls` and `/v1/analytics/...` over HTTP (`deployments.analytics_api`), on the
ingress's own route table and a real PostgreSQL with generated calls: the token, the
400s that name their parameter, the documented shapes, paging by cursor and the CSV
exports."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
import pytest

from deployments.analytics_api import AnalyticsApi
from load_tests.analytics_seed import EXPERIMENT
from tests.db_fixtures import seeded_pool
from tests.e2e import assert_documented
from tests.ingress_routes import ingress_app

pytest_plugins = ["tests.db_fixtures"]

TOKEN = "analytics-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
END = datetime(2026, 4, 4, tzinfo=UTC)
CALLS = 300

QUESTIONS = {
    "/v1/analytics/funnel": "Funnel",
    "/v1/analytics/outcomes": "Outcomes",
    "/v1/analytics/costs": "Costs",
    "/v1/analytics/latency": "Latency",
    "/v1/analytics/drop-off": "DropOff",
    "/v1/analytics/trends": "Trends",
    f"/v1/analytics/experiments/{EXPERIMENT}": "Experiment",
}


def analytics_app(database: Any) -> Any:
    api = AnalyticsApi(api_token=TOKEN, database=database)
    return ingress_app(_analytics=api)


@pytest.fixture(scope="module")
async def pool() -> AsyncIterator[asyncpg.Pool]:
    async with seeded_pool(CALLS, end=END, days=3, max_size=3) as pool:
        yield pool


@pytest.fixture
async def client(pool: asyncpg.Pool) -> AsyncIterator[httpx.AsyncClient]:
    async def database() -> asyncpg.Pool:
        return pool

    transport = httpx.ASGITransport(app=analytics_app(database))
    async with httpx.AsyncClient(transport=transport, base_url="http://ingress") as client:
        yield client


async def test_without_the_token_every_route_is_refused(client: httpx.AsyncClient) -> None:
    for path in ["/v1/calls", *QUESTIONS]:
        for headers in ({}, {"Authorization": "Bearer wrong"}):
            answer = await client.get(path, headers=headers, params={"format": "csv"})
            assert answer.status_code == 401, path
            assert_documented(answer.json(), "Error")


@pytest.mark.parametrize(
    ("path", "params", "named"),
    [
        ("/v1/calls", {"since": "yesterday"}, "`since`"),
        ("/v1/calls", {"until": "2026-13-01"}, "`until`"),
        ("/v1/calls", {"since": "2026-04-02", "until": "2026-04-01"}, "`until`"),
        ("/v1/calls", {"outcome": "great"}, "`outcome`"),
        ("/v1/calls", {"direction": "sideways"}, "`direction`"),
        ("/v1/calls", {"campaign_id": "seven"}, "`campaign_id`"),
        ("/v1/calls", {"campaign_id": "0"}, "`campaign_id`"),
        ("/v1/calls", {"limit": "0"}, "`limit`"),
        ("/v1/calls", {"limit": "5000"}, "`limit`"),
        ("/v1/calls", {"cursor": "not-a-cursor"}, "`cursor`"),
        ("/v1/calls", {"format": "xml"}, "`format`"),
        ("/v1/calls", {"colour": "blue"}, "`colour`"),
        ("/v1/calls", {"variant": ""}, "`variant`"),
        ("/v1/calls", {"experiment": "opening; drop"}, "`experiment`"),
        ("/v1/calls", {"variant": "x" * 65}, "`variant`"),
        ("/v1/analytics/experiments/not%20a%20name", {}, "experiment in the path"),
        ("/v1/analytics/funnel", {"since": "soon"}, "`since`"),
        ("/v1/analytics/trends", {"cursor": "x"}, "`cursor`"),
        ("/v1/analytics/costs", {"outcome": "maybe"}, "`outcome`"),
        (f"/v1/analytics/experiments/{EXPERIMENT}", {"experiment": "other"}, "`experiment`"),
    ],
)
async def test_a_bad_parameter_is_refused_with_400_naming_it(
    client: httpx.AsyncClient, path: str, params: dict[str, str], named: str
) -> None:
    answer = await client.get(path, params=params, headers=AUTH)
    assert answer.status_code == 400
    assert_documented(answer.json(), "Error")
    assert named in answer.json()["error"]


async def test_every_answer_is_its_documented_shape(client: httpx.AsyncClient) -> None:
    filters = {"since": "2026-04-01T00:00:00Z", "until": "2026-04-04T00:00:00+00:00",
               "direction": "outbound"}
    for path, schema in QUESTIONS.items():
        answer = await client.get(path, params=filters, headers=AUTH)
        assert answer.status_code == 200, (path, answer.text)
        assert_documented(answer.json(), schema)
    # An offset's "+" sent unencoded arrives as a space, and is read as the "+".
    raw = await client.get("/v1/analytics/funnel?since=2026-04-01T00:00:00+00:00",
                           headers=AUTH)
    assert raw.status_code == 200, raw.text
    page = await client.get("/v1/calls", params={**filters, "limit": 3}, headers=AUTH)
    assert_documented(page.json(), "CallsPage")
    experiment = (await client.get(f"/v1/analytics/experiments/{EXPERIMENT}",
                                   headers=AUTH)).json()
    assert [v["variant"] for v in experiment["variants"]] == ["a", "b"]
    assert experiment["test"]["name"] == "two-proportion z-test, pooled variance, two-sided"


async def test_next_cursor_pages_through_every_matching_call_once(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    params: dict[str, Any] = {"outcome": "qualified", "limit": 7}
    seen: list[str] = []
    while True:
        page = (await client.get("/v1/calls", params=params, headers=AUTH)).json()
        seen += [c["call_sid"] for c in page["calls"]]
        assert all(c["outcome"] == "qualified" for c in page["calls"])
        if page["next_cursor"] is None:
            break
        params["cursor"] = page["next_cursor"]
    expected = await pool.fetch(
        "SELECT call_sid FROM calls WHERE outcome = 'qualified' "
        "ORDER BY started_at DESC, call_sid DESC"
    )
    assert seen == [row["call_sid"] for row in expected] and len(seen) > 7


def _csv(answer: httpx.Response) -> list[dict[str, str]]:
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/csv")
    assert "attachment" in answer.headers["content-disposition"]
    return list(csv.DictReader(io.StringIO(answer.text)))


async def test_the_calls_export_as_csv_all_of_them_or_a_page(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    everything = _csv(await client.get("/v1/calls", params={"format": "csv"}, headers=AUTH))
    assert len(everything) == CALLS
    assert len({row["call_sid"] for row in everything}) == CALLS
    inbound = _csv(await client.get("/v1/calls", params={"format": "csv",
                                                          "direction": "inbound"},
                                    headers=AUTH))
    assert {row["direction"] for row in inbound} == {"inbound"}
    assert len(inbound) == await pool.fetchval(
        "SELECT count(*) FROM calls WHERE direction = 'inbound'")
    page = await client.get("/v1/calls", params={"format": "csv", "limit": 10}, headers=AUTH)
    rows = _csv(page)
    assert len(rows) == 10 and rows == everything[:10]
    following = _csv(await client.get(
        "/v1/calls", params={"format": "csv", "limit": 10,
                             "cursor": page.headers["x-next-cursor"]}, headers=AUTH))
    assert following == everything[10:20]


async def test_the_analytics_lists_export_as_csv(client: httpx.AsyncClient) -> None:
    funnel = _csv(await client.get("/v1/analytics/funnel", params={"format": "csv"},
                                   headers=AUTH))
    assert [row["stage"] for row in funnel] == [
        "dialled", "answered", "human", "qualified", "meeting_booked"]
    assert funnel[0]["calls"] == str(CALLS)
    costs = _csv(await client.get("/v1/analytics/costs", params={"format": "csv"},
                                  headers=AUTH))
    assert [row["tier"] for row in costs] == ["economy", "premium", ""]
    assert "breakdown_usd_telephony" in costs[0]
    for path in QUESTIONS:
        assert _csv(await client.get(path, params={"format": "csv"}, headers=AUTH)), path


async def test_without_the_call_records_the_answer_is_503() -> None:
    async def database() -> asyncpg.Pool:
        raise OSError("connection refused")

    transport = httpx.ASGITransport(app=analytics_app(database))
    async with httpx.AsyncClient(transport=transport, base_url="http://ingress") as client:
        for path in ["/v1/calls", *QUESTIONS]:
            answer = await client.get(path, headers=AUTH)
            assert answer.status_code == 503, path
            assert_documented(answer.json(), "Error")

"""The operator console (`deployments.console`) over HTTP, mounted on the ingress's own
route table, against a real PostgreSQL and Redis: calls recorded the way session actors
record them (the outbox, drained by the recorder), a live call in the call registry,
generated analytics rows and a campaign made from a lead list.

What is checked: the login contract (303 with an HttpOnly, SameSite=Strict cookie that
is not the token; 401 with the login page for a wrong token), refusals without a session
(pages 303 to the login page, data calls 401), each page showing the records it is
about, pause and resume through the campaign states of `db.campaigns`, and that no
page or header ever carries the token.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from html import unescape
from typing import Any

import asyncpg
import httpx
import pytest
import redis.asyncio as redis

from actors.registry import CallIdentity, CallRegistry
from db import analytics
from db.campaigns import campaign_status, change_state, create_campaign
from db.outbox import Outbox
from db.pool import create_pool
from db.recorder import Recorder
from deployments.console import Console
from deployments.console.sessions import COOKIE_NAME, ConsoleSessions
from load_tests.analytics_seed import EXPERIMENT
from switchboard.lead_import import parse_leads
from switchboard.models import (
    AgentTransition,
    CallFacts,
    CallSession,
    CallStatus,
    Outcome,
    TierDecision,
    TurnRecord,
)
from switchboard.settings import CampaignSettings
from tests.db_fixtures import seeded_pool
from tests.ingress_routes import ingress_app

pytest_plugins = ["tests.db_fixtures"]

TOKEN = "console-test-token-" + uuid.uuid4().hex
END = datetime(2026, 4, 4, tzinfo=UTC)
SEEDED_CALLS = 240

PAGES = ["/console/", "/console/calls", "/console/calls/CAnone", "/console/campaigns",
         "/console/experiments", "/console/analytics"]
DATA_CALLS = [("GET", "/console/live/rows"), ("GET", "/console/calls/CAnone/detail"),
              ("GET", "/console/campaigns/rows"), ("POST", "/console/campaigns/1/pause"),
              ("POST", "/console/campaigns/1/resume")]


@pytest.fixture(scope="module")
async def pool() -> AsyncIterator[asyncpg.Pool]:
    async with seeded_pool(SEEDED_CALLS, end=END, days=3, max_size=4) as pool:
        yield pool


@pytest.fixture
def registry(redis_client: redis.Redis, redis_prefix: str) -> CallRegistry:
    return CallRegistry(redis_client, redis_prefix, ttl_s=60)


@pytest.fixture
def recorded(
    pool: asyncpg.Pool, redis_client: redis.Redis, redis_prefix: str
) -> tuple[Outbox, Recorder]:
    """The outbox a session actor writes to and the recorder that moves it to `pool`."""
    return (Outbox(redis_client, redis_prefix),
            Recorder(pool, redis_client, redis_prefix, consumer="console-test"))


def console_app(pool: asyncpg.Pool, registry: CallRegistry,
                public_url: str = "http://127.0.0.1:8000") -> Any:
    async def database() -> asyncpg.Pool:
        return pool

    console = Console(api_token=TOKEN, public_url=public_url, database=database,
                      registry=registry)
    return ingress_app(_console=console)


@pytest.fixture
async def anonymous(pool: asyncpg.Pool, registry: CallRegistry
                    ) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=console_app(pool, registry))
    async with httpx.AsyncClient(transport=transport, base_url="http://ingress") as client:
        yield client


@pytest.fixture
async def operator(anonymous: httpx.AsyncClient) -> httpx.AsyncClient:
    """A client logged in to the console."""
    answer = await anonymous.post("/console/login", data={"token": TOKEN})
    assert answer.status_code == 303, answer.text
    return anonymous


def _unique_number() -> str:
    return "+1555" + str(uuid.uuid4().int)[:7]


async def record_call(outbox: Outbox, recorder: Recorder, *, turns: int, ended: bool,
                      error: str | None = None) -> CallSession:
    """A call recorded as a session actor records one: its start, its turns, an agent
    transition and a tier decision, and (when `ended`) its final state."""
    session = CallSession(call_sid="CA" + uuid.uuid4().hex, mode="text",
                          from_number=_unique_number(), to_number="+15557650000",
                          current_agent="greeter")
    await outbox.call_started(session)
    await outbox.transition(session.call_sid, 0, AgentTransition(
        from_agent="start", to_agent="greeter", trigger="call_started",
        transition_duration_ms=3.5))
    for seq in range(turns):
        await add_turn(outbox, session, seq)
    await outbox.tier_decision(session.call_sid, 0, TierDecision(
        tier="premium", trigger="high_score", approved=True, reason="score 0.8 over 0.7"))
    if error:
        await outbox.error(session.call_sid, error)
    if ended:
        await outbox.call_ended(
            session.model_copy(update={"status": CallStatus.COMPLETED,
                                       "outcome": Outcome.QUALIFIED,
                                       "current_agent": "wrap_up"}),
            facts=CallFacts(budget_usd=12000, decision_maker=True, need="missed calls"),
            qualification_score=0.85,
            cost_usd=0.0123,
            cost_breakdown={"telephony": 0.005, "stt": 0.002, "llm": 0.004, "tts": 0.0013},
        )
    await recorder.drain_once()
    return session


async def add_turn(outbox: Outbox, session: CallSession, seq: int) -> None:
    await outbox.turn(session.call_sid, TurnRecord(
        seq=seq, user_text=f"caller line {seq}", agent_text=f"agent answer {seq}",
        agent="greeter", latency_ms=400.0 + seq))


def rows(html: str, marker: str = "data-call-sid") -> list[str]:
    return re.findall(rf'{marker}="([^"]+)"', html)


def chart(html: str, name: str) -> dict[str, Any]:
    match = re.search(rf'<script type="application/json" id="{name}">(.*?)</script>', html, re.S)
    assert match, f"no chart {name}"
    return json.loads(match.group(1))


# --- logging in ----------------------------------------------------------------------------

async def test_the_token_logs_in_with_a_strict_http_only_cookie_that_is_not_the_token(
    anonymous: httpx.AsyncClient,
) -> None:
    answer = await anonymous.post("/console/login", data={"token": TOKEN})
    assert answer.status_code == 303
    assert answer.headers["location"] == "/console"
    cookie = answer.headers["set-cookie"]
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
    assert {"httponly", "samesite", "path", "max-age"} <= attributes
    assert "samesite=strict" in cookie.lower() and "path=/console" in cookie.lower()
    assert "secure" not in attributes  # the public URL is http
    value = answer.cookies[COOKIE_NAME]
    assert TOKEN not in value and TOKEN not in cookie
    # The redirect leads to the console.
    home = await anonymous.get("/console/")
    assert home.status_code == 200 and "Live calls" in home.text


async def test_the_cookie_is_secure_when_the_public_url_is_https(
    pool: asyncpg.Pool, registry: CallRegistry
) -> None:
    app = console_app(pool, registry, public_url="https://calls.example.com")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="https://calls.example.com") as client:
        answer = await client.post("/console/login", data={"token": TOKEN})
    assert answer.status_code == 303
    attributes = {p.strip().lower() for p in answer.headers["set-cookie"].split(";")}
    assert "secure" in attributes and "httponly" in attributes


@pytest.mark.parametrize("token", ["wrong", "", TOKEN + "x", TOKEN[:-1], " "])
async def test_a_wrong_token_gets_401_and_the_login_page(
    anonymous: httpx.AsyncClient, token: str
) -> None:
    answer = await anonymous.post("/console/login", data={"token": token})
    assert answer.status_code == 401
    assert "set-cookie" not in answer.headers
    assert '<input id="token" name="token"' in answer.text
    assert "not the API token" in answer.text
    assert (await anonymous.get("/console/")).status_code == 303


async def test_logging_out_ends_the_session(operator: httpx.AsyncClient) -> None:
    assert (await operator.get("/console/")).status_code == 200
    answer = await operator.post("/console/logout")
    assert answer.status_code == 303 and answer.headers["location"] == "/console/login"
    assert (await operator.get("/console/")).status_code == 303


# --- refusals ------------------------------------------------------------------------------

@pytest.mark.parametrize("cookie", [None, TOKEN, "1.abc.def", "forged"])
async def test_without_a_valid_session_pages_redirect_and_data_calls_are_refused(
    anonymous: httpx.AsyncClient, cookie: str | None
) -> None:
    if cookie is not None:
        anonymous.cookies.set(COOKIE_NAME, cookie)
    for path in PAGES:
        answer = await anonymous.get(path)
        assert answer.status_code == 303, path
        assert answer.headers["location"] == "/console/login", path
    for method, path in DATA_CALLS:
        answer = await anonymous.request(method, path)
        assert answer.status_code == 401, (method, path)
        assert answer.json() == {"error": "log in to the console first"}


async def test_a_session_is_signed_lapses_and_ends_with_a_new_token() -> None:
    now = [1_000_000.0]
    sessions = ConsoleSessions(TOKEN, secure=False, max_age_s=3600, clock=lambda: now[0])
    value = sessions.issue()
    assert sessions.valid(value) and TOKEN not in value
    issued, nonce, mac = value.split(".")
    assert not sessions.valid(f"{int(issued) + 1}.{nonce}.{mac}")  # a changed time
    other = "1" if mac.endswith("0") else "0"
    assert not sessions.valid(f"{issued}.{nonce}.{mac[:-1]}{other}")  # a changed MAC
    assert not ConsoleSessions("another-token", secure=False, clock=lambda: now[0]).valid(value)
    now[0] += 3601
    assert not sessions.valid(value)


# --- the pages -----------------------------------------------------------------------------

async def test_the_live_page_lists_a_live_call_and_its_last_exchange(
    operator: httpx.AsyncClient, registry: CallRegistry, recorded: tuple[Outbox, Recorder]
) -> None:
    outbox, recorder = recorded
    live = await record_call(outbox, recorder, turns=2, ended=False)
    await registry.claim_new(CallIdentity(call_sid=live.call_sid, mode="text",
                                          direction="inbound", from_number=live.from_number,
                                          to_number=live.to_number))
    # Claimed a moment ago, nothing recorded yet: listed from the registry.
    fresh = "CA" + uuid.uuid4().hex
    await registry.claim_new(CallIdentity(call_sid=fresh, mode="text", direction="outbound",
                                          from_number="+15557650000", to_number="+15550001111"))
    page = await operator.get("/console/")
    assert page.status_code == 200
    assert 'hx-get="/console/live/rows"' in page.text and 'hx-trigger="every 1s"' in page.text
    fragment = await operator.get("/console/live/rows")
    assert fragment.status_code == 200 and "<html" not in fragment.text
    assert set(rows(fragment.text)) == {live.call_sid, fresh}
    assert "agent answer 1" in fragment.text and live.from_number in fragment.text
    assert "+15550001111" in fragment.text


async def test_a_live_calls_page_grows_its_transcript_until_the_call_ends(
    operator: httpx.AsyncClient, recorded: tuple[Outbox, Recorder]
) -> None:
    outbox, recorder = recorded
    call = await record_call(outbox, recorder, turns=1, ended=False)
    page = await operator.get(f"/console/calls/{call.call_sid}")
    assert page.status_code == 200
    detail_url = f"/console/calls/{call.call_sid}/detail"
    assert f'hx-get="{detail_url}"' in page.text and "caller line 0" in page.text

    await add_turn(outbox, call, 1)
    await recorder.drain_once()
    detail = await operator.get(detail_url)
    assert detail.status_code == 200 and "<html" not in detail.text
    assert "caller line 1" in detail.text and "agent answer 1" in detail.text
    assert 'hx-trigger="every 1s"' in detail.text  # still polled

    await outbox.call_ended(
        call.model_copy(update={"status": CallStatus.COMPLETED, "outcome": Outcome.NURTURE}),
        facts=CallFacts(), qualification_score=0.4, cost_usd=0.001,
        cost_breakdown={"telephony": 0.001},
    )
    await recorder.drain_once()
    final = await operator.get(detail_url)
    assert "hx-trigger" not in final.text  # ended: polling stops
    assert 'data-status="completed"' in final.text and "nurture" in final.text


async def test_a_finished_calls_page_shows_its_whole_record(
    operator: httpx.AsyncClient, recorded: tuple[Outbox, Recorder]
) -> None:
    outbox, recorder = recorded
    call = await record_call(outbox, recorder, turns=3, ended=True,
                             error="session actor lost; caller waited 1.2 s <retry>")
    page = await operator.get(f"/console/calls/{call.call_sid}")
    assert page.status_code == 200
    html = page.text
    assert "hx-trigger" not in html
    for seq in range(3):
        assert f"caller line {seq}" in html and f"agent answer {seq}" in html
        assert f"{400 + seq:,.0f} ms" in html  # each turn's latency
    assert re.search(r"<td>start</td><td>greeter</td><td>call_started</td><td>4 ms</td>", html)
    assert re.search(r"<td>premium</td><td>high_score</td><td>yes</td>"
                     r"<td>score 0.8 over 0.7</td>", html)
    for part, cost in (("telephony", "$0.0050"), ("stt", "$0.0020"), ("llm", "$0.0040"),
                       ("tts", "$0.0013"), ("total", "$0.0123")):
        assert re.search(rf"<th>{part}</th><td>\{cost}</td>", html), part
    # The caller's and the system's words are text, never markup.
    assert "caller waited 1.2 s &lt;retry&gt;" in html and "<retry>" not in html
    assert "qualified" in html and "missed calls" in html and "wrap_up" in html

    missing = await operator.get("/console/calls/CAnothing")
    assert missing.status_code == 404 and "No call CAnothing" in missing.text


async def test_recent_calls_are_filtered_as_the_calls_api_filters_them(
    operator: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    everything = await operator.get("/console/calls")
    assert everything.status_code == 200
    newest = await analytics.list_calls(pool, analytics.CallFilters(), after=None, limit=50)
    assert rows(everything.text) == [c["call_sid"] for c in newest.calls]
    assert "Older calls" in everything.text

    form = {"outcome": "qualified", "direction": "outbound", "experiment": EXPERIMENT,
            "variant": "b", "campaign_id": "", "since": "", "until": ""}
    filtered = await operator.get("/console/calls", params=form)
    expected = await analytics.list_calls(
        pool, analytics.CallFilters(outcome="qualified", direction="outbound",
                                    experiment=EXPERIMENT, variant="b"),
        after=None, limit=50)
    assert expected.calls, "the seeded calls include some of this filter"
    assert rows(filtered.text) == [c["call_sid"] for c in expected.calls]
    assert '<option selected>qualified</option>' in filtered.text

    # The next page continues where the first ended.
    next_href = unescape(re.search(r'class="next" href="([^"]+)"', everything.text).group(1))
    older = await operator.get(next_href)
    second = await analytics.list_calls(pool, analytics.CallFilters(),
                                        after=newest.next_key, limit=50)
    assert rows(older.text) == [c["call_sid"] for c in second.calls]

    bad = await operator.get("/console/calls", params={"direction": "sideways"})
    assert bad.status_code == 400 and "`direction`" in unescape(bad.text)


async def test_campaigns_show_progress_and_pause_and_resume_from_the_console(
    operator: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    leads = parse_leads(b"number\n+12125550101\n+12125550102\n+12125550103\n", max_leads=10)
    created = await create_campaign(pool, f"spring-{uuid.uuid4().hex[:6]}",
                                    CampaignSettings(), leads)
    await change_state(pool, created.id, "start")
    await pool.execute("UPDATE leads SET finished_at = now() WHERE id = (SELECT min(id) "
                       "FROM leads WHERE campaign_id = $1)", created.id)

    page = await operator.get("/console/campaigns")
    assert page.status_code == 200
    row = re.search(rf'<tr id="campaign-{created.id}".*?</tr>', page.text, re.S).group(0)
    assert 'data-state="running"' in row and "1 / 3" in row and 'value="1"' in row
    assert f'hx-post="/console/campaigns/{created.id}/pause"' in row

    paused = await operator.post(f"/console/campaigns/{created.id}/pause")
    assert paused.status_code == 200 and 'data-state="paused"' in paused.text
    assert f'hx-post="/console/campaigns/{created.id}/resume"' in paused.text
    assert (await campaign_status(pool, created.id))["state"] == "paused"

    again = await operator.post(f"/console/campaigns/{created.id}/pause")
    assert again.status_code == 200 and "is paused: pause needs it to be running" in again.text

    resumed = await operator.post(f"/console/campaigns/{created.id}/resume")
    assert 'data-state="running"' in resumed.text
    assert (await campaign_status(pool, created.id))["state"] == "running"
    fragment = await operator.get("/console/campaigns/rows")
    assert f'id="campaign-{created.id}"' in fragment.text and "<html" not in fragment.text
    assert (await operator.post("/console/campaigns/999999/pause")).status_code == 404


async def test_the_experiment_page_charts_each_variants_conversion_and_interval(
    operator: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    page = await operator.get("/console/experiments")
    assert page.status_code == 200
    answer = await analytics.experiment(pool, EXPERIMENT, analytics.CallFilters())
    spec = chart(page.text, "experiment-chart")
    assert spec["data"]["labels"] == [v["variant"] for v in answer["variants"]] == ["a", "b"]
    points, intervals = spec["data"]["datasets"]
    assert points["data"] == [v["conversion"] for v in answer["variants"]]
    assert intervals["data"] == [[v["ci_low"], v["ci_high"]] for v in answer["variants"]]
    assert spec["percent"] is True
    assert '/static/chart.umd.min.js' in page.text
    for variant, verdict in zip(answer["variants"], ["reference", None], strict=True):
        row = re.search(rf'<tr data-variant="{variant["variant"]}">.*?</tr>', page.text, re.S)
        verdict = verdict or ("yes" if variant["significant"] else "no")
        assert row and row.group(0).endswith(f"<td>{verdict}</td></tr>"), variant
        assert f"{variant['conversion'] * 100:.1f} %" in row.group(0)
    unknown = await operator.get("/console/experiments", params={"name": "nothing"})
    assert unknown.status_code == 200 and "No call of this experiment yet" in unknown.text


async def test_the_funnel_and_trends_are_charted_from_the_analytics(
    operator: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    params = {"direction": "outbound", "since": "2026-04-01T00:00:00", "until": ""}
    page = await operator.get("/console/analytics", params=params)
    assert page.status_code == 200
    filters = analytics.CallFilters(direction="outbound", since=datetime(2026, 4, 1, tzinfo=UTC))
    funnel = await analytics.funnel(pool, filters)
    trends = await analytics.trends(pool, filters)
    assert chart(page.text, "funnel-chart")["data"]["datasets"][0]["data"] == [
        s["calls"] for s in funnel["stages"]]
    trend = chart(page.text, "trends-chart")
    assert trend["data"]["labels"] == [d["day"] for d in trends["days"]]
    assert trend["data"]["datasets"][2]["data"] == [d["qualified"] for d in trends["days"]]
    bad = await operator.get("/console/analytics", params={"since": "yesterday"})
    assert bad.status_code == 400 and "`since`" in unescape(bad.text)


async def test_no_page_or_header_carries_the_token_and_nothing_comes_from_elsewhere(
    operator: httpx.AsyncClient, registry: CallRegistry, recorded: tuple[Outbox, Recorder]
) -> None:
    outbox, recorder = recorded
    call = await record_call(outbox, recorder, turns=1, ended=True)
    login = await operator.get("/console/login")
    answers = [login]
    for path in [*PAGES, f"/console/calls/{call.call_sid}", "/console/live/rows",
                 f"/console/calls/{call.call_sid}/detail", "/console/campaigns/rows"]:
        answers.append(await operator.get(path))
    for answer in answers:
        assert TOKEN not in answer.text, answer.url
        assert all(TOKEN not in value for value in answer.headers.values()), answer.url
        # Scripts and styles are the console's own: no CDN, nothing inline to inject into.
        assert not re.search(r'(src|href)="(https?:)?//', answer.text), answer.url
        assert "default-src 'self'" in answer.headers["content-security-policy"]
        if answer.status_code == 200:
            assert answer.headers["cache-control"] == "no-store", answer.url
    for asset in ("htmx.min.js", "chart.umd.min.js", "console.js", "console.css",
                  "htmx.LICENSE", "chart.js.LICENSE.md"):
        served = await operator.get(f"/console/static/{asset}")
        assert served.status_code == 200, asset
        assert "no-store" not in served.headers.get("cache-control", ""), asset
    chart_js = await operator.get("/console/static/chart.umd.min.js",
                                  headers={"Accept-Encoding": "gzip"})
    assert chart_js.headers["content-encoding"] == "gzip"
    # The static files need no session: the login page uses them.
    operator.cookies.clear()
    assert (await operator.get("/console/static/console.css")).status_code == 200


async def test_with_postgresql_away_pages_say_what_is_unavailable_without_its_address(
    registry: CallRegistry,
) -> None:
    # A server that is not there: nothing listens on port 1.
    away = await create_pool("postgresql://console:secret@127.0.0.1:1/calls", min_size=0)
    # A live call, so the live page needs its record too.
    await registry.claim_new(CallIdentity(call_sid="CA" + uuid.uuid4().hex, mode="text",
                                          direction="inbound"))
    try:
        app = console_app(away, registry)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://ingress") as client:
            await client.post("/console/login", data={"token": TOKEN})
            for path in ("/console/", "/console/calls", "/console/calls/CAx",
                         "/console/campaigns", "/console/experiments", "/console/analytics"):
                answer = await client.get(path)
                assert answer.status_code == 503, path
                assert "(PostgreSQL) are unavailable" in unescape(answer.text), path
                assert "secret" not in answer.text and "127.0.0.1:1" not in answer.text
            refused = await client.post("/console/campaigns/1/pause")
            assert refused.status_code == 503
    finally:
        await away.close()

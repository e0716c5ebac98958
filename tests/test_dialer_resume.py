"""The dialer against real parts: PostgreSQL (a database per test), Redis (capacity
reservations) and the Twilio sandbox in its own process, reached by the official twilio
client. A dialer that died between writing an attempt and hearing back from
`calls.create` is replaced by a new `Dialer` on the same database: it asks Twilio
before it dials, so the sandbox's log of `calls.create` shows each attempt once.
Also: pacing across ticks, the do-not-call list read at the moment of dialling, calling
hours on the dialer's clock, and a busy attempt retried later."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlparse

import asyncpg
import httpx
import pytest
import redis.asyncio as redis

from actors.outbound_calls import OutboundCalls, voice_url
from db.call_attempts import attempt_key, write_attempt
from db.call_attempts import due_leads as due
from db.campaigns import change_state, create_campaign
from db.migrate import migrate
from db.outbox import Outbox
from db.pool import create_pool
from db.queries import add_do_not_call
from db.recorder import Recorder
from deployments.dial_capacity import DialCapacity
from deployments.dialer import Dialer, dialer_clock
from deployments.ingress_capacity import IngressCapacity
from deployments.twilio_forms import ATTEMPT_KEY_PATTERN
from switchboard.lead_import import parse_leads
from switchboard.settings import CampaignSettings
from switchboard.twilio_sandbox.process import SandboxProcess

pytest_plugins = ["tests.db_fixtures"]

ACCOUNT_SID = "AC" + "d" * 32
AUTH_TOKEN = "dialer-test-token"
PUBLIC_URL = "http://127.0.0.1:9"  # nobody listens: the callbacks are the recorder's part
BUSY = "+15550109001"


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxProcess]:
    leads = tmp_path_factory.mktemp("leads") / "leads.yaml"
    leads.write_text(f'"{BUSY}": busy\n')
    with SandboxProcess.start(ACCOUNT_SID, AUTH_TOKEN, leads_file=leads, ring_s=30) as process:
        yield process


@pytest.fixture
async def pool(fresh_database: str) -> AsyncIterator[asyncpg.Pool]:
    await migrate(fresh_database, "up")
    pool = await create_pool(fresh_database, max_size=4)
    yield pool
    await pool.close()


@pytest.fixture
async def calls(sandbox: SandboxProcess) -> AsyncIterator[OutboundCalls]:
    httpx.delete(sandbox.requests_url).raise_for_status()
    async with OutboundCalls(ACCOUNT_SID, AUTH_TOKEN, api_base_url=sandbox.url) as client:
        yield client


@pytest.fixture
def capacity(redis_client: redis.Redis, redis_prefix: str) -> DialCapacity:
    return DialCapacity(IngressCapacity(redis_client, redis_prefix, live_ttl_s=3600),
                        capacity=10, hold_s=90)


SETTINGS = CampaignSettings(window="00:00-23:59", max_concurrent=2, calls_per_minute=10,
                            retry_after_s=600, max_attempts=2)  # fmt: skip


def new_dialer(
    pool: asyncpg.Pool, calls: OutboundCalls, capacity: DialCapacity, offset_s: float = 0
) -> Dialer:
    return Dialer(pool, calls, capacity, settings=SETTINGS, public_url=PUBLIC_URL,
                  clock=dialer_clock(offset_s))  # fmt: skip


def numbers(count: int) -> list[str]:
    return ["+1555" + str(uuid.uuid4().int)[:7] for _ in range(count)]


async def running_campaign(
    pool: asyncpg.Pool, leads: list[str], zone: str = "UTC", **pacing: object
) -> int:
    body = "number,timezone\n" + "".join(f"{number},{zone}\n" for number in leads)
    settings = SETTINGS.model_copy(update=pacing)
    created = await create_campaign(pool, "test", settings, parse_leads(body.encode(),
                                                                        max_leads=100))
    await change_state(pool, created.id, "start")
    return created.id


def creates(sandbox: SandboxProcess) -> Counter[str]:
    """`calls.create` requests the sandbox received, by attempt key."""
    keys: Counter[str] = Counter()
    for request in httpx.get(sandbox.requests_url).json():
        if request["method"] == "POST" and request["path"].endswith("/Calls.json"):
            keys[parse_qs(urlparse(request["form"]["Url"]).query)["attempt"][0]] += 1
    return keys


async def attempts(pool: asyncpg.Pool, campaign_id: int) -> list[dict]:
    rows = await pool.fetch(
        "SELECT idempotency_key, status, call_sid, error FROM call_attempts "
        "WHERE campaign_id = $1 ORDER BY id", campaign_id,
    )
    return [dict(row) for row in rows]


async def test_an_attempt_written_but_never_sent_is_placed_once_by_the_next_dialer(
    pool: asyncpg.Pool, calls: OutboundCalls, capacity: DialCapacity, sandbox: SandboxProcess
) -> None:
    [number] = numbers(1)
    campaign_id = await running_campaign(pool, [number])
    # The dialer that died wrote the attempt and never reached calls.create.
    [lead] = await due(pool, campaign_id, datetime.now(UTC), 10)
    key = await write_attempt(pool, lead)
    assert key is not None and await write_attempt(pool, lead) is None  # one writer wins

    await new_dialer(pool, calls, capacity).tick()
    await new_dialer(pool, calls, capacity).tick()  # and another restart

    [attempt] = await attempts(pool, campaign_id)
    assert attempt["status"] == "dialing" and attempt["call_sid"]
    assert creates(sandbox) == {key: 1}


async def test_an_attempt_sent_before_the_crash_is_found_at_twilio_not_dialled_again(
    pool: asyncpg.Pool, calls: OutboundCalls, capacity: DialCapacity, sandbox: SandboxProcess
) -> None:
    [number] = numbers(1)
    campaign_id = await running_campaign(pool, [number])
    [lead] = await due(pool, campaign_id, datetime.now(UTC), 10)
    key = await write_attempt(pool, lead)
    assert key is not None
    # calls.create went through; the dialer died before it wrote down the CallSid.
    placed = await calls.place(
        to=number, from_=SETTINGS.caller_id, url=voice_url(PUBLIC_URL, key),
        status_callback=f"{PUBLIC_URL}/twilio/status", timeout_s=30,
    )

    await new_dialer(pool, calls, capacity).tick()

    [attempt] = await attempts(pool, campaign_id)
    assert (attempt["status"], attempt["call_sid"]) == ("dialing", placed.sid)
    assert creates(sandbox) == {key: 1}


async def test_an_unsent_attempt_of_a_campaign_paused_meanwhile_is_withdrawn_not_dialled(
    pool: asyncpg.Pool, calls: OutboundCalls, capacity: DialCapacity, sandbox: SandboxProcess
) -> None:
    [number] = numbers(1)
    campaign_id = await running_campaign(pool, [number])
    [lead] = await due(pool, campaign_id, datetime.now(UTC), 10)
    assert await write_attempt(pool, lead) is not None
    await change_state(pool, campaign_id, "pause")

    await new_dialer(pool, calls, capacity).tick()

    assert await attempts(pool, campaign_id) == [] and creates(sandbox) == {}
    await change_state(pool, campaign_id, "resume")  # the lead is called as if never tried
    await new_dialer(pool, calls, capacity).tick()
    assert [a["idempotency_key"] for a in await attempts(pool, campaign_id)] == [
        attempt_key(campaign_id, lead.id, 1)]


async def test_a_campaign_never_has_more_calls_in_flight_than_max_concurrent(
    pool: asyncpg.Pool, calls: OutboundCalls, capacity: DialCapacity, sandbox: SandboxProcess
) -> None:
    campaign_id = await running_campaign(pool, numbers(5), max_concurrent=2)
    dialer = new_dialer(pool, calls, capacity)
    for _ in range(3):
        await dialer.tick()
    assert [a["status"] for a in await attempts(pool, campaign_id)] == ["dialing"] * 2
    assert len(creates(sandbox)) == 2


async def test_the_ingress_capacity_caps_every_campaign(
    pool: asyncpg.Pool, calls: OutboundCalls, redis_client: redis.Redis, redis_prefix: str
) -> None:
    ingress = IngressCapacity(redis_client, redis_prefix, live_ttl_s=3600)
    full = DialCapacity(ingress, capacity=1, hold_s=90)
    live_call = {"CA-live-inbound-call": datetime.now(UTC).timestamp()}
    await redis_client.zadd(ingress.live_key, live_call)
    campaign_id = await running_campaign(pool, numbers(2), max_concurrent=2)
    await new_dialer(pool, calls, full).tick()
    assert await attempts(pool, campaign_id) == []
    await redis_client.zrem(ingress.live_key, "CA-live-inbound-call")
    await new_dialer(pool, calls, full).tick()
    assert len(await attempts(pool, campaign_id)) == 1  # one place free


async def test_the_do_not_call_list_is_read_at_the_moment_of_dialling(
    pool: asyncpg.Pool, calls: OutboundCalls, capacity: DialCapacity, sandbox: SandboxProcess
) -> None:
    listed, other = numbers(2)
    campaign_id = await running_campaign(pool, [listed, other])
    # Imported while allowed; opted out (in another campaign's call) before its turn.
    await add_do_not_call(pool, listed, "CA" + uuid.uuid4().hex)
    await new_dialer(pool, calls, capacity).tick()

    rows = {a["idempotency_key"]: a for a in await attempts(pool, campaign_id)}
    skipped = [a for a in rows.values() if a["status"] == "skipped"]
    assert len(skipped) == 1 and skipped[0]["error"] == "on the do-not-call list"
    assert skipped[0]["idempotency_key"] not in creates(sandbox)
    assert len(creates(sandbox)) == 1  # the other lead


async def test_leads_outside_calling_hours_wait_for_their_window_on_the_dialers_clock(
    pool: asyncpg.Pool, calls: OutboundCalls, capacity: DialCapacity, sandbox: SandboxProcess
) -> None:
    # The dialer's clock (SWITCHBOARD_CLOCK_OFFSET_S) at the next 10:00 UTC, and a
    # window from noon to one: the same day, whenever the test runs.
    now = datetime.now(UTC)
    ten = now.replace(hour=10, minute=0, second=0, microsecond=0)
    if ten < now:
        ten += timedelta(days=1)
    offset_s = (ten - now).total_seconds()
    campaign_id = await running_campaign(pool, numbers(1), window="12:00-13:00")

    await new_dialer(pool, calls, capacity, offset_s=offset_s).tick()
    assert await attempts(pool, campaign_id) == []
    deferred = await pool.fetchval("SELECT next_attempt_at FROM leads WHERE campaign_id = $1",
                                   campaign_id)  # fmt: skip
    assert deferred == ten + timedelta(hours=2)
    # The same dialer two hours and a minute later.
    await new_dialer(pool, calls, capacity, offset_s=offset_s + 2 * 3600 + 60).tick()
    assert [a["status"] for a in await attempts(pool, campaign_id)] == ["dialing"]


async def test_a_busy_attempt_is_retried_after_the_backoff_and_the_campaign_completes(
    pool: asyncpg.Pool, calls: OutboundCalls, capacity: DialCapacity, sandbox: SandboxProcess,
    redis_client: redis.Redis, redis_prefix: str,
) -> None:
    campaign_id = await running_campaign(pool, [BUSY], max_attempts=2, retry_after_s=600)
    dialer = new_dialer(pool, calls, capacity)
    await dialer.tick()
    [first] = await attempts(pool, campaign_id)

    # Twilio's status callback, as the ingress records it (outbox -> recorder).
    outbox = Outbox(redis_client, redis_prefix)
    recorder = Recorder(pool, redis_client, redis_prefix, consumer="test")
    params = {"CallSid": first["call_sid"], "CallStatus": "busy", "Direction": "outbound-api",
              "From": SETTINGS.caller_id, "To": BUSY}  # fmt: skip
    await outbox.status_callback(first["call_sid"], "busy", params)
    while await recorder.drain_once():
        pass
    await dialer.tick()

    assert [a["status"] for a in await attempts(pool, campaign_id)] == ["busy"]
    due_at = await pool.fetchval("SELECT next_attempt_at FROM leads WHERE campaign_id = $1",
                                 campaign_id)  # fmt: skip
    assert timedelta(seconds=590) < due_at - datetime.now(UTC) <= timedelta(seconds=600)
    # Ten minutes on, the second and last attempt; busy again, the lead is finished.
    later = new_dialer(pool, calls, capacity, offset_s=601)
    await later.tick()
    second = (await attempts(pool, campaign_id))[1]
    assert second["status"] == "dialing"
    params["CallSid"] = second["call_sid"]
    await outbox.status_callback(second["call_sid"], "busy", params)
    while await recorder.drain_once():
        pass
    await later.tick()
    state = await pool.fetchval("SELECT state FROM campaigns WHERE id = $1", campaign_id)
    assert [a["status"] for a in await attempts(pool, campaign_id)] == ["busy", "busy"]
    assert state == "completed"


def test_attempt_keys_are_what_the_voice_webhook_takes() -> None:
    assert ATTEMPT_KEY_PATTERN.fullmatch(attempt_key(12, 345, 2))

"""Post-call webhooks: signing, which events a call makes, the retry schedule, and the
delivery worker against a real HTTP receiver on real PostgreSQL and Redis.

A call is recorded the way a session records it (outbox -> recorder), so its events
are made by the recorder's own transaction; the receiver (`tests.webhook_receiver`)
verifies every signature with `switchboard.webhook_signing.verify`.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest
import redis.asyncio as redis

from db.events import decode
from db.outbox import Outbox, outbox_key
from db.recorder import Recorder
from db.webhooks import event_id, event_types, lead_and_campaign, record_call_events
from switchboard.cli import main as cli_main
from switchboard.models import CallFacts, CallSession, CallStatus, Outcome
from switchboard.settings import (
    WEBHOOK_EVENT_TYPES,
    SettingsError,
    WebhookDeliverySettings,
    WebhookEndpoint,
    load_settings,
)
from switchboard.webhook_delivery import WebhookDeliverer, retry_delay_s
from switchboard.webhook_signing import InvalidSignature, sign, verify
from tests.webhook_receiver import WebhookReceiver

pytest_plugins = ["tests.db_fixtures"]

SECRET = "whsec_test_5f2a"
T0 = 1_760_000_000.0
QUALIFIED_FACTS = CallFacts(budget_usd=50_000, decision_maker=True, need="after-hours calls",
                            timeline_months=3, meeting_time="Tuesday 10am")
# Quick retries, so an outage of a second or two is many attempts.
FAST = WebhookDeliverySettings(max_attempts=50, backoff_base_s=0.05, backoff_max_s=0.2,
                               timeout_s=2, poll_interval_s=0.1)


# Signing and verification


def test_the_signature_is_hmac_sha256_of_timestamp_dot_body_keyed_by_the_secret() -> None:
    body = b'{"type":"call.completed"}'
    header = sign(body, SECRET, timestamp=1_700_000_000)
    expected = hmac.new(SECRET.encode(), b"1700000000." + body, hashlib.sha256).hexdigest()
    assert header == f"t=1700000000,v1={expected}"
    assert verify(body, header, SECRET, now=1_700_000_010) == 1_700_000_000


def test_a_non_ascii_secret_is_used_as_its_utf8_bytes() -> None:
    body = b"{}"
    header = sign(body, "clé-secrète", timestamp=1_700_000_000)
    digest = hmac.new("clé-secrète".encode(), b"1700000000.{}", hashlib.sha256).hexdigest()
    assert header.endswith(f"v1={digest}")


@pytest.mark.parametrize(
    ("body", "secret", "now", "reason"),
    [
        (b'{"type":"call.completed "}', SECRET, 1_700_000_000, "does not match"),  # tampered
        (b'{"type":"call.completed"}', "another-secret", 1_700_000_000, "does not match"),
        (b'{"type":"call.completed"}', SECRET, 1_700_000_301, "tolerance"),  # replayed late
        (b'{"type":"call.completed"}', SECRET, 1_699_999_699, "tolerance"),  # from the future
    ],
)
def test_verify_refuses_a_changed_body_a_wrong_secret_and_an_old_timestamp(
    body: bytes, secret: str, now: float, reason: str
) -> None:
    header = sign(b'{"type":"call.completed"}', SECRET, timestamp=1_700_000_000)
    with pytest.raises(InvalidSignature, match=reason):
        verify(body, header, secret, now=now)


@pytest.mark.parametrize("header", [None, "", "v1=abc", "t=1700000000", "t=soon,v1=abc"])
def test_verify_refuses_a_missing_or_malformed_header(header: str | None) -> None:
    with pytest.raises(InvalidSignature):
        verify(b"{}", header, SECRET, now=1_700_000_000)


def test_verify_accepts_any_of_several_signatures_while_a_secret_is_rotated() -> None:
    body = b"{}"
    old = sign(body, "old-secret", timestamp=1_700_000_000)
    new = sign(body, SECRET, timestamp=1_700_000_000)
    both = f"{old},{new.partition(',')[2]}"
    assert verify(body, both, SECRET, now=1_700_000_000) == 1_700_000_000
    assert verify(body, both, "old-secret", now=1_700_000_000) == 1_700_000_000


# Which events, and their ids


@pytest.mark.parametrize(
    ("outcome", "meeting_time", "expected"),
    [
        ("qualified", "Tuesday 10am", ["call.completed", "lead.qualified", "meeting.booked"]),
        ("qualified", None, ["call.completed", "lead.qualified"]),
        ("opted_out", None, ["call.completed", "lead.opted_out"]),
        ("nurture", None, ["call.completed"]),
        ("transferred", None, ["call.completed"]),
        ("abandoned", None, ["call.completed"]),
        (None, None, ["call.completed"]),
    ],
)
def test_each_final_record_makes_call_completed_and_the_events_its_outcome_earns(
    outcome: str | None, meeting_time: str | None, expected: list[str]
) -> None:
    assert event_types(outcome, meeting_time) == expected


def test_an_event_id_is_stable_per_call_and_type_and_distinct_otherwise() -> None:
    ids = {event_id(sid, t) for sid in ("CA1", "CA2") for t in WEBHOOK_EVENT_TYPES}
    assert len(ids) == 8
    assert event_id("CA1", "lead.qualified") == event_id("CA1", "lead.qualified")
    assert event_id("CA1", "lead.qualified").startswith("evt_")


async def test_a_campaigns_call_names_its_campaign_and_lead_and_any_other_carries_null(
    db_pool: asyncpg.Pool,
) -> None:
    assert await lead_and_campaign(db_pool, {"campaign_id": None}) == (None, None)
    report = {"campaign_id": 7, "attempt": 2, "direction": "outbound",
              "from": "+15557650000", "to": "+15551230001"}
    assert await lead_and_campaign(db_pool, report) == (
        {"number": "+15551230001", "attempt": 2}, {"id": 7})


# The retry schedule


def test_retries_back_off_exponentially_up_to_the_cap() -> None:
    delays = [retry_delay_s(n, base_s=2, max_s=600, jitter=0) for n in range(1, 13)]
    assert delays == [2, 4, 8, 16, 32, 64, 128, 256, 512, 600, 600, 600]


def test_jitter_only_shortens_a_wait_by_at_most_a_fifth() -> None:
    for attempt in range(1, 12):
        plain = retry_delay_s(attempt, base_s=2, max_s=600, jitter=0)
        for jitter in (0.0, 0.5, 0.999):
            delay = retry_delay_s(attempt, base_s=2, max_s=600, jitter=jitter)
            assert 0.8 * plain <= delay <= plain


def test_a_retry_after_is_honoured_up_to_the_cap() -> None:
    assert retry_delay_s(1, base_s=2, max_s=600, retry_after_s=30, jitter=0) == 30
    assert retry_delay_s(1, base_s=2, max_s=600, retry_after_s=0, jitter=0) == 2
    assert retry_delay_s(1, base_s=2, max_s=600, retry_after_s=86_400, jitter=0) == 600


# Settings


def test_switchboard_webhooks_is_a_json_list_of_url_secret_and_types(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(
        "SWITCHBOARD_WEBHOOKS",
        json.dumps([
            {"url": "https://crm.example.com/a", "secret": "s1", "types": ["lead.qualified"]},
            {"url": "https://crm.example.com/b", "secret": "s2"},
        ]),
    )
    first, second = load_settings().webhooks
    assert first.types == ["lead.qualified"] and first.secret.get_secret_value() == "s1"
    assert second.types == list(WEBHOOK_EVENT_TYPES)
    assert "s1" not in repr(first)


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ([{"url": "https://a.example", "secret": "s", "types": ["lead.won"]}], "unknown types"),
        ([{"url": "ftp://a.example", "secret": "s"}], "http"),
        ([{"url": "https://a.example", "secret": ""}], "SECRET"),
        ([{"url": "https://a.example", "secret": "s"}] * 2, "once"),
    ],
)
def test_a_bad_webhook_endpoint_is_refused_naming_the_setting(
    monkeypatch: pytest.MonkeyPatch, entries: list[dict], message: str
) -> None:
    monkeypatch.setenv("SWITCHBOARD_WEBHOOKS", json.dumps(entries))
    with pytest.raises(SettingsError, match="SWITCHBOARD_WEBHOOKS") as raised:
        load_settings()
    assert message in str(raised.value)


# The worker against a real receiver


@pytest.fixture
async def receiver() -> AsyncIterator[WebhookReceiver]:
    async with WebhookReceiver(SECRET) as running:
        yield running


def endpoint(receiver: WebhookReceiver, *types: str) -> WebhookEndpoint:
    return WebhookEndpoint(url=receiver.url, secret=SECRET,
                           types=list(types or WEBHOOK_EVENT_TYPES))


def new_sid() -> str:
    return "CA" + uuid.uuid4().hex


async def record_call(outbox: Outbox, call_sid: str, outcome: Outcome,
                      facts: CallFacts = QUALIFIED_FACTS) -> None:
    """A call from start to its final record, as a session sends it."""
    session = CallSession(call_sid=call_sid, direction="inbound", mode="text",
                          from_number="+15551230001", to_number="+15557650000", started_at=T0)
    await outbox.call_started(session)
    await outbox.call_ended(
        session.model_copy(update={"status": CallStatus.COMPLETED, "outcome": outcome}),
        facts=facts, qualification_score=1.0 if outcome == Outcome.QUALIFIED else 0.2,
        cost_usd=0.01, cost_breakdown={"telephony": 0.01},
    )


def recorder_for(db_pool: asyncpg.Pool, redis_client: redis.Redis, prefix: str,
                 *endpoints: WebhookEndpoint) -> Recorder:
    return Recorder(db_pool, redis_client, prefix, consumer="recorder-hooks",
                    webhooks=endpoints)


async def states(db_pool: asyncpg.Pool, *call_sids: str) -> list[asyncpg.Record]:
    return await db_pool.fetch(
        "SELECT call_sid, type, status, attempts, last_status_code FROM webhook_deliveries "
        "WHERE call_sid = ANY ($1) ORDER BY call_sid, type",
        list(call_sids),
    )


async def test_a_qualified_call_sends_one_signed_event_of_each_kind_with_the_report(
    outbox: Outbox, db_pool: asyncpg.Pool, redis_client: redis.Redis, redis_prefix: str,
    receiver: WebhookReceiver,
) -> None:
    call_sid = new_sid()
    hook = endpoint(receiver)
    await record_call(outbox, call_sid, Outcome.QUALIFIED)
    assert await recorder_for(db_pool, redis_client, redis_prefix, hook).drain_once() == 2

    deliverer = WebhookDeliverer(db_pool, [hook], FAST)
    try:
        assert await deliverer.deliver_once() == 3
        assert await deliverer.deliver_once() == 0  # nothing left: each sent once
    finally:
        await deliverer.close()

    assert receiver.bad_signatures == []
    assert sorted(e.type for e in receiver.events) == [
        "call.completed", "lead.qualified", "meeting.booked"]
    [qualified] = receiver.of_type("lead.qualified")
    assert qualified.id == event_id(call_sid, "lead.qualified")
    data = qualified.data
    assert data["call_sid"] == call_sid and data["final"] is True
    assert data["outcome"] == "qualified" and data["facts"]["meeting_time"] == "Tuesday 10am"
    assert data["lead"] is None and data["campaign"] is None  # not a campaign's call
    assert {row["status"] for row in await states(db_pool, call_sid)} == {"delivered"}


async def test_a_final_record_applied_again_makes_no_second_event(
    outbox: Outbox, db_pool: asyncpg.Pool, redis_client: redis.Redis, redis_prefix: str,
    receiver: WebhookReceiver,
) -> None:
    call_sid = new_sid()
    hook = endpoint(receiver)
    await record_call(outbox, call_sid, Outcome.QUALIFIED)
    # Read the call_ended entry before the recorder deletes it, to deliver it again.
    entries = await redis_client.xrange(outbox_key(redis_prefix))
    ended = decode({k.decode(): v.decode() for k, v in entries[-1][1].items()})
    await recorder_for(db_pool, redis_client, redis_prefix, hook).drain_once()
    async with db_pool.acquire() as conn, conn.transaction():
        assert await record_call_events(conn, ended, [hook]) == 0
    assert len(await states(db_pool, call_sid)) == 3


async def test_an_opted_out_call_sends_lead_opted_out_and_endpoints_get_only_their_types(
    outbox: Outbox, db_pool: asyncpg.Pool, redis_client: redis.Redis, redis_prefix: str,
    receiver: WebhookReceiver,
) -> None:
    call_sid = new_sid()
    async with WebhookReceiver(SECRET) as sales_only:
        hooks = [endpoint(receiver), endpoint(sales_only, "lead.qualified")]
        await record_call(outbox, call_sid, Outcome.OPTED_OUT, CallFacts())
        await recorder_for(db_pool, redis_client, redis_prefix, *hooks).drain_once()
        deliverer = WebhookDeliverer(db_pool, hooks, FAST)
        try:
            await deliverer.deliver_once()
        finally:
            await deliverer.close()
        assert sales_only.events == []
    assert sorted(e.type for e in receiver.events) == ["call.completed", "lead.opted_out"]


async def test_events_wait_out_a_receiver_outage_and_arrive_when_it_is_back(
    outbox: Outbox, db_pool: asyncpg.Pool, redis_client: redis.Redis, redis_prefix: str,
    receiver: WebhookReceiver,
) -> None:
    hook = endpoint(receiver, "lead.qualified")
    calls = [new_sid() for _ in range(3)]
    stop = asyncio.Event()
    deliverer = WebhookDeliverer(db_pool, [hook], FAST)
    worker = asyncio.create_task(deliverer.run(stop))
    try:
        await receiver.stop()  # down: connections are refused
        for call_sid in calls:
            await record_call(outbox, call_sid, Outcome.QUALIFIED)
        await recorder_for(db_pool, redis_client, redis_prefix, hook).drain_once()
        await asyncio.sleep(1.0)
        await receiver.start()
        receiver.answer_status = 503  # up, but not ready yet
        await asyncio.sleep(1.0)
        assert receiver.events == [] and receiver.refused > 0
        receiver.answer_status = 200
        arrived = await receiver.wait_for(3, "lead.qualified", timeout_s=15)
    finally:
        stop.set()
        await worker  # lets the attempts under way finish and be marked
    assert set(arrived) == {event_id(sid, "lead.qualified") for sid in calls}
    assert receiver.bad_signatures == []
    rows = await states(db_pool, *calls)
    assert {row["status"] for row in rows} == {"delivered"}
    assert all(row["attempts"] > 1 for row in rows)  # each was retried through the outage


async def test_deliveries_past_the_last_attempt_are_dead_letters_until_replayed(
    outbox: Outbox, db_pool: asyncpg.Pool, db_dsn: str, redis_client: redis.Redis,
    redis_prefix: str, receiver: WebhookReceiver,
) -> None:
    hook = endpoint(receiver, "call.completed", "lead.qualified")
    call_sid = new_sid()
    await record_call(outbox, call_sid, Outcome.QUALIFIED)
    await recorder_for(db_pool, redis_client, redis_prefix, hook).drain_once()
    settings = FAST.model_copy(update={"max_attempts": 3, "backoff_base_s": 0.01,
                                       "backoff_max_s": 0.01})
    deliverer = WebhookDeliverer(db_pool, [hook], settings)
    receiver.answer_status = 500
    try:
        for _ in range(3):
            assert await deliverer.deliver_once() == 2
            await asyncio.sleep(0.03)
        assert await deliverer.deliver_once() == 0  # dead: not tried again
        rows = await states(db_pool, call_sid)
        assert [(r["status"], r["attempts"], r["last_status_code"]) for r in rows] == [
            ("dead", 3, 500), ("dead", 3, 500)]

        receiver.answer_status = 200
        # The command line, as an operator runs it (its own event loop: a thread).
        code = await asyncio.to_thread(
            cli_main, ["webhooks", "--dsn", db_dsn, "replay", "--all-dead"])
        assert code == 0
        assert await deliverer.deliver_once() == 2
        assert {r["status"] for r in await states(db_pool, call_sid)} == {"delivered"}

        # One event again, on request, though it was delivered: the same id arrives twice.
        qualified = event_id(call_sid, "lead.qualified")
        code = await asyncio.to_thread(
            cli_main, ["webhooks", "--dsn", db_dsn, "replay", "--id", qualified])
        assert code == 0
        assert await deliverer.deliver_once() == 1
    finally:
        await deliverer.close()
    first, again = receiver.of_type("lead.qualified")
    assert first.id == again.id == qualified
    assert len(receiver.distinct()) == 2
    # The same body each time: frozen at the first attempt.
    assert (first.created_at, first.data) == (again.created_at, again.data)


async def test_replaying_an_unknown_event_id_fails(db_dsn: str) -> None:
    code = await asyncio.to_thread(
        cli_main, ["webhooks", "--dsn", db_dsn, "replay", "--id", "evt_nothing"])
    assert code == 1


async def test_a_receiver_refusing_the_request_with_a_4xx_gets_no_retries(
    outbox: Outbox, db_pool: asyncpg.Pool, redis_client: redis.Redis, redis_prefix: str,
    receiver: WebhookReceiver,
) -> None:
    hook = endpoint(receiver, "call.completed")
    call_sid = new_sid()
    await record_call(outbox, call_sid, Outcome.NURTURE, CallFacts())
    await recorder_for(db_pool, redis_client, redis_prefix, hook).drain_once()
    receiver.answer_status = 410
    deliverer = WebhookDeliverer(db_pool, [hook], FAST)
    try:
        assert await deliverer.deliver_once() == 1
    finally:
        await deliverer.close()
    [row] = await states(db_pool, call_sid)
    assert (row["status"], row["attempts"], row["last_status_code"]) == ("dead", 1, 410)


async def test_a_wrong_secret_is_caught_by_the_receivers_check(
    outbox: Outbox, db_pool: asyncpg.Pool, redis_client: redis.Redis, redis_prefix: str,
    receiver: WebhookReceiver,
) -> None:
    hook = WebhookEndpoint(url=receiver.url, secret="not-the-receivers", types=["call.completed"])
    call_sid = new_sid()
    await record_call(outbox, call_sid, Outcome.NURTURE, CallFacts())
    await recorder_for(db_pool, redis_client, redis_prefix, hook).drain_once()
    deliverer = WebhookDeliverer(db_pool, [hook], FAST)
    try:
        await deliverer.deliver_once()
    finally:
        await deliverer.close()
    assert receiver.events == []
    assert receiver.bad_signatures == ["signature does not match the body"]


async def test_two_workers_share_the_deliveries_and_send_each_event_once(
    outbox: Outbox, db_pool: asyncpg.Pool, redis_client: redis.Redis, redis_prefix: str,
    receiver: WebhookReceiver,
) -> None:
    hook = endpoint(receiver, "lead.qualified")
    calls = [new_sid() for _ in range(12)]
    stop = asyncio.Event()
    settings = FAST.model_copy(update={"batch_size": 2})
    workers = [WebhookDeliverer(db_pool, [hook], settings) for _ in range(2)]
    tasks = [asyncio.create_task(worker.run(stop)) for worker in workers]
    try:
        for call_sid in calls:
            await record_call(outbox, call_sid, Outcome.QUALIFIED)
        await recorder_for(db_pool, redis_client, redis_prefix, hook).drain_once()
        await receiver.wait_for(len(calls), "lead.qualified", timeout_s=15)
        await asyncio.sleep(0.3)  # anything sent twice would have arrived by now
    finally:
        stop.set()
        await asyncio.gather(*tasks)
    assert len(receiver.events) == len(calls)
    assert {e.id for e in receiver.events} == {event_id(s, "lead.qualified") for s in calls}


async def test_a_delivery_whose_worker_died_is_taken_over_when_its_lease_ends(
    outbox: Outbox, db_pool: asyncpg.Pool, redis_client: redis.Redis, redis_prefix: str,
    receiver: WebhookReceiver,
) -> None:
    from db.webhooks import claim_due

    hook = endpoint(receiver, "call.completed")
    call_sid = new_sid()
    await record_call(outbox, call_sid, Outcome.NURTURE, CallFacts())
    await recorder_for(db_pool, redis_client, redis_prefix, hook).drain_once()
    # A worker claims the delivery, then dies before sending it.
    [claimed] = await claim_due(db_pool, [hook.url], 10, lease_s=0.5)
    deliverer = WebhookDeliverer(db_pool, [hook], FAST)
    try:
        assert await deliverer.deliver_once() == 0  # still leased
        await asyncio.sleep(0.6)
        assert await deliverer.deliver_once() == 1
    finally:
        await deliverer.close()
    [row] = await states(db_pool, call_sid)
    assert (row["status"], row["attempts"]) == ("delivered", 2)
    assert [e.id for e in receiver.events] == [claimed.event_id]


async def test_new_events_wake_the_worker_at_once(
    outbox: Outbox, db_pool: asyncpg.Pool, redis_client: redis.Redis, redis_prefix: str,
    receiver: WebhookReceiver,
) -> None:
    hook = endpoint(receiver, "call.completed")
    # A poll interval far longer than the wait below: only the NOTIFY can be in time.
    settings = FAST.model_copy(update={"poll_interval_s": 30.0})
    stop = asyncio.Event()
    worker = asyncio.create_task(WebhookDeliverer(db_pool, [hook], settings).run(stop))
    try:
        await asyncio.sleep(0.3)  # listening
        call_sid = new_sid()
        await record_call(outbox, call_sid, Outcome.NURTURE, CallFacts())
        await recorder_for(db_pool, redis_client, redis_prefix, hook).drain_once()
        await receiver.wait_for(1, "call.completed", timeout_s=5)
    finally:
        stop.set()
        await worker

"""Against a real `switchboard serve` started with `SWITCHBOARD_WEBHOOKS`: a text call that
qualifies and books a meeting reaches the CRM's endpoint as `call.completed`,
`lead.qualified` and `meeting.booked`, each signed, each carrying the call report.

The endpoints are read when the replicas start, so this module runs a Switchboard of
its own (slow tier), with the retries a little quicker than the defaults (1 s doubling
to at most 10 s; twelve attempts still span over a minute and a half): the receiver is
also taken down for a minute while calls end, and the events arrive once it is back.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import asyncpg
import pytest

from db.webhooks import event_id
from switchboard.local_services import server_port
from switchboard.scenario import load_scenario
from tests.e2e import SCENARIOS, RunningSwitchboard, run_switchboard
from tests.webhook_receiver import WebhookReceiver

pytestmark = [pytest.mark.slow, pytest.mark.parallel_safe, pytest.mark.timeout(600)]

SECRET = "whsec_e2e_9c41"


@pytest.fixture(scope="module")
def hooked_switchboard(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[RunningSwitchboard, int]]:
    """A Switchboard whose one webhook endpoint is at 127.0.0.1:<port>/hooks."""
    port = server_port()
    endpoints = [{"url": f"http://127.0.0.1:{port}/hooks", "secret": SECRET}]
    with run_switchboard(
        tmp_path_factory.mktemp("webhooks"),
        SWITCHBOARD_WEBHOOKS=json.dumps(endpoints),
        SWITCHBOARD_WEBHOOK_DELIVERY__BACKOFF_BASE_S="1",
        SWITCHBOARD_WEBHOOK_DELIVERY__BACKOFF_MAX_S="10",
    ) as server:
        yield server, port


async def test_a_qualified_text_call_reaches_the_crm_as_three_signed_events(
    hooked_switchboard: tuple[RunningSwitchboard, int],
) -> None:
    server, port = hooked_switchboard
    scenario = load_scenario(Path(SCENARIOS) / "qualified-ops-director.yaml")
    async with WebhookReceiver(SECRET, port=port) as receiver:
        result = await server.call(scenario, text=True)
        report = await server.report(result.call_sid)
        assert report["outcome"] == "qualified" and report["facts"]["meeting_time"]
        arrived = await receiver.wait_for(3, timeout_s=60)

    assert receiver.bad_signatures == []  # every request verified
    assert {event.type for event in arrived.values()} == {
        "call.completed", "lead.qualified", "meeting.booked"}
    for event in arrived.values():
        assert event.id == event_id(result.call_sid, event.type)
        data = event.data
        assert data["call_sid"] == result.call_sid and data["final"] is True
        assert data["lead"] is None and data["campaign"] is None  # an inbound call
        for key in ("outcome", "facts", "turns", "transitions", "cost_usd", "ended_at"):
            assert data[key] == report[key], key
    # Exactly one distinct event per type, however many times one arrived.
    assert len(receiver.events) >= 3
    assert len({event.id for event in receiver.events}) == 3


RECEIVER_OUTAGE_S = 60.0


async def test_events_of_calls_ended_during_a_minute_long_receiver_outage_arrive_once_it_is_back(
    hooked_switchboard: tuple[RunningSwitchboard, int],
) -> None:
    server, port = hooked_switchboard
    qualified = load_scenario(Path(SCENARIOS) / "qualified-ops-director.yaml")
    not_qualified = load_scenario(Path(SCENARIOS) / "disqualified-no-budget.yaml")
    receiver = WebhookReceiver(SECRET, port=port)  # down: connections are refused
    down_at = time.time()
    calls = [await server.call(scenario, text=True) for scenario in (qualified, not_qualified)]
    reports = [await server.report(call.call_sid) for call in calls]
    assert [report["outcome"] for report in reports] == ["qualified", "disqualified"]
    await asyncio.sleep(max(0.0, down_at + RECEIVER_OUTAGE_S - time.time()))

    async with receiver:
        back_at = time.time()
        # call.completed for both, lead.qualified and meeting.booked for the first;
        # the last retry before the return was at most 10 s before it.
        arrived = await receiver.wait_for(4, timeout_s=60)

    assert receiver.bad_signatures == []
    # Each was made while the receiver was down and was tried and refused then:
    # delivered by a retry, not by a first attempt after it came back.
    for event in arrived.values():
        assert datetime.fromisoformat(event.created_at).timestamp() < back_at, event.id
    conn = await asyncpg.connect(server.database_url)
    try:
        attempts = dict(await conn.fetch(
            "SELECT event_id, attempts FROM webhook_deliveries WHERE event_id = ANY($1)",
            list(arrived),
        ))
    finally:
        await conn.close()
    assert attempts.keys() == arrived.keys() and min(attempts.values()) > 1, attempts
    expected = {
        event_id(calls[0].call_sid, "call.completed"),
        event_id(calls[0].call_sid, "lead.qualified"),
        event_id(calls[0].call_sid, "meeting.booked"),
        event_id(calls[1].call_sid, "call.completed"),
    }
    assert set(arrived) == expected
    qualified_events = receiver.distinct("lead.qualified")
    assert [event.data["call_sid"] for event in qualified_events.values()] == [calls[0].call_sid]
    print(f"receiver down {back_at - down_at:.0f} s; events arrived "
          f"{max(e.received_at for e in arrived.values()) - back_at:.1f} s after its return")

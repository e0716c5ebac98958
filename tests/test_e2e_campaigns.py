"""Campaigns and leads through a running Switchboard (the session's `serve` run): a
campaign from a CSV with bad rows, its states, a lead's history with the call a
campaign placed, the do-not-call list through the API, and `switchboard campaign`.
Every answer is checked against the API document."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import pytest

from switchboard.cli import main as cli_main
from tests.e2e import RunningSwitchboard, assert_documented, live_text_call


def unique_number() -> str:
    return "+1555" + str(uuid.uuid4().int)[:7]


async def test_a_campaign_from_a_csv_its_states_and_its_leads(
    switchboard: RunningSwitchboard,
) -> None:
    server = switchboard
    listed, lead, other = unique_number(), unique_number(), unique_number()
    token = {"Authorization": f"Bearer {server.api_token}"}
    async with httpx.AsyncClient(base_url=server.base_url, headers=token, timeout=15) as api:
        put = await api.put(f"/v1/leads/{listed}/do-not-call", json={"reason": "asked by email"})
        assert put.status_code == 201, put.text
        assert_documented(put.json(), "DoNotCallEntry")
        assert put.json()["source"] == "api"

        csv = (
            "number,name,company,timezone,plan\n"
            f"{lead},Ada,Acme,America/Chicago,gold\n"  # 1
            f"{listed},Bo,Beta,,\n"  # 2: on the list
            "12345,Cy,,,\n"  # 3
            f"{lead},Ada twice,,,\n"  # 4
            ",Di,,,\n"  # 5
            f"{other},Ed,,,silver\n"  # 6
        )
        created = await api.post(
            "/v1/campaigns",
            params={"name": "Spring", "max_attempts": "2", "window": closed_window()},
            content=csv,
            headers={"Content-Type": "text/csv"},
        )
        assert created.status_code == 201, created.text
        body = created.json()
        assert_documented(body, "CampaignCreated")
        assert body["accepted"] == 2
        assert [(r["row"], r["reason"]) for r in body["rejected"]] == [
            (2, "do_not_call"), (3, "invalid_number"), (4, "duplicate"), (5, "missing_number"),
        ]
        cid = body["id"]

        status = await api.get(f"/v1/campaigns/{cid}")
        assert status.status_code == 200
        assert_documented(status.json(), "CampaignStatus")
        assert (status.json()["state"], status.json()["leads"]) == ("draft", 2)

        refused = await api.post(f"/v1/campaigns/{cid}/pause")
        assert refused.status_code == 409 and "draft" in refused.json()["error"]
        assert_documented(refused.json(), "Error")
        for action, state in (("start", "running"), ("pause", "paused"), ("resume", "running")):
            changed = await api.post(f"/v1/campaigns/{cid}/{action}")
            assert changed.status_code == 200, changed.text
            assert_documented(changed.json(), "CampaignStatus")
            assert changed.json()["state"] == state

        # The dialer's part, done by hand (outside the campaign's calling hours, so the
        # dialer leaves it to us): a call placed for the lead's first attempt.
        async with live_text_call(server, from_number=lead) as call:
            await call.say("Hi, this is Ada.")
        await record_attempt(server.database_url, cid, lead, call.call_sid)
        report = await server.report(call.call_sid)
        assert_documented(report, "CallReport")
        assert (report["campaign_id"], report["attempt"]) == (cid, 1)

        history = await api.get(f"/v1/leads/{lead.replace('+', '%2B')}")
        assert history.status_code == 200
        assert_documented(history.json(), "LeadHistory")
        assert history.json() == {
            "number": lead,
            "do_not_call": False,
            "attempts": [{"campaign_id": cid, "attempt": 1, "call_sid": call.call_sid,
                          "status": "completed", "outcome": report["outcome"]}],
        }
        counted = (await api.get(f"/v1/campaigns/{cid}")).json()
        assert counted["attempts"]["completed"] == 1

        cancelled = await api.post(f"/v1/campaigns/{cid}/cancel")
        assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled"
        assert (await api.post(f"/v1/campaigns/{cid}/resume")).status_code == 409

        on_list = (await api.get(f"/v1/leads/{listed}")).json()
        assert on_list["do_not_call"] is True
        removed = await api.request(
            "DELETE", f"/v1/leads/{listed}/do-not-call", json={"reason": "added by mistake"}
        )
        assert removed.status_code == 200, removed.text
        assert_documented(removed.json(), "DoNotCallEntry")
        assert removed.json()["do_not_call"] is False
        assert (await api.get(f"/v1/leads/{listed}")).json()["do_not_call"] is False
        gone = await api.delete(f"/v1/leads/{listed}/do-not-call")
        assert gone.status_code == 404
        assert_documented(gone.json(), "Error")
    assert await _logged(server, f"audit: do-not-call entry of {listed} removed")


def closed_window() -> str:
    """An hour of calling hours that is not now in Chicago nor in UTC (the zone of a lead
    whose number says none): the dialer leaves this campaign's leads alone, and the test
    places the call a campaign would, by hand."""
    now = datetime.now(UTC)
    busy_hours = {now.hour, now.astimezone(ZoneInfo("America/Chicago")).hour}
    start = next(hour for hour in range(23) if hour not in busy_hours)
    return f"{start:02d}:00-{start + 1:02d}:00"


async def record_attempt(dsn: str, campaign_id: int, number: str, call_sid: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            """
            INSERT INTO call_attempts (lead_id, campaign_id, attempt, idempotency_key,
                                       call_sid, status)
            SELECT id, campaign_id, 1, $3, $4, 'completed' FROM leads
            WHERE campaign_id = $1 AND number = $2
            """,
            campaign_id, number, f"test-{call_sid}", call_sid,
        )
    finally:
        await conn.close()


async def _logged(server: RunningSwitchboard, line: str) -> bool:
    """Whether an ingress replica wrote `line` to its Serve log (within a few seconds)."""
    logs = server.ray_logs_dir() / "serve"
    for _ in range(20):
        for path in logs.glob("replica_*TwilioIngress*"):
            if line in path.read_text(errors="replace"):
                return True
        await asyncio.sleep(0.25)
    return False


@pytest.mark.parametrize(
    ("params", "body", "content_type", "status", "says"),
    [
        ({}, "number\n+12125550100\n", "text/csv", 400, "`name` is required"),
        ({"name": "x", "window": "21:00-08:00"}, "number\n+12125550100\n", "text/csv", 400,
         "window"),
        ({"name": "x", "max_attempts": "0"}, "number\n+12125550100\n", "text/csv", 400,
         "max_attempts"),
        ({"name": "x", "max_attempt": "2"}, "number\n+12125550100\n", "text/csv", 400,
         "unknown query parameter max_attempt"),
        ({"name": "x"}, "phone\n+12125550100\n", "text/csv", 400, "no `number` column"),
        ({"name": "x"}, '{"number": 1}', "application/json", 415, "text/csv"),
    ],
)
async def test_bad_campaign_requests_are_refused_saying_why(
    switchboard: RunningSwitchboard,
    params: dict[str, str],
    body: str,
    content_type: str,
    status: int,
    says: str,
) -> None:
    token = {"Authorization": f"Bearer {switchboard.api_token}"}
    async with httpx.AsyncClient(base_url=switchboard.base_url, timeout=15) as api:
        answer = await api.post(
            "/v1/campaigns", params=params, content=body,
            headers={**token, "Content-Type": content_type},
        )
        assert answer.status_code == status and says in answer.json()["error"], answer.text
        assert_documented(answer.json(), "Error")
        unauthorized = await api.get("/v1/campaigns/1")
        assert unauthorized.status_code == 401
        missing = await api.get("/v1/campaigns/not-an-id", headers=token)
        assert missing.status_code == 404


async def test_switchboard_campaign_creates_starts_and_shows_a_campaign(
    switchboard: RunningSwitchboard,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("SWITCHBOARD_API_TOKEN", switchboard.api_token)
    leads = tmp_path / "leads.csv"
    leads.write_text(f"number,name\n{unique_number()},Ada\nnot a number,Bo\n")
    url = ["--url", switchboard.base_url]

    def campaign(*args: str) -> int:
        return cli_main(["campaign", *url, *args])

    assert await asyncio.to_thread(campaign, "create", str(leads), "--name", "Cli",
                                   "--max-attempts", "2") == 0
    created = capsys.readouterr().out
    assert "1 leads loaded, 1 rows rejected" in created
    assert "row 2: not a number  invalid_number" in created
    cid = created.split()[1]
    assert await asyncio.to_thread(campaign, "start", cid) == 0
    assert await asyncio.to_thread(campaign, "status", cid) == 0
    assert f"campaign {cid} 'Cli': running, 1 leads" in capsys.readouterr().out
    assert await asyncio.to_thread(campaign, "start", cid) == 1  # refused: 409
    assert "running" in capsys.readouterr().err
    assert await asyncio.to_thread(campaign, "--json", "cancel", cid) == 0
    assert '"state": "cancelled"' in capsys.readouterr().out

"""Against a real `serve run`: the budget decides each call's tier, an admin can force
or revoke premium on a live call, and every decision is in the call's `tier_history`."""

from __future__ import annotations

import json

import httpx

from switchboard.scenario import parse_scenario
from tests.e2e import RunningSwitchboard, live_text_call


async def set_tier(
    switchboard: RunningSwitchboard, call_sid: str, body: object, *, token: str | None = None
) -> httpx.Response:
    async with httpx.AsyncClient(base_url=switchboard.base_url) as client:
        return await client.post(
            f"/v1/calls/{call_sid}/tier",
            content=body if isinstance(body, bytes) else json.dumps(body).encode(),
            headers={"Authorization": f"Bearer {token or switchboard.api_token}"},
        )


async def test_a_caller_with_a_big_budget_earns_the_premium_tier(
    switchboard: RunningSwitchboard,
) -> None:
    scenario = parse_scenario(
        {
            "name": "big-budget",
            "from": "+15553330102",
            "to": "+15557650000",
            "lines": [
                "Hey, it's Morgan from the clinic.",
                "Yeah go ahead.",
                "Patients can't get through to book, we need the phones covered.",
                "We've set aside something like eighty grand for the year.",
                "Thanks, that's all for now.",
            ],
        }
    )
    result = await switchboard.call(scenario, text=True)
    report = await switchboard.report(result.call_sid)
    grants = [d for d in report["tier_history"] if d["approved"] and d["tier"] == "premium"]
    assert len(grants) == 1, report["tier_history"]
    assert grants[0]["trigger"] == "stated_budget"
    assert grants[0]["reason"].startswith("granted")
    # The cost comes from the budget's ledger, part by part.
    assert report["cost_usd"] > 0
    assert report["cost_usd"] == round(sum(report["cost_breakdown"].values()), 6)


async def test_a_caller_who_earns_nothing_stays_on_economy(
    switchboard: RunningSwitchboard,
) -> None:
    scenario = parse_scenario(
        {
            "name": "small-fry",
            "from": "+15553330103",
            "to": "+15557650000",
            "lines": ["Hi, Sam here.", "Sure.", "Honestly we don't need anything right now."],
        }
    )
    result = await switchboard.call(scenario, text=True)
    report = await switchboard.report(result.call_sid)
    assert report["tier_history"] == []


async def test_an_admin_forces_then_revokes_premium_on_a_live_call(
    switchboard: RunningSwitchboard,
) -> None:
    async with live_text_call(switchboard) as call:
        await call.say("Hi, this is Robin.")
        forced = await set_tier(switchboard, call.call_sid, {"tier": "premium", "reason": "VIP"})
        assert forced.status_code == 200, forced.text
        assert forced.json()["approved"] and forced.json()["session_notified"]
        assert (await call.say("Sure, I have a minute.")).sentences
        revoked = await set_tier(
            switchboard, call.call_sid, {"tier": "economy", "reason": "test over"}
        )
        assert revoked.status_code == 200, revoked.text
        assert (await call.say("We need help answering calls.")).sentences
    report = await switchboard.report(call.call_sid)
    admin = [(d["tier"], d["trigger"], d["approved"]) for d in report["tier_history"]]
    assert admin[:2] == [("premium", "admin", True), ("economy", "admin", True)]
    assert report["tier_history"][0]["reason"] == "admin: VIP"


async def test_tier_changes_are_refused_with_a_reason(switchboard: RunningSwitchboard) -> None:
    unknown = await set_tier(switchboard, "CAnotlive000", {"tier": "premium", "reason": "x"})
    assert unknown.status_code == 404 and "not live" in unknown.json()["error"]
    async with live_text_call(switchboard) as call:
        unsigned = await set_tier(
            switchboard, call.call_sid, {"tier": "premium", "reason": "x"}, token="wrong"
        )
        bad_tier = await set_tier(switchboard, call.call_sid, {"tier": "gold", "reason": "x"})
        no_reason = await set_tier(switchboard, call.call_sid, {"tier": "premium"})
        not_json = await set_tier(switchboard, call.call_sid, b"{premium")
    assert unsigned.status_code == 401
    assert bad_tier.status_code == 400 and "tier" in bad_tier.json()["error"]
    assert no_reason.status_code == 400 and "reason" in no_reason.json()["error"]
    assert not_json.status_code == 400 and "not JSON" in not_json.json()["error"]
    # Nothing was decided for the call.
    report = await switchboard.report(call.call_sid)
    assert report["tier_history"] == []

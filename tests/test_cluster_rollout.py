"""Changing Switchboard on a running cluster, as an operator does, with calls live:
`serve deploy` of a new `user_config` (live settings, a flag, a refused block, the kill
switch), of new code (a rolling upgrade), and of a canary application beside the
stable one.

The cluster and the deploy are `tests.ray_cluster`'s; each step is a `serve deploy` of
the config deployed last with one thing changed. What a call ran on is read from its
record: `config_version`, `flags`, `app`, `app_version`, `integration_enabled`.
"""

from __future__ import annotations

import asyncio
import copy
import json
import time
from typing import Any

import httpx
import pytest

from switchboard.caller.twilio_protocol import new_sid
from switchboard.flags import in_share
from switchboard.scenario import Scenario, parse_scenario
from tests.e2e import live_text_call
from tests.ray_cluster import CANARY_PREFIX, ClusterApp

pytestmark = [pytest.mark.slow, pytest.mark.cluster]

QUALIFIED_LINES: list[Any] = [
    "Hi, this is Dana.",
    "Sure, go ahead.",
    "We miss calls after hours.",
    "About sixty thousand dollars a year.",
    "Yes, I make the call.",
    "Next month.",
    {"dtmf": "1"},
    "No, that's all.",
]
DEPLOY_TIMEOUT_S = 240


def lead(name: str, percent: float, *, inside: bool) -> str:
    """A lead number that is (or is not) inside `percent` % of leads for `name`."""
    return next(
        number for number in (f"+1555020{n:04d}" for n in range(10_000))
        if in_share(name, number, percent) is inside
    )


def with_block(config: dict, **block: Any) -> dict:
    """`config` with a new `user_config` for every deployment of the stable application."""
    changed = copy.deepcopy(config)
    for deployment in changed["applications"][0]["deployments"]:
        if "user_config" in deployment:
            deployment["user_config"] = {"canary": {"percent": 0}, **block}
    return changed


def call_from(number: str, lines: list[Any]) -> Scenario:
    return parse_scenario({"name": "rollout", "from": number, "to": "+15557650000",
                           "lines": lines})


async def served(app: ClusterApp, prefix: str = "") -> dict | None:
    """`GET /v1/config` of the application at `prefix` (None while it is not there)."""
    async with httpx.AsyncClient(base_url=app.server.base_url, timeout=10) as client:
        try:
            response = await client.get(
                f"{prefix}/v1/config",
                headers={"Authorization": f"Bearer {app.server.api_token}"},
            )
        except httpx.TransportError:  # the application is still starting
            return None
    return response.json() if response.status_code == 200 else None


async def wait_for_version(app: ClusterApp, version: str, prefix: str = "") -> float:
    """Seconds until the application at `prefix` serves live settings `version`."""
    started = time.monotonic()
    while ((now := await served(app, prefix)) or {}).get("version") != version:
        assert time.monotonic() - started < DEPLOY_TIMEOUT_S, f"not serving {version}: {now}"
        await asyncio.sleep(0.2)
    return time.monotonic() - started


async def say_all(live: Any, lines: list[Any]) -> list[str]:
    heard: list[str] = []
    for line in lines:
        if isinstance(line, dict):
            turn = await live.send({"event": "dtmf", "digit": line["dtmf"]})
        else:
            turn = await live.say(line)
        heard += turn.sentences
    return heard


@pytest.mark.timeout(600)
async def test_a_user_config_deployed_mid_call_reaches_new_calls_not_the_live_one(
    cluster_app: ClusterApp,
) -> None:
    app, server = cluster_app, cluster_app.server
    replicas = app.replica_ids()
    agents_on, agents_off = (lead("integration_enabled", 50, inside=i) for i in (True, False))
    async with live_text_call(server, from_number="+15550300001") as live:
        assert (await live.say(QUALIFIED_LINES[0])).sentences
        deployed_at = time.monotonic()
        await app.deploy_during_calls(with_block(
            app.config, version="2", agent_integration={"company_name": "Acme Lines"},
            flags={"integration_enabled": {"percent": 50}},
        ))  # fmt: skip
        took_s = await wait_for_version(app, "2")
        # The live call carries on to its end on version 1.
        heard = await say_all(live, QUALIFIED_LINES[1:])
        assert not any("Acme" in sentence for sentence in heard)
    old = await server.report(live.call_sid, timeout_s=60)
    assert old["config_version"] == "1" and old["outcome"] == "qualified", old

    async with live_text_call(server, from_number=agents_on) as new:
        await new.say("Hello?")
    first_new_s = time.monotonic() - deployed_at
    on = await server.report(new.call_sid, timeout_s=60)
    assert on["config_version"] == "2" and "Acme Lines" in on["turns"][0]["agent_text"]
    assert on["flags"] == {"integration_enabled": True} and on["integration_enabled"] is True
    async with live_text_call(server, from_number=agents_off) as direct:
        await direct.say("Hello?")
    off = await server.report(direct.call_sid, timeout_s=60)
    assert off["flags"] == {"integration_enabled": False} and off["integration_enabled"] is False
    print(f"user_config v2: served {took_s:.1f} s after serve deploy returned; "
          f"first call on it {first_new_s:.1f} s after the deploy began")
    assert app.replica_ids() == replicas  # reconfigured in place: no replica restarted

    # A block that fails validation is refused, named, and version 2 keeps serving.
    app.deploy(with_block(app.config, version="3", qualification={"min_budget_usd": -1}))
    deadline = time.monotonic() + DEPLOY_TIMEOUT_S
    while ((now := await served(app)) or {}).get("rejected") is None:
        assert time.monotonic() < deadline, now
        await asyncio.sleep(0.5)
    assert now["version"] == "2"
    assert now["rejected"]["version"] == "3"
    assert now["rejected"]["field"] == "qualification.min_budget_usd"
    async with live_text_call(server, from_number=agents_on) as still:
        await still.say("Hello?")
    assert (await server.report(still.call_sid, timeout_s=60))["config_version"] == "2"
    assert app.all_healthy() and app.replica_ids() == replicas


@pytest.mark.timeout(600)
async def test_the_kill_switch_reaches_a_live_call_on_its_next_turn(
    cluster_app: ClusterApp,
) -> None:
    app, server = cluster_app, cluster_app.server
    app.deploy(with_block(app.config, version="4"))
    await wait_for_version(app, "4")
    async with live_text_call(server, from_number="+15550300002") as live:
        assert (await live.say(QUALIFIED_LINES[0])).sentences
        await app.deploy_during_calls(
            with_block(app.config, version="5", agent_integration={"enabled": False})
        )
        await wait_for_version(app, "5")
        heard = await say_all(live, QUALIFIED_LINES[1:4])  # the direct path answers
        assert heard
    report = await server.report(live.call_sid, timeout_s=60)
    assert report["config_version"] == "4"  # still its version, but not its agents
    assert report["integration_enabled"] is False and report["fallback_turns"] == 0
    app.deploy(with_block(app.config, version="6"))
    await wait_for_version(app, "6")


@pytest.mark.timeout(900)
async def test_a_code_upgrade_drains_the_old_replica_while_its_audio_call_finishes(
    cluster_app: ClusterApp,
) -> None:
    app, server = cluster_app, cluster_app.server
    old_ingress = set(app.replica_ids()["switchboard/TwilioIngress"])
    call_sid = new_sid("CA")
    call = asyncio.create_task(
        server.call(call_from("+15550400001", QUALIFIED_LINES), text=False, call_sid=call_sid)
    )
    await app.wait_for_live_call(call_sid)
    await app.deploy_during_calls(app.new_release(app.config, app_version="v2"))
    await asyncio.wait_for(call, 600)
    report = await server.report(call_sid, timeout_s=60)
    # It ran to its natural end on its own stream and actor, dropped by nothing: the
    # keypad press late in the call arrived and the wrap-up said goodbye. While the
    # upgrade starts new replicas and their warm actors on these 2 cores, the call's
    # actor can be late past its deadline; it shows it is alive and is waited for, and
    # is not moved for that.
    def summary() -> str:
        # What the record and the nodes' logs say of the call: why it moved, if it did.
        shown = {key: report[key] for key in ("errors", "recovered", "fallback_turns", "turns")}
        logs = app.cluster.log_lines(call_sid, "1012", "1006", "HAProxy", "draining")
        return json.dumps(shown, indent=1) + "\n" + "\n".join(logs)

    assert report["status"] == "completed", summary()
    assert "[pressed 1]" in [turn["user_text"] for turn in report["turns"]], summary()
    assert report["turns"][-1]["agent"] == "wrap_up", summary()
    # Every deployment surges (`max_surge_percent`): the new budget, recorder and
    # orchestrator replicas are up before the old ones stop, so nothing the call asks
    # goes unanswered and its record has no error at all.
    assert report["recovered"] == 0 and report["errors"] == [], summary()
    assert report["fallback_turns"] == 0, summary()
    print(f"code upgrade with an audio call live: recovered {report['recovered']}"
          f" {report['errors']}")
    assert report["app_version"] == "v1"
    app.wait_healthy()
    assert not set(app.replica_ids()["switchboard/TwilioIngress"]) & old_ingress
    after = await server.call(call_from("+15550400002", ["Hello?", {"hangup": True}]),
                              text=False)
    report = await server.report(after.call_sid, timeout_s=60)
    assert report["app_version"] == "v2" and report["status"] == "completed"


@pytest.mark.timeout(900)
async def test_a_canary_takes_its_share_of_new_calls_and_none_at_zero(
    cluster_app: ClusterApp,
) -> None:
    app, server = cluster_app, cluster_app.server
    to_canary, to_stable = (lead("canary", 50, inside=i) for i in (True, False))
    stable = app.config
    app.deploy(app.with_canary(stable, percent=50, app_version="v3", version="7"))
    await wait_for_version(app, "7", prefix=CANARY_PREFIX)
    await wait_for_version(app, "7")
    app.wait_healthy()
    reports = {}
    for number in (to_canary, to_stable):
        result = await server.call(call_from(number, ["Hello?", {"hangup": True}]), text=False)
        reports[number] = await server.report(result.call_sid, timeout_s=60)
    assert reports[to_canary]["app"] == "switchboard-canary", reports[to_canary]
    assert reports[to_canary]["app_version"] == "v3"
    assert reports[to_stable]["app"] == "switchboard"
    assert all(report["status"] == "completed" for report in reports.values())

    app.deploy(app.with_canary(stable, percent=0, app_version="v3", version="8"))
    await wait_for_version(app, "8")
    result = await server.call(call_from(to_canary, ["Hello?", {"hangup": True}]), text=False)
    at_zero = await server.report(result.call_sid, timeout_s=60)
    assert at_zero["app"] == "switchboard" and at_zero["status"] == "completed"
    app.deploy(stable)  # the canary removed: one application again

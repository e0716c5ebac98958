"""Against a real `switchboard serve` of the default serve_config.yaml: a call's lines are
JSON where a cluster operator collects them, at the configured level, and every line
about the call carries its CallSid.

Where they go: each Serve replica writes logs/serve/replica_<app>_<deployment>_<id>.log
in the Ray session's directory (serve_config.yaml's `logging_config`); a session actor
writes to its worker's stderr, logs/worker-<id>-<job>-<pid>.err, which Ray also
forwards to the driver's output (`switchboard serve`'s log here) behind a
"(CallSessionActor pid=N)" prefix.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from switchboard.scenario import load_scenario
from tests.e2e import SCENARIOS, RunningSwitchboard


def json_lines(path: Path) -> list[dict]:
    """Every line of a log file that should hold only JSON lines, parsed."""
    return [json.loads(line) for line in path.read_text(errors="replace").splitlines() if line]


def lines_about(lines: list[dict], call_sid: str) -> list[dict]:
    """The lines that name the call or carry its CallSid (the server serves other
    tests' calls too: their lines are not about this one)."""
    return [
        line for line in lines
        if call_sid in line["message"] or line.get("call_sid") == call_sid
    ]


def session_actor_lines(logs: Path, call_sid: str) -> list[dict]:
    """The lines the session actor that served `call_sid` wrote from its first line
    about the call on. An actor serves calls one after another: what it wrote for an
    earlier call (C libraries' lines on stderr among them) is not this call's."""
    for path in logs.glob("worker-*.err"):
        text = path.read_text(errors="replace")
        about = text.find(f'"call_sid": "{call_sid}"')
        if about >= 0 and '"actor_name": "session-' in text:
            first = text.rindex("\n", 0, about) + 1
            return [json.loads(line) for line in text[first:].splitlines() if line]
    return []


async def test_a_calls_lines_are_json_and_carry_its_call_sid(
    switchboard: RunningSwitchboard,
) -> None:
    scenario = load_scenario(SCENARIOS / "hangs-up-early.yaml")
    result = await switchboard.call(scenario, text=True)
    call_sid = result.call_sid
    await switchboard.report(call_sid)
    logs = switchboard.ray_logs_dir()

    def replica_lines(deployment: str) -> list[dict]:
        paths = logs.glob(f"serve/replica_switchboard_{deployment}_*.log")
        return [line for path in paths for line in json_lines(path)]

    def forwarded() -> list[dict]:
        """The session actor's lines about the call in the driver's output."""
        return [
            json.loads(line[line.index("{"):])
            for line in switchboard.log_path.read_text(errors="replace").splitlines()
            if "(CallSessionActor pid=" in line and f'"call_sid": "{call_sid}"' in line
        ]

    # The ingress logs a call's end after its socket closed, and Ray forwards a worker's
    # lines to the driver a moment after they are written: wait for the last lines.
    async with asyncio.timeout(30):
        while not (
            any(line.get("call_sid") == call_sid for line in replica_lines("TwilioIngress"))
            and any("ended" in line["message"] for line in session_actor_lines(logs, call_sid))
            and any("ended" in line["message"] for line in forwarded())
        ):
            await asyncio.sleep(0.5)

    ingress = lines_about(replica_lines("TwilioIngress"), call_sid)
    assert any(f"call {call_sid} closed" in line["message"] for line in ingress), ingress
    orchestrator = lines_about(replica_lines("OrchestratorDeployment"), call_sid)
    assert any(
        line["name"] == "graph.workflow.orchestrator" and "answered by greeter" in line["message"]
        for line in orchestrator
    ), orchestrator
    session = session_actor_lines(logs, call_sid)
    assert any(f"took call {call_sid}" in line["message"] for line in session), session
    # Every deployment's lines (the recorder's and the budget's too) and all the session
    # actor wrote while serving the call, Pipecat's lines included: JSON, at the
    # configured level, and those about the call carry its CallSid.
    everything = session + [
        line for path in logs.glob("serve/replica_*.log") for line in json_lines(path)
    ]
    about = lines_about(everything, call_sid)
    assert about and all(line.get("call_sid") == call_sid for line in about), about
    assert all(line["actor_name"].startswith("session-") for line in session)
    assert not [line for line in everything if line["levelname"] == "DEBUG"]
    # The driver's output holds the same session lines, behind Ray's worker prefix.
    assert {line["message"] for line in forwarded()} == {
        line["message"] for line in session if line.get("call_sid") == call_sid
    }

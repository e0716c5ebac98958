"""A real Switchboard for end-to-end tests: `switchboard serve` of serve_config.yaml.

It runs against the shared Redis and PostgreSQL of the machine (127.0.0.1), in a
database and under a Redis key prefix of its own, with its own tokens, port and
Twilio sandbox, so it never disturbs anything else and is torn down afterwards.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import csv
import io
import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import jsonschema
import websockets
import yaml
from websockets.asyncio.client import ClientConnection

from deployments.api_document import api_document
from switchboard.caller import CallResult, run_call
from switchboard.caller.signing import stream_handshake_signature, webhook_signature
from switchboard.caller.turns import TurnObserver
from switchboard.caller.twilio_protocol import (
    CallParties,
    EndAnswer,
    StreamAnswer,
    connected_message,
    media_message,
    new_sid,
    parse_twiml,
    start_message,
    stop_message,
    voice_webhook_params,
)
from switchboard.local_services import server_port
from switchboard.scenario import Scenario
from switchboard.serve_command import healthy

ROOT = Path(__file__).resolve().parents[1]
# The public caller scenarios, kept in the repository so every checkout runs them.
SCENARIOS = ROOT / "scenarios"
SCENARIO_FILES = sorted(SCENARIOS.glob("*.yaml"))
FACT_KEYS = ("budget_usd", "decision_maker", "timeline_months")
TRANSFER_NUMBER = "+15550009999"
# The link texted to a caller who asks for information ("send me some details").
INFO_LINK = "https://switchboard.example/details"
START_TIMEOUT_S = 300


@dataclass
class RunningSwitchboard:
    base_url: str
    api_token: str
    auth_token: str
    account_sid: str
    sandbox_url: str
    database_url: str
    redis_url: str
    redis_prefix: str
    log_path: Path
    pid: int  # of `switchboard serve`, leader of the session every process it starts is in
    haproxy_stats_url: str = ""

    def haproxy_servers(self) -> dict[str, dict[str, str]]:
        """HAProxy's own statistics, per server of the backends (an ingress replica's
        direct port, or the fallback to Serve's Python proxy): `scur` open sessions now,
        `stot` since it started."""
        with urllib.request.urlopen(f"{self.haproxy_stats_url};csv", timeout=5) as r:
            rows = csv.DictReader(r.read().decode().lstrip("# ").splitlines())
        return {
            row["svname"]: row
            for row in rows
            if row["svname"] not in ("FRONTEND", "BACKEND") and row["pxname"].startswith("http-")
        }

    async def report(self, call_sid: str, *, final: bool = True, timeout_s: float = 10) -> dict:
        """The call report; with `final`, waits until the call is completed."""
        deadline = time.monotonic() + timeout_s
        async with httpx.AsyncClient(base_url=self.base_url) as client:
            while True:
                response = await client.get(
                    f"/v1/calls/{call_sid}",
                    headers={"Authorization": f"Bearer {self.api_token}"},
                )
                if response.status_code == 200:
                    report = response.json()
                    if not final or report["status"] == "completed":
                        return report
                if time.monotonic() > deadline:
                    raise AssertionError(
                        f"no final report for {call_sid}: {response.status_code} {response.text}"
                    )
                await asyncio.sleep(0.25)

    async def call(
        self,
        scenario: Scenario,
        *,
        text: bool,
        call_sid: str | None = None,
        observer: TurnObserver | None = None,
    ) -> CallResult:
        """Place a simulated call (`switchboard call`) against this server."""
        return await run_call(
            scenario,
            base_url=self.base_url,
            text=text,
            json_path=None,
            auth_token=self.auth_token,
            api_token=self.api_token,
            account_sid=self.account_sid,
            out=io.StringIO(),
            call_sid=call_sid,
            observer=observer,
        )

    async def health(self) -> dict:
        """`/healthz`: active calls and the warm pool's figures."""
        async with httpx.AsyncClient(base_url=self.base_url, timeout=10) as client:
            return (await client.get("/healthz")).json()

    def sandbox_requests(self) -> list[dict]:
        with urllib.request.urlopen(f"{self.sandbox_url}/sandbox/requests", timeout=5) as r:
            return json.loads(r.read())

    def sandbox_messages(self, to: str) -> list[dict]:
        """The texts the sandbox was asked to send to `to`, newest first, as Twilio's
        Messages API lists them."""
        response = httpx.get(
            f"{self.sandbox_url}/2010-04-01/Accounts/{self.account_sid}/Messages.json",
            params={"To": to}, auth=(self.account_sid, self.auth_token), timeout=5,
        )
        response.raise_for_status()
        return response.json()["messages"]

    def replica_pids(self, deployment: str) -> list[int]:
        """The pids of this server's replicas of `deployment` (not another test's)."""
        pids = []
        for pid in filter(str.isdigit, os.listdir("/proc")):
            with contextlib.suppress(OSError):
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
                # The session id is the 6th field of stat, after the parenthesised name.
                stat = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
                if deployment.encode() in cmdline and int(stat[3]) == self.pid:
                    pids.append(int(pid))
        return pids

    def log_tail(self, lines: int = 60) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def ray_logs_dir(self) -> Path:
        """The logs/ directory of this server's Ray session (not another test's): the
        one the ingress replica writes its Serve log in (logs/serve/replica_*.log; the
        workers' stdout and stderr are logs/worker-*.out and .err)."""
        for pid in self.replica_pids("TwilioIngress"):
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                with contextlib.suppress(OSError):
                    target = os.readlink(fd)
                    if "/logs/serve/replica_" in target:
                        return Path(target.partition("/logs/serve/")[0]) / "logs"
        raise AssertionError("no ingress replica has its Serve log open")


def serve_config(workdir: Path, edit: Callable[[dict], None]) -> Path:
    """A copy of serve_config.yaml changed by `edit` (the parsed config), for one test."""
    config = yaml.safe_load((ROOT / "serve_config.yaml").read_text())
    edit(config)
    path = workdir / "serve_config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def deployment_config(config: dict, name: str) -> dict:
    """The entry of deployment `name` in a parsed Serve config."""
    deployments = config["applications"][0]["deployments"]
    return next(d for d in deployments if d["name"] == name)


@contextlib.contextmanager
def run_switchboard(workdir: Path, *, config: Path | None = None, **extra_env: str):
    """Start `switchboard serve` (of serve_config.yaml, or `config`); yields a
    `RunningSwitchboard`; stops it after."""
    port = server_port()
    token = secrets.token_hex(4)
    database = f"switchboard_e2e_{token}"
    env = {
        **os.environ,
        "SWITCHBOARD_PORT": str(port),
        "SWITCHBOARD_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "SWITCHBOARD_TWILIO_AUTH_TOKEN": secrets.token_hex(16),
        "SWITCHBOARD_API_TOKEN": secrets.token_urlsafe(24),
        "SWITCHBOARD_TRANSFER_NUMBER": TRANSFER_NUMBER,
        "SWITCHBOARD_AGENT_INTEGRATION__INFO_LINK": INFO_LINK,
        "SWITCHBOARD_REDIS_PREFIX": f"sbtest-{token}",
        "SWITCHBOARD_RAY_NAMESPACE": f"sbtest-{token}",
        "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
        "DATABASE_URL": f"postgresql://postgres@127.0.0.1:5432/{database}",
        "RAY_DEDUP_LOGS": "0",
        "RAY_SERVE_HAPROXY_STATS_PORT": str(server_port()),
        **extra_env,
    }
    env.pop("SWITCHBOARD_TWILIO_ACCOUNT_SID", None)
    log_path = workdir / "serve.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [
                str(Path(sys.executable).with_name("switchboard")),
                "serve",
                "--config",
                str(config or ROOT / "serve_config.yaml"),
            ],
            cwd=workdir,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not healthy(base_url):
            if process.poll() is not None or time.monotonic() > deadline:
                tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-80:])
                raise RuntimeError(f"switchboard serve did not become healthy:\n{tail}")
            time.sleep(1)
        runtime = json.loads((workdir / ".switchboard" / "serve-runtime.json").read_text())
        secrets_file = json.loads((workdir / ".switchboard" / "dev-secrets.json").read_text())
        yield RunningSwitchboard(
            base_url=base_url,
            api_token=env["SWITCHBOARD_API_TOKEN"],
            auth_token=env["SWITCHBOARD_TWILIO_AUTH_TOKEN"],
            account_sid=secrets_file["twilio_account_sid"],
            sandbox_url=runtime["sandbox_url"],
            database_url=env["DATABASE_URL"],
            redis_url=env["REDIS_URL"],
            redis_prefix=env["SWITCHBOARD_REDIS_PREFIX"],
            log_path=log_path,
            pid=process.pid,
            haproxy_stats_url=f"http://127.0.0.1:{env['RAY_SERVE_HAPROXY_STATS_PORT']}/stats",
        )
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
        asyncio.run(_drop_database(database))


async def _drop_database(name: str) -> None:
    with contextlib.suppress(Exception):
        admin = await asyncpg.connect("postgresql://postgres@127.0.0.1:5432/postgres")
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


@dataclass
class AgentTurn:
    """What the caller heard after one event of a live text call."""

    sentences: list[str]
    waited_s: float  # from the caller's event to the first sentence
    hung_up: bool


class LiveTextCall:
    """A text-mode call held open by a test, one caller event at a time."""

    def __init__(self, ws: ClientConnection, call_sid: str) -> None:
        self.ws = ws
        self.call_sid = call_sid
        self.greeting: list[str] = []  # what the agent said first

    async def agent_turn(self, since: float | None = None) -> AgentTurn:
        """The agent's sentences up to its `turn_end` (or its `hangup`)."""
        started = since if since is not None else time.monotonic()
        sentences: list[str] = []
        first_at = None
        while True:
            event = json.loads(await self.ws.recv())
            if event["event"] == "agent":
                first_at = first_at or time.monotonic()
                sentences.append(event["text"])
            elif event["event"] in ("turn_end", "hangup"):
                waited = (first_at or time.monotonic()) - started
                return AgentTurn(sentences, waited, event["event"] == "hangup")

    async def send(self, message: dict) -> AgentTurn:
        started = time.monotonic()
        await self.ws.send(json.dumps(message))
        return await self.agent_turn(started)

    async def say(self, text: str) -> AgentTurn:
        return await self.send({"event": "text", "text": text})


@contextlib.asynccontextmanager
async def live_text_call(
    server: RunningSwitchboard, from_number: str = "+15553330101"
) -> AsyncIterator[LiveTextCall]:
    """An inbound text call whose greeting has been heard; the caller hangs up after."""
    url = server.base_url.replace("http", "ws") + "/v1/text/stream"
    headers = {"Authorization": f"Bearer {server.api_token}"}
    call_sid = new_sid("CA")
    async with websockets.connect(url, additional_headers=headers) as ws:
        await ws.send(
            json.dumps(
                {"event": "start", "callSid": call_sid, "from": from_number, "to": "+15557650000"}
            )
        )
        call = LiveTextCall(ws, call_sid)
        call.greeting = (await call.agent_turn()).sentences
        yield call
        with contextlib.suppress(websockets.ConnectionClosed):
            await ws.send(json.dumps({"event": "stop"}))


FRAME_BYTES = 160  # 20 ms of 8 kHz μ-law


class LiveAudioCall:
    """An inbound Twilio media stream held open by a test, sending as Twilio does: a 20 ms
    frame every 20 ms, silence unless the caller speaks."""

    def __init__(self, ws: ClientConnection, parties: CallParties, stream_sid: str) -> None:
        self.ws = ws
        self.parties = parties
        self.stream_sid = stream_sid
        self._chunk = 0
        self._audio = bytearray()
        self._spoken = asyncio.Event()
        self._pacer: asyncio.Task | None = None

    @property
    def call_sid(self) -> str:
        return self.parties.call_sid

    def start(self) -> None:
        self._pacer = asyncio.create_task(self._pace())

    async def stop(self) -> None:
        if self._pacer is not None:
            self._pacer.cancel()
            await asyncio.gather(self._pacer, return_exceptions=True)

    async def next_event(self) -> dict:
        return json.loads(await self.ws.recv())

    async def speak(self, ulaw: bytes) -> None:
        """Send `ulaw` in real time, 20 ms a frame; returns when its last frame went out."""
        self._spoken.clear()
        self._audio += ulaw
        await self._spoken.wait()

    async def _pace(self) -> None:
        started = time.monotonic()
        while True:
            frame = bytes(self._audio[:FRAME_BYTES]).ljust(FRAME_BYTES, b"\xff")
            del self._audio[:FRAME_BYTES]
            if not self._audio:
                self._spoken.set()
            self._chunk += 1
            payload = base64.b64encode(frame).decode()
            with contextlib.suppress(websockets.ConnectionClosed):
                await self.ws.send(
                    json.dumps(
                        media_message(self.stream_sid, self._chunk, self._chunk * 20, payload)
                    )
                )
            due = started + self._chunk * FRAME_BYTES / 8000
            await asyncio.sleep(max(0.0, due - time.monotonic()))

    async def hang_up(self) -> None:
        await self.stop()
        parties = self.parties
        await self.ws.send(
            json.dumps(stop_message(self.stream_sid, parties.call_sid, parties.account_sid))
        )


async def voice_webhook(
    server: RunningSwitchboard, params: dict[str, str]
) -> StreamAnswer | EndAnswer:
    """POST the voice webhook signed as Twilio signs it; the TwiML it answered."""
    url = f"{server.base_url}/twilio/voice"
    async with httpx.AsyncClient() as client:
        response = await client.post(
            url,
            data=params,
            headers={"X-Twilio-Signature": webhook_signature(server.auth_token, url, params)},
        )
    assert response.status_code == 200, response.text
    return parse_twiml(response.text)


@contextlib.asynccontextmanager
async def live_audio_call(server: RunningSwitchboard) -> AsyncIterator[LiveAudioCall]:
    """A signed webhook, then the signed media stream it answered with, `start` sent."""
    parties = CallParties(new_sid("CA"), server.account_sid, "inbound", "+15553", "+15552")
    answer = await voice_webhook(server, voice_webhook_params(parties))
    assert isinstance(answer, StreamAnswer), answer
    stream_sid = new_sid("MZ")
    signature = stream_handshake_signature(server.auth_token, answer.url)
    async with websockets.connect(
        answer.url, additional_headers={"X-Twilio-Signature": signature}
    ) as ws:
        await ws.send(json.dumps(connected_message()))
        await ws.send(
            json.dumps(
                start_message(stream_sid, parties.call_sid, parties.account_sid, answer.parameters)
            )
        )
        call = LiveAudioCall(ws, parties, stream_sid)
        call.start()
        try:
            yield call
        finally:
            await call.stop()


def premium_granted(report: dict) -> bool:
    return any(d["approved"] and d["tier"] == "premium" for d in report["tier_history"])


def assert_documented(body: object, schema: str) -> None:
    """`body` is what the API document's `schema` (a `components.schemas` name) says:
    no field missing, none undocumented, every value of its documented type."""
    document = api_document()
    validator = jsonschema.Draft202012Validator(
        {"$ref": f"#/components/schemas/{schema}", "components": document["components"]}
    )
    problems = [
        f"{'/'.join(map(str, error.absolute_path)) or '(body)'}: {error.message}"
        for error in validator.iter_errors(body)
    ]
    assert not problems, f"not the documented {schema}: {problems}"


def assert_report_meets_expectations(report: dict, scenario: Scenario) -> None:
    """The call record is the documented report and shows what the scenario's `expect`
    says: outcome, facts, premium, and the agents' transitions starting from `start`."""
    assert_documented(report, "CallReport")
    expect = scenario.expect
    assert expect is not None, f"{scenario.name} expects nothing"
    heard = json.dumps([(t["user_text"], t["agent_text"]) for t in report["turns"]], indent=1)
    assert report["status"] == "completed"
    assert report["outcome"] == expect.outcome, heard
    for key in FACT_KEYS:
        wanted = getattr(expect, key)
        if wanted is not None:
            assert report["facts"][key] == wanted, f"{key}: {heard}"
    assert report["transitions"][0]["from_agent"] == "start"
    if expect.premium is not None:
        assert premium_granted(report) == expect.premium, report["tier_history"]

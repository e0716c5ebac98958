"""Autoscaling drill: call load grows the ingress and the orchestrator; when it falls,
they drain and shrink back without dropping a call.

Starts a real `switchboard serve` with a config overlay that makes Serve's autoscaling
quick enough to watch on a small machine (`autoscale_overlay`: a low
`target_ongoing_requests`, short up/downscale delays, at most 2 replicas each; graceful
shutdown as in serve_config.yaml), then runs `load_tests/locustfile.py` in a locust
subprocess (`--autostart`, its load changed through locust's web API):

1. high load until the ingress has a second replica and that replica has taken calls;
2. the drill's own text call is placed until one lands on that new replica, and held
   open there (Serve removes the newest replica first when it scales down);
3. still high load until the orchestrator has grown too (or `orchestrator_wait_s`);
4. low load. Serve decides to remove the new ingress replica while the held call is on
   it: the replica must stay up (graceful shutdown waits for open calls) until the held
   call has finished, then go;
5. no load, until every call has ended and both deployments are back to one replica.

Every call placed (by locust or the drill) is then matched against its record in
PostgreSQL, and against the ingress replica that held it (the call registry in Redis).

    .venv/bin/python -m load_tests.bench_autoscale

The figures (calls placed, failed, dropped across the scale-down, replicas over time)
are printed and written to `load_tests/results/bench_autoscale.json`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg
import redis
from websockets.sync.client import ClientConnection, connect

from load_tests.results import save_results
from switchboard.local_services import server_port
from tests.e2e import RunningSwitchboard, deployment_config, run_switchboard, serve_config

LOCUSTFILE = Path(__file__).with_name("locustfile.py")
INGRESS = "TwilioIngress"
ORCHESTRATOR = "OrchestratorDeployment"
SAMPLE_EVERY_S = 1.0
# The drill's own caller: qualifies, then says goodbye (the agent hangs up).
HELD_CALL_LINES = [
    "Hi, this is Robin.",
    "Sure, I have a minute.",
    "We miss calls whenever the front desk is busy.",
    "About thirty thousand dollars a year.",
    "I decide, I own the shop.",
    "Within three months.",
    "1",
    "No, that's all, thanks.",
]
AGENT_TURN_TIMEOUT_S = 60.0
# A held call's caller speaks at least this often (the text idle timeout is 300 s).
KEEP_TALKING_S = 60.0


@dataclass(frozen=True)
class DrillSettings:
    high_users: int = 4
    low_users: int = 1
    spawn_rate: float = 0.2  # users started per second
    # Callers who take a moment before each line hold their call (and its WebSocket
    # slot) longer for the same number of new session actors: on 2 cores, starting
    # session actors, not holding calls, is what runs out first. (Text mode has no
    # silence timer, so thinking never draws a reprompt.)
    think_s: float = 3.0
    # Per ingress replica: a call never waits for a cold actor while the pool refills.
    warm_pool_size: int = 3
    max_replicas: int = 2
    # Per replica. The ingress counts open calls: 4 callers keep more than 2 open, so 2
    # replicas; the held call and 1 caller are at most 2, so 1. The orchestrator counts
    # turns in flight: a turn takes milliseconds, so a few callers are a fraction of one.
    ingress_target: float = 2.0
    orchestrator_target: float = 0.1
    upscale_delay_s: float = 2.0
    downscale_delay_s: float = 15.0
    look_back_period_s: float = 10.0
    # The held call stays open this long after Serve decided to remove its replica.
    hold_after_decision_s: float = 10.0
    held_call_attempts: int = 8
    # Bounds of each phase; generous, the machine is shared.
    settle_timeout_s: float = 180.0
    grow_timeout_s: float = 300.0
    orchestrator_wait_s: float = 60.0
    shrink_timeout_s: float = 300.0
    drain_timeout_s: float = 180.0
    records_timeout_s: float = 60.0


def autoscale_overlay(settings: DrillSettings) -> Callable[[dict], None]:
    """Edits a parsed serve_config.yaml: quick autoscaling of ingress and orchestrator."""

    def edit(config: dict) -> None:
        for name, target in (
            (INGRESS, settings.ingress_target),
            (ORCHESTRATOR, settings.orchestrator_target),
        ):
            deployment_config(config, name)["autoscaling_config"].update(
                min_replicas=1,
                initial_replicas=1,
                max_replicas=settings.max_replicas,
                target_ongoing_requests=target,
                upscale_delay_s=settings.upscale_delay_s,
                downscale_delay_s=settings.downscale_delay_s,
                look_back_period_s=settings.look_back_period_s,
            )

    return edit


class LocustRun:
    """The locustfile in a locust subprocess, its load set through locust's web API."""

    def __init__(self, server: RunningSwitchboard, workdir: Path, settings: DrillSettings):
        self.calls_file = workdir / "locust-calls.jsonl"
        self.log_path = workdir / "locust.log"
        port = server_port()
        self._web = f"http://127.0.0.1:{port}"
        env = {
            **os.environ,
            "SWITCHBOARD_API_TOKEN": server.api_token,
            "SWITCHBOARD_LOCUST_CALLS_FILE": str(self.calls_file),
            "SWITCHBOARD_LOCUST_THINK_S": str(settings.think_s),
        }
        with open(self.log_path, "wb") as log:
            self._process = subprocess.Popen(
                [
                    str(Path(sys.executable).with_name("locust")),
                    *("-f", str(LOCUSTFILE), "--host", server.base_url),
                    *("--autostart", "-u", str(settings.high_users)),
                    *("-r", str(settings.spawn_rate)),
                    # Fewer users: each one leaving finishes its call first.
                    *("--stop-timeout", str(int(settings.drain_timeout_s))),
                    *("--web-host", "127.0.0.1", "--web-port", str(port)),
                ],
                cwd=workdir,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def _request(self, path: str, form: dict[str, Any] | None = None) -> Any:
        data = urllib.parse.urlencode(form).encode() if form is not None else None
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{self._web}{path}", data=data, timeout=10) as r:
                    return json.loads(r.read())
            except OSError:
                # The web UI may still be starting.
                if self._process.poll() is not None or time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

    def set_users(self, count: int) -> None:
        answer = self._request("/swarm", {"user_count": count, "spawn_rate": 1})
        if not answer.get("success"):
            raise RuntimeError(f"locust refused {count} users: {answer}")

    def stats(self) -> dict:
        return self._request("/stats/requests")

    def exceptions(self) -> list[dict]:
        return self._request("/exceptions")["exceptions"]

    def stop(self) -> None:
        if self._process.poll() is None:
            os.killpg(self._process.pid, signal.SIGTERM)
            try:
                self._process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self._process.pid, signal.SIGKILL)
                self._process.wait(10)

    def calls(self) -> dict[str, dict]:
        """CallSid → {placed, ended, ok, error} from the locustfile's call log."""
        calls: dict[str, dict] = {}
        if not self.calls_file.exists():
            return calls
        for line in self.calls_file.read_text().splitlines():
            event = json.loads(line)
            call = calls.setdefault(
                event["call_sid"], {"by": "locust", "placed": None, "ended": None}
            )
            if event["event"] == "placed":
                call["placed"] = event["at"]
            else:
                call.update(ended=event["at"], ok=event["ok"], error=event["error"])
        return calls


class HeldCall:
    """A text call of the drill's own, held open between the caller's lines."""

    def __init__(self, server: RunningSwitchboard) -> None:
        self.call_sid = f"CA{uuid.uuid4().hex}"
        self.placed = time.time()
        self.ended: float | None = None
        self.error: str | None = None
        self._lines = list(HELD_CALL_LINES)
        self._url = server.base_url.replace("http", "ws", 1) + "/v1/text/stream"
        self._headers = {"Authorization": f"Bearer {server.api_token}"}
        self._stack = contextlib.ExitStack()  # the socket outlives `start`

    def start(self) -> bool:
        """Places the call and hears the greeting; False (the error kept) if it failed."""
        try:
            self._ws: ClientConnection = self._stack.enter_context(
                connect(self._url, additional_headers=self._headers)
            )
            start = {"event": "start", "callSid": self.call_sid, "from": "+15550199"}
            self._ws.send(json.dumps(start))
            self._agent_turn()
        except Exception as exc:
            self.error = repr(exc)
            self._stack.close()
            self.ended = time.time()
            return False
        return True

    def _agent_turn(self) -> bool:
        """Reads the agent's turn; False once it hung up."""
        while True:
            event = json.loads(self._ws.recv(timeout=AGENT_TURN_TIMEOUT_S))
            if event["event"] == "turn_end":
                return True
            if event["event"] == "hangup":
                return False

    @property
    def lines_left(self) -> int:
        return len(self._lines)

    def say_next(self) -> bool:
        """Says the caller's next line; True once the agent answered it (and goes on)."""
        line = self._lines.pop(0)
        event = (
            {"event": "dtmf", "digit": line} if line.isdigit() else {"event": "text", "text": line}
        )
        self._ws.send(json.dumps(event))
        return self._agent_turn()

    def answered(self) -> bool:
        """Says the next line; True if the agent answered it, else the error is kept."""
        try:
            self.say_next()
        except Exception as exc:
            self.error = repr(exc)
            return False
        return True

    def finish(self) -> None:
        """Says the remaining lines; the agent hangs up after the goodbye."""
        try:
            while self._lines and self.say_next():
                pass
        except Exception as exc:  # reported in the figures, and fails the test
            self.error = repr(exc)
        finally:
            self._stack.close()
            self.ended = time.time()

    def as_call(self) -> dict:
        return {
            "by": "drill",
            "placed": self.placed,
            "ended": self.ended,
            "ok": self.ended is not None and self.error is None,
            "error": self.error,
        }


@dataclass
class Sample:
    at_s: float  # since the drill started
    phase: str
    ingress: int
    orchestrator: int
    users: int


@dataclass
class DrillResult:
    settings: DrillSettings
    samples: list[Sample] = field(default_factory=list)
    phases_reached: dict[str, bool] = field(default_factory=dict)
    calls: dict[str, dict] = field(default_factory=dict)  # the callers' view, by CallSid
    records: dict[str, dict] = field(default_factory=dict)  # PostgreSQL's, by CallSid
    ingress_pid_of_call: dict[str, int | None] = field(default_factory=dict)
    locust_requests: int = 0
    locust_failures: int = 0
    locust_errors: list[dict] = field(default_factory=list)
    scale_events: list[dict] = field(default_factory=list)
    ingress_pids_seen: list[int] = field(default_factory=list)
    ingress_pids_at_end: list[int] = field(default_factory=list)
    # The call held on the new replica across its removal.
    held_call: str | None = None
    held_replica_pid: int | None = None
    held_replica_alive_after_decision: bool = False  # seen alive with the call held
    held_call_answered_while_draining: bool = False
    held_replica_gone_after_call: bool = False

    @property
    def max_ingress(self) -> int:
        return max((s.ingress for s in self.samples), default=0)

    @property
    def max_orchestrator(self) -> int:
        return max((s.orchestrator for s in self.samples), default=0)

    @property
    def final(self) -> Sample:
        return self.samples[-1]

    @property
    def removed_ingress_pids(self) -> list[int]:
        return sorted(set(self.ingress_pids_seen) - set(self.ingress_pids_at_end))

    def lost_calls(self) -> list[str]:
        """Calls placed that have no completed record."""
        return sorted(
            sid for sid in self.calls if self.records.get(sid, {}).get("status") != "completed"
        )

    def ingress_downscale_at_s(self) -> float | None:
        downscales = [
            e["at_s"]
            for e in self.scale_events
            if e["deployment"] == INGRESS and e["to"] < e["from"]
        ]
        return downscales[-1] if downscales else None

    def summary(self) -> dict:
        removed = set(self.removed_ingress_pids)
        drained = [sid for sid, pid in self.ingress_pid_of_call.items() if pid in removed]
        decided = self.ingress_downscale_at_s()
        in_flight = [
            sid
            for sid in drained
            if decided is not None
            and self.calls[sid]["placed_s"] <= decided <= (self.calls[sid]["ended_s"] or 1e12)
        ]
        return {
            "calls_placed": len(self.calls),
            "calls_placed_by_locust": sum(c["by"] == "locust" for c in self.calls.values()),
            "calls_ok_for_their_callers": sum(bool(c.get("ok")) for c in self.calls.values()),
            "locust_requests": self.locust_requests,
            "locust_failures": self.locust_failures,
            "records": dict(Counter(r["status"] for r in self.records.values())),
            "outcomes": dict(Counter(r["outcome"] for r in self.records.values())),
            "fallback_turns": sum(r["fallback_turns"] for r in self.records.values()),
            "calls_lost": len(self.lost_calls()),
            "calls_per_ingress_pid": dict(
                Counter(str(pid) for pid in self.ingress_pid_of_call.values())
            ),
            "removed_ingress_pids": sorted(removed),
            "calls_served_by_removed_replicas": len(drained),
            "calls_open_on_it_when_its_removal_was_decided": len(in_flight),
            "calls_dropped_across_scale_down": len(set(drained) & set(self.lost_calls())),
            "held_call": {
                "call_sid": self.held_call,
                "replica_pid": self.held_replica_pid,
                "replica_alive_after_removal_decided": self.held_replica_alive_after_decision,
                "answered_while_its_replica_drained": self.held_call_answered_while_draining,
                "replica_gone_after_the_call_ended": self.held_replica_gone_after_call,
                "status": self.records.get(self.held_call or "", {}).get("status"),
                "outcome": self.records.get(self.held_call or "", {}).get("outcome"),
            },
            "max_replicas": {"ingress": self.max_ingress, "orchestrator": self.max_orchestrator},
            "final_replicas": {
                "ingress": self.final.ingress,
                "orchestrator": self.final.orchestrator,
            },
            "phases_reached": self.phases_reached,
            "scale_events": self.scale_events,
            "replicas_over_time": _changes(self.samples),
        }


def _changes(samples: list[Sample]) -> list[dict]:
    """The samples where the replica counts, the phase or the users changed."""
    kept: list[dict] = []
    for sample in samples:
        row = asdict(sample)
        if not kept or any(row[k] != kept[-1][k] for k in row if k != "at_s"):
            kept.append(row)
    return kept


SCALE_DECISION = re.compile(
    r"(?:Upscaling|Downscaling) Deployment\(name='(\w+)'.*? from (\d+) to (\d+) replicas"
    r"(?:\. Current ongoing requests: ([\d.]+))?"
)
LOG_TIME = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}")


def scale_events(log_path: Path, since: float) -> list[dict]:
    """Serve's controller's scaling decisions, from the server's log (its lines as text
    or as JSON: the decision and a local time stamp are found apart)."""
    events = []
    for line in log_path.read_text(errors="replace").splitlines():
        decision = SCALE_DECISION.search(line)
        stamp = LOG_TIME.search(line) if decision else None
        if decision is None or stamp is None:
            continue
        at = datetime.strptime(stamp[0], "%Y-%m-%d %H:%M:%S,%f").timestamp()
        if at >= since:
            deployment, before, after, ongoing = decision.groups()
            events.append(
                {
                    "at_s": round(at - since, 1),
                    "deployment": deployment,
                    "from": int(before),
                    "to": int(after),
                    "ongoing_requests": None if ongoing is None else float(ongoing),
                }
            )
    return events


async def _records(database_url: str, call_sids: list[str]) -> dict[str, dict]:
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            "SELECT call_sid, status, outcome, fallback_turns, recovered, errors"
            " FROM calls WHERE call_sid = ANY($1::text[])",
            call_sids,
        )
    finally:
        await conn.close()
    return {row["call_sid"]: dict(row) for row in rows}


class Drill:
    """Runs the phases against a running server, sampling replicas once a second."""

    def __init__(self, server: RunningSwitchboard, workdir: Path, settings: DrillSettings):
        self.server = server
        self.workdir = workdir
        self.settings = settings
        self.result = DrillResult(settings)
        self._redis = redis.Redis.from_url(server.redis_url, decode_responses=True)
        self._started = time.monotonic()
        self._started_epoch = time.time()
        self._phase = "settle"
        self._users = 0
        self._seen: set[int] = set()
        self._ingress_now: set[int] = set()
        self._drill_calls: list[HeldCall] = []

    def _sample(self) -> Sample:
        ingress = self.server.replica_pids(INGRESS)
        self._seen.update(ingress)
        self._ingress_now = set(ingress)
        sample = Sample(
            at_s=round(time.monotonic() - self._started, 1),
            phase=self._phase,
            ingress=len(ingress),
            orchestrator=len(self.server.replica_pids(ORCHESTRATOR)),
            users=self._users,
        )
        samples = self.result.samples
        if not samples or _changes([samples[-1], sample])[1:]:
            print(
                f"{sample.at_s:7.1f}s {sample.phase:6} users {sample.users}: "
                f"ingress {sample.ingress}, orchestrator {sample.orchestrator}",
                flush=True,
            )
        samples.append(sample)
        return sample

    def _wait_until(self, condition: Callable[[Sample], bool], timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while True:
            if condition(self._sample()):
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(SAMPLE_EVERY_S)

    def _ingress_pids(self, call_sids: list[str]) -> dict[str, int | None]:
        """The ingress replica (pid) that held each call, from the call registry."""
        prefix = self.server.redis_prefix
        pipe = self._redis.pipeline()
        for sid in call_sids:
            pipe.hget(f"{prefix}:call:{sid}", "ingress_pid")
        return {
            sid: int(pid) if pid else None
            for sid, pid in zip(call_sids, pipe.execute(), strict=True)
        }

    def _calls_on(self, locust: LocustRun, pids: set[int]) -> int:
        held_by = self._ingress_pids(list(locust.calls()))
        return sum(pid in pids for pid in held_by.values())

    def run(self) -> DrillResult:
        settings, result = self.settings, self.result
        # Start-up (the warm actors' first requests, readiness checks) may have scaled
        # something up: start from one replica of each.
        result.phases_reached["settled"] = self._wait_until(
            lambda s: s.ingress == 1 and s.orchestrator == 1, settings.settle_timeout_s
        )
        first_ingress = set(self._ingress_now)
        self._phase, self._users = "high", settings.high_users
        locust = LocustRun(self.server, self.workdir, settings)
        try:
            self._phases(locust, first_ingress)
            self._phase, self._users = "none", 0
            locust.set_users(0)
            result.phases_reached["drained"] = self._wait_until(
                lambda s: (
                    locust.stats()["user_count"] == 0
                    and all(c["ended"] for c in locust.calls().values())
                    and s.ingress == 1
                    and s.orchestrator == 1
                ),
                settings.drain_timeout_s,
            )
            time.sleep(3)  # locust's stats answer is cached for 2 s
            stats = locust.stats()
            total = stats["stats"][-1]
            result.locust_requests = total["num_requests"]
            result.locust_failures = total["num_failures"]
            result.locust_errors = stats["errors"] + locust.exceptions()
        finally:
            locust.stop()
            for call in self._drill_calls:
                if call.ended is None:
                    call.finish()
        self._collect(locust)
        return result

    def _phases(self, locust: LocustRun, first_ingress: set[int]) -> None:
        settings, result = self.settings, self.result
        result.phases_reached["ingress_grew"] = self._wait_until(
            lambda s: (
                s.ingress >= 2 and self._calls_on(locust, self._ingress_now - first_ingress) > 0
            ),
            settings.grow_timeout_s,
        )
        held = self._hold_a_call_on(self._ingress_now - first_ingress)
        result.phases_reached["orchestrator_grew"] = self._wait_until(
            lambda s: s.orchestrator >= 2, settings.orchestrator_wait_s
        )
        self._phase, self._users = "low", settings.low_users
        locust.set_users(settings.low_users)
        if held is None:
            result.phases_reached["shrank"] = self._wait_until(
                lambda s: s.ingress == 1, settings.shrink_timeout_s
            )
            return
        pid = result.held_replica_pid
        if self._hold_until_removal_decided(held):
            self._wait_until(lambda s: False, settings.hold_after_decision_s)
            result.held_replica_alive_after_decision = pid in self._ingress_now
            # The replica being drained still serves the call it holds.
            result.held_call_answered_while_draining = held.answered()
        held.finish()
        result.phases_reached["shrank"] = self._wait_until(
            lambda s: s.ingress == 1, settings.shrink_timeout_s
        )
        result.held_replica_gone_after_call = pid not in self._ingress_now

    def _hold_until_removal_decided(self, held: HeldCall) -> bool:
        """Waits (bounded) for Serve to decide to remove an ingress replica, the caller
        saying a line now and then: the call stays a live conversation, never idle."""
        deadline = time.monotonic() + self.settings.shrink_timeout_s
        spoke = time.monotonic()
        while time.monotonic() < deadline:
            self._sample()
            self.result.scale_events = scale_events(self.server.log_path, self._started_epoch)
            if self.result.ingress_downscale_at_s() is not None:
                return True
            if time.monotonic() - spoke > KEEP_TALKING_S and held.lines_left > 2:
                held.answered()
                spoke = time.monotonic()
            time.sleep(SAMPLE_EVERY_S)
        return False

    def _hold_a_call_on(self, new_pids: set[int]) -> HeldCall | None:
        """Places calls until one is held by a replica of `new_pids` (the proxy picks the
        replica); the others are finished at once. The held call, or None."""
        if not new_pids:
            return None
        for _ in range(self.settings.held_call_attempts):
            call = HeldCall(self.server)
            self._drill_calls.append(call)  # a call that fails counts as failed
            if not call.start():
                print(f"the drill's call failed to start: {call.error}", flush=True)
                continue
            call.answered()
            pid = self._held_by(call.call_sid)
            if pid in new_pids:
                self.result.held_call, self.result.held_replica_pid = call.call_sid, pid
                print(f"holding call {call.call_sid} on ingress replica {pid}", flush=True)
                return call
            call.finish()
        return None

    def _held_by(self, call_sid: str) -> int | None:
        """The ingress pid in the call's registry entry (its actor writes it, shortly
        after the call started)."""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            pid = self._ingress_pids([call_sid])[call_sid]
            if pid is not None:
                return pid
            time.sleep(0.2)
        return None

    def _collect(self, locust: LocustRun) -> None:
        result = self.result
        result.calls = locust.calls()
        for held in self._drill_calls:
            result.calls[held.call_sid] = held.as_call()
        for call in result.calls.values():
            for key in ("placed", "ended"):
                at = call[key]
                call[f"{key}_s"] = None if at is None else round(at - self._started_epoch, 2)
        self._collect_records()
        result.ingress_pid_of_call = self._ingress_pids(list(result.calls))
        result.ingress_pids_seen = sorted(self._seen)
        result.ingress_pids_at_end = self.server.replica_pids(INGRESS)
        result.scale_events = scale_events(self.server.log_path, self._started_epoch)
        self._redis.close()

    def _collect_records(self) -> None:
        """Waits (bounded) until every placed call's record is final."""
        sids = list(self.result.calls)
        deadline = time.monotonic() + self.settings.records_timeout_s
        while True:
            self.result.records = asyncio.run(_records(self.server.database_url, sids))
            if not self.result.lost_calls() or time.monotonic() > deadline:
                return
            time.sleep(1)


@contextlib.contextmanager
def drill_server(workdir: Path, settings: DrillSettings) -> Iterator[RunningSwitchboard]:
    """`switchboard serve` with the drill's overlay config (`run_switchboard`)."""
    config = serve_config(workdir, autoscale_overlay(settings))
    with run_switchboard(
        workdir,
        config=config,
        SWITCHBOARD_PERFORMANCE__WARM_POOL_SIZE=str(settings.warm_pool_size),
    ) as server:
        yield server


def run_drill(server: RunningSwitchboard, workdir: Path, settings: DrillSettings) -> DrillResult:
    return Drill(server, workdir, settings).run()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--high-users", type=int, default=DrillSettings.high_users)
    parser.add_argument("--low-users", type=int, default=DrillSettings.low_users)
    parser.add_argument("--think-s", type=float, default=DrillSettings.think_s)
    args = parser.parse_args()
    settings = DrillSettings(
        high_users=args.high_users, low_users=args.low_users, think_s=args.think_s
    )
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        with drill_server(workdir, settings) as server:
            result = run_drill(server, workdir, settings)
        summary = {"settings": asdict(settings), **result.summary()}
        summary["lost"] = {sid: result.records.get(sid) for sid in result.lost_calls()}
    save_results("bench_autoscale", summary)
    print(json.dumps(summary, indent=2, default=str))


if __name__ == "__main__":
    main()

"""Switchboard on a real Ray cluster on this machine, deployed as the README says.

`ray_cluster`: a head and a worker node, each its own `ray start` (token authentication
on). `deployed_switchboard`: the schema migrated with `switchboard migrate up`, then
`serve deploy` of an overlay of ops/serve_config.cluster.yaml through the head's
dashboard. The secrets are only in the nodes' environment; the config's `runtime_env`
ships the code (a zip of this checkout, as a release would be) and the settings that
are not secret. `ClusterApp` changes the deployment the way an operator does: another
`serve deploy` of the config with one thing changed.

Other tests on this machine run their own Ray at the same time, so this cluster is
kept apart: its own `--temp-dir` (where `ray start` records the cluster for a later
`ray.init()` to find: never /tmp/ray), its own free ports and token, and no `ray stop`
at the end (it stops every Ray of the user): each `ray start` runs in a session of its
own, which every process of its node inherits, and exactly those sessions are killed.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import redis
import redis.asyncio as aioredis
import yaml

from db.migrate import ensure_database
from switchboard.ingress_proxy import use_haproxy
from switchboard.local_services import server_port
from switchboard.serve_command import healthy
from switchboard.twilio_sandbox.process import SandboxProcess
from tests.e2e import ROOT, TRANSFER_NUMBER, RunningSwitchboard, _drop_database

BIN = Path(sys.executable).parent
CLUSTER_CONFIG = ROOT / "ops" / "serve_config.cluster.yaml"
READY_TIMEOUT_S = 300


@dataclass
class Cluster:
    env: dict[str, str]  # what every node, `serve` and `ray` command here run with
    gcs_address: str
    dashboard_url: str
    sessions: list[int]  # of the `ray start` processes: every process of a node is in one
    temp_dir: Path

    def run(self, *command: str, timeout_s: float = 120) -> str:
        done = subprocess.run(
            [str(BIN / command[0]), *command[1:]],
            env=self.env, capture_output=True, text=True, timeout=timeout_s,
        )
        assert done.returncode == 0, f"{' '.join(command)}:\n{done.stdout}\n{done.stderr}"
        return done.stdout

    def worker_node_id(self) -> str:
        nodes = json.loads(
            self.run("ray", "list", "nodes", "--address", self.gcs_address, "--format", "json")
        )
        (worker,) = [n["node_id"] for n in nodes if not n["is_head_node"] and n["state"] == "ALIVE"]
        return worker

    def serve_status(self) -> dict:
        return yaml.safe_load(self.run("serve", "status", "--address", self.dashboard_url))

    def log_lines(self, *needles: str, limit: int = 60) -> list[str]:
        """The nodes' log lines (Serve's, the workers', HAProxy's) holding any of
        `needles`, oldest file first: what a failed drill shows of how a call went."""
        found: list[str] = []
        files = sorted(self.temp_dir.glob("session_2*/logs/**/*"), key=_modified)
        for path in files:
            if not path.is_file() or path.suffix not in {".log", ".out", ".err"}:
                continue
            with contextlib.suppress(OSError), open(path, errors="replace") as lines:
                found += [f"{path.name}: {line.rstrip()[:400]}"
                          for line in lines if any(needle in line for needle in needles)]
        return found[-limit:]


def _modified(path: Path) -> float:
    with contextlib.suppress(OSError):
        return path.stat().st_mtime
    return 0.0


def _session_pids(sessions: list[int]) -> list[int]:
    pids = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        with contextlib.suppress(OSError, IndexError):
            # The session id is the 6th field of stat, after the parenthesised name.
            stat = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
            if int(stat[3]) in sessions and stat[0] != "Z":
                pids.append(int(pid))
    return pids


def _kill_sessions(sessions: list[int]) -> None:
    """Stop every process of these nodes (SIGTERM, then SIGKILL), and only those."""
    for sig, grace_s in ((signal.SIGTERM, 15.0), (signal.SIGKILL, 10.0)):
        for pid in _session_pids(sessions):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + grace_s
        while _session_pids(sessions) and time.monotonic() < deadline:
            time.sleep(0.2)
    assert not _session_pids(sessions), "processes of the test cluster outlived it"


def _ray_start(env: dict[str, str], log: Path, *args: str) -> int:
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [str(BIN / "ray"), "start", "--disable-usage-stats", *args],
            env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    try:
        code = process.wait(180)
    except subprocess.TimeoutExpired:
        code = None
    # The session outlives `ray start`: the node's daemons keep it, and so do the
    # workers their raylet starts.
    assert code == 0, f"ray start {' '.join(args)}: {code}\n{log.read_text()[-3000:]}"
    return process.pid


@contextlib.contextmanager
def ray_cluster(workdir: Path, node_env: dict[str, str]) -> Iterator[Cluster]:
    """A head and a worker node started with `ray start`, stopped after."""
    # Short: Ray's Unix sockets live under it, and their paths are limited to 107 bytes.
    temp_dir = Path(tempfile.mkdtemp(prefix="sbray-", dir="/tmp"))
    gcs_port, dashboard_port = server_port(), server_port()
    env = {
        **node_env,
        "RAY_AUTH_MODE": "token",
        # The token of this cluster alone (not ~/.ray/auth_token, which others share).
        "RAY_AUTH_TOKEN": secrets.token_hex(32),
    }
    env.pop("RAY_ADDRESS", None)
    cluster = Cluster(
        env=env,
        gcs_address=f"127.0.0.1:{gcs_port}",
        dashboard_url=f"http://127.0.0.1:{dashboard_port}",
        sessions=[],
        temp_dir=temp_dir,
    )
    common = ("--num-cpus", "1", "--temp-dir", str(temp_dir))
    try:
        cluster.sessions.append(_ray_start(
            env, workdir / "ray-head.log", "--head", "--port", str(gcs_port),
            "--dashboard-port", str(dashboard_port),
            "--ray-client-server-port", str(server_port()),
            "--dashboard-agent-listen-port", str(server_port()), *common,
        ))  # fmt: skip
        cluster.sessions.append(_ray_start(
            env, workdir / "ray-worker.log", "--address", cluster.gcs_address,
            "--dashboard-agent-listen-port", str(server_port()), *common,
        ))  # fmt: skip
        yield cluster
    finally:
        _kill_sessions(cluster.sessions)
        # The nodes' logs stay with the test's own files (pytest keeps the last runs');
        # the temp dir, with its sockets, goes.
        with contextlib.suppress(OSError):
            for logs in temp_dir.glob("session_2*/logs"):
                shutil.copytree(logs, workdir / "ray-logs", dirs_exist_ok=True)
            subprocess.run(["rm", "-rf", str(temp_dir)], timeout=60)


def release_zip(path: Path) -> Path:
    """This checkout (what git tracks or would, as it is on disk) zipped as a release."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, capture_output=True, check=True,
    ).stdout.decode().split("\0")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in filter(None, listed):
            if (ROOT / name).is_file():
                archive.write(ROOT / name, f"switchboard/{name}")
    return path


def cluster_overlay(*, port: int, working_dir: str, env_vars: dict[str, str]) -> dict:
    """ops/serve_config.cluster.yaml with this test's port, release and settings."""
    config = yaml.safe_load(CLUSTER_CONFIG.read_text())
    config["http_options"]["port"] = port
    # Both nodes share this machine's ports, and a second HAProxy cannot bind the
    # first's: the head's routes to the replicas on both nodes.
    config["proxy_location"] = "HeadOnly"
    for app in config["applications"]:
        app["runtime_env"]["working_dir"] = working_dir
        app["runtime_env"]["env_vars"].update(env_vars)
    return config


def all_healthy(status: dict) -> bool:
    apps = status.get("applications") or {}
    return (
        bool(apps)
        and all(app["status"] == "RUNNING" for app in apps.values())
        and all(
            d["status"] == "HEALTHY" for app in apps.values() for d in app["deployments"].values()
        )
        and all(state == "HEALTHY" for state in (status.get("proxies") or {}).values())
    )


def wait_until(what: str, check: Callable[[], bool], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, f"{what} not within {timeout_s:g} s"
        time.sleep(2)


CANARY_APP = "switchboard-canary"
CANARY_PREFIX = "/canary"


@dataclass
class ClusterApp:
    """Switchboard deployed with `serve deploy` on a `Cluster`, and how to change it."""

    cluster: Cluster
    server: RunningSwitchboard
    config: dict  # the config deployed last (first: live settings version 1, code v1)
    workdir: Path
    release: Path  # the zip of this checkout the first deploy shipped
    node_env: dict[str, str]
    deploys: list[Path] = field(default_factory=list)

    def deploy(self, config: dict) -> None:
        """`serve deploy` of `config` (returns once the cluster has taken it)."""
        path = self.workdir / f"deploy-{len(self.deploys) + 1}.yaml"
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        self.cluster.run("serve", "deploy", str(path), "--address", self.cluster.dashboard_url)
        self.deploys.append(path)
        self.config = config

    async def deploy_during_calls(self, config: dict) -> None:
        """`deploy`, with the test's event loop left running: the simulated callers on it
        keep sending their audio meanwhile. (Blocked for the seconds `serve deploy`
        takes, a caller would fall silent, and the ingress closes a media stream
        silent for 5 s as dead.)"""
        await asyncio.to_thread(self.deploy, config)

    def serve_details(self) -> dict:
        """Serve's REST API: applications, deployments and their replicas."""
        response = httpx.get(
            f"{self.cluster.dashboard_url}/api/serve/applications/",
            headers={"Authorization": f"Bearer {self.cluster.env['RAY_AUTH_TOKEN']}"},
            timeout=30,
        )
        response.raise_for_status()
        return response.json()

    def replica_ids(self) -> dict[str, list[str]]:
        """The running replicas of each "app/deployment"."""
        found: dict[str, list[str]] = {}
        for app_name, app in (self.serve_details().get("applications") or {}).items():
            for name, deployment in app["deployments"].items():
                found[f"{app_name}/{name}"] = sorted(
                    r["replica_id"] for r in deployment["replicas"] if r["state"] == "RUNNING"
                )
        return found

    def all_healthy(self) -> bool:
        return all_healthy(self.cluster.serve_status())

    def wait_healthy(self, timeout_s: float = READY_TIMEOUT_S) -> None:
        try:
            wait_until("every application RUNNING and HEALTHY", self.all_healthy, timeout_s)
        except AssertionError as exc:
            raise AssertionError(f"{exc}; serve status:\n{self.cluster.serve_status()}") from None

    def new_release(self, config: dict, *, app_version: str) -> dict:
        """`config` shipping new code: a release zip of its own, named `app_version`."""
        release = self.release.with_name(f"switchboard-{app_version}.zip")
        shutil.copyfile(self.release, release)
        changed = copy.deepcopy(config)
        for app in changed["applications"]:
            app["runtime_env"]["working_dir"] = release.as_uri()
            app["runtime_env"]["env_vars"]["SWITCHBOARD_APP_VERSION"] = app_version
        return changed

    def with_canary(
        self, config: dict, *, percent: float, app_version: str, version: str
    ) -> dict:
        """`config` (one application) plus a canary application of new code at /canary,
        taking `percent` % of new calls; both on live settings `version`."""
        changed = copy.deepcopy(config)
        (stable,) = changed["applications"]
        canary = self.new_release({"applications": [copy.deepcopy(stable)]},
                                  app_version=app_version)["applications"][0]
        canary.update(name=CANARY_APP, route_prefix=CANARY_PREFIX)
        for app, share in ((stable, percent), (canary, 0)):
            for deployment in app["deployments"]:
                if "user_config" in deployment:
                    deployment["user_config"] = {
                        **deployment["user_config"],
                        "version": version,
                        "canary": {"percent": share, "route_prefix": CANARY_PREFIX},
                    }
        changed["applications"].append(canary)
        return changed

    async def wait_for_live_call(self, call_sid: str, timeout_s: float = 120) -> None:
        """Until a session actor serves `call_sid` (the call registry names it)."""
        store = aioredis.Redis.from_url(self.server.redis_url, decode_responses=True)
        try:
            deadline = time.monotonic() + timeout_s
            while not await store.hget(f"{self.server.redis_prefix}:call:{call_sid}", "actor"):
                assert time.monotonic() < deadline, f"call {call_sid} never went live"
                await asyncio.sleep(0.2)
        finally:
            await store.aclose()


@contextlib.contextmanager
def deployed_switchboard(workdir: Path) -> Iterator[ClusterApp]:
    """Switchboard deployed on a fresh two-node cluster; torn down after."""
    token = secrets.token_hex(4)
    port = server_port()
    base_url = f"http://127.0.0.1:{port}"
    prefix = f"sbtest-{token}"
    database = f"switchboard_e2e_{token}"
    auth_token, api_token = secrets.token_hex(16), secrets.token_urlsafe(24)
    account_sid = "AC" + secrets.token_hex(16)
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    # What the operator puts in each node's environment: secrets and addresses only.
    secrets_env = {
        "SWITCHBOARD_TWILIO_AUTH_TOKEN": auth_token,
        "SWITCHBOARD_API_TOKEN": api_token,
        "SWITCHBOARD_TWILIO_ACCOUNT_SID": account_sid,
        "REDIS_URL": redis_url,
        "DATABASE_URL": f"postgresql://postgres@127.0.0.1:5432/{database}",
    }
    node_env = {
        key: value for key, value in os.environ.items() if not key.startswith("SWITCHBOARD_")
    }
    node_env.update(secrets_env)
    use_haproxy(node_env, free_port=server_port, local=False)  # as the README's `ray start`
    sandbox = SandboxProcess.start(account_sid, auth_token)
    try:
        asyncio.run(ensure_database(secrets_env["DATABASE_URL"]))
        migrated = subprocess.run(
            [str(BIN / "switchboard"), "migrate", "up"],
            env=node_env, capture_output=True, text=True, timeout=120,
        )
        assert migrated.returncode == 0, migrated.stderr
        release = release_zip(workdir / f"switchboard-{token}.zip")
        config = cluster_overlay(
            port=port,
            working_dir=release.as_uri(),
            env_vars={
                # Twilio requests this very address (signatures are computed on it).
                "SWITCHBOARD_PUBLIC_URL": base_url,
                "SWITCHBOARD_TWILIO_API_BASE_URL": sandbox.url,
                "SWITCHBOARD_TRANSFER_NUMBER": TRANSFER_NUMBER,
                "SWITCHBOARD_REDIS_PREFIX": prefix,
                "SWITCHBOARD_RAY_NAMESPACE": prefix,
                "SWITCHBOARD_APP_VERSION": "v1",
            },
        )
        with ray_cluster(workdir, node_env) as cluster:
            app = ClusterApp(
                cluster=cluster,
                server=RunningSwitchboard(
                    base_url=base_url,
                    api_token=api_token,
                    auth_token=auth_token,
                    account_sid=account_sid,
                    sandbox_url=sandbox.url,
                    database_url=secrets_env["DATABASE_URL"],
                    redis_url=redis_url,
                    redis_prefix=prefix,
                    log_path=workdir / "ray-head.log",
                    pid=0,
                ),
                config=config,
                workdir=workdir,
                release=release,
                node_env=node_env,
            )
            app.deploy(config)
            app.wait_healthy()
            wait_until("/readyz", lambda: healthy(base_url), READY_TIMEOUT_S)
            yield app
        assert not (Path("/tmp/ray") / "ray_current_cluster").exists() or (
            cluster.gcs_address.split(":")[1]
            not in (Path("/tmp/ray") / "ray_current_cluster").read_text()
        ), "the test cluster was recorded where another test's ray.init() would find it"
    finally:
        sandbox.stop()
        asyncio.run(_drop_database(database))
        with contextlib.suppress(Exception):
            store = redis.Redis.from_url(redis_url)
            keys = list(store.scan_iter(f"{prefix}:*", count=1000))
            if keys:
                store.delete(*keys)

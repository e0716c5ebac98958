"""Chaos: the node holding a call's session actor leaves the cluster mid-call.

A two-node Ray cluster on this machine (`ray.cluster_utils.Cluster`: a head with the
Serve deployments, and a worker node), Switchboard deployed on it from serve_config.yaml
with `serve run --address`. Session actors spread over both nodes. A call whose actor
landed on the worker node loses it when that node is removed (its raylet and workers
killed), and resumes on an actor on the head: it completes with its expected outcome.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from db.migrate import ensure_database, migrate
from switchboard.caller.twilio_protocol import new_sid
from switchboard.local_services import server_port
from switchboard.scenario import load_scenario
from switchboard.serve_command import healthy
from tests.chaos import alive, final_report, play_text_call, registry_entry, warm_pool
from tests.e2e import (
    ROOT,
    SCENARIOS,
    RunningSwitchboard,
    _drop_database,
    assert_report_meets_expectations,
)

pytestmark = [
    pytest.mark.slow,
]

HEAD = "switchboard_head"


@dataclass
class TwoNodes:
    server: RunningSwitchboard
    cluster: object  # ray.cluster_utils.Cluster
    worker: object  # its worker node
    worker_id: str


def _on_the_head(config: dict, port: int) -> None:
    """One proxy (both nodes share this machine's ports); deployments on the head, so
    only session actors can land on the worker node."""
    config["proxy_location"] = "HeadOnly"
    config["http_options"]["port"] = port
    for deployment in config["applications"][0]["deployments"]:
        options = deployment.setdefault("ray_actor_options", {})
        options.setdefault("resources", {})[HEAD] = 0.01


@pytest.fixture(scope="module")
def two_nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TwoNodes]:
    from ray.cluster_utils import Cluster

    workdir = tmp_path_factory.mktemp("chaos-node")
    port, token = server_port(), secrets.token_hex(4)
    env = {
        "SWITCHBOARD_PORT": str(port),
        "SWITCHBOARD_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "SWITCHBOARD_TWILIO_AUTH_TOKEN": secrets.token_hex(16),
        "SWITCHBOARD_API_TOKEN": secrets.token_urlsafe(24),
        "SWITCHBOARD_TRANSFER_NUMBER": "+15550009999",
        "SWITCHBOARD_REDIS_PREFIX": f"sbtest-{token}",
        "SWITCHBOARD_RAY_NAMESPACE": f"sbtest-{token}",
        "SWITCHBOARD_PERFORMANCE__WARM_POOL_SIZE": "4",
        "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
        "DATABASE_URL": f"postgresql://postgres@127.0.0.1:5432/switchboard_e2e_{token}",
    }
    saved = dict(os.environ)
    os.environ.update(env)  # the nodes' processes inherit it, as on a real cluster
    config = yaml.safe_load((ROOT / "serve_config.yaml").read_text())
    _on_the_head(config, port)
    (workdir / "serve_config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    asyncio.run(ensure_database(env["DATABASE_URL"]))
    asyncio.run(migrate(env["DATABASE_URL"], "up"))
    cluster = Cluster(
        initialize_head=True, head_node_args={"num_cpus": 2, "resources": {HEAD: 1}}
    )
    worker = cluster.add_node(num_cpus=1)
    log_path = workdir / "serve.log"
    with open(log_path, "wb") as log:
        serve = subprocess.Popen(
            [str(Path(sys.executable).with_name("serve")), "run", "--address",
             cluster.address, "serve_config.yaml"],
            cwd=workdir, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300
        while not healthy(base_url):
            tail = log_path.read_text(errors="replace")[-3000:]
            assert serve.poll() is None and time.monotonic() < deadline, tail
            time.sleep(2)
        yield TwoNodes(
            server=RunningSwitchboard(
                base_url=base_url,
                api_token=env["SWITCHBOARD_API_TOKEN"],
                auth_token=env["SWITCHBOARD_TWILIO_AUTH_TOKEN"],
                account_sid="",
                sandbox_url="",
                database_url=env["DATABASE_URL"],
                redis_url=env["REDIS_URL"],
                redis_prefix=env["SWITCHBOARD_REDIS_PREFIX"],
                log_path=log_path,
                pid=serve.pid,
            ),
            cluster=cluster,
            worker=worker,
            worker_id=worker.node_id,
        )
    finally:
        # SIGTERM, as `run_switchboard` stops its server: on SIGINT `serve run` shuts the
        # application down gracefully, and the ingress's graceful shutdown (an hour, for
        # calls in progress) held it past a 60 s wait. The cluster goes down after it.
        with contextlib.suppress(ProcessLookupError):
            os.kill(serve.pid, signal.SIGTERM)
        try:
            serve.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(serve.pid, signal.SIGKILL)
            serve.wait(10)
        cluster.shutdown()
        os.environ.clear()
        os.environ.update(saved)
        asyncio.run(_drop_database(env["DATABASE_URL"].rsplit("/", 1)[1]))


@pytest.mark.timeout(600)
async def test_a_call_whose_node_leaves_the_cluster_completes_on_another_node(
    two_nodes: TwoNodes,
) -> None:
    server = two_nodes.server
    scenario = load_scenario(SCENARIOS / "qualified-ops-director.yaml")
    removed: list[str] = []
    for _ in range(8):  # until a call's actor lands on the worker node
        await warm_pool(server, 2)
        call_sid = new_sid("CA")

        async def remove_its_node(call_sid: str = call_sid) -> None:
            entry = await registry_entry(server, call_sid)
            if entry.get("node") == two_nodes.worker_id and not removed:
                await asyncio.to_thread(
                    two_nodes.cluster.remove_node, two_nodes.worker, False
                )
                removed.append(call_sid)
                # The node's raylet is gone at once; its workers notice within seconds.
                async with asyncio.timeout(30):
                    while alive(int(entry["pid"])):
                        await asyncio.sleep(0.05)

        await play_text_call(server, scenario, call_sid, before_line=3, fault=remove_its_node)
        if removed:
            break
    assert removed, "no call's session actor ever landed on the worker node"
    report = await final_report(server, removed[0])
    assert_report_meets_expectations(report, scenario)
    assert report["recovered"] == 1, report["errors"]
    assert any("resumed on" in error for error in report["errors"]), report["errors"]

"""Deploy on a cluster, as the README says: `ray start` nodes, `switchboard migrate up`,
`serve deploy` of ops/serve_config.cluster.yaml, a call served on the worker node.

The cluster and the deploy are `tests.ray_cluster`'s. An audio call from `switchboard
call --url` is placed until one is served by a session actor on the worker node (the
call registry names the node), and `serve status` shows every application RUNNING and
every deployment and proxy HEALTHY.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import redis

from tests.e2e import SCENARIOS
from tests.ray_cluster import BIN, ClusterApp, all_healthy

pytestmark = [pytest.mark.slow, pytest.mark.cluster]

MAX_CALLS = 6  # calls placed until one is served on the worker node


@pytest.mark.timeout(900)
def test_serve_deploy_on_a_ray_start_cluster_serves_calls_on_the_worker_node(
    cluster_app: ClusterApp, tmp_path: Path
) -> None:
    cluster, server = cluster_app.cluster, cluster_app.server
    assert all_healthy(cluster.serve_status())
    worker = cluster.worker_node_id()
    store = redis.Redis.from_url(server.redis_url, decode_responses=True)
    served_on: list[str] = []
    for attempt in range(MAX_CALLS):
        report_path = tmp_path / f"call-{attempt}.json"
        call = subprocess.run(
            [
                str(BIN / "switchboard"), "call", str(SCENARIOS / "hangs-up-early.yaml"),
                "--url", server.base_url, "--json", str(report_path),
            ],
            # The caller holds the tokens, as a person testing the deploy does.
            env={**cluster_app.node_env, "SWITCHBOARD_PUBLIC_URL": server.base_url},
            capture_output=True, text=True, timeout=180,
        )  # fmt: skip
        assert call.returncode == 0, f"{call.stdout}\n{call.stderr}"
        report = json.loads(report_path.read_text())
        assert report["status"] == "completed", report
        assert report["outcome"] == "abandoned", report
        assert report["turns"], report  # the agent greeted, the caller spoke
        entry = store.hgetall(f"{server.redis_prefix}:call:{report['call_sid']}")
        served_on.append(entry.get("node", ""))
        if entry.get("node") == worker:
            break
    assert worker in served_on, f"no call served on the worker node {worker}: {served_on}"
    status = cluster.serve_status()
    assert all_healthy(status), status

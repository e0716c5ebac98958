"""Shared fixtures: a real Switchboard (`serve run` of serve_config.yaml) per session, one
deployed with `serve deploy` on a two-node cluster for the cluster drills, and a local
Ray per test module for the tests that run deployments in process.

Also the Hypothesis profiles: `ci` (a fixed, derandomized number of examples) when the
environment has `CI=true`, `dev` (fewer, random examples) otherwise; `HYPOTHESIS_PROFILE`
names either one explicitly.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import ray
from hypothesis import settings
from ray import serve

from switchboard.local_services import server_port, start_local_ray
from tests.e2e import RunningSwitchboard, run_switchboard
from tests.ray_cluster import ClusterApp, deployed_switchboard

pytest_plugins = ["tests.db_fixtures", "tests.sandbox_fixtures"]

# No deadline in either profile: the machines running the tests are shared, and a slow
# example there is not a failure of the code under test.
settings.register_profile("ci", max_examples=300, derandomize=True, deadline=None, print_blob=True)
settings.register_profile("dev", max_examples=50, deadline=None, print_blob=True)
settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE")
    or ("ci" if os.environ.get("CI", "").lower() == "true" else "dev")
)


@pytest.fixture(scope="session")
def switchboard(tmp_path_factory: pytest.TempPathFactory) -> RunningSwitchboard:
    with run_switchboard(tmp_path_factory.mktemp("switchboard")) as server:
        yield server


@pytest.fixture(scope="session")
def cluster_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClusterApp]:
    """Switchboard deployed with `serve deploy` on a two-node `ray start` cluster (slow
    tier): one per session, shared by the cluster drills."""
    with deployed_switchboard(tmp_path_factory.mktemp("cluster")) as app:
        yield app


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    """A local Ray with Serve's proxy on a free port: CI runs these modules beside other
    tiers' Serve applications, and Serve's default port 8000 would be one port for all."""
    start_local_ray()
    serve.start(http_options={"host": "127.0.0.1", "port": server_port()})
    try:
        yield
    finally:
        serve.shutdown()
        ray.shutdown()

"""Shared fixtures: a real Switchboard (`serve run` of serve_config.yaml) per session, and
a local Ray per test module for the tests that run deployments in process."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import ray
from ray import serve

from switchboard.local_services import start_local_ray
from tests.e2e import RunningSwitchboard, run_switchboard

pytest_plugins = ["tests.db_fixtures"]


@pytest.fixture(scope="session")
def switchboard(tmp_path_factory: pytest.TempPathFactory) -> RunningSwitchboard:
    with run_switchboard(tmp_path_factory.mktemp("switchboard")) as server:
        yield server


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    start_local_ray()
    try:
        yield
    finally:
        serve.shutdown()
        ray.shutdown()

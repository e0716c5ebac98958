"""Shared fixtures: a real Switchboard (`serve run` of serve_config.yaml) per session."""

from __future__ import annotations

import pytest

from tests.e2e import RunningSwitchboard, run_switchboard

pytest_plugins = ["tests.db_fixtures"]


@pytest.fixture(scope="session")
def switchboard(tmp_path_factory: pytest.TempPathFactory) -> RunningSwitchboard:
    with run_switchboard(tmp_path_factory.mktemp("switchboard")) as server:
        yield server

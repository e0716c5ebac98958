"""`switchboard serve` when its `serve run` dies before it is ready: started again
(Ray gives a starting node 30 s to register, which a busy machine can miss), up to
`SERVE_RUN_ATTEMPTS` times in all, then given up with `serve run`'s own error in the
log, never retried in a loop."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from switchboard.serve_command import SERVE_RUN_ATTEMPTS
from tests.e2e import ROOT, run_switchboard


@pytest.mark.timeout(300)
def test_a_serve_run_that_dies_before_it_is_ready_is_started_again_then_given_up(
    tmp_path: Path,
) -> None:
    config = yaml.safe_load((ROOT / "serve_config.yaml").read_text())
    config["applications"][0]["deployments"][0]["max_ongoing_requests"] = "lots"
    broken = tmp_path / "broken_config.yaml"
    broken.write_text(yaml.safe_dump(config, sort_keys=False))

    with pytest.raises(RuntimeError, match="did not become healthy"), run_switchboard(
        tmp_path, config=broken
    ):
        pass
    log = (tmp_path / "serve.log").read_text(errors="replace")
    assert log.count("before it was ready; starting it once more") == SERVE_RUN_ATTEMPTS - 1
    # serve run's own error, every time
    assert log.count("max_ongoing_requests") >= SERVE_RUN_ATTEMPTS

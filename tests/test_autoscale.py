"""Autoscaling for real: the locustfile's call load makes Serve add an ingress replica,
and when the load falls that replica is drained and removed without dropping a call.

A real `switchboard serve` with a config overlay that scales quickly (at most 2
replicas, a low `target_ongoing_requests`, short up/downscale delays; graceful shutdown
as in serve_config.yaml) and the real locustfile in a locust subprocess, driven by
`load_tests.bench_autoscale` (which prints the figures). A call of the drill's own is
held open on the new replica while Serve decides to remove it: the replica stays until
that call is over, and still answers it meanwhile. Every call placed is matched against
its record in PostgreSQL.

The orchestrator's growth is not asserted: whether a few callers' turns (milliseconds
each) average above its target in Serve's look-back window depends on the machine; the
drill reports it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from load_tests.bench_autoscale import DrillSettings, drill_server, run_drill

pytestmark = pytest.mark.slow


# Each phase of the drill is bounded (DrillSettings); this bounds their sum and the
# server's start and stop, on a shared 2-core machine.
@pytest.mark.timeout(1800)
def test_load_grows_the_ingress_and_its_drain_drops_no_call(tmp_path: Path) -> None:
    # The orchestrator's growth is reported, not asserted: its phase is kept short.
    settings = DrillSettings(orchestrator_wait_s=20.0, hold_after_decision_s=5.0)
    with drill_server(tmp_path, settings) as server:
        result = run_drill(server, tmp_path, settings)
    summary = result.summary()
    print(summary)  # the figures, for the log of a failed run
    over_time = summary["replicas_over_time"]

    assert result.phases_reached["settled"], f"never settled at 1 replica each: {over_time}"
    # Scaled out, and the new replica took calls.
    assert result.max_ingress >= 2, over_time
    assert result.phases_reached["ingress_grew"], "no call reached a second ingress replica"

    # Scaled in while a call was open on the replica removed: Serve waited for it.
    assert result.held_call is not None, "no call could be held on the new replica"
    assert result.held_replica_alive_after_decision, summary["held_call"]
    assert result.held_call_answered_while_draining, summary["held_call"]
    assert result.phases_reached["shrank"], over_time
    assert result.held_replica_gone_after_call, over_time
    assert result.held_replica_pid in result.removed_ingress_pids
    # And with no load left, one replica of each.
    assert result.phases_reached["drained"], f"calls or replicas left over: {over_time}"
    assert result.final.ingress == 1 and result.final.orchestrator == 1, over_time

    # No call was dropped, before, during or after the scale-down.
    assert result.calls, "no call was placed"
    assert result.locust_failures == 0, result.locust_errors
    assert not result.locust_errors, result.locust_errors
    failed = {sid: call for sid, call in result.calls.items() if not call["ok"]}
    assert not failed, failed
    assert set(result.records) == set(result.calls), "calls without a record"
    lost = {sid: result.records.get(sid) for sid in result.lost_calls()}
    assert not lost, lost
    assert result.records[result.held_call]["outcome"] == "qualified"

"""Switchboard's metrics on Ray's Prometheus endpoint, and the pieces that keep them there.

- The must-show (slow; the session's `serve run`): after one audio call, every metric
  of the operators' set (docs/observability.md) is served on the Ray session's metrics
  export port, the failure counts for every known label set (at zero when nothing
  failed yet), and the latency histograms (turn, agents, each service's time to first
  byte) and the cost of calls have samples.
- Fast: `LiveGauge` (counts that start at zero and only rise, values set again for Ray),
  the outbox watch on a real Redis, and the small pure helpers.
"""

from __future__ import annotations

import asyncio
import time
import urllib.request
from collections import defaultdict
from pathlib import Path

import pytest
import redis.asyncio as redis
from prometheus_client.parser import text_string_to_metric_families
from ray.util.metrics import Gauge

from actors.service_metrics import processor_kind
from db.outbox import Outbox
from db.outbox_watch import OutboxWatch, entry_age_s
from deployments.ingress_metrics import RECOVERY_CAUSES, RECOVERY_RESULTS, REFUSAL_REASONS
from switchboard.metrics import (
    CALL_FAILURE_CAUSES,
    FALLBACK_REASONS,
    LLM_CALLS,
    LLM_FAILURE_REASONS,
    SPEECH_SERVICES,
    SYNC_OPERATIONS,
    LiveGauge,
)
from switchboard.models import CallSession
from switchboard.scenario import load_scenario
from tests.e2e import SCENARIOS, RunningSwitchboard

pytest_plugins = ["tests.db_fixtures"]

# Samples: name -> [(labels, value)].
Scrape = dict[str, list[tuple[dict[str, str], float]]]

# Gauges and counts that must be on the endpoint whatever happened (levels, and counts
# at zero); histograms that an audio call must have given samples.
LEVELS = (
    "ray_switchboard_active_calls",
    "ray_switchboard_warm_actors",
    "ray_switchboard_outbox_backlog",
    "ray_switchboard_outbox_oldest_age_s",
    "ray_switchboard_orchestrator_breaker_state",
    "ray_switchboard_budget_committed_usd",
    "ray_switchboard_budget_daily_cap_usd",
)
# Every count an alert or the dashboard reads, with the label sets known in advance.
FAILURE_COUNTS: dict[str, list[dict[str, str]]] = {
    "ray_switchboard_calls_failed_total": [{"cause": c} for c in CALL_FAILURE_CAUSES],
    "ray_switchboard_requests_refused_total": [{"reason": r} for r in REFUSAL_REASONS],
    "ray_switchboard_call_recoveries_total": [
        {"cause": c, "result": r} for c in RECOVERY_CAUSES for r in RECOVERY_RESULTS
    ],
    "ray_switchboard_circuit_breaker_trips_total": [{}],
    "ray_switchboard_fallback_activations_total": [{"reason": r} for r in FALLBACK_REASONS],
    "ray_switchboard_state_sync_failures_total": [{"operation": o} for o in SYNC_OPERATIONS],
    "ray_switchboard_llm_failures_total": [
        {"call": c, "reason": r} for c in LLM_CALLS for r in LLM_FAILURE_REASONS
    ],
    "ray_switchboard_tier_decisions_total": [
        {"tier": "premium", "approved": "false", "reason": "daily_budget"}
    ],
}
OTHER_COUNTS = (
    "ray_switchboard_calls_started_total",
    "ray_switchboard_session_late_answers_total",
    "ray_switchboard_llm_retries_total",
)
LATENCY_HISTOGRAMS = (
    "ray_switchboard_turn_latency_ms_count",
    "ray_switchboard_agent_processing_latency_ms_count",
    "ray_switchboard_call_cost_usd_count",
)
METRICS_WAIT_S = 60.0  # Ray's agent takes a report interval (10 s) or two to show a change


# --- The must-show: one audio call, then a scrape --------------------------------------------


def metrics_port(server: RunningSwitchboard) -> int:
    """The metrics export port of the server's Ray session (its session directory holds
    one `metrics_export_port_<node>` file per node; `serve run` starts one node)."""
    session = server.ray_logs_dir().parent
    (port_file,) = session.glob("metrics_export_port_*")
    return int(Path(port_file).read_text().strip())


def scrape(port: int) -> Scrape:
    """Ray's Prometheus endpoint: every `ray_switchboard_*` sample."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    samples: Scrape = defaultdict(list)
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name.startswith("ray_switchboard_"):
                samples[sample.name].append((dict(sample.labels), sample.value))
    return samples


def total(samples: Scrape, name: str, **labels: str) -> float:
    return sum(
        value for got, value in samples.get(name, [])
        if all(got.get(k) == v for k, v in labels.items())
    )


def has_label_set(samples: Scrape, name: str, labels: dict[str, str]) -> bool:
    return any(all(got.get(k) == v for k, v in labels.items()) for got, _ in samples.get(name, []))


def missing(samples: Scrape) -> list[str]:
    """What the must-show still misses in `samples`."""
    gaps = [name for name in (*LEVELS, *OTHER_COUNTS) if name not in samples]
    for name, label_sets in FAILURE_COUNTS.items():
        gaps += [f"{name}{ls}" for ls in label_sets if not has_label_set(samples, name, ls)]
    gaps += [name for name in LATENCY_HISTOGRAMS if total(samples, name) <= 0]
    gaps += [
        f"ray_switchboard_service_ttfb_ms_count{{service={service}}}"
        for service in SPEECH_SERVICES
        if total(samples, "ray_switchboard_service_ttfb_ms_count", service=service) <= 0
    ]
    return gaps


@pytest.mark.slow
@pytest.mark.timeout(240)
async def test_after_one_audio_call_every_metric_is_on_rays_endpoint(
    switchboard: RunningSwitchboard,
) -> None:
    port = metrics_port(switchboard)
    # Before any call of this test: every failure count is served (the ingress made
    # them at its start; Ray's agent shows them within a report interval or two).
    deadline = time.monotonic() + METRICS_WAIT_S
    while True:
        before = await asyncio.to_thread(scrape, port)
        absent = [
            f"{name}{labels}" for name, label_sets in FAILURE_COUNTS.items()
            for labels in label_sets if not has_label_set(before, name, labels)
        ]
        if not absent:
            break
        assert time.monotonic() < deadline, f"failure counts not served: {absent}"
        await asyncio.sleep(2)
    # A server that has served no call yet has had nothing fail either: its failure
    # counts are at zero (a shared server may have run a chaos drill before this test).
    if total(before, "ray_switchboard_calls_started_total") == 0:
        for name, label_sets in FAILURE_COUNTS.items():
            for labels in label_sets:
                assert total(before, name, **labels) == 0, f"{name}{labels} not at zero"

    result = await switchboard.call(load_scenario(SCENARIOS / "wants-a-human.yaml"), text=False)
    report = await switchboard.report(result.call_sid)
    assert report["outcome"] == "transferred", report
    timed = [turn["latency_ms"] for turn in report["turns"] if turn["latency_ms"]]
    assert timed, report["turns"]

    deadline = time.monotonic() + METRICS_WAIT_S
    while True:
        after = await asyncio.to_thread(scrape, port)
        gaps = missing(after)
        grew = total(after, "ray_switchboard_turn_latency_ms_count") >= total(
            before, "ray_switchboard_turn_latency_ms_count"
        ) + len(timed)
        if not gaps and grew:
            break
        assert time.monotonic() < deadline, f"not on the endpoint: {gaps} (turns grew: {grew})"
        await asyncio.sleep(2)

    # A call that went well failed nothing.
    for name in ("ray_switchboard_calls_failed_total", "ray_switchboard_call_recoveries_total"):
        assert total(after, name) == total(before, name), name
    assert total(after, "ray_switchboard_calls_started_total", mode="audio") >= 1
    assert total(after, "ray_switchboard_call_cost_usd_sum") > 0  # speech and telephony
    # The services are tagged by what they are, not by Pipecat's numbered instances.
    ttfb = after["ray_switchboard_service_ttfb_ms_count"]
    processors = {labels["processor"] for labels, _ in ttfb}
    assert all("#" not in processor for processor in processors), processors


# --- LiveGauge -------------------------------------------------------------------------------


def test_a_count_starts_at_zero_for_its_known_label_sets_and_only_rises() -> None:
    count = LiveGauge(
        Gauge("switchboard_test_refusals_total", "test", tag_keys=("reason",)),
        zero=[{"reason": "busy"}, {"reason": "flood"}],
    )
    assert count.value({"reason": "busy"}) == 0 and count.value({"reason": "flood"}) == 0
    count.inc(tags={"reason": "busy"})
    count.inc(2, tags={"reason": "busy"})
    count.inc(tags={"reason": "idle"})  # a label set not known in advance starts at its count
    assert count.value({"reason": "busy"}) == 3
    assert count.value({"reason": "idle"}) == 1
    assert count.value({"reason": "flood"}) == 0
    with pytest.raises(ValueError):
        count.inc(0, tags={"reason": "busy"})
    count.republish()  # sets every value again, as the process's thread does
    assert count.value({"reason": "busy"}) == 3


def test_a_level_keeps_its_last_value_or_follows_its_source() -> None:
    level = LiveGauge(Gauge("switchboard_test_level", "test"), zero=[{}])
    assert level.value() == 0
    level.set(7)
    assert level.value() == 7
    ready = [3]
    level.follow(lambda: len(ready) * 2)
    assert level.value() == 2
    ready.append(4)
    level.republish()
    assert level.value() == 4


# --- The outbox watch ------------------------------------------------------------------------


def test_an_entry_age_comes_from_its_stream_id() -> None:
    assert entry_age_s("1700000000000-0", 1700000012.5) == 12.5
    assert entry_age_s("1700000000000-3", 1699999999.0) == 0.0  # a clock behind Redis's


async def test_the_outbox_watch_reads_backlog_and_oldest_age(
    redis_client: redis.Redis, redis_prefix: str
) -> None:
    watch = OutboxWatch(redis_client, redis_prefix)
    assert await watch.observe_once() == (0, 0.0)
    outbox = Outbox(redis_client, redis_prefix)
    await outbox.call_started(CallSession(call_sid="CAwatch", mode="text"))
    await asyncio.sleep(0.3)
    await outbox.error("CAwatch", "a second event")
    backlog, age = await watch.observe_once()
    assert backlog == 2
    assert 0.2 <= age < 5
    assert watch.backlog.value() == 2 and watch.oldest_age.value() == age


# --- Helpers ---------------------------------------------------------------------------------


def test_a_processor_is_tagged_by_its_kind_not_its_instance() -> None:
    assert processor_kind("EspeakTTSService#12") == "EspeakTTSService"
    assert processor_kind("ConversationProcessor") == "ConversationProcessor"

"""Against a real `switchboard serve` exporting to a local OTLP receiver: one call is one
trace, a tree across the Ray hops (ingress → session actor → orchestrator and budget,
and the recorder applying the call's events), and the call's report and log lines name
that trace."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from switchboard.scenario import parse_scenario
from tests.e2e import RunningSwitchboard, run_switchboard
from tests.otlp_receiver import OTLPReceiver, ReceivedSpan, otlp_receiver, tree_problems

pytestmark = [pytest.mark.slow, pytest.mark.parallel_safe, pytest.mark.timeout(420)]

# How long the last spans of a call may take to arrive: the batch delay set below, the
# recorder draining the outbox, with room for a busy machine.
SPANS_WAIT_S = 60.0


@pytest.fixture(scope="module")
def traced(tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[tuple[RunningSwitchboard, OTLPReceiver]]:
    with (
        otlp_receiver() as receiver,
        run_switchboard(
            tmp_path_factory.mktemp("tracing"),
            OTEL_EXPORTER_OTLP_ENDPOINT=receiver.url,
            OTEL_SERVICE_NAME="switchboard-e2e",
            # Export a batch every 200 ms rather than every 5 s: the test waits less.
            OTEL_BSP_SCHEDULE_DELAY="200",
        ) as server,
    ):
        yield server, receiver


def _complete(trace_id: str) -> object:
    def done(spans: list[ReceivedSpan]) -> bool:
        ours = [span for span in spans if span.trace_id == trace_id]
        names = {span.name for span in ours}
        # The ingress's span ends with the socket; the record's final event comes last.
        # Each process exports on its own schedule: the session's span (ended just
        # before the socket closes) may arrive after both, so wait for a whole tree.
        return "call" in names and "recorder.call_ended" in names and not tree_problems(ours)

    return done


async def test_one_call_is_one_trace_across_the_ray_hops(
    traced: tuple[RunningSwitchboard, OTLPReceiver],
) -> None:
    server, receiver = traced
    scenario = parse_scenario({
        "name": "traced",
        "from": "+15551234567",
        "to": "+15557650000",
        "lines": ["Hi, Jordan here.", "Sure.", "We miss calls at night and lose customers."],
    })
    result = await server.call(scenario, text=True)
    report = await server.report(result.call_sid)
    trace_id = report["trace_id"]
    assert isinstance(trace_id, str) and len(trace_id) == 32, report

    receiver.wait_for(_complete(trace_id), SPANS_WAIT_S)
    spans = receiver.trace(trace_id)
    names = sorted({(span.component, span.name) for span in spans})
    assert tree_problems(spans) == [], names
    by_component: dict[str | None, set[str]] = {}
    for span in spans:
        by_component.setdefault(span.component, set()).add(span.name)
    assert set(by_component) == {"ingress", "session", "orchestrator", "budget", "recorder"}, names
    assert by_component["ingress"] == {"call"}
    assert {"session", "conversation", "turn"} <= by_component["session"]
    assert "orchestrator" in by_component["orchestrator"]
    assert {"agent.router", "agent.greeter"} <= by_component["orchestrator"], names
    assert "budget.record_usage" in by_component["budget"] and "budget.end_call" in (
        by_component["budget"]
    )
    assert {"recorder.call_started", "recorder.turn", "recorder.call_ended"} <= (
        by_component["recorder"]
    )
    assert {span.service for span in spans} == {"switchboard-e2e"}
    # Every other trace the receiver got is another call's, or no call's (none here).
    assert all(span.trace_id == trace_id for span in receiver.spans if span.name == "call")

    # The tree: the ingress's call span is the root; the session hangs under it; each
    # orchestrator turn under a turn of the call; the agents under the orchestrator's.
    by_id = {span.span_id: span for span in spans}

    def parent(span: ReceivedSpan) -> ReceivedSpan:
        assert span.parent_span_id is not None, span
        return by_id[span.parent_span_id]

    root = next(span for span in spans if span.parent_span_id is None)
    assert root.name == "call" and root.attributes["call.sid"] == result.call_sid
    session = next(span for span in spans if span.name == "session")
    assert parent(session) is root
    conversation = next(span for span in spans if span.name == "conversation")
    assert parent(conversation) is session
    turns = [span for span in spans if span.name == "turn"]
    assert len(turns) >= len(scenario.lines)
    for span in spans:
        if span.name == "orchestrator":
            assert parent(span).name == "turn", span
        elif span.name.startswith("agent."):
            assert parent(span).name == "orchestrator", span
        elif span.name.startswith("budget."):
            # A turn's usage under its turn; the last usage and the close at the end.
            assert parent(span).name in {"turn", "session"}, span
    usage = [span for span in spans if span.name == "budget.record_usage"]
    assert any(parent(span).name == "turn" for span in usage), names

    # The call's lines name its trace: a line about it leads to the trace.
    logs = server.ray_logs_dir()
    for deployment in ("TwilioIngress", "OrchestratorDeployment"):
        lines = [
            json.loads(line)
            for path in (logs / "serve").glob(f"replica_*{deployment}*.log")
            for line in Path(path).read_text(errors="replace").splitlines()
            if line.startswith("{")
        ]
        about = [line for line in lines if line.get("call_sid") == result.call_sid]
        assert about and all(line.get("trace_id") == trace_id for line in about), about


async def test_an_audio_calls_turns_hold_its_speech_recognition_and_synthesis(
    traced: tuple[RunningSwitchboard, OTLPReceiver],
) -> None:
    """Pipecat's own spans: a `turn` per turn of the audio call, `stt` and `tts` under
    them, in the same tree as ours."""
    server, receiver = traced
    scenario = parse_scenario({
        "name": "traced-audio",
        "from": "+15551234568",
        "to": "+15557650000",
        "lines": ["Hi, Jordan here.", "Sure."],
    })
    result = await server.call(scenario, text=False)
    report = await server.report(result.call_sid)
    trace_id = report["trace_id"]
    assert isinstance(trace_id, str) and len(trace_id) == 32, report

    receiver.wait_for(_complete(trace_id), SPANS_WAIT_S)
    spans = receiver.trace(trace_id)
    names = sorted({(span.component, span.name) for span in spans})
    assert tree_problems(spans) == [], names
    by_id = {span.span_id: span for span in spans}
    speech = [span for span in spans if span.name in {"stt", "tts"}]
    assert {span.name for span in speech} == {"stt", "tts"}, names
    parents = sorted((span.name, by_id[span.parent_span_id].name) for span in speech)
    assert all(parent == "turn" for _, parent in parents), parents
    orchestrated = [span for span in spans if span.name == "orchestrator"]
    assert orchestrated and all(
        by_id[span.parent_span_id].name in {"turn", "conversation"} for span in orchestrated
    ), names

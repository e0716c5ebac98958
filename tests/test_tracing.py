"""Tracing (`switchboard.tracing`): a call's trace context crosses a hop as a small dict
carrier, spans go to the OTLP/HTTP endpoint the standard variables name, and with no
endpoint no provider is set and nothing is exported.

A process's tracer provider can be set only once, so what sets one runs in a process
of its own, exporting to a local OTLP receiver (`tests.otlp_receiver`).
"""

from __future__ import annotations

import contextvars
import json
import logging
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from switchboard import tracing
from switchboard.logging_setup import CallSidFilter, bind_call
from tests.otlp_receiver import otlp_receiver, tree_problems

ROOT = Path(__file__).resolve().parents[1]
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"


def _run(script: str, **env: str) -> dict:
    """Run `script` in a fresh Python with only `env`'s OTEL_* variables; its last
    stdout line, as JSON."""
    clean = {key: value for key, value in os.environ.items() if not key.startswith("OTEL_")}
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        cwd=ROOT, env={**clean, **env}, capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


# The carrier, in this process (no provider needed to read one)


def test_the_trace_id_is_read_from_a_carriers_traceparent() -> None:
    assert tracing.trace_id_of({"traceparent": TRACEPARENT}) == TRACE_ID
    assert tracing.trace_id_of({}) is None
    assert tracing.trace_id_of(None) is None
    assert tracing.trace_id_of({"traceparent": "garbage"}) is None
    assert tracing.trace_id_of({"traceparent": f"00-{'0' * 32}-00f067aa0ba902b7-01"}) is None


def test_an_endpoint_variable_turns_export_on_and_the_sdk_switch_off() -> None:
    assert not tracing.endpoint_configured({})
    assert not tracing.endpoint_configured({"OTEL_SERVICE_NAME": "switchboard"})
    assert tracing.endpoint_configured({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"})
    assert tracing.endpoint_configured({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c/t"})
    assert not tracing.endpoint_configured(
        {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_SDK_DISABLED": "true"}
    )


def test_a_line_about_a_traced_call_carries_its_trace_id() -> None:
    def log_about_the_call() -> logging.LogRecord:
        bind_call("CA0001", TRACE_ID)
        record = logging.LogRecord("actors", logging.INFO, __file__, 1, "turn", (), None)
        CallSidFilter().filter(record)
        return record

    record = contextvars.copy_context().run(log_about_the_call)
    assert record.call_sid == "CA0001" and record.trace_id == TRACE_ID

    def log_about_an_untraced_call() -> logging.LogRecord:
        bind_call("CA0002")
        record = logging.LogRecord("actors", logging.INFO, __file__, 1, "turn", (), None)
        CallSidFilter().filter(record)
        return record

    record = contextvars.copy_context().run(log_about_an_untraced_call)
    assert record.call_sid == "CA0002" and not hasattr(record, "trace_id")


# Processes of their own


def test_without_an_endpoint_no_provider_is_set_and_nothing_is_exported() -> None:
    with otlp_receiver() as receiver:
        result = _run(
            """
            import json, os, sys
            from opentelemetry import trace
            from switchboard import tracing

            on = tracing.setup_tracing("session")
            with tracing.span("call") as call:
                carrier = tracing.inject()
            print(json.dumps({
                "on": on,
                "enabled": tracing.enabled(),
                "provider": type(trace.get_tracer_provider()).__name__,
                "span": call is None,
                "carrier": carrier,
                "extracted": tracing.extract({"traceparent": os.environ["PARENT"]}) is None,
                "started": tracing.start_span("session") is None,
                "exporter_loaded": "opentelemetry.exporter.otlp.proto.http" in sys.modules,
            }))
            """,
            # Named, but not as an endpoint: tracing stays off.
            OTEL_SERVICE_NAME="switchboard-test",
            PARENT=TRACEPARENT,
        )
        assert result == {
            "on": False, "enabled": False, "provider": "ProxyTracerProvider", "span": True,
            "carrier": {}, "extracted": True, "started": True, "exporter_loaded": False,
        }
        assert receiver.requests == 0 and receiver.spans == []


def test_a_span_on_the_far_side_of_a_hop_is_a_child_of_the_carriers_span() -> None:
    with otlp_receiver() as receiver:
        result = _run(
            """
            import json
            from opentelemetry import trace
            from switchboard import tracing

            assert tracing.setup_tracing("ingress")
            provider = trace.get_tracer_provider()
            assert tracing.setup_tracing("session") and trace.get_tracer_provider() is provider
            with tracing.span("call") as call:
                carrier = tracing.inject_span(call)
            # The other side of a Ray hop has only the carrier (a plain dict).
            session = tracing.start_span("session", dict(carrier))
            with tracing.span("budget.record_usage", tracing.inject_span(session)):
                nested = tracing.inject()
            session.end()
            tracing.flush()
            print(json.dumps({
                "carrier": carrier,
                "trace_id": tracing.span_trace_id(call),
                "nested": nested,
            }))
            """,
            OTEL_EXPORTER_OTLP_ENDPOINT=receiver.url,
            OTEL_SERVICE_NAME="switchboard-test",
        )
        spans = receiver.wait_for(lambda spans: len(spans) >= 3, timeout_s=10)
    assert set(result["carrier"]) == {"traceparent"}
    assert tracing.trace_id_of(result["carrier"]) == result["trace_id"]
    assert tracing.trace_id_of(result["nested"]) == result["trace_id"]
    by_name = {span.name: span for span in spans}
    assert set(by_name) == {"call", "session", "budget.record_usage"}
    assert {span.trace_id for span in spans} == {result["trace_id"]}
    assert by_name["session"].parent_span_id == by_name["call"].span_id
    assert by_name["budget.record_usage"].parent_span_id == by_name["session"].span_id
    assert tree_problems(spans) == []
    # OTEL_SERVICE_NAME is honoured; the first setup named the process.
    assert {(span.service, span.component) for span in spans} == {
        ("switchboard-test", "ingress")
    }

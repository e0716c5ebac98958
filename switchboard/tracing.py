"""OpenTelemetry tracing of calls: the tracer provider of each process, and the W3C
trace context a call carries across its Ray hops.

This module owns:
- `setup_tracing`: the one place a process's tracer provider is set (the ingress,
  orchestrator, budget and recorder replicas, and each session actor call it when they
  start; it is idempotent). Spans are exported by OTLP over HTTP/protobuf when the
  standard `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is
  set; `OTEL_SERVICE_NAME` names the service (default `switchboard`) and the other
  standard variables (`OTEL_RESOURCE_ATTRIBUTES`, `OTEL_BSP_*`, headers, timeouts) are
  honoured by the SDK. Without an endpoint no provider is set and nothing is exported.
- the carrier: a call's trace context as a small `dict[str, str]` (`traceparent`,
  `tracestate`), put in the arguments of a Ray call (`CallStart.trace`, the
  orchestrator's `metadata["trace"]`, the budget's `trace=`, an outbox event's `trace`)
  and read back on the other side (`inject` / `extract`).
- `span`: a span of ours (tracer `switchboard`) under a carrier or a context.

When tracing is off every helper returns at its first test (no propagator, no span
objects): the cost of a call's tracing is then a few attribute reads.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Mapping
from typing import Any

from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.trace import Span, SpanKind

logger = logging.getLogger(__name__)

TRACER_NAME = "switchboard"
DEFAULT_SERVICE_NAME = "switchboard"
ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
# A carrier: the W3C trace context headers of one span.
Carrier = dict[str, str]

_lock = threading.Lock()
_provider: Any = None  # the SDK TracerProvider this module set, once set
_tracer: trace.Tracer | None = None


def endpoint_configured(environ: Mapping[str, str] | None = None) -> bool:
    """Whether the environment asks for traces to be exported."""
    environ = os.environ if environ is None else environ
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    return any(environ.get(name, "").strip() for name in ENDPOINT_VARIABLES)


def setup_tracing(component: str) -> bool:
    """Set this process's tracer provider if the environment asks for export; True when
    tracing is on. Idempotent: the first call decides, later ones (a replica's second
    deployment class, a pooled actor's next call) return the same answer.

    `component` (ingress, session, orchestrator, budget, recorder) goes on the resource
    as `switchboard.component`, so spans from one service can be told apart by process.
    """
    global _provider, _tracer
    if _provider is not None:
        return True
    if not endpoint_configured():
        return False
    with _lock:
        if _provider is not None:
            return True
        protocol = os.environ.get(
            "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL", "")
        )
        if protocol and protocol != "http/protobuf":
            logger.warning("OTLP protocol %r is not supported: traces go by http/protobuf",
                           protocol)
        # Imported here: a process that does not trace never loads the SDK and exporter.
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        attributes: dict[str, str] = {"switchboard.component": component}
        if not os.environ.get("OTEL_SERVICE_NAME"):
            # Only when unset: a `service.name` given here would override the variable.
            attributes["service.name"] = DEFAULT_SERVICE_NAME
        provider = TracerProvider(resource=Resource.create(attributes))
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        trace.set_tracer_provider(provider)
        if trace.get_tracer_provider() is not provider:
            # Someone else set one first (a library, a test): use theirs, add nothing.
            logger.warning("a tracer provider was already set: switchboard spans use it")
        _provider = trace.get_tracer_provider()
        _tracer = trace.get_tracer(TRACER_NAME)
        logger.info("tracing: spans exported by OTLP/HTTP (%s)", component)
    return True


def enabled() -> bool:
    """Whether this process traces (`setup_tracing` set a provider)."""
    return _provider is not None


def flush(timeout_s: float = 5.0) -> None:
    """Export the spans ended so far: before a process may exit without its atexit
    hooks (a session actor), or at the end of a call."""
    provider = _provider
    if provider is not None and hasattr(provider, "force_flush"):
        try:
            provider.force_flush(int(timeout_s * 1000))
        except Exception:  # an exporter problem must never reach a call
            logger.warning("could not flush spans", exc_info=True)


def inject(context: Context | None = None) -> Carrier:
    """The carrier of `context` (default: the current one); empty when tracing is off."""
    if _provider is None:
        return {}
    carrier: Carrier = {}
    propagate.inject(carrier, context=context)
    return carrier


def inject_span(span: Span | None) -> Carrier:
    """The carrier that makes `span` the parent on the other side of a hop."""
    if _provider is None or span is None or not span.get_span_context().is_valid:
        return {}
    return inject(trace.set_span_in_context(span))


def extract(carrier: Mapping[str, str] | None) -> Context | None:
    """The context a carrier describes; None when there is none (or tracing is off)."""
    if _provider is None or not carrier:
        return None
    return propagate.extract(dict(carrier))


def trace_id_of(carrier: Mapping[str, str] | None) -> str | None:
    """The trace id (32 hex digits) a carrier belongs to, read from its `traceparent`."""
    if not carrier:
        return None
    parts = str(carrier.get("traceparent", "")).split("-")
    if len(parts) != 4 or len(parts[1]) != 32 or parts[1] == "0" * 32:
        return None
    return parts[1]


def span_trace_id(span: Span | None) -> str | None:
    """The trace id of `span` in hex; None for no span or a non-recording one."""
    if span is None:
        return None
    context = span.get_span_context()
    return trace.format_trace_id(context.trace_id) if context.is_valid else None


def start_span(
    name: str,
    parent: Mapping[str, str] | Context | None = None,
    *,
    kind: SpanKind = SpanKind.INTERNAL,
    attributes: Mapping[str, Any] | None = None,
) -> Span | None:
    """A span the caller ends (one that outlives a block: a call, a session); None when
    tracing is off. `parent`: a carrier or a context (default: the current context)."""
    if _provider is None or _tracer is None:
        return None
    context = parent if isinstance(parent, Context) or parent is None else extract(parent)
    return _tracer.start_span(name, context=context, kind=kind, attributes=_clean(attributes))


# What `span` gives when tracing is off: no generator, no span, one shared object.
_NO_SPAN: contextlib.nullcontext[None] = contextlib.nullcontext()


def span(
    name: str,
    parent: Mapping[str, str] | Context | None = None,
    *,
    kind: SpanKind = SpanKind.INTERNAL,
    attributes: Mapping[str, Any] | None = None,
) -> contextlib.AbstractContextManager[Span | None]:
    """A span around the block, current inside it (spans started in the block, and
    tasks it creates, are its children); the block gets None, and nothing happens,
    when tracing is off. An exception leaving the block is recorded on the span."""
    if _provider is None or _tracer is None:
        return _NO_SPAN
    context = parent if isinstance(parent, Context) or parent is None else extract(parent)
    return _tracer.start_as_current_span(
        name, context=context, kind=kind, attributes=_clean(attributes)
    )


def _clean(attributes: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Attributes OpenTelemetry accepts: None values dropped."""
    if not attributes:
        return None
    return {key: value for key, value in attributes.items() if value is not None}

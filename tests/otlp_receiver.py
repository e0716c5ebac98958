"""A local OTLP/HTTP trace receiver for the tracing tests: what a collector would be
sent, decoded.

It answers `POST /v1/traces` with protobuf `ExportTraceServiceRequest` bodies (the
OTLP/HTTP exporter's default encoding) as a collector does, and keeps every span with
its service, the process kind (`switchboard.component`) and its parent.
"""

from __future__ import annotations

import gzip
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)


@dataclass(frozen=True)
class ReceivedSpan:
    trace_id: str
    span_id: str
    parent_span_id: str | None
    name: str
    service: str
    component: str | None
    attributes: dict[str, object]


class OTLPReceiver:
    """The spans received so far (thread-safe), and the requests that carried them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._spans: list[ReceivedSpan] = []
        self.requests = 0
        self.url = ""

    @property
    def spans(self) -> list[ReceivedSpan]:
        with self._lock:
            return list(self._spans)

    def trace(self, trace_id: str) -> list[ReceivedSpan]:
        return [span for span in self.spans if span.trace_id == trace_id]

    def wait_for(self, done: Callable[[list[ReceivedSpan]], bool], timeout_s: float
                 ) -> list[ReceivedSpan]:
        """The spans once `done(spans)` holds; the spans so far after `timeout_s`."""
        deadline = time.monotonic() + timeout_s
        while True:
            spans = self.spans
            if done(spans) or time.monotonic() > deadline:
                return spans
            time.sleep(0.2)

    def take(self, body: bytes) -> None:
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        received: list[ReceivedSpan] = []
        for resource_spans in request.resource_spans:
            resource = {a.key: _value(a.value) for a in resource_spans.resource.attributes}
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    received.append(ReceivedSpan(
                        trace_id=span.trace_id.hex(),
                        span_id=span.span_id.hex(),
                        parent_span_id=span.parent_span_id.hex() or None,
                        name=span.name,
                        service=str(resource.get("service.name")),
                        component=_text_or_none(resource.get("switchboard.component")),
                        attributes={a.key: _value(a.value) for a in span.attributes},
                    ))
        with self._lock:
            self._spans.extend(received)
            self.requests += 1


def _value(value) -> object:
    kind = value.WhichOneof("value")
    return getattr(value, kind) if kind else None


def _text_or_none(value: object) -> str | None:
    return None if value is None else str(value)


@contextmanager
def otlp_receiver() -> Iterator[OTLPReceiver]:
    """A receiver listening on a free port of 127.0.0.1 (`receiver.url` is the base URL
    for `OTEL_EXPORTER_OTLP_ENDPOINT`); stopped after the block."""
    receiver = OTLPReceiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (the stdlib's name)
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            if self.path != "/v1/traces":
                self.send_response(404)
                self.end_headers()
                return
            receiver.take(body)
            answer = ExportTraceServiceResponse().SerializeToString()
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: object) -> None:
            pass  # the test's output is not the place for each export

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, name="otlp-receiver", daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()


def tree_problems(spans: list[ReceivedSpan]) -> list[str]:
    """What keeps `spans` (one trace) from being one tree: parents not in the trace,
    and more or fewer than one root."""
    ids = {span.span_id for span in spans}
    problems = [
        f"{span.name} ({span.component}) has parent {span.parent_span_id}, not in the trace"
        for span in spans
        if span.parent_span_id is not None and span.parent_span_id not in ids
    ]
    roots = [span.name for span in spans if span.parent_span_id is None]
    if len(roots) != 1:
        problems.append(f"{len(roots)} roots: {roots}")
    return problems

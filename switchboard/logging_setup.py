"""Logs a cluster operator can use, in every process of a call.

This module owns three things:
- the level: `monitoring.log_level` for our stdlib loggers and for Pipecat's loguru
  (Ray workers start with loguru's default handler at DEBUG, which would log every
  frame processor link of every call);
- the call a line is about: `bind_call` / `call_context` set a contextvar (asyncio
  tasks copy it when they are created, so setting it where a call's handling starts
  covers every task started from there), a session actor also binds its process to
  its one call, and `CallSidFilter` puts the CallSid on each record as `call_sid`,
  and the call's trace id as `trace_id` when it is traced (bound with the call, else
  the current span's; see `switchboard.tracing`), so a line leads to the call's trace;
- where each kind of process writes. A Serve replica writes through Serve's own
  `ray.serve` logger, as serve_config.yaml's `logging_config` says (TEXT or JSON files
  under the Ray session's logs/serve/); our other loggers and loguru are routed into
  it. A session actor is a plain Ray actor, which Serve's `logging_config` does not
  reach: it writes to stderr (its worker-*.err file, forwarded to the driver) with Ray
  Core's own formatters, in the format of the ingress replica that made it.

In JSON `call_sid` (and `trace_id`) are fields of their own; in text they are appended
as ` call_sid=CA... trace_id=...`, as Ray Core's text format appends its context fields.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import logging.handlers
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from loguru import logger as loguru_logger
from opentelemetry import trace as otel_trace
from ray._common.filters import CoreContextFilter
from ray._common.formatters import JSONFormatter, TextFormatter

from switchboard import tracing

if TYPE_CHECKING:
    from loguru import Message

# Our modules log through these stdlib loggers (session actors use "ray", which Ray
# forwards to the driver's log; replicas use "ray.serve", which Serve configures).
STDLIB_LOGGERS = ("ray", "actors", "db", "deployments", "graph", "switchboard")
SERVE_LOGGER = "ray.serve"
# Libraries that log every WebSocket frame at DEBUG (a record per 20 ms of a call's
# audio, with arguments the JSON log format cannot encode): INFO at the most verbose.
FRAME_LOGGERS = ("websockets",)

CALL_SID: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "switchboard_call_sid", default=None
)
CALL_TRACE_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "switchboard_call_trace_id", default=None
)
# The one call a session actor's process serves: its methods run as tasks Ray starts,
# which do not inherit a contextvar set in `start_call`.
_process_call_sid: str | None = None
_process_trace_id: str | None = None


def bind_call(call_sid: str | None, trace_id: str | None = None) -> None:
    """Lines logged from here on in this task (and tasks it starts later) are about
    `call_sid` (traced as `trace_id`, if given). For handlers whose task ends with the
    call (a request, a socket)."""
    CALL_SID.set(call_sid or None)
    CALL_TRACE_ID.set(trace_id or None)


@contextlib.contextmanager
def call_context(call_sid: str | None) -> Iterator[None]:
    """Lines logged inside the block are about `call_sid`; for a loop over many calls."""
    token = CALL_SID.set(call_sid or None)
    try:
        yield
    finally:
        CALL_SID.reset(token)


def bind_process_call(call_sid: str | None, trace_id: str | None = None) -> None:
    """This process serves `call_sid` only (a session actor): every line is about it."""
    global _process_call_sid, _process_trace_id
    _process_call_sid = call_sid or None
    _process_trace_id = trace_id or None


def current_call_sid() -> str | None:
    return CALL_SID.get() or _process_call_sid


def current_trace_id() -> str | None:
    """The trace of the call a line is about: bound with it, else the current span's
    (an orchestrator or budget request runs inside its span). None when not traced."""
    bound = CALL_TRACE_ID.get() or _process_trace_id
    if bound is not None or not tracing.enabled():
        return bound
    return tracing.span_trace_id(otel_trace.get_current_span())


class CallSidFilter(logging.Filter):
    """Adds `call_sid` and `trace_id` to a record logged about a call (ones given with
    `extra` stay)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "call_sid", None) is None:
            call_sid = current_call_sid()
            if call_sid is not None:
                record.call_sid = call_sid
        if getattr(record, "trace_id", None) is None and getattr(record, "call_sid", None):
            trace_id = current_trace_id()
            if trace_id is not None:
                record.trace_id = trace_id
        return True


class CallSidText(logging.Formatter):
    """Serve's text formatter with ` call_sid=...` (and ` trace_id=...`) after the
    message's first line (Serve's `ServeFormatter` prints no extra fields)."""

    def __init__(self, inner: logging.Formatter) -> None:
        super().__init__()
        self.inner = inner

    def format(self, record: logging.LogRecord) -> str:
        text = self.inner.format(record)
        call_sid = getattr(record, "call_sid", None)
        if call_sid is None:
            return text
        first, newline, rest = text.partition("\n")
        trace_id = getattr(record, "trace_id", None)
        traced = f" trace_id={trace_id}" if trace_id is not None else ""
        return f"{first} call_sid={call_sid}{traced}{newline}{rest}"


@dataclass(frozen=True)
class LogFormat:
    """How a process encodes its lines: Serve's `logging_config` of a deployment."""

    encoding: str = "TEXT"  # TEXT | JSON
    additional_log_standard_attrs: tuple[str, ...] = ()


# Shared


def _set_levels(level: str) -> None:
    for name in STDLIB_LOGGERS:
        logging.getLogger(name).setLevel(level)
    quietest = max(logging.getLevelName(level), logging.INFO)
    for name in FRAME_LOGGERS:
        logging.getLogger(name).setLevel(quietest)


def _loguru_to_logging(message: Message) -> None:
    """A loguru sink: the line as a stdlib record of the same logger name, level, place
    and exception, so it is filtered, encoded and routed like all the others."""
    entry = message.record
    name = entry["name"] or "loguru"
    target = logging.getLogger(name)
    exception = entry["exception"]
    record = target.makeRecord(
        name,
        entry["level"].no,
        entry["file"].path,
        entry["line"],
        entry["message"],
        (),
        (exception.type, exception.value, exception.traceback) if exception else None,
        func=entry["function"],
    )
    record.levelname = entry["level"].name
    # Already filtered by loguru at the configured level: handle it whatever the level of
    # the stdlib logger of that name.
    target.handle(record)


def _route_loguru(level: str) -> None:
    loguru_logger.remove()  # the default handler, or the one a previous call added
    loguru_logger.add(_loguru_to_logging, level=level, format="{message}")


# Serve replicas


class _ToServeLogger(logging.Handler):
    """On the root logger: hands a record to Serve's logger, whose handlers write this
    replica's log. Only to its own handlers: should Serve's logger propagate to the root
    logger, `Logger.handle` would bring the record back here."""

    def emit(self, record: logging.LogRecord) -> None:
        serve_logger = logging.getLogger(SERVE_LOGGER)
        if serve_logger.propagate or not serve_logger.filter(record):
            return
        for handler in serve_logger.handlers:
            if record.levelno >= handler.level:
                handler.handle(record)


class _ServeCallSidFilter(CallSidFilter):
    """`CallSidFilter` on Serve's logger; also makes its text handlers print the CallSid,
    again after Serve replaces them (a changed `logging_config` does)."""

    def __init__(self) -> None:
        super().__init__()
        self._handlers: list[logging.Handler] = []

    def filter(self, record: logging.LogRecord) -> bool:
        serve_logger = logging.getLogger(SERVE_LOGGER)
        if serve_logger.handlers != self._handlers:
            _show_call_sid_in_text(serve_logger)
            self._handlers = list(serve_logger.handlers)
        return super().filter(record)


def _show_call_sid_in_text(serve_logger: logging.Logger) -> None:
    for handler in serve_logger.handlers:
        if isinstance(handler, logging.handlers.MemoryHandler) and handler.target is not None:
            handler = handler.target
        formatter = handler.formatter
        if formatter is not None and not isinstance(formatter, JSONFormatter | CallSidText):
            handler.setFormatter(CallSidText(formatter))


def setup_replica_logging(level: str) -> None:
    """In a Serve replica: our loggers at `level`, and everything that reaches the root
    logger (our modules', Pipecat's via loguru, libraries' warnings) written by Serve's
    logger, with the CallSid where a line is about a call."""
    _set_levels(level)
    _route_loguru(level)
    serve_logger = logging.getLogger(SERVE_LOGGER)
    if not any(isinstance(h, logging.handlers.MemoryHandler) for h in serve_logger.handlers):
        return  # not a replica (a deployment class built in a test): no Serve log to join
    if not any(isinstance(f, _ServeCallSidFilter) for f in serve_logger.filters):
        serve_logger.addFilter(_ServeCallSidFilter())
    root = logging.getLogger()
    if not any(isinstance(h, _ToServeLogger) for h in root.handlers):
        root.addHandler(_ToServeLogger())
    logging.captureWarnings(True)  # Python's warnings as records, not bare text


def replica_log_format() -> LogFormat:
    """This replica's `logging_config` (the defaults outside a replica)."""
    from ray import serve
    from ray.serve.exceptions import RayServeException
    from ray.serve.schema import LoggingConfig

    try:
        config = serve.get_replica_context()._deployment_config.logging_config
    except RayServeException:
        return LogFormat()
    if isinstance(config, dict):
        config = LoggingConfig(**config)
    if config is None:
        return LogFormat()
    return LogFormat(str(config.encoding), tuple(config.additional_log_standard_attrs))


# Session actors


class _SessionHandler(logging.StreamHandler):
    """The one handler of a session actor's process (marked, so it is set up once)."""


class _HandTo(logging.Filter):
    """On a logger: hands each record to `handler` instead of the logger's own."""

    def __init__(self, handler: logging.Handler) -> None:
        super().__init__()
        self.handler = handler

    def filter(self, record: logging.LogRecord) -> bool:
        self.handler.handle(record)
        return False


def setup_session_logging(level: str, log_format: LogFormat | None = None) -> None:
    """In a session actor: what Ray Core's `LoggingConfig` sets up for a job's workers
    (its formatter and context filter on the root and "ray" loggers, to stderr), plus
    the CallSid, and Pipecat's loguru through it."""
    log_format = log_format or LogFormat()
    formatter = JSONFormatter() if log_format.encoding == "JSON" else TextFormatter()
    formatter.set_additional_log_standard_attrs(list(log_format.additional_log_standard_attrs))
    handler = _SessionHandler(sys.stderr)
    handler.setFormatter(formatter)
    handler.addFilter(CoreContextFilter())
    handler.addFilter(CallSidFilter())
    root, ray_logger = logging.getLogger(), logging.getLogger("ray")
    for old in [h for h in root.handlers if isinstance(h, _SessionHandler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # As Ray's own set-up does: Ray's plain handler goes, its lines come through ours.
    ray_logger.handlers.clear()
    ray_logger.addHandler(handler)
    ray_logger.propagate = False
    # Serve's handle code in this process logs to `ray.serve`, which has a text handler
    # of its own, set up again when the first handle is used; a filter stays.
    serve_logger = logging.getLogger(SERVE_LOGGER)
    for old in [f for f in serve_logger.filters if isinstance(f, _HandTo)]:
        serve_logger.removeFilter(old)
    serve_logger.addFilter(_HandTo(handler))
    _set_levels(level)
    _route_loguru(level)
    logging.captureWarnings(True)  # Python's warnings as records, not bare text

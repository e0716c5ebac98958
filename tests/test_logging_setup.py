"""Logs in every process: the monitoring log level reaches Pipecat's loguru and our
stdlib loggers, lines about a call carry its CallSid, and JSON lines parse — in a
session actor's set-up (Ray Core's formatters on stderr) and in a Serve replica's
(Serve's own component logger, configured here exactly as a replica configures it)."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from loguru import logger as loguru_logger
from ray.serve._private.common import ServeComponentType
from ray.serve._private.logging_utils import configure_component_logger
from ray.serve.schema import LoggingConfig

from switchboard.logging_setup import (
    SERVE_LOGGER,
    STDLIB_LOGGERS,
    LogFormat,
    bind_call,
    bind_process_call,
    call_context,
    setup_replica_logging,
    setup_session_logging,
)

JSON_FORMAT = LogFormat("JSON", ("name",))


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    names = ["", "ray", SERVE_LOGGER, *STDLIB_LOGGERS]
    saved = {
        name: (logger.level, list(logger.handlers), list(logger.filters), logger.propagate)
        for name in names
        if (logger := logging.getLogger(name))
    }
    yield
    for name, (level, handlers, filters, propagate) in saved.items():
        logger = logging.getLogger(name)
        logger.setLevel(level)
        logger.handlers[:] = handlers
        logger.filters[:] = filters
        logger.propagate = propagate
    bind_process_call(None)
    logging.captureWarnings(False)
    loguru_logger.remove()
    loguru_logger.add(sys.stderr)


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


# A session actor's process


def test_a_line_logged_in_a_call_carries_its_call_sid_as_json(
    capsys: pytest.CaptureFixture[str],
) -> None:
    setup_session_logging("INFO", JSON_FORMAT)
    logger = logging.getLogger("ray")
    logger.info("warm")
    with call_context("CA0001"):
        logger.info("took call")
        logging.getLogger("graph.workflow.orchestrator").warning("turn failed")
    lines = json_lines(capsys.readouterr().err)
    assert [(line["message"], line.get("call_sid")) for line in lines] == [
        ("warm", None),
        ("took call", "CA0001"),
        ("turn failed", "CA0001"),
    ]
    assert lines[2]["levelname"] == "WARNING" and lines[2]["name"] == "graph.workflow.orchestrator"


def test_pipecat_lines_go_out_as_json_at_the_configured_level(
    capsys: pytest.CaptureFixture[str],
) -> None:
    setup_session_logging("INFO", JSON_FORMAT)
    bind_process_call("CA0002")
    loguru_logger.debug("Linking call-input -> ConversationProcessor")
    loguru_logger.info("PipelineWorker#0: started")
    try:
        raise ValueError("no audio")
    except ValueError:
        loguru_logger.exception("pipeline failed")
    lines = json_lines(capsys.readouterr().err)
    assert [line["message"] for line in lines] == ["PipelineWorker#0: started", "pipeline failed"]
    assert all(line["call_sid"] == "CA0002" for line in lines)
    assert lines[0]["name"] == __name__  # loguru's logger name: the module that logged
    assert lines[1]["levelname"] == "ERROR" and "ValueError: no audio" in lines[1]["exc_text"]


def test_text_lines_carry_the_call_sid_too(capsys: pytest.CaptureFixture[str]) -> None:
    setup_session_logging("INFO", LogFormat("TEXT"))
    with call_context("CA0003"):
        logging.getLogger("ray").info("took call")
    (line,) = capsys.readouterr().err.splitlines()
    assert "took call" in line and "call_sid=CA0003" in line


async def test_tasks_started_in_a_call_inherit_it_and_others_do_not(
    capsys: pytest.CaptureFixture[str],
) -> None:
    setup_session_logging("INFO", JSON_FORMAT)
    logger = logging.getLogger("ray")

    async def turn(call_sid: str) -> None:
        await asyncio.sleep(0)
        logger.info(f"turn of {call_sid}")

    async def serve(call_sid: str) -> None:
        bind_call(call_sid)
        await asyncio.create_task(turn(call_sid))

    await asyncio.gather(serve("CA0004"), serve("CA0005"))
    logger.info("between calls")
    lines = {line["message"]: line.get("call_sid") for line in json_lines(capsys.readouterr().err)}
    assert lines == {"turn of CA0004": "CA0004", "turn of CA0005": "CA0005", "between calls": None}


def test_warning_silences_info_in_both_logging_systems(
    capsys: pytest.CaptureFixture[str],
) -> None:
    setup_session_logging("WARNING", JSON_FORMAT)
    loguru_logger.info("pipeline started")
    loguru_logger.warning("stream idle")
    logging.getLogger("ray").info("took call")
    assert [line["message"] for line in json_lines(capsys.readouterr().err)] == ["stream idle"]
    assert not logging.getLogger("actors.session").isEnabledFor(logging.INFO)
    assert logging.getLogger("actors.session").isEnabledFor(logging.WARNING)


def test_debug_leaves_out_websocket_frame_lines(capsys: pytest.CaptureFixture[str]) -> None:
    # The websockets library logs each frame at DEBUG, with its connection object as an
    # argument: one line per 20 ms of audio, which the JSON format cannot encode.
    setup_session_logging("DEBUG", JSON_FORMAT)
    logging.getLogger("websockets.client").debug("> BINARY %s", object())
    logging.getLogger("actors.session").debug("turn ended")
    assert [line["message"] for line in json_lines(capsys.readouterr().err)] == ["turn ended"]


def test_serve_handle_lines_in_a_session_actor_go_out_as_json(
    capsys: pytest.CaptureFixture[str],
) -> None:
    setup_session_logging("INFO", JSON_FORMAT)
    bind_process_call("CA0008")
    logging.getLogger(SERVE_LOGGER).warning("deployment Orchestrator unavailable")
    (line,) = json_lines(capsys.readouterr().err)
    assert line["name"] == SERVE_LOGGER and line["call_sid"] == "CA0008"


def test_setting_up_twice_leaves_one_handler(capsys: pytest.CaptureFixture[str]) -> None:
    setup_session_logging("INFO", JSON_FORMAT)
    setup_session_logging("INFO", JSON_FORMAT)
    loguru_logger.info("once")
    logging.getLogger("graph").info("once")
    assert capsys.readouterr().err.count('"once"') == 2


# A Serve replica's process


def serve_replica_logger(logs_dir: Path, encoding: str) -> Path:
    """Serve's logger as a replica of `Orchestrator` has it; its log file."""
    configure_component_logger(
        component_type=ServeComponentType.REPLICA,
        component_name="Orchestrator",
        component_id="abc123",
        logging_config=LoggingConfig(
            encoding=encoding, logs_dir=str(logs_dir), additional_log_standard_attrs=["name"]
        ),
        max_bytes=1 << 20,
        backup_count=1,
    )
    (path,) = logs_dir.glob("replica_*.log")
    return path


def test_a_replica_writes_every_line_about_a_call_to_its_json_log(tmp_path: Path) -> None:
    log_file = serve_replica_logger(tmp_path, "JSON")
    setup_replica_logging("INFO")
    logging.getLogger(SERVE_LOGGER).info("replica up")
    with call_context("CA0006"):
        logging.getLogger(SERVE_LOGGER).info("call CA0006 closed")
        logging.getLogger("graph.workflow.orchestrator").info("turn 2 replayed")
        loguru_logger.warning("session pool empty")
    lines = json_lines(log_file.read_text())
    by_message = {line["message"]: line for line in lines}
    assert "call_sid" not in by_message["replica up"]
    for message, name in [
        ("call CA0006 closed", SERVE_LOGGER),
        ("turn 2 replayed", "graph.workflow.orchestrator"),
        ("session pool empty", __name__),
    ]:
        line = by_message[message]
        assert line["call_sid"] == "CA0006" and line["name"] == name
        assert line["deployment"] == "Orchestrator" and line["replica"] == "abc123"
    assert by_message["session pool empty"]["levelname"] == "WARNING"


def test_a_replicas_text_log_carries_the_call_sid(tmp_path: Path) -> None:
    log_file = serve_replica_logger(tmp_path, "TEXT")
    setup_replica_logging("INFO")
    with call_context("CA0007"):
        logging.getLogger("graph.workflow.orchestrator").info("turn 2 replayed")
    (line,) = [line for line in log_file.read_text().splitlines() if "turn 2" in line]
    assert line.endswith("turn 2 replayed call_sid=CA0007")


def test_a_deployment_built_outside_a_replica_reroutes_nothing() -> None:
    root = logging.getLogger()
    handlers = list(root.handlers)
    setup_replica_logging("INFO")  # Serve's logger here is its default one, to stderr
    assert root.handlers == handlers


def test_a_serve_logger_that_propagates_does_not_loop(tmp_path: Path) -> None:
    log_file = serve_replica_logger(tmp_path, "JSON")
    setup_replica_logging("INFO")
    logging.getLogger(SERVE_LOGGER).propagate = True
    logging.getLogger("graph.workflow.orchestrator").warning("written once, by the root's handlers")
    logging.getLogger(SERVE_LOGGER).warning("written once, by Serve's")
    assert [line["message"] for line in json_lines(log_file.read_text())] == [
        "written once, by Serve's"
    ]

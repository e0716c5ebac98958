"""The monitoring log level reaches Pipecat's loguru and our stdlib loggers."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator

import pytest
from loguru import logger as loguru_logger

from switchboard.log_level import STDLIB_LOGGERS, apply_log_level


@pytest.fixture
def restore_logging() -> Iterator[None]:
    levels = {name: logging.getLogger(name).level for name in STDLIB_LOGGERS}
    yield
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)
    loguru_logger.remove()
    loguru_logger.add(sys.stderr)


def test_pipecat_debug_lines_are_dropped_at_info(
    restore_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    apply_log_level("INFO")
    loguru_logger.debug("Linking call-input -> ConversationProcessor")
    loguru_logger.info("call answered")
    err = capsys.readouterr().err
    assert "Linking" not in err
    assert "call answered" in err


def test_warning_silences_info_in_both_logging_systems(
    restore_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    apply_log_level("WARNING")
    loguru_logger.info("pipeline started")
    loguru_logger.warning("stream idle")
    err = capsys.readouterr().err
    assert "pipeline started" not in err
    assert "stream idle" in err
    assert not logging.getLogger("ray").isEnabledFor(logging.INFO)
    assert not logging.getLogger("actors.session").isEnabledFor(logging.INFO)
    assert logging.getLogger("actors.session").isEnabledFor(logging.WARNING)


def test_applying_twice_leaves_one_handler(
    restore_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    apply_log_level("INFO")
    apply_log_level("INFO")
    loguru_logger.info("once")
    assert capsys.readouterr().err.count("once") == 1

"""One log level for every process of a call: stdlib logging and Pipecat's loguru.

Ray workers start with loguru's default handler at DEBUG, so a session actor would log
every frame processor link of every call. Each Serve replica and session actor applies
`monitoring.log_level` when it starts.
"""

from __future__ import annotations

import logging
import sys

from loguru import logger as loguru_logger

# Our modules log through these stdlib loggers (Ray forwards "ray" to the driver's log).
STDLIB_LOGGERS = ("ray", "actors", "db", "deployments", "graph", "switchboard")


def apply_log_level(level: str) -> None:
    """Log at `level` ("DEBUG", "INFO", "WARNING", "ERROR") and above in this process."""
    for name in STDLIB_LOGGERS:
        logging.getLogger(name).setLevel(level)
    loguru_logger.remove()  # the default handler, or the one a previous call added
    loguru_logger.add(sys.stderr, level=level)

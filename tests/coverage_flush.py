"""Coverage of the code that runs in Ray workers and `serve` subprocesses.

The fast tier measures subprocesses (`patch = ["subprocess"]` in pyproject.toml), and
coverage loads this module as a plugin in each of them. Ray ends its workers with a
kill that runs no exit handlers, so in a process coverage started at start-up a
daemon thread saves what has been measured every `FLUSH_INTERVAL_S`; `pytest-cov`
combines the files at the end. In the pytest process itself it does nothing.
"""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Any

import coverage

FLUSH_INTERVAL_S = 2.0


def _flush_forever() -> None:
    while True:
        time.sleep(FLUSH_INTERVAL_S)
        started: coverage.Coverage | None = getattr(coverage.process_startup, "coverage", None)
        if started is None:
            continue
        with contextlib.suppress(Exception):  # a failed save is retried at the next tick
            started.save()


def coverage_init(reg: Any, options: dict[str, str]) -> None:
    threading.Thread(target=_flush_forever, name="coverage-flush", daemon=True).start()

"""Where the benchmarks keep what they measured: `load_tests/results/<name>.json`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"


def save_results(name: str, results: Any) -> Path:
    """Write `results` as `<name>.json` (values JSON cannot hold as their text)."""
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(results, indent=2, default=str) + "\n")
    return path

"""The word lists of `graph/understanding/data/`, read once.

A list is a text file of one word or phrase per line, written as
`graph.understanding.text.normalize` writes text; blank lines and lines starting
with `#` are skipped.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

DATA = Path(__file__).with_name("data")


@cache
def word_list(name: str) -> tuple[str, ...]:
    """The entries of `data/<name>.txt`, in the file's order."""
    lines = (DATA / f"{name}.txt").read_text().splitlines()
    return tuple(line.strip() for line in lines if line.strip() and not line.startswith("#"))

"""Amounts said as orders of magnitude: "low six figures", "a five-figure budget",
"tens of thousands", "hundreds of thousands".

Owns reading such phrases over normalised tokens (see `graph.understanding.text`) as a `Number`
at the low end of what they span, as `graph.understanding.budget_reading` reads every range: "six
figures" is 100,000, "mid six figures" 400,000 (the middle third starts there),
"high five figures" 70,000, "tens of thousands" 10,000.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from graph.understanding.numbers import Number

_DIGITS = {"four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
           "4": 4, "5": 5, "6": 6, "7": 7, "8": 8, "9": 9}
# Where in its decade "low", "mid" and "high" start: "mid six figures" is 400,000 on.
_LEVEL = {None: 1, "low": 1, "lower": 1, "mid": 4, "middle": 4, "high": 7, "upper": 7}
_FIGURES = re.compile(
    r"\b(?:(?P<level>low|lower|mid|middle|high|upper) (?:end of (?:the )?)?)?"
    r"(?:(?P<digits>" + "|".join(_DIGITS) + r") figures?)\b"
)
_PLURAL_SCALE = re.compile(
    r"\b(?:(?P<level>low|lower|mid|middle|high|upper) )?(?:the )?(?P<many>tens|hundreds) of "
    r"(?P<scale>thousands|millions)\b"
)
_SCALE = {"thousands": 1e3, "millions": 1e6}


def _token_span(text: str, match: re.Match[str]) -> tuple[int, int]:
    start = len(text[:match.start()].split())
    return start, start + len(match.group(0).split())


def find_magnitudes(tokens: Sequence[str]) -> list[Number]:
    """Every order-of-magnitude amount in tokens, left to right."""
    text = " ".join(tokens)
    found: list[Number] = []
    for match in _FIGURES.finditer(text):
        size = 10.0 ** (_DIGITS[match.group("digits")] - 1)
        start, end = _token_span(text, match)
        found.append(Number(size * _LEVEL[match.group("level")], start, end, scale=size))
    for match in _PLURAL_SCALE.finditer(text):
        size = _SCALE[match.group("scale")] * (10 if match.group("many") == "tens" else 100)
        start, end = _token_span(text, match)
        found.append(Number(size * _LEVEL[match.group("level")], start, end, scale=size))
    return sorted(found, key=lambda number: number.start)

"""Phone numbers as the do-not-call list stores and compares them.

Twilio sends E.164 (`+15551230001`); people type `+1 (555) 123-0001`. Both must hit
the same do-not-call entry, so formatting characters are dropped before storing or
looking a number up. No country is guessed: `5551230001` stays what it is.
"""

from __future__ import annotations

import re

_FORMATTING = re.compile(r"[\s().\-]")


def normalize_number(number: str) -> str:
    """`number` without spaces, dots, dashes or parentheses; raises on an empty one."""
    normalized = _FORMATTING.sub("", number)
    if not normalized:
        raise ValueError(f"not a phone number: {number!r}")
    return normalized

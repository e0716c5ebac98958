"""Phrases a mangled recognition still comes close to, letter for letter.

An 8 kHz line can leave none of an opt-out's words intact while keeping most of its
sounds: "do not call us again" heard as "look it's all up again". English spelling
follows sound closely enough over a short phrase that the letters keep what the words
lost ("...allupagain" against "callusagain": two edits). This module owns that near
match: the fewest edits that turn a phrase's letters into any stretch of a line's
letters (Sellers's approximate substring match), as a share of the phrase's length.
What it finds is only ever a reason to ask (`graph.understanding.caller_line`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

#: The largest share of a phrase's letters that may differ. Over the 93,000 sentences
#: of the recogniser's caller grammar and every line of the scenarios, no line that
#: was not an opt-out came within 0.22 of an opt-out remnant; the two mangled
#: opt-outs of `load_tests/bench_recognition` came within 0.18 and 0.21.
MAX_EDIT_SHARE = 0.22

_NOT_LETTERS = re.compile(r"[^a-z]")


def edit_share(line: str, phrase: str) -> float:
    """The fewest edits turning `phrase` into some stretch of `line`, over the phrase's
    length; letters only, so word boundaries the recogniser moved cost nothing."""
    text, wanted = _NOT_LETTERS.sub("", line), _NOT_LETTERS.sub("", phrase)
    if not wanted:
        return 1.0
    return _fewest_edits(text, wanted) / len(wanted)


def _fewest_edits(text: str, wanted: str) -> int:
    # row[j]: fewest edits to match the phrase so far ending at text[j]; a match may
    # start anywhere, so the first row is all zeros.
    row = [0] * (len(text) + 1)
    for i, letter in enumerate(wanted, 1):
        previous, row[0] = row[0], i
        for j, other in enumerate(text, 1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1,
                                           previous + (letter != other))
    return min(row)


def near_phrase(line: str, phrases: Iterable[str],
                max_share: float = MAX_EDIT_SHARE) -> str | None:
    """The first of `phrases` that `line` (normalised text) comes within `max_share`
    of, or None."""
    text = _NOT_LETTERS.sub("", line)
    for phrase in phrases:
        wanted = _NOT_LETTERS.sub("", phrase)
        edits = int(max_share * len(wanted))
        # Cut into edits + 1 pieces, a phrase matched with that many edits keeps one
        # piece whole: a line holding none of them is not near it (and the full match,
        # ~1 ms a phrase in Python, is skipped).
        size = len(wanted) // (edits + 1)
        pieces = [wanted[k * size:(k + 1) * size if k < edits else None]
                  for k in range(edits + 1)]
        if wanted and any(piece in text for piece in pieces) and (
                _fewest_edits(text, wanted) <= edits):
            return phrase
    return None

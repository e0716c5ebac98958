"""The near match of a phrase in a mangled line (graph/understanding/near_phrases.py)."""

from __future__ import annotations

import random

import pytest

from graph.understanding.near_phrases import MAX_EDIT_SHARE, edit_share, near_phrase


@pytest.mark.parametrize(
    ("line", "phrase", "edits"),
    [
        ("please do not call us again", "call us again", 0),
        ("callus again", "call us again", 0),  # the recogniser moved a word boundary
        ("look its all up again thank you", "call us again", 2),  # a "c" lost, "s" as "p"
        ("leave a callback number again", "call this number again", 4),
        ("we call them again", "call me again", 3),
    ],
)
def test_a_phrases_distance_is_its_fewest_edits_to_any_stretch_of_the_line(
        line: str, phrase: str, edits: int) -> None:
    letters = len(phrase.replace(" ", ""))
    assert edit_share(line, phrase) == pytest.approx(edits / letters)


def _levenshtein(a: str, b: str) -> int:
    row = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        previous, row[0] = row[0], i
        for j, y in enumerate(b, 1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (x != y))
    return row[-1]


def test_the_distance_is_the_least_over_every_stretch_of_the_line() -> None:
    rng = random.Random(3)
    for _ in range(300):
        line = "".join(rng.choice("abc") for _ in range(rng.randint(0, 12)))
        phrase = "".join(rng.choice("abc") for _ in range(rng.randint(1, 6)))
        stretches = {line[i:j] for i in range(len(line) + 1) for j in range(i, len(line) + 1)}
        fewest = min(_levenshtein(phrase, stretch) for stretch in stretches)
        assert edit_share(line, phrase) == pytest.approx(fewest / len(phrase)), (line, phrase)


def test_a_line_comes_near_the_first_phrase_within_the_share_and_no_other() -> None:
    phrases = ["stop calling me", "call us again", "call me again"]
    assert near_phrase("look its all up again thank you", phrases) == "call us again"
    assert near_phrase("we'd have to start all over again", phrases) is None
    assert near_phrase("", phrases) is None


def test_skipping_phrases_none_of_whose_pieces_the_line_holds_loses_no_near_match() -> None:
    # Lines and phrases of three letters, so near matches are common: the shortcut must
    # agree with the full match on every one.
    rng = random.Random(10)
    found = 0
    for _ in range(3000):
        line = "".join(rng.choice("abc ") for _ in range(rng.randint(0, 30)))
        phrase = "".join(rng.choice("abc") for _ in range(rng.randint(5, 14)))
        near = edit_share(line, phrase) <= MAX_EDIT_SHARE
        assert (near_phrase(line, [phrase]) is not None) == near, (line, phrase)
        found += near
    assert found > 100  # the check saw both answers

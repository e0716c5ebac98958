"""What callers say to a qualification agent: the general half of the STT corpus.

The language model that steers PocketSphinx is trained on two things: the
workflow's own prompts (passed in by the caller of `language_model`) and the
answers generated here — amounts of money, roles and who decides, timelines and
meeting times, yes/no and fillers, opt-outs, asking for a person, greetings,
needs, and the greetings of answering machines.

The answers come from a small grammar: a rule is a list of alternatives, an
alternative may name other rules as `{rule}`, and sentences are sampled from
the top-level rules with a fixed seed (so the corpus, and the cache key of the
model built from it, is stable). Every phrase of the big closed classes —
amounts, durations, deadlines, days, clock times, titles, opt-outs — is also
emitted once on its own, so each of their n-grams is seen at least once.

The grammar is data, in `actors/speech/data/`: `caller_grammar.yaml` holds the
rules, the top-level frames with their sample counts and the classes emitted in
full; `closed_classes.yaml` and `first_names.txt` the words the closed classes
are made of. This module reads them once, on import (`load_grammar`), refuses a
`{rule}` that names no rule, and computes the combinations of the closed
classes, which are too many to list.

The answers that decide a call are generated as combinations rather than
listed: a timeline is a lead-in ("within", "in about", "in the next") × a count
or a range ("two to three", "a couple of") × a unit × a tail ("from now",
"or so"), behind frames of intent ("we'd like to go live ..."); who decides is
a decision ("the final call") × an owner ("mine", "up to me"), or "I" × a
verb of deciding; an opt-out is a refusal × a contact verb × whom × "again".
Measured with `load_tests/bench_recognition.py` on phrasings of our own at
8 kHz, this took the timelines read right from 23 to 25 of 30 and the word
error rate of timeline answers from 34 % to 17 % (on top of the dictionary's
phone-band forms, `pronounce.narrowband_variants`).

The phrasings are the generic ones a sales line hears; none is taken from the
test scenarios (DESIGN.md: nothing in the product may be built from them).
Sampling proves little about what a grammar can say, so `actors.speech.derivation`
parses a sentence against every frame and choice of alternatives, and a test holds
that no public scenario line of four words or more can be generated word for word
(version 4 rewrote the frames that could: 17 of the 28 such lines).
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from graph.understanding.numbers import number_to_words

#: Bump when the grammar changes in a way the cache key would not see.
CORPUS_VERSION = 4

#: The packaged grammar and word lists (see the header of each file).
DATA = Path(__file__).with_name("data")
GRAMMAR_FILE = "caller_grammar.yaml"
WORDS_FILE = "closed_classes.yaml"
NAMES_FILE = "first_names.txt"
#: What the general answers are generated from besides this module: a cache of
#: anything built from them must hash these too.
DATA_FILES = tuple(DATA / name for name in (GRAMMAR_FILE, WORDS_FILE, NAMES_FILE))

_REF = re.compile(r"\{(\w+)\}")

# ---------------------------------------------------------------------------
# Reading the data files
# ---------------------------------------------------------------------------


class _UniqueKeyLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """Safe YAML that refuses a key given twice, which plain YAML lets the last one win:
    a rule pasted in twice would silently lose its first half."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise ValueError(
                    f"{node.start_mark.name}: {key!r} is given twice, "
                    f"the second time at line {key_node.start_mark.line + 1}"
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _read_yaml(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as stream:
        data = yaml.load(stream, Loader=_UniqueKeyLoader)
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping at the top")
    return data


def _strings(value: object, what: str, path: Path) -> list[str]:
    # Unquoted, YAML turns `no` into False and `2` into an int: refuse rather than
    # train the recogniser on "False".
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValueError(f"{path}: {what} must be a list of quoted strings, not {value!r}")
    return value


def _read_lines(path: Path) -> list[str]:
    """One entry a line; blank lines and lines starting with `#` are skipped."""
    lines = (line.strip() for line in path.read_text(encoding="utf-8").splitlines())
    return [line for line in lines if line and not line.startswith("#")]


class _WordLists(dict[str, list[str]]):
    """One closed class's word lists; a list the file lacks is named with the file."""

    def __init__(self, lists: Mapping[str, list[str]], where: str) -> None:
        super().__init__(lists)
        self.where = where

    def __missing__(self, key: str) -> list[str]:
        raise ValueError(f"{self.where} has no word list {key!r}")


def _read_words(path: Path) -> dict[str, _WordLists]:
    classes: dict[str, _WordLists] = {}
    for name, lists in _read_yaml(path).items():
        if not isinstance(lists, dict):
            raise ValueError(f"{path}: {name!r} must map list names to lists of words")
        where = f"{path}: {name}"
        classes[name] = _WordLists(
            {key: _strings(words, f"{name}.{key}", path) for key, words in lists.items()}, where
        )
    return classes


@dataclass(frozen=True)
class Grammar:
    """The answer grammar, its closed classes computed."""

    #: rule name -> alternatives, in order (sampling with a fixed seed depends on it)
    rules: dict[str, list[str]]
    #: (frame, samples): sentences are drawn from these top-level frames
    top: list[tuple[str, int]]
    #: rules emitted in full once each (see the module docstring)
    enumerated: tuple[str, ...]


def load_grammar(folder: Path = DATA) -> Grammar:
    """The grammar in `folder` (by default the packaged one), checked.

    Raises `ValueError`, naming the file and the rule, when a rule, frame or
    enumerated class names a rule that does not exist, when a written rule takes a
    computed class's name, or when a list holds anything but quoted strings.
    """
    path = folder / GRAMMAR_FILE
    words = _read_words(folder / WORDS_FILE)

    def word_lists(name: str) -> _WordLists:
        if name not in words:
            raise ValueError(f"{folder / WORDS_FILE}: no word lists for {{{name}}}")
        return words[name]

    rules: dict[str, list[str]] = {
        "name": _read_lines(folder / NAMES_FILE),
        "title": _titles(word_lists("title")),
        "dept": word_lists("title")["departments"],
        "amount": _amounts(word_lists("amount")),
        "duration": _durations(word_lists("duration")),
        "deadline": _deadlines(word_lists("deadline")),
        "clock": _clock_times(word_lists("clock")),
        "day": _days(word_lists("day")),
    }
    data = _read_yaml(path)
    written = data.get("rules")
    if not isinstance(written, dict):
        raise ValueError(f"{path}: expected `rules:`, a mapping of rule name -> alternatives")
    for name, alternatives in written.items():
        if not isinstance(name, str):
            raise ValueError(
                f"{path}: rule name {name!r} must be a quoted string "
                "(YAML reads a bare yes or no as true or false)"
            )
        if name in rules:
            raise ValueError(f"{path}: rule {name!r} is a closed class computed in {__name__}")
        rules[name] = _strings(alternatives, f"rule {name!r}", path)

    def check(text: str, where: str) -> None:
        for ref in _REF.findall(text):
            if ref not in rules:
                raise ValueError(f"{path}: {where} names {{{ref}}}, which is no rule")

    for name in written:
        for alternative in rules[name]:
            check(alternative, f"rule {name!r}")
    top: list[tuple[str, int]] = []
    for entry in data.get("top") or []:
        match entry:
            case [str() as frame, int() as samples] if not isinstance(samples, bool):
                check(frame, f"top frame {frame!r}")
                top.append((frame, samples))
            case _:
                raise ValueError(f"{path}: a `top:` entry must be [frame, samples], not {entry!r}")
    enumerated = tuple(_strings(data.get("enumerated") or [], "`enumerated:`", path))
    for name in enumerated:
        check(f"{{{name}}}", "`enumerated:`")
    return Grammar(rules=rules, top=top, enumerated=enumerated)


# ---------------------------------------------------------------------------
# Closed classes, generated
# ---------------------------------------------------------------------------


def _titles(words: Mapping[str, list[str]]) -> list[str]:
    titles = list(words["plain"])
    for dept in words["departments"]:
        for level in words["levels_of"]:
            titles.append(f"{level} of {dept}")
        for level in words["levels_after"]:
            titles.append(f"{dept} {level}")
    return titles


def _amounts(words: Mapping[str, list[str]]) -> list[str]:
    """Money as said on the phone: "fifty thousand", "a hundred and twenty k", ..."""
    phrases: list[str] = []
    for n in range(1, 1000):
        spellings = [number_to_words(n), number_to_words(n, and_after_hundred=True)]
        for said in dict.fromkeys(spellings):
            phrases += [f"{said} thousand", f"{said} thousand dollars"]
            if n % 5 == 0 or n < 30:
                phrases += [f"{said} k", f"{said} grand"]
        if 100 <= n < 200:
            rest = number_to_words(n, and_after_hundred=True).removeprefix("one hundred")
            phrases += [f"a hundred{rest} thousand", f"a hundred{rest} thousand dollars"]
    for n in range(1, 100):
        said = number_to_words(n)
        phrases += [
            f"{said} hundred dollars",
            f"{said} hundred",
            f"{said} dollars",
            f"{said} million",
            f"{said} million dollars",
        ]
    for n in range(1, 10):
        for d in range(1, 10):
            phrases.append(f"{number_to_words(n)} point {number_to_words(d)} million")
    return phrases + words["idioms"]


def _durations(words: Mapping[str, list[str]]) -> list[str]:
    """How long until something happens: "within three months", "next quarter", ..."""
    phrases: list[str] = []
    singular = words["singular_counts"]
    counts = [
        *singular,
        *words["plural_counts"],
        *(number_to_words(n) for n in (*range(2, 13), 18, 24)),
    ]
    for count in counts:
        for unit in words["units"]:
            unit_word = unit[:-1] if count in singular else unit
            for lead in words["leads"]:
                phrases.append(f"{lead} {count} {unit_word}")
            phrases += [f"{count} {unit_word} from now", f"{count} {unit_word} or so"]
            if count not in singular:
                # "in the next few months", not "in the next a few months"
                bare = count.removeprefix("a ")
                phrases += [f"in the next {bare} {unit_word}", f"over the next {bare} {unit_word}"]
    for when in words["periods"]:
        phrases += [
            f"this {when}",
            f"next {when}",
            f"by the end of the {when}",
            f"by the end of next {when}",
            f"later this {when}",
            f"early next {when}",
            f"sometime next {when}",
            f"not before next {when}",
            f"not until next {when}",
            f"not this {when}",
            f"at the start of next {when}",
        ]
    phrases += words["phrases"]
    for month in words["months"]:
        phrases += [
            f"in {month}",
            f"by {month}",
            f"before {month}",
            f"starting in {month}",
            f"not until {month}",
        ]
    return phrases


_COUNTS_SAID = [number_to_words(n) for n in range(1, 13)]


def _deadlines(words: Mapping[str, list[str]]) -> list[str]:
    """The forward-looking durations a timeline answer is made of.

    "within three months", "in about six weeks", "in the next two to three months",
    "two or three months from now", "a month or two": every count of weeks and
    months a caller names, behind every lead-in that makes it a deadline, and the
    ranges callers give as often as single numbers. `_durations` has the rest
    (days, years, past and vague forms); this list is sampled on its own so the
    frames of a timeline answer put their weight on these.
    """
    phrases: list[str] = []
    neighbours = list(zip(_COUNTS_SAID, _COUNTS_SAID[1:], strict=False))
    amounts = [
        *_COUNTS_SAID,
        *(f"{a} to {b}" for a, b in neighbours),
        *(f"{a} or {b}" for a, b in neighbours),
        *words["ranges"],
    ]
    for amount in amounts:
        for unit in words["units"]:
            # Only a count of exactly one takes the singular: "two or one" is never said.
            unit_word = unit[:-1] if amount == "one" else unit
            for lead in words["leads"]:
                for tail in words["tails"]:
                    phrases.append(" ".join(f"{lead} {amount} {unit_word} {tail}".split()))
    for unit in words["short_units"]:
        for lead in words["short_leads"]:
            phrases += [f"{lead} a {unit} or two".strip(), f"{lead} a {unit}".strip()]
    for lead in words["span_leads"]:
        phrases += [f"{lead} six months to a year", f"{lead} a year", f"{lead} two years"]
    return phrases


def _clock_times(words: Mapping[str, list[str]]) -> list[str]:
    phrases = list(words["phrases"])
    for hour in (number_to_words(h) for h in range(1, 13)):
        phrases += [
            hour,
            f"{hour} o'clock",
            f"{hour} a m",
            f"{hour} p m",
            f"{hour} am",
            f"{hour} pm",
            f"{hour} thirty",
            f"{hour} fifteen",
            f"{hour} forty five",
            f"half past {hour}",
            f"quarter past {hour}",
            f"quarter to {hour}",
        ]
        for part in words["parts"]:
            phrases += [f"{hour} in the {part}", f"{hour} thirty in the {part}"]
    return phrases


def _days(words: Mapping[str, list[str]]) -> list[str]:
    days = list(words["phrases"])
    for day in words["weekdays"]:
        days += [day, f"next {day}", f"this {day}", f"on {day}", f"this coming {day}"]
        days += [f"{day} {part}" for part in words["parts"]]
    return days


# ---------------------------------------------------------------------------
# The grammar
# ---------------------------------------------------------------------------

_GRAMMAR = load_grammar()

#: rule name -> alternatives; an alternative may name other rules as `{rule}`.
RULES: dict[str, Sequence[str]] = dict(_GRAMMAR.rules)
#: (frame, samples) — sentences are drawn from these top-level frames.
TOP: list[tuple[str, int]] = _GRAMMAR.top
#: Closed classes emitted in full once each (see module docstring).
ENUMERATED: tuple[str, ...] = _GRAMMAR.enumerated
FIRST_NAMES: list[str] = _GRAMMAR.rules["name"]


def _expand(text: str, rng: random.Random, depth: int = 0) -> str:
    if depth > 6:
        raise ValueError(f"grammar recursion too deep at: {text}")
    return _REF.sub(lambda m: _expand(rng.choice(RULES[m.group(1)]), rng, depth + 1), text)


def general_answers(*, seed: int = 7) -> list[str]:
    """Sentences a caller may say to a qualification agent (lower case, spoken words).

    About 80k sentences; generation takes about half a second.
    """
    rng = random.Random(seed)
    sentences: list[str] = []
    for rule in ENUMERATED:
        for phrase in RULES[rule]:
            sentences.append(" ".join(_expand(phrase, rng).split()))
    for frame, samples in TOP:
        for _ in range(samples):
            sentences.append(" ".join(_expand(frame, rng).split()))
    return [s for s in sentences if s]

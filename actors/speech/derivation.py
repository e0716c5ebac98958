"""Can the answer grammar say this sentence, and how?

`actors/speech/corpus.py` samples its sentences from the grammar; a sample of
90k sentences says little about what the grammar *can* say. This module decides
it: a chart parser (recursive descent, memoised on rule × position) over the
grammar's top-level frames and the classes the corpus emits on their own, with
every choice of alternatives, the computed closed classes included. Sentences
are compared as the corpus writes them, split on whitespace (`general_answers`
joins `_expand(frame).split()`), so "" alternatives and double spaces are nothing.

    str(derivation("i run sales so it's my call"))
    # "{role} so {decider}  [role='i run {dept}'; dept='sales'; decider="it's my call"]"

Used by the tests to prove that no public scenario line can be generated word for
word (DESIGN.md: nothing in the product may be built from the scenarios), and by
hand to see where a sentence the recogniser favours comes from:

    .venv/bin/python -m actors.speech.derivation "i'm not interested thanks"
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache

from actors.speech.corpus import ENUMERATED, RULES, TOP

_TOKEN = re.compile(r"\{(\w+)\}|(\S+)")


@dataclass(frozen=True)
class _Ref:
    rule: str


_Item = str | _Ref


def _items(text: str) -> tuple[_Item, ...]:
    """An alternative as words and rule references, in order.

    The corpus splits the expanded sentence on whitespace, so this is exact as long
    as a `{rule}` is not glued to a word ("{name}s"); such an alternative is refused.
    """
    items: list[_Item] = []
    for chunk in text.split():
        refs = list(_TOKEN.finditer(chunk))
        if len(refs) != 1 or refs[0].group(0) != chunk:
            raise ValueError(f"{text!r}: a rule reference glued to other text in {chunk!r}")
        rule, word = refs[0].groups()
        items.append(_Ref(rule) if rule else word)
    return tuple(items)


@dataclass(frozen=True)
class Derivation:
    """How a sentence is generated: the frame, and each rule's chosen alternative in
    the order the sentence says them (depth first)."""

    frame: str
    choices: tuple[tuple[str, str], ...]

    def __str__(self) -> str:
        said = "; ".join(f"{rule}={alternative!r}" for rule, alternative in self.choices)
        return f"{self.frame}  [{said}]"


class GrammarParser:
    """The derivations of word sequences from a grammar (the packaged one unless
    given): from its top-level frames, and from the rules whose every alternative the
    corpus also emits on its own (`enumerated`, tried as the frame "{rule}")."""

    def __init__(
        self,
        rules: Mapping[str, Sequence[str]] = RULES,
        top: Sequence[tuple[str, int]] = TOP,
        enumerated: Sequence[str] = ENUMERATED,
    ) -> None:
        self.frames = [frame for frame, _ in top] + [f"{{{rule}}}" for rule in enumerated]
        self.alternatives: dict[str, list[tuple[str, tuple[_Item, ...]]]] = {
            name: [(alt, _items(alt)) for alt in alts] for name, alts in rules.items()
        }
        # Alternatives by their first word: a closed class has thousands of them
        # (every deadline), most of which cannot start at a given word.
        self._by_first: dict[str, dict[str, list[int]]] = {}
        self._open: dict[str, list[int]] = {}
        for name, alts in self.alternatives.items():
            by_first: dict[str, list[int]] = {}
            rest: list[int] = []
            for index, (_, items) in enumerate(alts):
                if items and isinstance(items[0], str):
                    by_first.setdefault(items[0], []).append(index)
                else:
                    rest.append(index)
            self._by_first[name] = by_first
            self._open[name] = rest
        for frame in self.frames:
            for item in _items(frame):
                if isinstance(item, _Ref) and item.rule not in self.alternatives:
                    raise ValueError(f"top frame {frame!r} names {{{item.rule}}}, which is no rule")

    def derivation(self, sentence: str | Sequence[str]) -> Derivation | None:
        """One derivation of `sentence` (a string, split on whitespace, or its words)
        from a top-level frame, or None when the grammar cannot say it."""
        words = tuple(sentence.split() if isinstance(sentence, str) else sentence)
        parse = _Parse(self, words)
        for frame in self.frames:
            items = _items(frame)
            if len(words) in parse.sequence_ends(items, 0):
                return Derivation(frame, tuple(parse.choices(items, 0, len(words))))
        return None

    def can_say(self, sentence: str | Sequence[str]) -> bool:
        return self.derivation(sentence) is not None


class _Parse:
    """The chart of one sentence."""

    def __init__(self, parser: GrammarParser, words: tuple[str, ...]) -> None:
        self.parser = parser
        self.words = words
        self._active: set[tuple[str, int]] = set()
        # (rule, start) -> {end: index of an alternative that spans start..end}
        self.rule_ends = cache(self._rule_ends)

    def _rule_ends(self, rule: str, start: int) -> dict[int, int]:
        if (rule, start) in self._active:
            raise ValueError(f"rule {rule!r} refers to itself without saying a word")
        self._active.add((rule, start))
        try:
            candidates = list(self.parser._open[rule])
            if start < len(self.words):
                candidates += self.parser._by_first[rule].get(self.words[start], [])
            ends: dict[int, int] = {}
            for index in sorted(candidates):
                _, items = self.parser.alternatives[rule][index]
                for end in self.sequence_ends(items, start):
                    ends.setdefault(end, index)
            return ends
        finally:
            self._active.discard((rule, start))

    def sequence_ends(self, items: tuple[_Item, ...], start: int) -> set[int]:
        positions = {start}
        for item in items:
            following: set[int] = set()
            for position in positions:
                if isinstance(item, _Ref):
                    following.update(self.rule_ends(item.rule, position))
                elif position < len(self.words) and self.words[position] == item:
                    following.add(position + 1)
            positions = following
            if not positions:
                break
        return positions

    def choices(self, items: tuple[_Item, ...], start: int, end: int) -> list[tuple[str, str]]:
        """The alternatives chosen to say words[start:end] with `items` (which can)."""
        if not items:
            assert start == end
            return []
        first, rest = items[0], items[1:]
        if isinstance(first, str):
            return self.choices(rest, start + 1, end)
        for middle, index in sorted(self.rule_ends(first.rule, start).items()):
            if end in self.sequence_ends(rest, middle):
                alternative, inner = self.parser.alternatives[first.rule][index]
                return [
                    (first.rule, alternative),
                    *self.choices(inner, start, middle),
                    *self.choices(rest, middle, end),
                ]
        raise AssertionError("no split for a sequence that ends there")


_PARSER: GrammarParser | None = None


def _parser() -> GrammarParser:
    global _PARSER
    if _PARSER is None:
        _PARSER = GrammarParser()
    return _PARSER


def derivation(sentence: str | Sequence[str]) -> Derivation | None:
    """How the packaged grammar says `sentence` (spoken words), or None if it cannot."""
    return _parser().derivation(sentence)


def can_say(sentence: str | Sequence[str]) -> bool:
    """Whether the packaged grammar can generate `sentence` word for word."""
    return _parser().can_say(sentence)


if __name__ == "__main__":
    from actors.speech.spoken import spoken_words

    for line in sys.argv[1:] or sys.stdin.read().splitlines():
        found = derivation(spoken_words(line))
        print(f"{line}\n    {found or 'cannot be said'}")

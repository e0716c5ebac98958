"""Numbers in speech: spoken number words to values, and values back to words.

Owns the arithmetic of English numerals as people say them on the phone:
"a hundred and twenty thousand", "two point five million", "half a million",
"a quarter of a million", "twenty five hundred", "fifteen grand", "75 k",
"a couple of", "a few". It reads over normalised tokens (see `graph.understanding.text`) and
reports where each number is, so the readers for money and time decide what
the number counts.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from num2words import num2words

UNITS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
    "seven": 7, "eight": 8, "nine": 9,
}
TEENS = {
    "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
    "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19,
}
TENS = {
    "twenty": 20, "thirty": 30, "forty": 40, "fourty": 40, "fifty": 50, "sixty": 60,
    "seventy": 70, "eighty": 80, "ninety": 90,
}
# Big scales multiply everything said before them; "grand" and "k" are how people
# say thousands of dollars.
SCALES = {
    "thousand": 1e3, "thousands": 1e3, "grand": 1e3, "k": 1e3,
    "million": 1e6, "millions": 1e6, "mil": 1e6, "mill": 1e6,
    "billion": 1e9, "billions": 1e9,
}
HUNDREDS = ("hundred", "hundreds")
# Vague quantities: "a couple of thousand", "a few weeks".
VAGUE = {"couple": 2, "few": 3, "several": 4}
FRACTIONS = {"half": 0.5, "quarter": 0.25}
ARTICLES = ("a", "an")
DIGIT_WORDS = {**UNITS, "oh": 0, "o": 0}

_DIGITS = re.compile(r"^\d+(?:\.\d+)?$")
_NUMBER_WORDS = frozenset(
    [*UNITS, *TEENS, *TENS, *SCALES, *HUNDREDS, *VAGUE, *FRACTIONS, "dozen", "point", "and"]
)


@dataclass(frozen=True)
class Number:
    """A number found in a token list: tokens[start:end] say `value`."""

    value: float
    start: int
    end: int
    scale: float = 1.0  # the largest of thousand/million/billion used, 1 when none
    vague: bool = False  # "a couple", "a few": an estimate, not a figure


# A plural noun after a number counts things ("5 users", "three clinics"); these words
# ending in "s" are not nouns of that kind, or name money and scales.
_COUNTED_NOUN = re.compile(
    r"(?!(?:works|suits|sounds|looks|does|is|was|has|this|thanks|please|always|sometimes|"
    r"perhaps|mondays|tuesdays|wednesdays|thursdays|fridays|saturdays|sundays|afternoons|"
    r"mornings|evenings|nights|as|us|yes|its|plus|less|unless|tops|max|dollars|bucks|pounds|"
    r"euros|grands|thousands|hundreds|millions|billions|seems|means|makes|gets|needs|"
    r"includes|covers|goes|says)\b)[a-z]{2,}s\b"
)


def counts_things(word: str) -> bool:
    """Whether `word`, said after a number, is a plural noun the number counts."""
    return _COUNTED_NOUN.fullmatch(word) is not None


def is_number_word(token: str) -> bool:
    return token in _NUMBER_WORDS or bool(_DIGITS.match(token))


class _Reader:
    """Reads one number starting at a token; a small state machine over word kinds."""

    def __init__(self, tokens: Sequence[str], start: int, articles: bool) -> None:
        self.tokens = tokens
        self.start = start
        self.articles = articles
        self.total = 0.0
        self.current = 0.0
        self.last: str | None = None  # kind of the last word consumed
        self.scale = 1.0
        self.vague = False

    def peek(self, offset: int) -> str:
        index = self.pos + offset
        return self.tokens[index] if 0 <= index < len(self.tokens) else ""

    def read(self) -> Number | None:
        self.pos = self.start
        while self.pos < len(self.tokens) and self.step(self.tokens[self.pos]):
            pass
        if self.last == "and":  # a trailing "and" joins the sentence, not the number
            self.pos -= 1
        if self.pos <= self.start:
            return None
        if self.last == "article":
            return Number(1.0, self.start, self.pos) if self.articles else None
        return self.done()

    def done(self) -> Number:
        return Number(self.total + self.current, self.start, self.pos, self.scale, self.vague)

    def consume(self, kind: str, count: int = 1) -> bool:
        self.last = kind
        self.pos += count
        return True

    def step(self, token: str) -> bool:
        """Consume `token` if it continues the number; one branch per kind of word."""
        small = self.last in ("unit", "teen", "ten", "digit", "frac")
        if _DIGITS.match(token):
            if self.last in (None, "and") or (self.last == "scale" and self.current == 0):
                self.current += float(token)
                return self.consume("digit")
            return False
        if token in UNITS:
            if self.last in (None, "ten", "hundred", "scale", "and"):
                if token == "zero" and self.last is not None:
                    return False
                self.current += UNITS[token]
                return self.consume("unit")
            return False
        if token in TEENS or token in TENS:
            if self.last in (None, "hundred", "scale", "and"):
                self.current += TEENS.get(token, TENS.get(token, 0))
                return self.consume("teen" if token in TEENS else "ten")
            return False
        if token in HUNDREDS:
            if token == "hundreds" and self.last not in ("unit", "teen", "ten", "digit"):
                return False
            if self.last in ("unit", "teen", "ten", "digit", "article"):
                self.current = (self.current or 1) * 100
                return self.consume("hundred")
            return False
        if token in SCALES:
            plural_or_slang = token in ("thousands", "millions", "billions", "k", "grand")
            counted = ("unit", "teen", "ten", "digit", "hundred", "frac")
            if plural_or_slang and self.last not in counted and not (
                token == "grand" and self.last == "article"  # "a grand a month"
            ):
                return False
            if small or self.last in ("hundred", "article"):
                size = SCALES[token]
                if self.scale > 1 and size >= self.scale:
                    return False  # "a million thousand" is two numbers, not one
                self.total += (self.current or 1) * size
                self.current = 0
                self.scale = max(self.scale, size)
                return self.consume("scale")
            return False
        if token == "dozen" and (small or self.last == "article"):
            self.current = (self.current or 1) * 12
            return self.consume("unit")
        if token in ARTICLES:
            return self.article()
        if token in FRACTIONS:
            return self.fraction(token)
        if token in VAGUE and self.last in (None, "article"):
            return self.vague_quantity(token)
        if token == "and":
            return self.conjunction()
        if token == "point" and self.last in ("unit", "teen", "ten", "digit"):
            return self.decimals()
        return False

    def article(self) -> bool:
        if self.last is not None:
            return False
        following = self.peek(1)
        if following in ("hundred", "thousand", "million", "billion", "dozen", "grand"):
            self.current = 1
            return self.consume("article")
        if following in FRACTIONS or following in VAGUE:
            return self.consume("article")
        if self.articles and following and not is_number_word(following):
            return self.consume("article")  # "a month": one of them
        return False

    def fraction(self, token: str) -> bool:
        share = FRACTIONS[token]
        # "half a million", "a quarter of a million", "quarter million"
        offset = 1
        if self.peek(offset) == "of":
            offset += 1
        if self.peek(offset) in ARTICLES:
            offset += 1
        following = self.peek(offset)
        if self.last in (None, "article") and (following in SCALES or following == "hundred"):
            size = SCALES.get(following, 100.0)
            self.total += share * size
            self.scale = max(self.scale, size if size >= 1e3 else 1.0)
            self.pos += offset
            return self.consume("scale")
        if token == "half" and self.last in (None, "article") and self.articles and offset > 1:
            self.current += share  # "half a year": the article is part of the number
            self.pos += offset - 1
            return self.consume("frac")
        return False

    def vague_quantity(self, token: str) -> bool:
        following = self.peek(1)
        offset = 2 if following == "of" else 1
        target = self.peek(offset)
        if target in SCALES or target in HUNDREDS or self.articles:
            self.current = VAGUE[token]
            self.vague = True
            self.pos += offset - 1
            return self.consume("unit")
        return False

    def conjunction(self) -> bool:
        following = self.peek(1)
        if self.last in ("hundred", "scale") and (
            following in UNITS or following in TEENS or following in TENS
            or bool(_DIGITS.match(following))
        ):
            return self.consume("and")
        # "one and a half million", "a million and a half"
        if following in ARTICLES and self.peek(2) == "half":
            following_half = 3
        elif following == "half":
            following_half = 2
        else:
            return False
        if self.last in ("unit", "teen", "ten", "digit"):
            self.current += 0.5
            self.pos += following_half - 1
            return self.consume("frac")
        if self.last == "scale":
            last_scale = SCALES.get(self.tokens[self.pos - 1], self.scale)
            self.total += 0.5 * last_scale
            self.pos += following_half - 1
            return self.consume("frac")
        return False

    def decimals(self) -> bool:
        digits = ""
        offset = 1
        while self.peek(offset) in DIGIT_WORDS:
            digits += str(DIGIT_WORDS[self.peek(offset)])
            offset += 1
        if not digits and _DIGITS.match(self.peek(1)) and "." not in self.peek(1):
            digits, offset = self.peek(1), 2
        if not digits:
            return False
        self.current = math.floor(self.current) + float("0." + digits)
        self.pos += offset - 1
        return self.consume("frac")


def find_numbers(tokens: Sequence[str], *, articles: bool = False) -> list[Number]:
    """Every number said in tokens, left to right.

    With `articles`, "a"/"an" and vague words count as quantities of their own
    ("a month", "a few weeks"); without, only before a scale ("a hundred", "a few
    thousand"), so that "a budget" is not the number one.
    """
    found: list[Number] = []
    index = 0
    while index < len(tokens):
        number = _Reader(tokens, index, articles).read()
        if number is not None and number.end > index:
            found.append(number)
            index = number.end
        else:
            index += 1
    return found


def parse_number(text: str) -> float | None:
    """The value of a text that is exactly one number ("a hundred and five"), else None."""
    tokens = text.lower().replace("-", " ").replace(",", "").split()
    numbers = find_numbers(tokens)
    if len(numbers) == 1 and numbers[0].start == 0 and numbers[0].end == len(tokens):
        return numbers[0].value
    return None


def number_to_words(value: float, *, and_after_hundred: bool = False) -> str:
    """Words for a number as it should be spoken: 50000 -> "fifty thousand", 2.5 -> "two
    point five". Every number Switchboard says or models is spelled here, by num2words;
    its commas and hyphens go, and its British "and" unless `and_after_hundred` ("one
    hundred and twenty", as many people also say it)."""
    number: float = int(value) if value == int(value) else round(value, 2)
    return _plain(num2words(number, lang="en"), keep_and=and_after_hundred)


def ordinal_to_words(value: int) -> str:
    """21 -> "twenty first"."""
    return _plain(num2words(value, lang="en", to="ordinal"))


def year_to_words(year: int) -> str:
    """Years as people say them: 2025 -> "twenty twenty five", 1905 -> "nineteen oh five"."""
    return _plain(num2words(year, lang="en", to="year"))


def _plain(words: str, *, keep_and: bool = False) -> str:
    words = words.replace(",", " ").replace("-", " ")
    if not keep_and:
        words = re.sub(r"\band\b", " ", words)
    return " ".join(words.split())


def amount_to_words(usd: float) -> str:
    """Dollars as said aloud: 2500000 -> "two point five million dollars"."""
    for size, name in ((1e9, "billion"), (1e6, "million")):
        if usd >= size and (usd / size * 10) == int(usd / size * 10):
            return f"{number_to_words(usd / size)} {name} dollars"
    return f"{number_to_words(round(usd))} dollars"

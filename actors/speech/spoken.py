"""Written text to the words a caller would say, for language modelling and scoring.

PocketSphinx recognises words, not digits: "$50,000" is heard as "fifty thousand
dollars", "10:30am" as "ten thirty a m". The language model is built from written
prompts and templates, so everything goes through `spoken_words` first; the tests
use the same function to compare transcripts with reference lines.
"""

from __future__ import annotations

import re

from graph.understanding.numbers import number_to_words, ordinal_to_words, year_to_words

_SCALE_SUFFIX = {"k": "thousand", "m": "million", "mm": "million", "b": "billion", "bn": "billion"}
# $1.5m, 50k, $120,000, 3.5 million, 10%
_AMOUNT = re.compile(
    r"(?P<dollar>\$)?(?P<num>\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?)"
    r"(?P<suffix>k|mm|m|bn|b)?\b(?P<percent>%)?",
    re.IGNORECASE,
)
_CLOCK = re.compile(r"\b(\d{1,2}):(\d{2})\s*(am|pm|a\.m\.|p\.m\.)?", re.IGNORECASE)
_HOUR_AMPM = re.compile(r"\b(\d{1,2})\s*(am|pm|a\.m\.|p\.m\.)", re.IGNORECASE)
_ORDINAL = re.compile(r"\b(\d+)(st|nd|rd|th)\b", re.IGNORECASE)
_YEAR = re.compile(r"\b(19\d\d|20\d\d)\b")
_WORD = re.compile(r"[a-z]+(?:'[a-z]+)*")
_SCALE_WORDS = {"thousand", "million", "billion"}


def _ampm(marker: str | None) -> str:
    if not marker:
        return ""
    return " a m" if marker.lower().startswith("a") else " p m"


def _decimal_words(text: str) -> str:
    whole, _, frac = text.partition(".")
    spoken = number_to_words(int(whole))
    if frac:
        spoken += " point " + " ".join(number_to_words(int(d)) for d in frac)
    return spoken


def _amount(match: re.Match[str]) -> str:
    num = match.group("num").replace(",", "")
    suffix = (match.group("suffix") or "").lower()
    words = _decimal_words(num)
    if suffix:
        words += " " + _SCALE_SUFFIX[suffix]
    if match.group("percent"):
        words += " percent"
    if match.group("dollar"):
        # "$5 million" -> "five million dollars": the scale word may follow the number.
        tail = match.string[match.end() :]
        scale = re.match(r"\s+(thousand|million|billion)\b", tail, re.IGNORECASE)
        if scale:
            return f"{words} {scale.group(1).lower()} dollars\x00"
        words += " dollars"
    return " " + words + " "


def spoken_words(text: str) -> list[str]:
    """The lower-case words a person says when reading `text` aloud.

    Keeps in-word apostrophes ("don't", "it's"), spells numbers, money, clock
    times and ordinals, and drops all other punctuation.
    """
    text = text.replace("\u2019", "'").replace("&", " and ").replace("+", " plus ")
    text = _CLOCK.sub(
        lambda m: (
            " "
            + number_to_words(int(m.group(1)))
            + ("" if m.group(2) == "00" else " " + _minutes(int(m.group(2))))
            + _ampm(m.group(3))
            + " "
        ),
        text,
    )
    text = _HOUR_AMPM.sub(
        lambda m: " " + number_to_words(int(m.group(1))) + _ampm(m.group(2)), text
    )
    text = _ORDINAL.sub(lambda m: " " + ordinal_to_words(int(m.group(1))) + " ", text)
    text = _YEAR.sub(lambda m: " " + year_to_words(int(m.group(1))) + " ", text)
    text = _AMOUNT.sub(_amount, text)
    # "$5 million" was rewritten to "five million dollars\0 million": drop the repeat.
    text = re.sub(r"\x00\s*(thousand|million|billion)\b", "", text, flags=re.IGNORECASE)
    text = text.replace("\x00", "")
    text = text.lower().replace("-", " ").replace("/", " ")
    return _WORD.findall(text)


def _minutes(minutes: int) -> str:
    if minutes < 10:
        return "oh " + number_to_words(minutes)
    return number_to_words(minutes)


def split_sentences(text: str) -> list[str]:
    """Split written text at sentence ends (. ? ! ;) keeping decimals like 1.5 intact."""
    parts = re.split(r"(?<=[.?!;])\s+|\n+", text)
    return [p.strip() for p in parts if p.strip()]

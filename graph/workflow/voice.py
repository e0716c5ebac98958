"""Text shaped for the ear: what an LLM writes, made fit to be spoken on a phone call.

Owns two jobs:

- `_optimize_for_voice(text, max_words)` — no markdown, lists, URLs or symbols; money,
  numbers, percentages, ordinals and clock times as words; short sentences; at most
  `max_words` words, never dropping the closing question (the caller must hear what
  the agent is waiting for);
- sentence splitting — `split_sentences` for whole texts, and `SentenceStream`, which
  takes an LLM's tokens as they arrive and hands back each sentence as soon as it is
  complete, so text-to-speech starts on the first one.

The templated replies (`graph.workflow.replies`) are written this way already; only text an
LLM wrote goes through here.
"""

from __future__ import annotations

import re

from graph.understanding.meeting import speak_meeting_time
from graph.understanding.numbers import (
    amount_to_words,
    number_to_words,
    ordinal_to_words,
    year_to_words,
)

MAX_SENTENCE_WORDS = 20  # longer sentences are split at a clause boundary

_ABBREVIATIONS = {
    r"\be\.g\.": "for example", r"\bi\.e\.": "that is", r"\betc\.": "and so on",
    r"\bvs\.?": "versus", r"\bapprox\.": "about", r"\bw/": "with", r"\bmins?\b": "minutes",
    r"\bhrs\b": "hours", r"\bASAP\b": "as soon as possible", r"\bFAQ\b": "questions",
    r"\bMon\.": "Monday", r"\bTues?\.": "Tuesday", r"\bWed\.": "Wednesday",
    r"\bThu(?:rs?)?\.": "Thursday", r"\bFri\.": "Friday", r"\bSat\.": "Saturday",
    r"\bSun\.": "Sunday",
}
_TITLES = ("Mr", "Mrs", "Ms", "Dr", "St", "Jr", "Sr", "Inc", "Ltd", "Co", "No")
_SCALE = {"k": 1e3, "thousand": 1e3, "m": 1e6, "mm": 1e6, "million": 1e6, "b": 1e9,
          "bn": 1e9, "billion": 1e9}

_CODE = re.compile(r"```.*?```|`([^`]*)`", re.S)
_LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)")
_URL = re.compile(r"\b(?:https?://|www\.)\S+?(?=[.,;:!?)]*(?:\s|$))", re.I)
_EMAIL = re.compile(r"\b([\w.+-]+)@([\w-]+)\.([a-z]{2,})\b", re.I)
_EMPHASIS = re.compile(r"(\*\*|__|\*|_)(?=\S)(.+?)(?<=\S)\1")
_LIST_ITEM = re.compile(r"^\s*(?:[-*+\u2022\u25cf]|\d{1,2}[.)])\s+")
_HEADING = re.compile(r"^\s*(?:#{1,6}|>+)\s*")
_MONEY = re.compile(
    r"\$\s?(\d[\d,]*(?:\.\d+)?)(?:\s?(k|mm|m|bn|b|thousand|million|billion)\b)?", re.I
)
_PHONE = re.compile(r"(?<![\w+])(?:\+?1[\s.-]?)?\(?\d{3}\)?[\s.-]?\d{3}[\s.-]\d{4}(?!\w)")
_CLOCK = re.compile(r"\b(\d{1,2})(?::(\d{2}))?\s?([ap])(?:\.\s?m\.|\s?m\b)", re.I)
_PERCENT = re.compile(r"(\d+(?:\.\d+)?)\s?%")
_ORDINAL = re.compile(r"\b(\d+)(?:st|nd|rd|th)\b")
_RANGE = re.compile(r"\b(\d+)\s?(?:-|\u2013|to)\s?(\d+)\b")
_YEAR = re.compile(r"\b(19\d{2}|20\d{2})\b")
_NUMBER = re.compile(r"(?<![\w.])(\d[\d,]*(?:\.\d+)?)(?![\w])")
_SYMBOLS = {"&": " and ", "+": " plus ", "=": " equals ", "@": " at ", "#": " number ",
            "/": " or ", "~": " about "}
_UNSPEAKABLE = re.compile(r"[^\w\s.,;:!?'\"()$%-]")
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9])")
_CLAUSE = re.compile(r"(?:;|:|,\s(?=(?:and|but|so)\s))\s*")


def _phone(match: re.Match[str]) -> str:
    """Digit by digit, in the groups people say them in."""
    digits = re.sub(r"\D", "", match.group(0))
    groups = [digits[:-10], digits[-10:-7], digits[-7:-4], digits[-4:]]
    return ", ".join(" ".join(number_to_words(int(d)) for d in g) for g in groups if g)


def _money(match: re.Match[str]) -> str:
    value = float(match.group(1).replace(",", ""))
    scale = (match.group(2) or "").lower()
    value *= _SCALE.get(scale, 1)
    if value != int(value) and value < 1000:  # $49.99: dollars and cents
        dollars, cents = divmod(round(value * 100), 100)
        return f"{number_to_words(dollars)} dollars and {number_to_words(cents)} cents"
    return amount_to_words(value)


def _clock(match: re.Match[str]) -> str:
    hour, minute, half = int(match.group(1)), match.group(2), match.group(3).upper()
    if not 1 <= hour <= 12:
        return match.group(0)
    words = speak_meeting_time(f"{hour}{':' + minute if minute else ''} {half}M")
    # "a.m." swallowed its dot; keep it when it also ended the sentence
    rest = match.string[match.end():].lstrip()
    ends_sentence = match.group(0).endswith(".") and (not rest or rest[0].isupper())
    return words + ("." if ends_sentence else "")


def _numbers_as_words(text: str) -> str:
    """Money, clock times, percentages, ordinals, years and plain numbers, spelled out."""
    text = _PHONE.sub(_phone, text)
    text = _MONEY.sub(_money, text)
    text = _CLOCK.sub(_clock, text)
    text = _PERCENT.sub(lambda m: f"{number_to_words(float(m.group(1)))} percent", text)
    text = _ORDINAL.sub(lambda m: ordinal_to_words(int(m.group(1))), text)
    text = _RANGE.sub(lambda m: f"{m.group(1)} to {m.group(2)}", text)
    text = _YEAR.sub(lambda m: year_to_words(int(m.group(1))), text)
    return _NUMBER.sub(lambda m: number_to_words(float(m.group(1).replace(",", ""))), text)


def _plain(text: str) -> str:
    """Markdown, lists, links, URLs and symbols out; one sentence per list item or line."""
    text = _CODE.sub(lambda m: m.group(1) or "", text)
    text = _LINK.sub(r"\1", text)
    text = _URL.sub("our website", text)
    text = _EMAIL.sub(lambda m: f"{m.group(1)} at {m.group(2)} dot {m.group(3)}", text)
    lines = []
    for line in text.splitlines():
        line = _HEADING.sub("", _LIST_ITEM.sub("", line)).strip()
        line = _EMPHASIS.sub(r"\2", line)
        if line:
            lines.append(line[:-1] + "." if line[-1] in ":;," else
                         line if line[-1] in ".!?" else line + ".")
    text = " ".join(lines)
    for pattern, words in _ABBREVIATIONS.items():
        text = re.sub(pattern, words, text, flags=re.I)
    return text


def _speakable(text: str) -> str:
    for symbol, words in _SYMBOLS.items():
        text = text.replace(symbol, words)
    text = re.sub(r"\s[-\u2013\u2014]+\s|[()]", ", ", text)  # dashes and asides: a pause
    text = _UNSPEAKABLE.sub(" ", text.replace('"', ""))  # emoji, arrows, bullets left over
    text = re.sub(r",\s*(?=[,.!?])|^\s*,", "", text)
    text = re.sub(r"\s+([.,;:!?])", r"\1", text)
    text = re.sub(r"([.,;:!?])\1+", r"\1", text)
    return re.sub(r"\s+", " ", text).strip()


def _shorten(sentence: str) -> list[str]:
    """A long sentence as several, split where a clause ends."""
    if len(sentence.split()) <= MAX_SENTENCE_WORDS:
        return [sentence]
    end = sentence[-1] if sentence[-1] in ".!?" else "."
    pieces = [piece.strip(" ,") for piece in _CLAUSE.split(sentence.rstrip(".!?"))]
    pieces = [piece for piece in pieces if piece]
    if len(pieces) < 2:
        return [sentence]
    shaped = []
    for index, piece in enumerate(pieces):
        piece = re.sub(r"^(?:and|so)\s+", "", piece)
        piece = piece[0].upper() + piece[1:]
        shaped.append(piece + (end if index == len(pieces) - 1 else "."))
    return shaped


def _within(sentences: list[str], max_words: int) -> list[str]:
    """The sentences that fit in `max_words`, in order; a closing question is kept even
    if something before it has to go."""
    if not sentences:
        return []
    question = sentences[-1] if sentences[-1].endswith("?") else None
    budget = max_words - (len(question.split()) if question else 0)
    kept: list[str] = []
    for sentence in sentences[:-1] if question else sentences:
        words = len(sentence.split())
        if words > budget:
            break
        kept.append(sentence)
        budget -= words
    if question:
        kept.append(question)
    if not kept:  # a single sentence longer than the limit: cut it
        kept = [" ".join(sentences[0].split()[:max_words]).rstrip(",;:") + "."]
    return kept


def split_sentences(text: str) -> list[str]:
    """Sentences of a text, split after . ! ? (not after titles such as "Dr.")."""
    sentences, start = [], 0
    for match in _SENTENCE_END.finditer(text):
        candidate = text[start:match.start()].strip()
        last_word = candidate.rsplit(" ", 1)[-1].rstrip(".")
        if last_word in _TITLES or re.fullmatch(r"(?:[A-Za-z]\.)+[A-Za-z]?", last_word + "."):
            continue
        sentences.append(candidate)
        start = match.end()
    tail = text[start:].strip()
    if tail:
        sentences.append(tail)
    return sentences


def optimize_sentences(text: str, max_words: int) -> list[str]:
    """`_optimize_for_voice`, as the sentences to speak one after another."""
    sentences: list[str] = []
    for sentence in split_sentences(_plain(text)):
        sentence = _speakable(_numbers_as_words(sentence)).strip(" ,;:")
        if not sentence or not re.search(r"\w", sentence):
            continue
        if sentence[-1] not in ".!?":
            sentence += "."
        sentences += _shorten(sentence[0].upper() + sentence[1:])
    return _within(sentences, max_words)


def _optimize_for_voice(text: str, max_words: int) -> str:
    """`text` as it should be spoken: plain short sentences, numbers and times in words,
    no markdown, lists or URLs, at most `max_words` words (the closing question kept)."""
    return " ".join(optimize_sentences(text, max_words))


class SentenceStream:
    """Sentences out of a stream of text pieces, each handed back once it is complete."""

    def __init__(self) -> None:
        self._buffer = ""

    def feed(self, piece: str) -> list[str]:
        """Add a piece; the sentences it completed."""
        self._buffer += piece
        sentences = split_sentences(self._buffer)
        if len(sentences) < 2:
            return []
        # the last one may still be growing; keep it (and its leading spaces) buffered
        complete = sentences[:-1]
        self._buffer = self._buffer[self._buffer.rindex(sentences[-1]):]
        return complete

    def flush(self) -> list[str]:
        """Whatever is left, at the end of the stream."""
        rest, self._buffer = self._buffer.strip(), ""
        return [rest] if rest else []

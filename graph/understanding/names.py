"""The caller's first name, when they say it ("this is Dana", "my name's Sam", "Priya here").

Owns telling a name from the other words that follow "this is" or "I'm", or come
before "speaking". Typed text marks names with a capital; recogniser output is all
lower case, so there a name is any word that is not a common English word of a
phone call. A line may open with a greeting or a department ("Good morning, Farah
speaking", "Sales, Priya here") and name the caller the way people answer a phone
("You've reached Ines", "you're through to Sam").
"""

from __future__ import annotations

import re

from graph.understanding.word_lists import word_list

_NOT_NAMES = frozenset(word_list("not_names"))
# What may open a line before the caller names themselves: greetings and fillers.
_OPENING = (
    r"(?:(?:hi|hello|hey|hiya|howdy|yes|yeah|yep|oh|um|uh|well|good|morning|afternoon|"
    r"evening|there) )*"
)
_PATTERNS = (
    re.compile(r"\bmy name is (?P<name>[a-z]+)"),
    re.compile(r"\b(?:name is|call me|it is|this is|i am|you have got|you are speaking with|"
               r"you are talking to|you have reached|you are through to|you are speaking to)"
               r" (?P<name>[a-z]+)\b(?! (?:a|an|the|about|calling|for)\b)"),
    re.compile(rf"^{_OPENING}(?P<name>[a-z]+)(?: [a-z]+)? (?:speaking|here)\b"),
)
# A word before one of these names a business, not a person ("This is Acme Dental").
_BUSINESS = frozenset(word_list("business_name_words"))
_LOOSE = ("it is", "i am")  # too often not a name in lower case ("it is busy")
# How people answer a phone: a name after them opens the line. In recogniser output,
# mid-line they are more often a mishearing ("... you've got hospital").
_ANSWERING = ("you have got", "you are speaking", "you are talking", "you have reached",
              "you are through")
_OPENS_LINE = re.compile(rf"^{_OPENING}$")


def _clauses(raw: str) -> list[str]:
    """The comma-separated parts of a typed line, each lower case without punctuation."""
    return [
        " ".join(re.sub(r"[^a-z' ]", " ", part.lower()).replace("'", "").split())
        for part in re.split(r"[,;:!?]", raw)
    ]


def _candidates(raw: str, text: str) -> list[tuple[re.Pattern[str], re.Match[str]]]:
    found = [(pattern, match) for pattern in _PATTERNS for match in pattern.finditer(text)]
    # typed text: "Sales, Priya speaking." — the name opens its own clause
    for clause in _clauses(raw)[1:]:
        match = _PATTERNS[2].match(clause)
        if match:
            found.append((_PATTERNS[2], match))
    return found


def _too_loose_when_heard(match: re.Match[str]) -> bool:
    """In recogniser output, "it's X" or "I'm X", or a phone-answering phrase that does
    not open the line, is more often a mishearing than a name."""
    said = match.group(0)
    if said.startswith(_LOOSE):
        return True
    return said.startswith(_ANSWERING) and not _OPENS_LINE.match(match.string[:match.start()])


def read_name(raw: str, text: str) -> str | None:
    """The caller's first name from a line (raw as said, text normalised)."""
    typed = raw != raw.lower()
    for pattern, match in _candidates(raw, text):
        name = match.group("name")
        if name in _NOT_NAMES or len(name) < 2 or name.endswith("ly"):
            continue  # "generally speaking" names nobody
        following = match.string[match.end("name"):].split()[:1]
        if following and following[0] in _BUSINESS:
            continue
        if typed and not re.search(rf"\b{name.capitalize()}\b", raw):
            continue  # typed text capitalises names; "I'm swamped" is no name
        if pattern is _PATTERNS[1] and not typed and _too_loose_when_heard(match):
            continue
        return name.capitalize()
    return None


def read_bare_name(raw: str, text: str) -> str | None:
    """A name said on its own, as the answer to "who am I speaking with?" ("Dana.",
    "hi, dana", "it's dana"): one word after any greeting, and after "it's" or "I'm",
    that is not a common word of a call. (Asked who is calling, "it's" or "I'm" and a
    single word is a name; said anywhere else it is as often "it's fine".)"""
    match = re.fullmatch(rf"{_OPENING}(?:(?:it is|i am) )?(?P<name>[a-z]+)", text)
    if match is None:
        return None
    name = match.group("name")
    if name in _NOT_NAMES or len(name) < 2 or name.endswith("ly"):
        return None
    if raw != raw.lower() and not re.search(rf"\b{name.capitalize()}\b", raw):
        return None
    return name.capitalize()

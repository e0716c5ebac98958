"""A time the caller proposes for a meeting, as short human text.

Owns days ("Tuesday", "next Monday", "tomorrow", "March 3rd"), clock times in
any spelling ("10am", "9:30", "ten in the morning", "half past two", "noon")
and parts of the day ("Thursday afternoon"), giving back text such as
"Tuesday at 10 AM", "Thursday afternoon", "any time Friday". A day or time the
caller rules out ("not Monday", "Thursday at ten is no good") is skipped, and a
time said after it is their proposal. `on_day_of` puts a time said on its own
("how about three?") on the day under discussion. Also speaks such a time back
with numbers as words ("Tuesday at ten in the morning").
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from graph.understanding.numbers import (
    TEENS,
    TENS,
    UNITS,
    counts_things,
    number_to_words,
    ordinal_to_words,
)
from graph.understanding.text import Sentence

_WEEKDAYS = {
    "monday": "Monday", "tuesday": "Tuesday", "tues": "Tuesday", "tue": "Tuesday",
    "wednesday": "Wednesday", "weds": "Wednesday", "wed": "Wednesday", "thursday": "Thursday",
    "thurs": "Thursday", "thur": "Thursday", "thu": "Thursday", "friday": "Friday",
    "fri": "Friday", "saturday": "Saturday", "sunday": "Sunday",
}
_MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august",
           "september", "october", "november", "december")
_ORDINAL_UNITS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6,
                  "seventh": 7, "eighth": 8, "ninth": 9}
_ORDINALS = {**_ORDINAL_UNITS, "tenth": 10, "eleventh": 11, "twelfth": 12, "thirteenth": 13,
             "fourteenth": 14, "fifteenth": 15, "sixteenth": 16, "seventeenth": 17,
             "eighteenth": 18, "nineteenth": 19, "twentieth": 20, "thirtieth": 30}
for _word, _value in _ORDINAL_UNITS.items():
    _ORDINALS[f"twenty {_word}"] = 20 + _value
_ORDINALS["thirty first"] = 31

_HOUR_WORDS = {word: value for word, value in {**UNITS, **TEENS}.items() if 1 <= value <= 12}
_HOUR = r"(?:\d{1,2}|" + "|".join(sorted(_HOUR_WORDS, key=len, reverse=True)) + ")"
_MINUTE = (r"(?:(?:oh|o) (?:" + "|".join(w for w in UNITS if w != "zero") + r")|"
           r"(?:" + "|".join(TENS) + r")(?: (?:" + "|".join(w for w in UNITS if w != "zero")
           + r"))?|" + "|".join(w for w in TEENS if w != "ten") + r"|ten|[0-5]\d)")
_MARKER = (r"(?:am|pm|oclock|in the morning|in the afternoon|in the evening|at night|"
           r"tonight|this morning|this afternoon|this evening)")

_DAY = re.compile(
    r"\b(?:(?P<rel>this coming|this|next|coming|on) )?(?P<day>" + "|".join(_WEEKDAYS) + r")s?\b"
    r"|\b(?P<after>the day after tomorrow|day after tomorrow)\b"
    r"|\b(?P<dayafter>the day after)\b"
    r"|\b(?P<near>today|tomorrow|tonight)\b"
    r"|\b(?P<month>" + "|".join(_MONTHS) + r") (?:the )?(?P<date>\d{1,2}|"
    + "|".join(sorted(_ORDINALS, key=len, reverse=True)) + r")(?:st|nd|rd|th)?\b"
    r"|\bthe (?P<nth>\d{1,2}(?:st|nd|rd|th)|" + "|".join(sorted(_ORDINALS, key=len, reverse=True))
    + r")\b(?: of (?P<month2>" + "|".join(_MONTHS) + r"))?"
    # "the first half", "the second thing": an ordinal before a noun is no date
    r"(?! (?:half|quarter|thing|things|time|step|one|ones|two|three|few|couple|call|year|week|"
    r"month|day|person|place|question|option|priority|part|round|phase|of all)\b)"
)
_CLOCK = re.compile(
    r"\b(?P<h1>\d{1,2}):(?P<m1>\d{2})(?: ?(?P<ap1>am|pm))?\b"
    r"|\b(?P<frac>half|quarter) (?P<rel>past|after|to|before) (?P<h2>" + _HOUR + r")\b"
    r"|\b(?:(?P<pre>at|around|about|by|from|after|before|say) )?(?P<h3>" + _HOUR + r")(?![:\d])"
    r"(?: (?P<m3>" + _MINUTE + r"))?(?: ?(?P<mark>" + _MARKER + r"))?\b"
    r"|\b(?P<noon>noon|midday|twelve noon)\b"
)
_PART = re.compile(
    r"\b(?P<part>morning|afternoon|evening|night|end of (?:the )?day|first thing|after lunch|"
    r"before lunch|lunch ?time|over lunch)s?\b"
)
_ANY_TIME = re.compile(r"\b(?:any ?time|whenever|all day|any point|at any time)\b")
_WEEK = re.compile(r"\b(?:early |later |sometime |some time |end of )?(?:this|next) week\b")
# "later in the week" is said of this week
_IN_THE_WEEK = re.compile(
    r"\b(?:(?P<when>early|later|sometime|some time) in|(?:the )?(?P<end>end) of) the week\b")
# A time ruled out ("Thursday at ten is no good", "not tomorrow"): a time said after it
# is the caller's proposal.
_RULE_OUT = re.compile(
    r"\b(?:(?:does|do|will|would|is going to|is|that is) not (?:work|suit|do|good|great|possible)|"
    r"(?:is|are|would be|will be|looks) (?:no good|bad|out|tough|difficult|impossible|a no|full|"
    r"booked|packed|tricky|awkward)|no good|can not (?:do|make)(?: it| that| then)?|"
    r"i am (?:busy|away|out|off|booked|tied up)(?: then)?|(?:not|except) (?:on |at |this |next )?"
    r"(?:" + "|".join(_WEEKDAYS) + r"|today|tomorrow|tonight|" + _HOUR + r")"
    r"(?: (?:am|pm|oclock|morning|afternoon|evening))?)\b"
)
_RULED_OUT_BEFORE = re.compile(
    r"\b(?:not|except|busy|booked|away|off|out|can not do|can not make|unavailable)"
    r"(?: (?:on|this|next|the|until|till|before|all))?\s*$"
)
_RULED_OUT_AFTER = re.compile(
    r"^s? (?:is|are|would be|will be|looks) (?:bad|out|no good|not good|tough|busy|full|booked|"
    r"difficult|hard|impossible|not great|terrible|a no)|^s? (?:does not|will not|would not|"
    r"can not|is not going to) work|^s? i am (?:busy|out|away|off|booked)|^s? (?:is|are) not"
)


@dataclass(frozen=True)
class _Clock:
    hour: int
    minute: int
    meridiem: str | None  # "AM", "PM", or None when only inferred
    explicit: bool = True  # said as a time ("at ten", "10am"), not a bare number


def _minutes(text: str | None) -> int:
    if not text:
        return 0
    if text.isdigit():
        return int(text)
    words = text.replace("oh ", "").replace("o ", "").split()
    return sum(UNITS.get(w, TEENS.get(w, TENS.get(w, 0))) for w in words)


def _hour(text: str) -> int:
    return int(text) if text.isdigit() else _HOUR_WORDS[text]


def _after_first(matches: list[re.Match[str]], cutoff: int) -> list[re.Match[str]]:
    """Matches after the last ruled-out time first, then the rest in order."""
    return [m for m in matches if m.start() >= cutoff] + [m for m in matches if m.start() < cutoff]


def _find_clock(text: str, lenient: bool, cutoff: int = 0) -> _Clock | None:
    """The first clock time in text (after `cutoff` if any is); `lenient` accepts a bare
    hour ("ten works")."""
    for match in _after_first(list(_CLOCK.finditer(text)), cutoff):
        groups = match.groupdict()
        if groups["h1"]:
            hour, minute = int(groups["h1"]), int(groups["m1"])
            if hour > 23 or minute > 59:
                continue
            meridiem = groups["ap1"].upper() if groups["ap1"] else None
            if hour > 12:
                hour, meridiem = hour - 12, "PM"
            return _Clock(hour, minute, meridiem)
        if groups["frac"]:
            hour = _hour(groups["h2"])
            if groups["frac"] == "half":
                return _Clock(hour, 30, None)
            if groups["rel"] in ("past", "after"):
                return _Clock(hour, 15, None)
            return _Clock(hour - 1 or 12, 45, None)
        if groups["noon"]:
            return _Clock(12, 0, "PM")
        hour_text = groups["h3"]
        if not hour_text or (hour_text.isdigit() and not 1 <= int(hour_text) <= 12):
            continue
        mark = groups["mark"] or ""
        after = text[match.end():].lstrip()
        if re.match(r"(?:thousand|hundred|million|grand|k|dollars|bucks|percent|people|calls|"
                    r"leads|staff|months|weeks|years|days|minutes|hours)\b", after) or (
            not mark and counts_things(after.split(' ', 1)[0])
        ):
            continue  # "about 5 users" counts things
        if not (mark or groups["pre"] or groups["m3"] or lenient):
            continue
        meridiem = None
        if mark in ("am", "in the morning", "this morning"):
            meridiem = "AM"
        elif mark:
            meridiem = "PM" if mark != "oclock" else None
        # "after five", "until six": hours described, not a time proposed
        explicit = bool(mark or groups["pre"] in ("at", "around", "about", "say"))
        return _Clock(_hour(hour_text), _minutes(groups["m3"]), meridiem, explicit)
    return None


def _format_clock(clock: _Clock, part: str | None) -> str:
    meridiem = clock.meridiem
    if meridiem is None and part in ("afternoon", "evening", "night"):
        meridiem = "PM"
    elif meridiem is None and part == "morning":
        meridiem = "AM"
    elif meridiem is None:
        # business hours: "at ten" is the morning, "at three" the afternoon
        meridiem = "AM" if 7 <= clock.hour <= 11 else "PM"
    minutes = f":{clock.minute:02d}" if clock.minute else ""
    return f"{clock.hour}{minutes} {meridiem}"


def _find_day(text: str, cutoff: int = 0) -> str | None:
    """The first day in text not ruled out (after `cutoff` if any is)."""
    for match in _after_first(list(_DAY.finditer(text)), cutoff):
        before, after = text[:match.start()], text[match.end():]
        if _RULED_OUT_BEFORE.search(before) or _RULED_OUT_AFTER.match(after):
            continue
        groups = match.groupdict()
        if groups["dayafter"]:
            if "tomorrow" in before:  # "not tomorrow, the day after"
                return "the day after tomorrow"
            continue
        if groups["day"]:
            day = _WEEKDAYS[groups["day"]]
            return f"next {day}" if groups["rel"] == "next" else day
        if groups["after"]:
            return "the day after tomorrow"
        if groups["near"]:
            return groups["near"]
        if groups["month"]:
            date_text = groups["date"]
            number = int(date_text) if date_text.isdigit() else _ORDINALS[date_text]
            return f"{groups['month'].capitalize()} {number}"
        nth = groups["nth"]
        number = int(re.sub(r"\D", "", nth)) if nth[0].isdigit() else _ORDINALS[nth]
        if groups["month2"]:
            return f"{groups['month2'].capitalize()} {number}"
        return f"the {number}{_suffix(number)}"
    return None


def _suffix(number: int) -> str:
    if 10 <= number % 100 <= 20:
        return "th"
    return {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")


def _part_of_day(text: str) -> str | None:
    match = _PART.search(text)
    if not match:
        return None
    part = match.group("part")
    if part == "night":
        return "evening"
    if part.startswith("end of"):
        return "end of day"
    if part == "after lunch":
        return "afternoon"
    if part == "before lunch":
        return "morning"
    if "lunch" in part:
        return "lunchtime"
    return part


def read_meeting_time(sentences: Sequence[Sentence], *, expecting: bool = False) -> str | None:
    """A proposed meeting time as text ("Tuesday at 10 AM"), or None.

    `expecting` says the caller is answering our "when shall we meet?", so a bare
    hour ("ten works") or "next week" counts.
    """
    text = " ".join(sentence.text for sentence in sentences)
    cutoff = max((match.end() for match in _RULE_OUT.finditer(text)), default=0)
    day = _find_day(text, cutoff)
    tail = text[cutoff:]
    ruled_out = cutoff > 0 and bool(_DAY.search(tail) or _PART.search(tail))
    part = _part_of_day(tail if ruled_out else text)
    clock = _find_clock(text, expecting or day is not None, cutoff)
    if day == "tonight" and part is None:
        part = "evening"
    if clock is not None:
        when = _format_clock(clock, part)
        if clock.hour == 12 and clock.minute == 0 and clock.meridiem == "PM" and "noon" in text:
            when = "noon"
        return f"{day} at {when}" if day else (when if expecting or clock.explicit else None)
    if day and part:
        if part == "first thing":
            return f"{day} first thing in the morning"
        if part in ("end of day", "lunchtime"):
            return f"{day} at {part}"
        return f"{day} {part}" if day != "tonight" else "tonight"
    if day:
        return f"any time {day}" if _ANY_TIME.search(text) else day
    if expecting:
        week = _WEEK.search(text)
        if week:
            return week.group(0)
        in_the_week = _IN_THE_WEEK.search(text)
        if in_the_week:
            return f"{in_the_week.group('when') or 'end of'} this week"
        if part:
            return f"any {part}" if part in ("morning", "afternoon", "evening") else part
    return None


def is_day_and_hour(when: str) -> bool:
    """A meeting time that names both a day and an hour ("Monday at 11 AM"), as
    `read_meeting_time` writes one: what a caller offering a meeting says, unlike a
    bare "after five PM" or "by next Friday" in an answer about the business."""
    return re.fullmatch(r".+ at (?:\d{1,2}(?::\d{2})? [AP]M|noon)", when) is not None


def on_day_of(when: str, proposed: str, said: str) -> str:
    """`when` on the day of `proposed` when the caller named no day (`said`, normalised):
    answering "Thursday at 10 AM?" with "how about three?" means Thursday at 3 PM, but
    "Thursday doesn't work, how about three?" does not."""
    day = _find_day(proposed.lower())
    if day is None or _DAY.search(said):
        return when
    if re.fullmatch(r"\d{1,2}(?::\d{2})? [AP]M|noon", when):
        return f"{day} at {when}"
    part = re.fullmatch(r"any (morning|afternoon|evening)", when)
    if part:
        return f"{day} {part.group(1)}"
    return when


_MERIDIEM_WORDS = {"AM": "in the morning", "PM": "in the afternoon"}


def speak_meeting_time(when: str) -> str:
    """A meeting time as it should be said aloud, numbers in words."""

    def clock(match: re.Match[str]) -> str:
        hour, minute, meridiem = int(match.group(1)), match.group(2), match.group(3)
        words = number_to_words(hour)
        if minute and minute != "00":
            minute_value = int(minute)
            words += (" oh " if minute_value < 10 else " ") + number_to_words(minute_value)
        if meridiem == "PM" and hour >= 6 and hour != 12:
            return f"{words} in the evening"
        if meridiem == "PM" and hour == 12 and not minute:
            return "noon"
        return f"{words} {_MERIDIEM_WORDS[meridiem]}"

    spoken = re.sub(r"\b(\d{1,2})(?::(\d{2}))? (AM|PM)\b", clock, when)
    spoken = re.sub(r"\b([A-Z][a-z]+) (\d{1,2})\b", lambda m: f"{m.group(1)} "
                    + ordinal_to_words(int(m.group(2))), spoken)
    return re.sub(r"\bthe (\d{1,2})(?:st|nd|rd|th)\b",
                  lambda m: "the " + ordinal_to_words(int(m.group(1))), spoken)



"""When a caller wants a solution in place, in months from today.

Owns durations ("within three months", "in six weeks", "a month or two") and
calendar phrases ("within the quarter", "end of next year", "by the summer",
"in Q3", "the second half of the year", "by the new year", "next fiscal year",
"by Monday", "as soon as possible", "yesterday, honestly"), relative to a
`today` the caller passes so answers are deterministic. Past durations ("for the
last three months", "a year ago"), rates ("five grand a month", "200 calls a
day") and times for calling back ("reach out in a month") are not timelines.
Ranges keep their far end: "three to six months" is six.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import date

from graph.understanding.numbers import Number, find_numbers, is_number_word
from graph.understanding.text import Sentence, negated_before

_UNIT_MONTHS = {
    "day": 1 / 30, "days": 1 / 30, "week": 0.25, "weeks": 0.25, "month": 1.0, "months": 1.0,
    "quarter": 3.0, "quarters": 3.0, "year": 12.0, "years": 12.0,
}
_MONTH_NAMES = {
    name: index for index, name in enumerate(
        ("january", "february", "march", "april", "may", "june", "july", "august",
         "september", "october", "november", "december"), start=1)
}
_SEASON_START = {"spring": 3, "summer": 6, "fall": 9, "autumn": 9, "winter": 12}
_QUARTER_NUMBER = {"1": 1, "2": 2, "3": 3, "4": 4, "one": 1, "two": 2, "three": 3, "four": 4,
                   "first": 1, "second": 2, "third": 3, "fourth": 4}

_FUTURE_BEFORE = frozenset({"in", "within", "inside", "next", "over", "under", "before", "by",
                            "than", "upto", "coming", "another"})
_FUTURE_AFTER = ("from now", "out", "away", "time", "tops", "max", "or less", "at the latest",
                 "at most", "or sooner")
_PAST_BEFORE = frozenset({"past", "last", "been", "since", "every", "each", "per", "once",
                          "ago", "first", "previous"})
# A timeline is something the caller wants to happen; without a "within" or "by",
# a bare duration counts only next to one of these.
_INTENT = re.compile(
    r"\b(?:want|wants|need|needs|has to|have to|happen|would like|hope|hoping|plan|planning|"
    r"looking|aim|aiming|target|goal|"
    r"live|launch|start|starting|go live|up and running|implement|roll out|rolling out|"
    r"decide|deciding|ready|in place|set up|buy|purchase|sign|move|switch|get going|"
    r"timeline|timeframe|time frame|deadline|expect|expecting|should|could|would|will|"
    r"thinking|probably|maybe|realistically|ideally|"
    r"contract|renewal|renew|renews|expire|expires|runs out|run out|is up)\b"
)
# A time for calling back or meeting is not a buying timeline.
_CONTACT = re.compile(
    r"\b(?:(?:call|ring|try|reach|contact|email|text|phone|catch) (?:me|us|back|again)|"
    r"give (?:me|us) a (?:call|ring|shout)|"
    r"(?:ping|get back to) (?:me|us)|reach out|reconnect|catch up|revisit|"
    r"follow up|check back|check in|meet|meeting|talk|speak|chat|book|touch base|circle back)"
    r"\b(?:\s+\w+){0,4}\s*$"
)
_PREFIX = r"(?:by|before|within|sometime|some time|later|during|until|till|in|around)"
_HEDGE = r"honestly|frankly|like|basically|really|ideally|um|uh|well|literally|truthfully|" \
    r"to be honest|pretty much|more or less|realistically|oh|we needed it|needed it"


def _months_until(today: date, month: int) -> float:
    """Whole months from today to the start of the next `month` (this month: one)."""
    return float((month - today.month) % 12) if month != today.month else 1.0


def _end_of_year(today: date) -> float:
    return float(max(1, 12 - today.month))


def _quarter_end(today: date, quarter: int) -> float:
    months = quarter * 3 - today.month
    if months < 0:
        months += 12  # that quarter is over this year: the caller means next year's
    return float(max(months, 1))


_Rule = tuple[re.Pattern[str], Callable[[date, re.Match[str]], float], bool, bool]


def _rule(pattern: str, months: Callable[[date, re.Match[str]], float],
          needs_intent: bool = False, negatable: bool = False) -> _Rule:
    """A calendar phrase; `needs_intent` when the phrase also describes the past or
    money ("our budget this year"), `negatable` when "not" before it cancels it
    ("it is not urgent"), unlike "not before next year" which still dates it."""
    return re.compile(pattern), months, needs_intent, negatable


_CALENDAR: tuple[_Rule, ...] = (
    _rule(r"\b(?:asap|as (?:soon|quickly|fast) as (?:possible|we can|we could|feasible|you can|"
          r"humanly possible)|"
          r"right away|straight away|immediately|urgent|urgently|the sooner the better|"
          r"(?:need|want|needed|wanted) (?:it|this|that|one|something|help|them)(?: \w+)? "
          r"(?:right now|now|yesterday|today)|(?:ideally|like|basically|by) yesterday|"
          r"needed (?:it |this |that |one |something |help )?(?:yesterday|last (?:week|month)|"
          r"already)|within weeks|in (?:a matter of )?weeks not months|in a matter of weeks)\b",
          lambda t, m: 1.0, negatable=True),
    # "yesterday, honestly": wanted already, as an answer of its own
    _rule(rf"^(?:(?:{_HEDGE}) )*yesterday(?: (?:{_HEDGE}|if possible|if we could))*$",
          lambda t, m: 1.0),
    _rule(r"\b(?:within days|in a matter of days|in days not weeks)\b", lambda t, m: 0.25),
    _rule(rf"\b{_PREFIX} (?:the end of )?this week\b", lambda t, m: 0.25),
    _rule(r"\bnext week\b", lambda t, m: 0.5),
    _rule(r"(?<!\bout )(?<!\baway )(?<!\boff )(?<!\bbusy )(?<!\bclosed )"
          r"\b(?:by|before|until|till) (?:this )?(?:monday|tuesday|wednesday|thursday|friday|"
          r"saturday|sunday|the weekend)\b", lambda t, m: 0.25, True),
    _rule(r"(?<!\bout )(?<!\baway )(?<!\boff )(?<!\bbusy )(?<!\bclosed )"
          r"\b(?:by|before|until|till) next (?:monday|tuesday|wednesday|thursday|friday|"
          r"saturday|sunday|weekend)\b", lambda t, m: 0.5, True),
    _rule(r"^(?:(?:honestly|ideally|like|basically|really|um|uh|well) )*(?:by |for )?"
          r"(?:today|tomorrow)(?: (?:if (?:possible|we can|we could)|ideally|honestly))+$",
          lambda t, m: 1.0),
    _rule(rf"\b(?:{_PREFIX} (?:the end of )?(?:this|the) month|end of (?:this |the )?month)\b",
          lambda t, m: 1.0),
    _rule(r"\bthis month\b", lambda t, m: 1.0, True),
    _rule(r"\bnext month\b", lambda t, m: 2.0),
    _rule(rf"\b(?:{_PREFIX} (?:the end of )?this quarter|end of (?:this |the )?quarter)\b",
          lambda t, m: 3.0),
    _rule(r"\b(?:within|in|during|inside|over|for) (?:the|this) (?:current )?quarter\b",
          lambda t, m: 3.0),
    _rule(r"\bthis quarter\b", lambda t, m: 3.0, True),
    _rule(r"\b(?:next|(?:the |this )?coming|following) quarter\b", lambda t, m: 6.0),
    _rule(r"\b(?:q ?([1-4])|q (one|two|three|four)|(first|second|third|fourth) quarter|"
          r"quarter (one|two|three|four|[1-4]))\b",
          lambda t, m: _quarter_end(t, _QUARTER_NUMBER[next(g for g in m.groups() if g)])),
    _rule(r"\b(?:(?:the )?first (?:half|six months)|h1) of next year\b",
          lambda t, m: 12 - t.month + 6.0),
    _rule(r"\b(?:(?:the )?(?:second|back|latter) half|h2) of next year\b",
          lambda t, m: 24.0 - t.month),
    _rule(r"\b(?:(?:the )?first (?:half|six months)|h1) of (?:this|the) year\b",
          lambda t, m: float(max(1, 6 - t.month))),
    _rule(r"\b(?:(?:the )?(?:second|back|latter) half(?: of (?:this|the) year)?|h2)\b",
          lambda t, m: _end_of_year(t), True),
    _rule(rf"\b(?:{_PREFIX} (?:the end of )?(?:this|the) year|before the year is out|"
          r"(?:by )?year end|end of (?:the |this )?year)\b(?! after)",
          lambda t, m: _end_of_year(t)),
    _rule(r"\bthis year\b", lambda t, m: _end_of_year(t), True),
    _rule(r"\b(?:early|beginning of|start of|first thing|first part of) next year\b",
          lambda t, m: 12 - t.month + 2.0),
    _rule(r"\b(?:mid|middle of|halfway through) next year\b", lambda t, m: 12 - t.month + 6.0),
    _rule(r"\b(?:end of|late|later|latter part of) next year\b", lambda t, m: 24.0 - t.month),
    _rule(r"\b(?:next|the next|the following|following) (?:fiscal|financial|budget) year|"
          r"next fy\b", lambda t, m: 12.0),
    _rule(r"\b(?:this|the current) (?:fiscal|financial|budget) year\b",
          lambda t, m: _end_of_year(t), True),
    _rule(r"\bnext year\b", lambda t, m: 12.0),
    _rule(r"\b(?:the year after next|in a couple of years|next couple of years)\b",
          lambda t, m: 24.0),
    _rule(r"\b(?:(?:after|in|into) the new year|(?:by|before|until|till|in time for|for) "
          r"(?:the )?new years?)\b", lambda t, m: 12 - t.month + 1.0),
    _rule(r"\b(?:by|before|until|till|in time for|for) (?:christmas|xmas|the holidays|"
          r"the holiday season)\b", lambda t, m: _months_until(t, 12)),
    _rule(r"\b(?:by|before|until|till|in time for) (?:the )?(?:end of |start of )?"
          r"(spring|summer|fall|autumn|winter)\b",
          lambda t, m: _months_until(t, _SEASON_START[m.group(1)])),
    _rule(r"\b(?:by|before|until|till) (?:the )?(?:end of |start of )?(january|february|march|"
          r"april|may|june|july|august|september|october|november|december)\b",
          lambda t, m: _months_until(t, _MONTH_NAMES[m.group(1)])),
    _rule(r"\b(?:by|before|in|until|till|around|end of|beginning of|start of|early|mid|late|"
          r"middle of) (january|february|march|april|june|july|august|september|october|"
          r"november|december)\b", lambda t, m: _months_until(t, _MONTH_NAMES[m.group(1)]), True),
    _rule(r"\b(january|february|march|april|june|july|august|september|october|november|"
          r"december)\b", lambda t, m: _months_until(t, _MONTH_NAMES[m.group(1)]), True),
    _rule(r"\b(?:by|before|in|until|till|around|over|during|this|next|the|early|late|end of) "
          r"(?:the )?(spring|summer|fall|autumn|winter)\b",
          lambda t, m: _months_until(t, _SEASON_START[m.group(1)]), True),
    _rule(r"\b(?:not (?:any ?time|anytime) soon|no time soon|down the road|long term|some ?day|"
          r"eventually|a ways (?:off|out)|way off|not for a while|a long way off|"
          r"not in the near future|not this year)\b", lambda t, m: 12.0),
)
_FRAGMENT_WORDS = 6
_MONEY = re.compile(r"\b(?:dollars?|bucks|grand|k|budget|spend|thousand|million)\b")
# Only an answer to "when?": "soon" alone says little otherwise.
_SOON = re.compile(r"\b(?:soon|shortly|quickly|fast|near future|near term|short term)\b")


def _unit_at(tokens: Sequence[str], index: int) -> float | None:
    return _UNIT_MONTHS.get(tokens[index]) if index < len(tokens) else None


def _is_future(tokens: Sequence[str], start: int, end: int, article: bool,
               intent: bool, answer: bool) -> bool:
    before = tokens[max(0, start - 3):start]
    after = " ".join(tokens[end:end + 3])
    if after.startswith(("ago", "old", "of", "later", "straight", "running", "in a row")):
        return False
    if _PAST_BEFORE.intersection(before) or (before and before[-1] in ("a", "an", "for")
                                             and "next" not in before and "coming" not in before):
        return False
    if before and (is_number_word(before[-1]) or before[-1] in ("dollars", "bucks", "dollar")):
        return False  # "five thousand a month" is a rate
    if article and before and before[-1].endswith("s") and before[-1] not in _FUTURE_BEFORE:
        return False  # "200 calls a day", "it takes a week": a rate or a duration
    if _CONTACT.search(" ".join(tokens[:start])):
        return False
    if _FUTURE_BEFORE.intersection(before) or after.startswith(_FUTURE_AFTER):
        return True
    # "a month" alone is a rate as often as a deadline; bare, it counts only as an answer
    return (intent and not article) or answer


def _durations(tokens: Sequence[str], intent: bool, answer: bool) -> list[float]:
    numbers = find_numbers(tokens, articles=True)
    found: list[float] = []
    used: set[int] = set()
    for index, number in enumerate(numbers):
        if index in used:
            continue
        unit = _unit_at(tokens, number.end)
        following: Number | None = numbers[index + 1] if index + 1 < len(numbers) else None
        joined = following is not None and following.start == number.end + 1 and (
            number.end < len(tokens) and tokens[number.end] in ("to", "or")
        )
        if unit is None and joined and following is not None:
            unit = _unit_at(tokens, following.end)  # "two to three months"
            if unit is None:
                continue
            months, end = max(number.value, following.value) * unit, following.end + 1
            used.add(index + 1)
        elif unit is not None:
            months, end = number.value * unit, number.end + 1
            if tokens[end:end + 3] == ["and", "a", "half"]:
                months, end = months + unit / 2, end + 3
            nxt = next((n for n in numbers[index + 1:] if n.start == end + 1), None)
            if nxt is not None and end < len(tokens) and tokens[end] in ("to", "or"):
                other_unit = _unit_at(tokens, nxt.end)  # "six months to a year", "a month or two"
                months = max(months, nxt.value * (other_unit or unit))
                end = nxt.end + (1 if other_unit else 0)
                used.add(numbers.index(nxt))
        else:
            continue
        article = tokens[number.start] in ("a", "an")
        if _is_future(tokens, number.start, end, article, intent, answer):
            found.append(months)
    return found


def _calendar(text: str, today: date, intent: bool) -> list[float]:
    found: list[float] = []
    spans: list[tuple[int, int]] = []
    for pattern, months, needs_intent, negatable in _CALENDAR:
        for match in pattern.finditer(text):
            if any(start <= match.start() < end for start, end in spans):
                continue  # "end of next year" already read; skip its "next year"
            if (needs_intent and not intent) or (
                negatable and negated_before(text, match.start(), window=2)
            ):
                continue
            if _CONTACT.search(text[:match.start()]):
                continue
            spans.append(match.span())
            found.append(months(today, match))
    return found


def read_timeline(sentences: Sequence[Sentence], *, today: date,
                  expecting: bool = False) -> float | None:
    """Months until the caller wants something in place, or None when not said.

    `expecting` says the caller is answering our timeline question, so a bare
    "three months" or "soon" counts.
    """
    durations: list[float] = []
    calendar: list[float] = []
    for sentence in sentences:
        # a short fragment ("three to six months.") is an answer in itself
        answer = expecting or (
            len(sentence.tokens) <= _FRAGMENT_WORDS and not _MONEY.search(sentence.text)
        )
        intent = answer or bool(_INTENT.search(sentence.text))
        durations += _durations(sentence.tokens, intent, answer)
        calendar += _calendar(sentence.text, today, intent)
    # "before the summer, so within about five months": the caller's own count of months
    # says what they meant by the date, however we would count to it
    found = durations or calendar
    if found:
        return round(max(found), 2)
    if expecting and any(_SOON.search(sentence.text) for sentence in sentences):
        return 3.0
    return None


# What may stand around a bare figure that answers our timeline question ("around six").
_HEDGES = frozenset({"about", "around", "maybe", "roughly", "probably", "say", "like", "um",
                     "uh", "oh", "well", "hmm", "or", "so", "ish", "i", "would", "guess",
                     "think", "in", "within"})
# Beyond this many, a bare figure is unlikely to be months.
_MAX_BARE_MONTHS = 36


def bare_months(sentences: Sequence[Sentence], *, expecting: bool) -> float | None:
    """A bare figure answering "when would you want this in place?" ("around six"):
    months, most likely, but unsaid, so the script asks. None for anything else."""
    if not expecting:
        return None
    for sentence in sentences:
        numbers = find_numbers(sentence.tokens)
        if len(numbers) != 1 or numbers[0].vague:
            continue
        number = numbers[0]
        around = [*sentence.tokens[:number.start], *sentence.tokens[number.end:]]
        if all(token in _HEDGES for token in around) and 0 < number.value <= _MAX_BARE_MONTHS:
            return number.value
    return None

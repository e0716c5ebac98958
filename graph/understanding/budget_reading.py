"""What a caller can spend: an annual amount in dollars, or that there is no budget.

Owns telling money apart from the other numbers of a sales call (calls a day,
staff, hours, dates), reading ranges ("twenty to thirty thousand" — we keep the
low end, what the caller is sure to spend) and periods ("five grand a month" is
sixty thousand a year), orders of magnitude ("low six figures", see
`graph.understanding.magnitudes`) and ceilings ("under ten grand" is just below ten thousand, so
it never meets a minimum of ten thousand). Phone numbers, clock times, years and
counts of things are not money.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import NamedTuple

from graph.understanding.magnitudes import find_magnitudes
from graph.understanding.numbers import Number, counts_things, find_numbers
from graph.understanding.text import Sentence, compile_all, negated_before
from graph.understanding.word_lists import word_list

_CURRENCY = frozenset({"dollars", "dollar", "bucks", "buck", "usd"})
_MONEY_SCALES = frozenset({"grand", "k"})
# Words that make a number a count of something other than money.
_COUNTED = frozenset(word_list("counted_nouns"))
_FUNCTION_WORDS = frozenset({
    "and", "or", "but", "i", "we", "a", "an", "per", "each", "every", "of", "on", "for", "to",
    "in", "the", "this", "that", "is", "are", "so", "it", "with", "at", "my", "our", "you",
    "last", "next", "past",  # "80k last year" is money spent in a year
})
# "Under ten grand": below the figure said; the amount is read one dollar short of it.
_CEILING = frozenset({"under", "below", "beneath", "less than", "lower than", "not even",
                      "short of", "south of", "not quite", "shy of"})
# Numbers counted, not paid: "we get 500 a month" (calls).
_COUNT_VERBS = re.compile(r"\b(?:get|gets|getting|receive|receives|handle|handles|take|takes|"
                          r"field|fields|see|sees|answer|answers|miss|misses|book|books|close|"
                          r"closes|do|does|make|makes|sell|sells|serve|serves)\b")
_RATE = frozenset({"month", "year", "week", "quarter"})
_BUDGET_CONTEXT = re.compile(
    r"\b(?:budget\w*|spend\w*|spent|invest\w*|afford|allocat\w*|set aside|pay|paying|paid|"
    r"price|pricing|cost|costs|earmark\w*|ring fenced|fund\w*|approved|range|ballpark|"
    r"money|expense|expenses|outlay|put toward|put towards|put into)\b"
)
# Money the business makes, not money it would spend.
_REVENUE = re.compile(r"\b(?:revenue|turnover|in sales|gross|profit|make|makes|earn|earns|"
                      r"bring in|brings in|worth|valued|raised|funding round)\b")
_PER_YEAR = {"month": 12.0, "monthly": 12.0, "mo": 12.0, "year": 1.0, "yearly": 1.0,
             "annually": 1.0, "annual": 1.0, "annum": 1.0, "quarter": 4.0, "quarterly": 4.0,
             "week": 52.0, "weekly": 52.0}

_NO_BUDGET = compile_all(
    r"\bno (?:real |actual |extra |spare |allocated |dedicated )?(?:budget|money|funds|"
    r"funding|cash)\b(?! (?:issues?|problems?|concerns?|constraints?|limits?|cap|ceiling))",
    r"\b(?:do not|does not|did not|dont) (?:really |currently |even |actually )?have "
    r"(?:a |any |the |much |that kind of |that much )?(?:budget|money|funds|funding|cash)\b",
    r"\b(?:can not|could not|can not really) afford\b(?! to (?:lose|miss|keep|waste|not|ignore|"
    r"let|pass|wait|go))",
    r"\bnot in (?:the|our|my) budget\b",
    r"\b(?:have not|has not|did not|never) (?:budgeted|set aside|allocated|planned)\b",
    r"\bnothing (?:budgeted|set aside|allocated|earmarked)\b",
    r"\b(?:zero|nil) (?:budget|dollars|money)\b",
    r"\bbudget (?:is|would be|is basically|is pretty much) (?:zero|nil|nothing|non existent|"
    r"gone|spent|frozen)\b",
    r"\bbudget (?:freeze|has been cut|was cut|got cut|is cut)\b",
    r"\bnot (?:spending|going to spend|willing to (?:spend|pay)|able to (?:spend|pay)|"
    r"paying) (?:any|anything|a dime|a cent|a penny|money)\b",
    r"\bout of (?:budget|money)\b",
    r"\b(?:we|i) are broke\b",
)


def _currency_after(tokens: Sequence[str], number: Number) -> int | None:
    """Index just past the currency word that belongs to `number`, if any."""
    for index in range(number.end, min(number.end + 2, len(tokens))):
        if tokens[index] in _CURRENCY:
            return index + 1
    return None


def _counted(tokens: Sequence[str], number: Number) -> bool:
    """True when the number counts things: "fifty calls", "ten inbound leads"."""
    window = tokens[number.end:number.end + 2]
    if not window or window[0] in _CURRENCY:
        return False
    if window[0] in _COUNTED or counts_things(window[0]):
        return True
    # one describing word may come between: "ten inbound leads", "two full time staff"
    return len(window) == 2 and window[0] not in _FUNCTION_WORDS and window[1] in _COUNTED


def _is_clock_time(tokens: Sequence[str], number: Number) -> bool:
    before = tokens[number.start - 1] if number.start else ""
    after = " ".join(tokens[number.end:number.end + 3])
    return number.value <= 24 and (
        before in ("at", "by", "until", "till")
        or re.match(r"in the (?:morning|afternoon|evening)\b", after) is not None
    )


def _per_year(tokens: Sequence[str], start: int, end: int) -> float:
    """How many times a year the amount around tokens[start:end] recurs (1 when unsaid)."""
    after = tokens[end:end + 4]
    for index, word in enumerate(after):
        if word in ("monthly", "yearly", "annually", "annual", "quarterly", "weekly"):
            return _PER_YEAR[word]
        if word in ("a", "an", "per", "each", "every") and (
            index + 1 < len(after) and after[index + 1] in _PER_YEAR
        ):
            return _PER_YEAR[after[index + 1]]
    before = tokens[max(0, start - 4):start]
    for word in before:
        if word in ("monthly", "quarterly", "weekly", "annual", "yearly"):
            return _PER_YEAR[word]
    return 1.0


def _is_phone_number(tokens: Sequence[str], number: Number) -> bool:
    """Digits read out in groups ("555 123 4567"), with a leading zero, or too long for
    an amount said aloud, are a phone number or an extension."""
    spoken = tokens[number.start:number.end]
    if len(spoken) != 1 or not spoken[0].isdigit():
        return False
    digits = spoken[0]
    neighbours = [tokens[i] for i in (number.start - 1, number.end) if 0 <= i < len(tokens)]
    before = " ".join(tokens[max(0, number.start - 3):number.start])
    return (
        digits.startswith("0") and len(digits) > 1
        or len(digits) >= 7
        or any(word.isdigit() and len(word) >= 3 for word in neighbours)
        or re.search(r"\b(?:number|extension|ext|dial|reach me at|call me at|cell|mobile)\b",
                     before) is not None
    )


def _is_rate(tokens: Sequence[str], number: Number) -> bool:
    """An amount followed by a period ("a few hundred a month") is a price paid."""
    after = tokens[number.end:number.end + 2]
    return (after[:1] in (["monthly"], ["yearly"], ["annually"], ["weekly"], ["quarterly"])
            or (len(after) == 2 and after[0] in ("a", "per", "each", "every")
                and after[1] in _RATE))


def _is_money(tokens: Sequence[str], number: Number, context: bool, expecting: bool) -> bool:
    if _is_phone_number(tokens, number):
        return False
    spoken = tokens[number.start:number.end]
    money_words = _currency_after(tokens, number) is not None or any(
        word in _MONEY_SCALES for word in spoken
    )
    if money_words:
        return True
    if _counted(tokens, number) or _is_clock_time(tokens, number):
        return False
    year_like = (
        len(spoken) == 1 and spoken[0].isdigit() and len(spoken[0]) == 4
        and 1900 <= number.value <= 2100
    )
    if year_like:
        return False
    # A bare large figure in a sales call is nearly always money; small ones only
    # when the caller is talking about spend or answering our budget question, or
    # say what they pay a month ("a few hundred a month").
    rate = (number.value >= 100 and _is_rate(tokens, number)
            and not _COUNT_VERBS.search(" ".join(tokens[:number.start])))
    return context or expecting or rate or number.value >= 1000


def _below(tokens: Sequence[str], number: Number) -> bool:
    """True when the amount is a ceiling the caller stays under ("less than 10k")."""
    before = tokens[max(0, number.start - 3):number.start]
    while before and before[-1] in ("about", "around", "maybe", "roughly", "probably", "well",
                                    "just", "a", "bit", "little", "way", "somewhere"):
        before = before[:-1]
    return bool(before) and (before[-1] in _CEILING or " ".join(before[-2:]) in _CEILING)


def _ranges(tokens: Sequence[str], numbers: list[Number]) -> list[Number]:
    """Numbers with ranges merged into their low end: "twenty to thirty thousand" is
    one figure, 20,000, spanning all four words."""
    merged: list[Number] = []
    index = 0
    while index < len(numbers):
        number = numbers[index]
        following = numbers[index + 1] if index + 1 < len(numbers) else None
        joiner = tokens[number.end] if number.end < len(tokens) else ""
        is_range = following is not None and following.start == number.end + 1 and (
            joiner in ("to", "or")
            or (joiner == "and" and number.start > 0 and tokens[number.start - 1] == "between")
        )
        if is_range and following is not None:
            low = number.value
            if number.scale == 1 and following.scale > 1 and low < 1000:
                low *= following.scale  # the first figure shares the second's scale
            merged.append(Number(low, number.start, following.end, following.scale))
            index += 2
        else:
            merged.append(number)
            index += 1
    return merged


def _amounts(sentence: Sentence, expecting: bool) -> list[tuple[float, bool]]:
    """Every amount of money in a sentence, per year, in the order said, each with
    whether its size went unsaid: a bare "about fifty" (no currency, no scale, no
    period) is fifty dollars only on paper; a caller most likely means thousands."""
    tokens = sentence.tokens
    context = bool(_BUDGET_CONTEXT.search(sentence.text))
    if _REVENUE.search(sentence.text) and not context:
        return []
    magnitudes = find_magnitudes(tokens)
    numbers = [n for n in _ranges(tokens, find_numbers(tokens))
               if _is_money(tokens, n, context, expecting)
               and not any(m.start <= n.start < m.end for m in magnitudes)]
    amounts: list[tuple[float, bool]] = []
    for number in sorted([*numbers, *magnitudes], key=lambda found: found.start):
        currency = _currency_after(tokens, number)
        currency_end = currency or number.end
        value = number.value - 1 if _below(tokens, number) else number.value
        per_year = _per_year(tokens, number.start, currency_end)
        unsized = (
            value < 1000 and currency is None and per_year == 1
            and not any(word in _MONEY_SCALES for word in tokens[number.start:number.end])
        )
        amounts.append((value * per_year, unsized))
    return amounts


class BudgetReading(NamedTuple):
    """What a caller's line says of their budget."""

    budget_usd: float | None  # per year
    no_budget: bool
    unsized: bool = False  # a bare figure under a thousand: dollars, or thousands?


def read_budget(sentences: Sequence[Sentence], *, expecting: bool = False) -> BudgetReading:
    """The annual budget in dollars (or None), or that there is none, from a caller's line.

    `expecting` says the caller is answering our budget question, so a bare
    "about fifty" is read as money (and `unsized`: the script asks which).
    """
    budget: float | None = None
    unsized = False
    no_budget = False
    for sentence in sentences:
        amounts = _amounts(sentence, expecting)
        if amounts:
            budget, unsized = amounts[-1]  # the last figure said corrects earlier ones
        for pattern in _NO_BUDGET:
            match = pattern.search(sentence.text)
            if match and not negated_before(sentence.text, match.start(), window=1):
                no_budget = True
    if budget is not None and budget <= 0:
        return BudgetReading(None, True)
    if budget is not None:
        no_budget = False
    return BudgetReading(budget, no_budget, unsized and budget is not None)

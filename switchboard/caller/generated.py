"""Generated callers: many different, realistic caller scenarios from a seed.

`switchboard demo-data` fills a database with the calls these callers make, and the
experiment tests place them to see the variants of an experiment react. The people,
their businesses and numbers, the ways they say each thing and how often each kind of
caller comes are data (`data/generated_callers.yaml`); this module only decides, with
a seeded random generator, who calls and in which order they say what.

Each caller has a *kind* — what they are after, under the default qualification policy
(DESIGN.md): `qualified` states a need, a budget of at least $10,000 a year, that they
decide, and a timeline within six months, then books a meeting; `long_timeline`,
`not_the_decider` and `callback_later` end as nurture; `small_budget` and `no_need` as
disqualified; `objection` says "not interested" first and is either won over (then
plays another kind) or not; `wants_a_person`, `opts_out`, `hangs_up` and
`keypad_and_silence` do what they say. A caller answers the qualifying questions in an
order of their own, as people do. Their scenario's `expect` is what the call reaches
under the default policy (None where that is not certain); other settings, such as an
experiment's variant with a higher minimum budget, may give another outcome.

The same seed gives the same callers, numbers and call SIDs, so a run can be repeated
or resumed.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Literal

import yaml
from num2words import num2words
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from switchboard.scenario import Scenario, parse_scenario

CALLER_BOOK = Path(__file__).with_name("data") / "generated_callers.yaml"

Direction = Literal["inbound", "outbound"]
# What a dialled lead's phone does on one attempt: a person plays a scenario, or one of
# the sandbox's signals (DESIGN.md "Campaigns and webhooks", the leads file).
PhoneSignal = Literal["no-answer", "busy", "voicemail"]

KINDS = (
    "qualified", "long_timeline", "not_the_decider", "small_budget", "no_need", "objection",
    "callback_later", "wants_a_person", "hangs_up", "opts_out", "keypad_and_silence",
)  # fmt: skip
ANSWERS = ("person", "no_answer", "busy", "voicemail", "no_answer_then_person")
# The outcome each kind reaches under the default policy, where it is certain.
EXPECTED_OUTCOME = {
    "qualified": "qualified",
    "long_timeline": "nurture",
    "not_the_decider": "nurture",
    "small_budget": "disqualified",
    "no_need": "disqualified",
    "wants_a_person": "transferred",
    "opts_out": "opted_out",
}
LINE_KINDS = (
    "answer_inbound", "answer_outbound", "permission", "need", "no_need", "budget", "decides",
    "someone_else_decides", "timeline", "far_timeline", "accept_meeting", "propose_meeting",
    "confirm", "goodbye", "not_interested", "won_over", "still_no", "callback_later",
    "wants_a_person", "yes_please", "opt_out", "hang_up_reason", "identify",
)  # fmt: skip
# The 555-0100 to 555-0199 range of an area code: numbers kept for fiction.
FICTIONAL_LINES = range(100, 200)


class CallerBookError(ValueError):
    """The caller book cannot be used; the message names the file and the field."""


class _Weights(BaseModel):
    model_config = ConfigDict(extra="forbid")
    inbound: dict[str, float]
    outbound: dict[str, float]


class _Business(BaseModel):
    model_config = ConfigDict(extra="forbid")
    company: str
    kind: str


class _Budgets(BaseModel):
    model_config = ConfigDict(extra="forbid")
    qualifying: list[int] = Field(min_length=1)
    small: list[int] = Field(min_length=1)


class _Timelines(BaseModel):
    model_config = ConfigDict(extra="forbid")
    near: list[int] = Field(min_length=1)
    far: list[int] = Field(min_length=1)


class CallerBook(BaseModel):
    """The contents of `generated_callers.yaml`."""

    model_config = ConfigDict(extra="forbid")

    kinds: _Weights
    answers: dict[str, float]
    repeat_share: float = Field(ge=0, lt=1)
    first_names: list[str] = Field(min_length=1)
    businesses: list[_Business] = Field(min_length=1)
    area_codes: list[str] = Field(min_length=1)
    agent_number: str
    budgets: _Budgets
    timelines: _Timelines
    lines: dict[str, list[str]]
    meeting_days: list[str] = Field(min_length=1)
    meeting_times: list[str] = Field(min_length=1)

    @model_validator(mode="after")
    def _complete(self) -> CallerBook:
        for direction, weights in (("inbound", self.kinds.inbound),
                                   ("outbound", self.kinds.outbound)):
            unknown = sorted(set(weights) - set(KINDS))
            if unknown:
                raise ValueError(f"kinds.{direction}: unknown kinds {unknown}")
            if not any(w > 0 for w in weights.values()) or min(weights.values()) < 0:
                raise ValueError(f"kinds.{direction}: weights must be >= 0, one of them > 0")
        if set(self.answers) != set(ANSWERS):
            raise ValueError(f"answers: give a weight to each of {', '.join(ANSWERS)}")
        missing = [kind for kind in LINE_KINDS if not self.lines.get(kind)]
        if missing:
            raise ValueError(f"lines: no sentences for {', '.join(missing)}")
        if min(self.budgets.qualifying) < 10_000 or max(self.budgets.small) >= 10_000:
            raise ValueError("budgets: qualifying ones are at least 10000, small ones below")
        if max(self.timelines.near) > 6 or min(self.timelines.far) <= 6:
            raise ValueError("timelines: near ones are 6 months or less, far ones more")
        return self


@cache
def load_caller_book(path: Path = CALLER_BOOK) -> CallerBook:
    """Read and check a caller book; `CallerBookError` names what is wrong."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        return CallerBook.model_validate(data)
    except (OSError, yaml.YAMLError) as exc:
        raise CallerBookError(f"{path}: {exc}") from None
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"]) or "(file)"
        message = error["msg"].removeprefix("Value error, ")
        raise CallerBookError(f"{path}: {where}: {message}") from None


@dataclass(frozen=True)
class Persona:
    """Who calls: the same person on each of their calls."""

    name: str
    company: str
    business: str  # what kind of business it is
    number: str  # E.164


@dataclass(frozen=True)
class GeneratedCall:
    """One call a generated caller makes."""

    scenario: Scenario
    kind: str
    persona: Persona
    call_sid: str
    repeat: bool = False  # the person has called before (the same number)


@dataclass(frozen=True)
class GeneratedLead:
    """A lead of a campaign and what their phone does on each attempt (the last repeats)."""

    persona: Persona
    attempts: tuple[PhoneSignal | GeneratedCall, ...]


@dataclass
class CallerGenerator:
    """Makes callers from `seed`; every number it hands out is different.

    `area_codes` narrows the numbers (a test's experiment targets them by prefix);
    `prefix` goes in front of scenario names and into call SIDs, so that two runs with
    different prefixes never share a call SID."""

    seed: int
    book: CallerBook = field(default_factory=load_caller_book)
    area_codes: Sequence[str] | None = None
    prefix: str = "generated"

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)
        self._calls = 0
        self._used: set[str] = set()
        codes = list(self.area_codes or self.book.area_codes)
        self._numbers = [f"+1{code}555{line:04d}" for code in codes for line in FICTIONAL_LINES]

    # --- public ---------------------------------------------------------------------------

    def inbound_calls(self, count: int) -> list[GeneratedCall]:
        """`count` inbound calls: first calls, then the repeat calls of some of those
        people (a share `repeat_share` of the whole), after all the first calls."""
        if count < 0:
            raise ValueError("count must not be negative")
        repeats = round(count * self.book.repeat_share) if count > 1 else 0
        firsts = [self._call("inbound", self._persona()) for _ in range(count - repeats)]
        again = self._random.sample(firsts, min(repeats, len(firsts)))
        return firsts + [self._call("inbound", first.persona, repeat=True) for first in again]

    def campaign_leads(self, count: int) -> list[GeneratedLead]:
        """`count` leads of an outbound campaign, each with what their phone does."""
        if count < 0:
            raise ValueError("count must not be negative")
        leads = []
        weights = self.book.answers
        for _ in range(count):
            persona = self._persona()
            answer = self._random.choices(list(weights), list(weights.values()))[0]
            attempts: tuple[PhoneSignal | GeneratedCall, ...]
            if answer == "person":
                attempts = (self._call("outbound", persona),)
            elif answer == "no_answer_then_person":
                attempts = ("no-answer", self._call("outbound", persona))
            else:
                attempts = (answer.replace("_", "-"),)  # type: ignore[assignment]
            leads.append(GeneratedLead(persona, attempts))
        return leads

    # --- people ---------------------------------------------------------------------------

    def _persona(self) -> Persona:
        free = len(self._numbers) - len(self._used)
        if free <= 0:
            raise ValueError(f"no numbers left: {len(self._numbers)} are all in use; "
                             "give more area codes")
        while True:
            number = self._random.choice(self._numbers)
            if number not in self._used:
                self._used.add(number)
                break
        business = self._random.choice(self.book.businesses)
        return Persona(
            name=self._random.choice(self.book.first_names),
            company=business.company,
            business=business.kind,
            number=number,
        )

    def _call(self, direction: Direction, persona: Persona, *, repeat: bool = False
              ) -> GeneratedCall:
        weights = getattr(self.book.kinds, direction)
        kind = self._random.choices(list(weights), list(weights.values()))[0]
        index = self._calls
        self._calls += 1
        lines, facts = _Script(self._random, self.book, persona, direction).play(kind)
        outcome = EXPECTED_OUTCOME.get(kind)
        if kind == "objection" and facts.get("won_over_as") in EXPECTED_OUTCOME:
            outcome = EXPECTED_OUTCOME[facts["won_over_as"]]
        expect = None
        if outcome is not None:
            expect = {"outcome": outcome,
                      **{k: facts[k] for k in ("budget_usd", "decision_maker",
                                               "timeline_months") if k in facts}}
        lead, agent = persona.number, self.book.agent_number
        scenario = parse_scenario(
            {
                "name": f"{self.prefix}-{index:04d}-{kind}",
                "description": f"{persona.name} of {persona.company} ({persona.business})",
                "direction": direction,
                "from": lead,
                "to": agent,
                "lines": lines,
                "expect": expect,
            },
            source=f"generated caller {index}",
        )
        digest = hashlib.sha256(f"{self.prefix}:{self.seed}:{index}".encode()).hexdigest()
        return GeneratedCall(scenario, kind, persona, call_sid=f"CA{digest[:32]}",
                             repeat=repeat)


class _Script:
    """The lines of one call, said by `persona`."""

    def __init__(self, rng: random.Random, book: CallerBook, persona: Persona,
                 direction: Direction) -> None:
        self.rng = rng
        self.book = book
        self.persona = persona
        self.direction = direction
        self.facts: dict[str, Any] = {}

    def say(self, line_kind: str, **values: str) -> str:
        template = self.rng.choice(self.book.lines[line_kind])
        return template.format(name=self.persona.name, company=self.persona.company,
                               kind=self.persona.business, **values)

    def play(self, kind: str) -> tuple[list[Any], dict[str, Any]]:
        lines: list[Any] = [self.say(f"answer_{self.direction}")]
        if self.direction == "outbound":  # the agent introduces itself and asks who this is
            lines.append(self.say("identify"))
        lines += getattr(self, f"_{kind}")()
        return lines, self.facts

    # --- the pieces of a conversation ----------------------------------------------------

    def _budget(self, amounts: list[int]) -> str:
        amount = self.rng.choice(amounts)
        self.facts["budget_usd"] = amount
        spoken = (f"{num2words(amount)} dollars" if self.rng.random() < 0.7
                  else f"${amount:,}")
        return self.say("budget", budget=spoken)

    def _timeline(self, months: list[int], line_kind: str) -> str:
        chosen = self.rng.choice(months)
        self.facts["timeline_months"] = chosen
        return self.say(line_kind, months=_months(chosen))

    def _authority(self, decides: bool) -> str:
        self.facts["decision_maker"] = decides
        return self.say("decides" if decides else "someone_else_decides")

    def _qualifying(self, *, budgets: list[int] | None = None, decides: bool = True,
                    far: bool = False, need: bool = True) -> list[str]:
        """Need, budget, authority and timeline, in an order of the caller's own."""
        timelines = self.book.timelines
        answers = [
            self.say("need" if need else "no_need"),
            self._budget(budgets or self.book.budgets.qualifying),
            self._authority(decides),
            self._timeline(timelines.far, "far_timeline") if far
            else self._timeline(timelines.near, "timeline"),
        ]
        self.rng.shuffle(answers)
        return answers

    def _meeting(self) -> list[Any]:
        if self.rng.random() < 0.5:
            return [self.say("accept_meeting"), self.say("goodbye"), {"hangup": True}]
        day = self.rng.choice(self.book.meeting_days)
        time = self.rng.choice(self.book.meeting_times)
        return [self.say("propose_meeting", day=day, time=time), self.say("confirm"),
                self.say("goodbye"), {"hangup": True}]

    def _wrap_up(self) -> list[Any]:
        return [self.say("accept_meeting"), self.say("goodbye"), {"hangup": True}]

    # --- the kinds of caller -------------------------------------------------------------

    def _qualified(self) -> list[Any]:
        return [self.say("permission"), *self._qualifying(), *self._meeting()]

    def _long_timeline(self) -> list[Any]:
        return [self.say("permission"), *self._qualifying(far=True), *self._wrap_up()]

    def _not_the_decider(self) -> list[Any]:
        return [self.say("permission"), *self._qualifying(decides=False), *self._wrap_up()]

    def _small_budget(self) -> list[Any]:
        return [self.say("permission"), *self._qualifying(budgets=self.book.budgets.small),
                *self._wrap_up()]

    def _no_need(self) -> list[Any]:
        return [self.say("permission"), self.say("no_need"), self.say("goodbye"),
                {"hangup": True}]

    def _objection(self) -> list[Any]:
        lines: list[Any] = [self.say("not_interested")]
        if self.rng.random() < 0.5:
            return [*lines, self.say("still_no"), {"hangup": True}]
        then = self.rng.choice(["qualified", "long_timeline", "not_the_decider", "small_budget"])
        self.facts["won_over_as"] = then
        rest = getattr(self, f"_{then}")()
        return [*lines, self.say("won_over"), *rest[1:]]  # rest[0] is the permission

    def _callback_later(self) -> list[Any]:
        return [self.say("callback_later"), self.say("accept_meeting"), self.say("goodbye"),
                {"hangup": True}]

    def _wants_a_person(self) -> list[Any]:
        lines: list[Any] = [self.say("permission")] if self.rng.random() < 0.5 else []
        # "Yes please" if the agent checks before it puts them through.
        return [*lines, self.say("wants_a_person"), self.say("yes_please"), {"silence_s": 2}]

    def _hangs_up(self) -> list[Any]:
        started = [self.say("permission"), *self._qualifying()]
        kept = started[: self.rng.randint(0, 3)]
        self.facts.clear()  # what was said before the hang-up is not all of it
        reason = [self.say("hang_up_reason")] if self.rng.random() < 0.5 else []
        return [*kept, *reason, {"hangup": True}]

    def _opts_out(self) -> list[Any]:
        return [self.say("opt_out"), {"silence_s": 1}]

    def _keypad_and_silence(self) -> list[Any]:
        qualifying = self._qualifying()
        return [{"dtmf": "1"}, qualifying[0], {"silence_s": 7}, *qualifying[1:],
                {"dtmf": "1"}, self.say("goodbye"), {"hangup": True}]


def _months(months: int) -> str:
    if months % 12 == 0:
        years = months // 12
        return "a year" if years == 1 else f"{num2words(years)} years"
    return "a month" if months == 1 else f"{num2words(months)} months"

"""Caller scenarios: the YAML files `switchboard call` plays (DESIGN.md "A caller scenario").

A scenario names the call's direction and numbers, lists what the caller does turn by
turn (a sentence, a key press, a silence, a hang-up) and what the call record must show
afterwards. `load_scenario` reads one file; a bad file raises `ScenarioError` whose
message names the file and the entry at fault.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from switchboard.models import Direction, Outcome

# E.164, what Twilio puts in From/To for phone numbers.
E164_PATTERN = r"^\+[1-9][0-9]{6,14}$"
# What a phone keypad sends (and what the media stream's `dtmf` event carries).
DTMF_PATTERN = r"^[0-9*#]+$"


class ScenarioError(ValueError):
    """A scenario file that cannot be played; the message says why."""


class Dtmf(BaseModel):
    """Key presses instead of speech: `{dtmf: "1"}` (several keys are pressed in turn)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    dtmf: str = Field(pattern=DTMF_PATTERN)


class Silence(BaseModel):
    """The caller says nothing for a while: `{silence_s: 6}`."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    silence_s: float = Field(gt=0, le=600)


class Hangup(BaseModel):
    """The caller hangs up here: `{hangup: true}`."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    hangup: bool

    @field_validator("hangup")
    @classmethod
    def _true(cls, value: bool) -> bool:
        if value is not True:
            raise ValueError("hangup can only be true; leave the entry out to stay on the line")
        return value


Line = str | Dtmf | Silence | Hangup

_LINE_KINDS: dict[str, type[BaseModel]] = {"dtmf": Dtmf, "silence_s": Silence, "hangup": Hangup}
_LINE_HELP = 'a sentence, {dtmf: "1"}, {silence_s: 6} or {hangup: true}'


class Expectation(BaseModel):
    """What the call record must show. Keys beyond these are kept for checkers to read."""

    model_config = ConfigDict(extra="allow")

    outcome: Outcome
    budget_usd: float | None = None
    decision_maker: bool | None = None
    need: str | None = None
    timeline_months: float | None = None
    meeting_time: str | None = None
    premium: bool | None = None


class Scenario(BaseModel):
    """One simulated call. `from_number` is the lead, `to_number` the agent (as in the YAML)."""

    # Unknown keys are refused so that a misspelt one ("directon") is not silently ignored.
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    name: str = Field(min_length=1)
    description: str | None = None
    direction: Direction = "inbound"
    from_number: str = Field(alias="from", pattern=E164_PATTERN)
    to_number: str = Field(alias="to", pattern=E164_PATTERN)
    # Twilio's AnsweredBy on an outbound call with machine detection (e.g. machine_start).
    answered_by: str | None = None
    lines: list[Line] = Field(min_length=1)
    expect: Expectation | None = None

    @field_validator("from_number", "to_number", mode="before")
    @classmethod
    def _quoted_number(cls, value: Any) -> Any:
        if isinstance(value, int):
            # YAML reads an unquoted +15551230001 as the integer 15551230001.
            raise ValueError('write the phone number in quotes, e.g. "+15551230001"')
        return value

    @field_validator("lines", mode="before")
    @classmethod
    def _parse_lines(cls, value: Any) -> Any:
        if not isinstance(value, list):
            raise ValueError(f"must be a list; each entry {_LINE_HELP}")
        return [_parse_line(index, entry) for index, entry in enumerate(value)]


def _parse_line(index: int, entry: Any) -> Line:
    """One entry of `lines`, with an error naming its position when it is not one we know."""
    if isinstance(entry, str):
        if not entry.strip():
            raise ValueError(f"entry {index} is an empty sentence")
        return entry.strip()
    if isinstance(entry, dict) and len(entry) == 1:
        key = next(iter(entry))
        kind = _LINE_KINDS.get(key)
        if kind is not None:
            try:
                return kind.model_validate(entry)  # type: ignore[return-value]
            except ValidationError as exc:
                reason = exc.errors()[0]["msg"].removeprefix("Value error, ")
                raise ValueError(f"entry {index} ({key}: {entry[key]!r}): {reason}") from None
    raise ValueError(f"entry {index} is {entry!r}; each entry is {_LINE_HELP}")


def parse_scenario(data: Any, source: str = "scenario") -> Scenario:
    """A scenario from already-parsed YAML; `source` names it in errors."""
    if not isinstance(data, dict):
        raise ScenarioError(f"{source}: a scenario is a mapping with name, from, to and lines")
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            location = ".".join(str(part) for part in error["loc"]) or "scenario"
            message = error["msg"].removeprefix("Value error, ")
            if error["type"] == "extra_forbidden":
                message = "unknown key"
            problems.append(f"{location}: {message}")
        raise ScenarioError(f"{source}: " + "; ".join(problems)) from None


def load_scenario(path: str | Path) -> Scenario:
    """Read and check one scenario file; raises `ScenarioError` naming the problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read the scenario ({exc.strerror})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ScenarioError(f"{path}: not valid YAML{where}: {problem}") from None
    return parse_scenario(data, source=str(path))

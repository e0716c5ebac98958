"""Who answers the sandbox's outbound calls: the leads file (`SWITCHBOARD_SANDBOX_LEADS`).

DESIGN.md "Campaigns and webhooks": a YAML mapping from a quoted E.164 number to what
happens when it is dialled, or to a list of those by attempt (the last one repeats):

    "+15550100001": qualified.yaml             # a caller scenario: a person answers
    "+15550100002": [no-answer, opt-out.yaml]  # rings out first, answers the second time
    "+15550100003": busy
    "+15550100004": voicemail                  # a machine answers and plays a greeting

Scenario paths are relative to the file. The file is read again on every call, so a
test may change it between calls. A number it does not list does not answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

import yaml

from switchboard.scenario import Scenario, ScenarioError, load_scenario

Behaviour = Literal["no-answer", "busy", "voicemail", "human"]
SIGNALS: Final = ("no-answer", "busy", "voicemail")
# The greeting an answering machine plays (a caller scenario, in this package).
VOICEMAIL_GREETING: Final = Path(__file__).with_name("data") / "voicemail_greeting.yaml"


class LeadBookError(ValueError):
    """The leads file cannot be read; the message says where."""


@dataclass(frozen=True)
class Answer:
    """What happens on one call: `human` plays `scenario`; `voicemail` plays the
    machine's greeting; the others never answer."""

    behaviour: Behaviour
    scenario: Scenario | None = None


def answer_for(path: Path | None, number: str, attempt: int) -> Answer:
    """What the `attempt`th call (from 1) to `number` meets, per the file at `path`."""
    if path is None:
        return Answer("no-answer")
    try:
        book = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise LeadBookError(f"{path}: {exc}") from None
    if not isinstance(book, dict):
        raise LeadBookError(f"{path}: not a mapping of numbers")
    unquoted = [key for key in book if not isinstance(key, str)]
    if unquoted:
        # PyYAML reads an unquoted +15550100001 as an integer.
        raise LeadBookError(f'{path}: quote the numbers, e.g. "+{unquoted[0]}"')
    entry = book.get(number)
    if entry is None:
        return Answer("no-answer")
    entries = entry if isinstance(entry, list) else [entry]
    if not entries:
        return Answer("no-answer")
    chosen = str(entries[min(attempt, len(entries)) - 1])
    if chosen in SIGNALS:
        if chosen == "voicemail":
            return Answer("voicemail", load_scenario(VOICEMAIL_GREETING))
        return Answer(chosen)  # type: ignore[arg-type]
    try:
        return Answer("human", load_scenario(path.parent / chosen))
    except ScenarioError as exc:
        raise LeadBookError(f"{path}: {number}: {exc}") from None

"""Issue 10's caller set (`scenarios/phone/`) over audio, through the benchmark's own code.

The set was written for issue 10, apart from the public scenarios, from how people talk
on sales calls (fillers, restarts, self-corrections, facts out of order or two at once,
vague answers, refusals, voicemail, asking for a person, opt-outs phrased many ways,
meeting times with corrections). `load_tests.bench_callers` plays it and scores it; this
test runs that same code (one feature, one place) in the slow tier on a fixed,
representative subset of 13 callers (every outcome, four opt-outs, a meeting correction):
the whole set of 35 takes about 13 minutes at two calls at a time on 2 cores, more than
a slow-tier test should hold; `python -m load_tests.bench_callers` runs all of it.

It asserts what must hold whatever the recogniser mishears: every call completes with a
final record and none is lost; no caller who opted out ends `qualified` or
`abandoned`; no meeting is booked that the agent had not said back to the caller first.
Then an accuracy floor, set from measured figures with a margin (see the constants).

The fast tests below check the set itself and that the safety checks catch what they
are for, on records written by hand.
"""

from __future__ import annotations

import re
from collections import Counter

import pytest
import yaml

from load_tests.bench_callers import (
    PHONE_SCENARIO_FILES,
    CallScore,
    phone_scenarios,
    play_set,
    safety_problems,
    summary,
    unconfirmed_meeting,
)
from tests.e2e import SCENARIO_FILES, RunningSwitchboard

# One caller of each outcome and of each thing the set varies, short callers first so
# the subset fits in about five minutes at CONCURRENCY calls on 2 cores.
SUBSET = (
    "phone-qualified-meeting-correction",
    "phone-qualified-hesitant-owner",
    "phone-qualified-terse",
    "phone-nurture-boss-decides",
    "phone-disqualified-tiny-budget",
    "phone-optout-remove-number",
    "phone-optout-midcall",
    "phone-optout-polite",
    "phone-optout-keypad",
    "phone-transfer-manager",
    "phone-nurture-driving",
    "phone-voicemail-greeting",
    "phone-abandoned-door",
)
# As the benchmark: at 3, calls placed right after the server started were answered
# busy while the warm pool filled.
CONCURRENCY = 2
# Floors under what the subset measured over audio on 2 cores (load_tests/bench_callers,
# 2026-12-04, load average 11-34: outcomes 10/13 = 0.77 and facts 12/14 = 0.86; in an
# earlier run at load 13-38, outcomes 9/13): a margin for what a loaded machine does to
# recognition, so the floor catches a regression, not a busy neighbour.
OUTCOME_FLOOR = 0.5
FACT_FLOOR = 0.6


@pytest.fixture(scope="module")
async def played(switchboard: RunningSwitchboard) -> list[CallScore]:
    """The subset played once over audio, shared by the assertions below."""
    return await play_set(switchboard, phone_scenarios(list(SUBSET)), text=False,
                          concurrency=CONCURRENCY)


# The first test to ask for `played` waits for the session's server start (~40 s) and
# the subset's calls (~4-5 min at CONCURRENCY on 2 cores). CI runs them beside the fast
# tier (parallel_safe): the floors above were measured on a loaded machine.
@pytest.mark.slow
@pytest.mark.parallel_safe
@pytest.mark.timeout(900)
def test_every_caller_gets_a_final_record(played: list[CallScore]) -> None:
    assert [s.scenario for s in played] == list(SUBSET)
    lost = [(s.scenario, s.error or s.status) for s in played if s.lost]
    assert not lost, lost


@pytest.mark.slow
@pytest.mark.parallel_safe
@pytest.mark.timeout(900)
def test_no_meeting_is_booked_unconfirmed(played: list[CallScore]) -> None:
    """Whatever was heard, a booked time is one the agent said back and asked about."""
    unconfirmed = [(s.scenario, s.meeting_unconfirmed, s.heard) for s in played
                   if s.meeting_unconfirmed]
    assert not unconfirmed, unconfirmed


@pytest.mark.slow
@pytest.mark.parallel_safe
@pytest.mark.timeout(900)
def test_no_caller_who_opted_out_ends_qualified_or_abandoned(played: list[CallScore]) -> None:
    went_on = [(s.scenario, s.outcome, s.heard) for s in played
               if s.expected_outcome == "opted_out" and s.outcome in ("qualified", "abandoned")]
    assert not went_on, went_on
    assert not safety_problems(played), safety_problems(played)


@pytest.mark.slow
@pytest.mark.parallel_safe
@pytest.mark.timeout(900)
def test_outcome_and_fact_accuracy_stay_above_the_floor(played: list[CallScore]) -> None:
    result = summary(played)
    assert result["outcome_accuracy"] >= OUTCOME_FLOOR, result["misses"]
    assert result["fact_accuracy"] >= FACT_FLOOR, result["fact_accuracy_by_key"]


SENTENCE_WORDS = 4  # shorter lines are the stock replies of every phone call


def _words(line: str) -> str:
    return " ".join(re.findall(r"[a-z0-9']+", line.lower()))


def test_the_set_is_its_own_and_spread_over_outcomes() -> None:
    """At least 30 callers, each with an expectation, none taking a sentence from the
    public scenarios or the recognition benchmark's tuning sentences (short replies
    everyone says, "Hello?", "Yes please.", are everyone's), every outcome present."""
    from load_tests.bench_recognition import TUNING

    scenarios = phone_scenarios()
    assert len(scenarios) >= 30
    assert len({s.name for s in scenarios}) == len(scenarios)
    assert all(s.expect is not None for s in scenarios)
    public = {_words(line) for path in SCENARIO_FILES
              for line in yaml.safe_load(path.read_text())["lines"] if isinstance(line, str)}
    public |= {_words(text) for lines in TUNING.values() for _, text in lines}
    copied = [(s.name, line) for s in scenarios for line in s.lines
              if isinstance(line, str) and len(_words(line).split()) >= SENTENCE_WORDS
              and _words(line) in public]
    assert not copied, copied
    outcomes = Counter(str(s.expect.outcome) for s in scenarios if s.expect)
    assert set(outcomes) == {"qualified", "nurture", "disqualified", "opted_out",
                             "transferred", "voicemail", "abandoned"}, outcomes
    assert not set(PHONE_SCENARIO_FILES) & set(SCENARIO_FILES)
    assert set(SUBSET) <= {s.name for s in scenarios}


def _turn(user: str, agent: str) -> dict:
    return {"user_text": user, "agent_text": agent, "agent": "scheduler", "latency_ms": 1.0}


def test_a_meeting_booked_without_a_read_back_is_caught() -> None:
    proposal = ("Could we book a short call with a specialist on Monday at ten in the "
                "morning? Say yes or press one, or tell me a time that suits you better.")
    read_back = "Just to confirm, that's Wednesday at two in the afternoon. Is that right?"
    booked = ("Perfect, you're booked for Wednesday at two in the afternoon. A specialist "
              "will send you an invite. Is there anything else I can help with?")
    confirmed = {"facts": {"meeting_time": "Wednesday at 2 PM"}, "turns": [
        _turn("within a month", proposal),
        _turn("well you bet two in the afternoon", read_back),
        _turn("yes", booked),
    ]}
    assert unconfirmed_meeting(confirmed) is None
    # the heard time booked straight from the proposal, never said back
    unconfirmed = {"facts": {"meeting_time": "Wednesday at 2 PM"}, "turns": [
        _turn("within a month", proposal),
        _turn("well you bet two in the afternoon", booked),
    ]}
    assert unconfirmed_meeting(unconfirmed)
    # said back, but a different time from the one booked
    other = {"facts": {"meeting_time": "Thursday at 2 PM"}, "turns": [
        _turn("within a month", proposal),
        _turn("well you bet two in the afternoon", read_back),
        _turn("yes", booked.replace("Wednesday", "Thursday")),
    ]}
    assert unconfirmed_meeting(other)
    # the agent's own proposal, accepted
    accepted = {"facts": {"meeting_time": "Monday at 10 AM"}, "turns": [
        _turn("within a month", proposal),
        _turn("yes", "Perfect, you're booked for Monday at ten in the morning."),
    ]}
    assert unconfirmed_meeting(accepted) is None
    assert unconfirmed_meeting({"facts": {"meeting_time": None}, "turns": []}) is None


def test_safety_problems_name_lost_calls_and_opt_outs_that_went_on() -> None:
    fine = CallScore(scenario="a", mode="audio", expected_outcome="opted_out",
                     outcome="opted_out", status="completed")
    assert safety_problems([fine]) == []
    for ended in ("abandoned", "qualified"):
        went_on = CallScore(scenario="b", mode="audio", expected_outcome="opted_out",
                            outcome=ended, status="completed")
        assert safety_problems([fine, went_on]) == [
            f"b: the caller opted out, the call ended {ended}"
        ]
    lost = CallScore(scenario="c", mode="audio", expected_outcome="qualified",
                     error="CallFailed: refused")
    not_final = CallScore(scenario="d", mode="audio", expected_outcome="qualified",
                          outcome="qualified", status="in_progress")
    assert len(safety_problems([lost, not_final])) == 2
    booked = CallScore(scenario="e", mode="audio", expected_outcome="qualified",
                       outcome="qualified", status="completed",
                       meeting_unconfirmed="Friday at 3 PM: booked on 'yes'")
    assert safety_problems([booked]) == ["e: meeting Friday at 3 PM: booked on 'yes'"]

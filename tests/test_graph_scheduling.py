"""The scheduler on the direct path: a caller answering our proposed time with another.

The scheduler proposes the next business day at ten (Thursday, the script's today
being a Wednesday). Whatever time the caller offers instead is booked, or asked
about when they name none; it is never taken as a request to be called back.
"""

from __future__ import annotations

import pytest

from graph.script import QualificationScript
from graph.state import ConversationState
from switchboard.models import Outcome
from tests.test_graph_script import QUALIFY_LINES, converse, make_script, triggers


def proposed() -> tuple[QualificationScript, ConversationState]:
    """A qualified call whose scheduler has just proposed Thursday at 10 AM."""
    script = make_script()
    state, _ = converse(script, QUALIFY_LINES)
    assert state.asked == "meeting" and state.proposed_meeting == "Thursday at 10 AM"
    return script, state


@pytest.mark.parametrize(
    ("line", "booked"),
    [
        ("Could we do Wednesday at three instead?", "Wednesday at 3 PM"),
        ("could we do wednesday at three instead", "Wednesday at 3 PM"),
        ("How about Friday morning?", "Friday morning"),
        ("Thursday doesn't work, Friday at 2?", "Friday at 2 PM"),
        ("Thursday's no good, can we do Friday?", "Friday"),
        ("Can we make it later in the week?", "later this week"),
        ("any chance of next Monday?", "next Monday"),
        ("I'd prefer the afternoon", "Thursday afternoon"),
        ("How about three?", "Thursday at 3 PM"),
        ("Can we do it a bit later, like 11?", "Thursday at 11 AM"),
        ("I'm busy then, how about 3pm?", "Thursday at 3 PM"),
        ("Would Monday work?", "Monday"),
        ("Could we do Weds at 3 instead?", "Wednesday at 3 PM"),
        ("not tomorrow, the day after?", "the day after tomorrow"),
    ],
)
def test_a_counter_proposal_is_booked_not_taken_for_a_callback(line: str, booked: str) -> None:
    script, state = proposed()
    state, reply = script.on_text(state, line)
    assert state.facts.meeting_time == booked and state.meeting_confirmed
    assert not state.callback_requested
    assert reply.transitions == [("scheduler", "wrap_up", "meeting_booked")]
    assert state.outcome is Outcome.QUALIFIED
    assert script.on_hangup(state) is Outcome.QUALIFIED


def test_a_time_without_a_day_after_ruling_out_the_proposed_day_keeps_no_day() -> None:
    script, state = proposed()
    state, _ = script.on_text(state, "Thursday doesn't work, how about 2?")
    assert state.facts.meeting_time == "2 PM"


@pytest.mark.parametrize(
    "line",
    ["Do you have anything earlier?", "Can we do it later?", "what other times do you have",
     "Yes, but could we do it later in the day?"],
)
def test_asking_for_another_time_without_naming_one_gets_a_clarifying_question(
    line: str,
) -> None:
    script, state = proposed()
    state, reply = script.on_text(state, line)
    assert state.current_agent == "scheduler" and state.asked == "meeting_time"
    assert reply.text.endswith("What day and time would suit you?")
    assert not state.callback_requested and state.facts.meeting_time is None
    state, reply = script.on_text(state, "Friday at four")
    assert state.facts.meeting_time == "Friday at 4 PM"
    assert script.on_hangup(state) is Outcome.QUALIFIED


def test_a_caller_who_cannot_schedule_now_is_deferred() -> None:
    script, state = proposed()
    state, reply = script.on_text(state, "I'm slammed, call me back next month.")
    assert state.callback_requested and state.facts.meeting_time is None
    assert triggers([reply]) == ["callback_requested"]
    assert script.on_hangup(state) is Outcome.QUALIFIED  # all four criteria were met


def test_asking_to_move_a_booked_meeting_returns_to_the_scheduler() -> None:
    script, state = proposed()
    state, _ = script.on_text(state, "Sure.")
    assert state.facts.meeting_time == "Thursday at 10 AM"
    state, reply = script.on_text(state, "Actually, can we make it a bit earlier?")
    assert reply.transitions == [("wrap_up", "scheduler", "reschedule_requested")]
    assert state.asked == "meeting_time"
    state, _ = script.on_text(state, "nine?")
    assert state.facts.meeting_time == "Thursday at 9 AM"


def test_a_question_after_booking_does_not_move_the_meeting() -> None:
    script, state = proposed()
    state, _ = script.on_text(state, "Sure.")
    state, reply = script.on_text(state, "What about 5 users, is that extra?")
    assert state.facts.meeting_time == "Thursday at 10 AM"
    assert state.current_agent == "wrap_up" and reply.transitions == []


def test_a_qualified_caller_who_gives_only_a_timeline_phrase_reaches_the_scheduler() -> None:
    script = make_script()
    state, replies = converse(script, [
        "Hi, Bea here.", "Go for it.", "It takes us days to get back to people.",
        "low six figures", "It's me and my partner.", "within the quarter",
    ])
    assert state.current_agent == "scheduler" and state.asked == "meeting"
    assert state.facts.budget_usd == 100_000 and state.facts.decision_maker is True
    assert state.facts.timeline_months == 3


def test_a_budget_under_the_minimum_disqualifies() -> None:
    script = make_script()
    state, replies = converse(script, [
        "This is Cal.", "yep", "We miss calls after hours.", "Under ten grand, honestly.",
    ])
    assert replies[-1].end_call and state.outcome is Outcome.DISQUALIFIED


def test_a_budget_just_under_a_round_figure_is_acknowledged_as_such() -> None:
    script = make_script()
    _, replies = converse(script, ["This is Cal.", "yep", "We miss calls after hours.",
                                   "a bit under fifty grand"])
    assert "just under fifty thousand dollars" in replies[-1].text


def test_a_bare_name_is_taken_as_the_answer_to_who_is_calling() -> None:
    script = make_script()
    state, replies = converse(script, ["Rosalind."])
    assert state.caller_name == "Rosalind" and "Rosalind" in replies[-1].text


def test_outbound_a_person_saying_you_have_reached_gets_the_introduction() -> None:
    script = make_script()
    state, replies = converse(script, ["You've reached Ines, who's this?"], "outbound")
    assert not state.voicemail and replies[-1].agent == "qualifier"
    assert replies[-1].text.startswith("Hi Ines, this is Robin")

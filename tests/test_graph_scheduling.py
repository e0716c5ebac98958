"""The scheduler on the direct path: a caller answering our proposed time with another.

The scheduler proposes the next business day at ten (Thursday, the script's today
being a Wednesday). Whatever time the caller offers instead is read back and booked
once confirmed, or asked about when they name none; it is never taken as a request
to be called back. A time misheard is never booked: a "no" or a correction to the
read-back gets a correction turn.
"""

from __future__ import annotations

import pytest

from graph.workflow.script import QualificationScript
from graph.workflow.state import ConversationState
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
def test_a_counter_proposal_is_read_back_then_booked_not_taken_for_a_callback(
    line: str, booked: str
) -> None:
    script, state = proposed()
    state, reply = script.on_text(state, line)
    assert state.asked == "meeting_confirm" and state.pending_meeting == booked
    assert state.facts.meeting_time is None and not state.meeting_confirmed
    assert reply.text.endswith("Is that right?") and reply.transitions == []
    state, reply = script.on_text(state, "Yes, that's right.")
    assert state.facts.meeting_time == booked and state.meeting_confirmed
    assert not state.callback_requested
    assert reply.transitions == [("scheduler", "wrap_up", "meeting_booked")]
    assert state.outcome is Outcome.QUALIFIED
    assert script.on_hangup(state) is Outcome.QUALIFIED


def test_a_time_without_a_day_after_ruling_out_the_proposed_day_keeps_no_day() -> None:
    script, state = proposed()
    state, _ = script.on_text(state, "Thursday doesn't work, how about 2?")
    assert state.pending_meeting == "2 PM"


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
    assert state.pending_meeting == "Friday at 4 PM"
    state, reply = script.on_dtmf(state, "1")
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
    state, reply = script.on_text(state, "nine?")
    assert state.facts.meeting_time == "Thursday at 10 AM"  # not until it is confirmed
    assert state.pending_meeting == "Thursday at 9 AM"
    state, reply = script.on_text(state, "Yep.")
    assert state.facts.meeting_time == "Thursday at 9 AM"
    assert reply.sentences[0] == "No problem, I've moved it to Thursday at nine in the morning."


def test_saying_back_our_own_proposal_books_it_without_a_read_back() -> None:
    script, state = proposed()
    state, reply = script.on_text(state, "Thursday at ten works for me.")
    assert state.facts.meeting_time == "Thursday at 10 AM" and state.meeting_confirmed
    assert reply.transitions == [("scheduler", "wrap_up", "meeting_booked")]


def test_a_misheard_day_is_corrected_at_the_read_back_and_never_booked() -> None:
    """The caller said "Wednesday at two"; the line arrived as "well you bet two", read
    as two on the proposed day. The read-back catches it, the caller corrects it, and
    only the corrected time is booked."""
    script, state = proposed()
    state, reply = script.on_text(state, "well you bet two in the afternoon")
    assert state.pending_meeting == "Thursday at 2 PM" and state.facts.meeting_time is None
    assert "Thursday at two in the afternoon" in reply.text
    state, reply = script.on_text(state, "No, Wednesday at two.")
    assert state.facts.meeting_time is None
    assert state.pending_meeting == "Wednesday at 2 PM"
    assert reply.sentences == ["Sorry about that.", "Just to confirm, that's Wednesday at two "
                               "in the afternoon.", "Is that right?"]
    state, reply = script.on_text(state, "Yes.")
    assert state.facts.meeting_time == "Wednesday at 2 PM"
    assert script.on_hangup(state) is Outcome.QUALIFIED


def test_a_no_to_the_read_back_asks_for_the_time_again() -> None:
    script, state = proposed()
    state, _ = script.on_text(state, "How about Friday morning?")
    state, reply = script.on_text(state, "No, that's wrong.")
    assert state.asked == "meeting_time" and state.pending_meeting is None
    assert reply.text == "Sorry about that. What day and time would suit you?"
    assert state.facts.meeting_time is None


def test_a_read_back_that_cannot_be_settled_defers_the_meeting_without_booking() -> None:
    script, state = proposed()
    state, _ = script.on_text(state, "How about Friday morning?")
    state, _ = script.on_text(state, "mm blue sky")
    assert state.asked == "meeting_confirm"
    state, reply = script.on_text(state, "mm blue sky")
    assert state.facts.meeting_time is None and state.current_agent == "wrap_up"
    assert triggers([reply]) == ["meeting_deferred"]
    assert script.on_hangup(state) is Outcome.QUALIFIED


def test_closing_after_the_read_back_books_the_time_it_let_stand_and_says_goodbye() -> None:
    """Scripted callers answer in a fixed order: "No, that is all" after a read-back
    closes the call, and the time read back (not corrected) is booked."""
    script, state = proposed()
    state, _ = script.on_text(state, "Friday at two works for me.")
    state, reply = script.on_text(state, "No, that is all. Thank you.")
    assert state.facts.meeting_time == "Friday at 2 PM" and reply.end_call


def test_hanging_up_before_confirming_books_nothing() -> None:
    script, state = proposed()
    state, _ = script.on_text(state, "Friday at two works for me.")
    assert state.facts.meeting_time is None
    assert script.on_hangup(state) is Outcome.QUALIFIED


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


@pytest.mark.parametrize(
    "line",
    ["That's everything, thanks.", "Nothing else.", "No thanks, bye.",
     "yep it's am reading thanks",  # "that is everything, thanks" over the phone
     "mm blue sky"],
)
def test_at_the_wrap_up_anything_but_a_question_closes_the_call(line: str) -> None:
    script, state = proposed()
    state, _ = script.on_text(state, "Sure.")
    assert state.asked == "anything_else"
    state, reply = script.on_text(state, line)
    assert reply.end_call and reply.sentences[-1] == "Talk soon. Goodbye."
    assert "Good question." not in reply.sentences


@pytest.mark.parametrize(
    "line", ["How much does it cost?", "what about five users is that extra",
             "and do you integrate with salesforce"],
)
def test_at_the_wrap_up_a_question_is_left_to_the_specialist(line: str) -> None:
    script, state = proposed()
    state, _ = script.on_text(state, "Sure.")
    state, reply = script.on_text(state, line)
    assert not reply.end_call and reply.sentences[0] == "Good question."


def test_a_meeting_time_offered_mid_questions_is_kept_and_proposed_once_qualified() -> None:
    script = make_script()
    state, replies = converse(script, [*QUALIFY_LINES[:4],
                                       "Can we do Monday at eleven in the morning?"])
    # not an answer to "will you decide?", and no failed one: noted, asked again
    assert replies[-1].text == ("Monday at eleven in the morning, noted. "
                                "Are you the one who decides?")
    assert state.asked == "authority" and state.attempts == 0
    assert state.offered_meeting == "Monday at 11 AM" and state.facts.meeting_time is None
    for line in QUALIFY_LINES[4:]:
        state, reply = script.on_text(state, line)
    assert state.asked == "meeting" and state.proposed_meeting == "Monday at 11 AM"
    assert "on Monday at eleven in the morning?" in reply.text
    state, reply = script.on_text(state, "Yep.")
    assert state.facts.meeting_time == "Monday at 11 AM" and state.meeting_confirmed


def test_a_meeting_time_offered_with_an_answer_is_noted_beside_it() -> None:
    script = make_script()
    state, replies = converse(script, [
        *QUALIFY_LINES[:3], "About thirty thousand, and could we talk Tuesday at two?"])
    assert state.facts.budget_usd == 30_000 and state.offered_meeting == "Tuesday at 2 PM"
    assert replies[-1].text.startswith("Tuesday at two in the afternoon, noted.")
    assert state.asked == "authority"


@pytest.mark.parametrize("line", [
    "We miss calls after five pm.",  # an hour, no day: about the business
    "We need it by next Friday.",  # a day, no hour: a timeline
])
def test_a_time_in_an_answer_about_the_business_is_no_meeting_offer(line: str) -> None:
    script = make_script()
    state, replies = converse(script, [*QUALIFY_LINES[:2], line])
    assert state.offered_meeting is None
    assert "noted" not in replies[-1].text

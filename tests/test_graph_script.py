"""The templated qualification script: the direct path's state machine, turn by turn."""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from datetime import date

import pytest
from pydantic import ValidationError

from graph.understanding.caller_line import Understanding
from graph.workflow.script import QualificationScript, all_prompts
from graph.workflow.state import AgentReply, ConversationState
from switchboard.models import Outcome
from switchboard.settings import QualificationPolicy, ScriptSettings, load_settings

TRANSFER = "+15557650100"
WEDNESDAY = date(2025, 3, 12)


def make_script(transfer_number: str | None = TRANSFER, **policy: float) -> QualificationScript:
    return QualificationScript(
        QualificationPolicy(**policy),
        transfer_number=transfer_number,
        company_name="Acme Voice",
        agent_name="Robin",
        today=lambda: WEDNESDAY,
    )


def converse(
    script: QualificationScript,
    lines: Sequence[str],
    direction: str = "inbound",
) -> tuple[ConversationState, list[AgentReply]]:
    """Play caller lines ("#1" is a key press, "..." a reprompt interval of silence)."""
    state, first = script.start(direction)  # type: ignore[arg-type]
    replies = [first] if first else []
    for line in lines:
        if line == "...":
            state, reply = script.on_silence(state)
        elif line.startswith("#"):
            state, reply = script.on_dtmf(state, line[1:])
        else:
            state, reply = script.on_text(state, line)
        replies.append(reply)
    return state, replies


def triggers(replies: Sequence[AgentReply]) -> list[str]:
    return [trigger for reply in replies for (_, _, trigger) in reply.transitions]


QUALIFY_LINES = [
    "This is Jamie.",
    "Sure, go ahead.",
    "We miss a lot of calls when the office is closed.",
    "About thirty thousand a year.",
    "Yes, that's me.",
    "Within two months.",
]


# --- opening ------------------------------------------------------------------------------


def test_inbound_the_greeter_greets_discloses_recording_and_asks_who_is_calling() -> None:
    state, reply = make_script().start("inbound")
    assert reply is not None
    assert "Acme Voice" in reply.text and "Robin" in reply.text
    assert "recorded" in reply.text
    assert reply.agent == "greeter" and state.asked == "identity"
    assert reply.transitions == [("start", "greeter", "call_started")]


def test_outbound_the_lead_speaks_first() -> None:
    state, reply = make_script().start("outbound")
    assert reply is None
    assert state.current_agent == "start"


def test_outbound_the_first_line_gets_the_introduction() -> None:
    script = make_script()
    state, _ = script.start("outbound")
    state, reply = script.on_text(state, "Hello?")
    assert reply.agent == "greeter"
    assert "Robin from Acme Voice" in reply.text and "recorded" in reply.text
    assert reply.transitions == [("start", "greeter", "caller_answered")]


def test_outbound_a_lead_who_names_themselves_is_asked_for_a_few_minutes() -> None:
    script = make_script()
    state, _ = script.start("outbound")
    state, reply = script.on_text(state, "Hi, this is Morgan.")
    assert "Hi Morgan" in reply.text
    assert state.asked == "permission" and reply.agent == "qualifier"


@pytest.mark.parametrize(
    "answered_by", ["machine_start", "machine_end_beep", "machine_end_silence", "machine_end_other"]
)
def test_an_answering_machine_reported_by_twilio_gets_a_short_message(answered_by: str) -> None:
    script = make_script()
    state, reply = script.start("outbound", answered_by=answered_by)
    assert reply is not None and reply.agent == "voicemail"
    assert reply.end_call and reply.sentences
    assert state.outcome is Outcome.VOICEMAIL and script.on_hangup(state) is Outcome.VOICEMAIL
    assert reply.transitions == [("start", "voicemail", "voicemail_detected")]


def test_a_human_reported_by_twilio_speaks_first_as_usual() -> None:
    _, reply = make_script().start("outbound", answered_by="human")
    assert reply is None


def test_a_voicemail_greeting_as_the_first_line_gets_a_message_and_a_hang_up() -> None:
    script = make_script()
    state, replies = converse(
        script, ["Hi, you've reached Sam. Please leave a message after the beep."], "outbound"
    )
    assert replies[-1].agent == "voicemail" and replies[-1].end_call
    assert script.on_hangup(state) is Outcome.VOICEMAIL


def test_a_bare_hello_gets_a_reintroduction_not_the_next_question() -> None:
    script = make_script()
    state, replies = converse(script, ["Hello?"])
    assert replies[-1].agent == "greeter" and state.asked == "identity"


# --- qualification ------------------------------------------------------------------------


def test_a_full_qualification_moves_through_the_agents_and_books_a_meeting() -> None:
    script = make_script()
    state, replies = converse(script, [*QUALIFY_LINES, "Friday at 2pm works.", "No, that's all."])
    assert triggers(replies) == [
        "call_started",
        "caller_identified",
        "bant_complete",
        "meeting_booked",
    ]
    assert state.facts.budget_usd == 30_000
    assert state.facts.decision_maker is True
    assert state.facts.need == "We miss a lot of calls when the office is closed"
    assert state.facts.timeline_months == 2
    assert state.facts.meeting_time == "Friday at 2 PM"
    assert replies[-1].end_call and replies[-1].agent == "wrap_up"
    assert script.on_hangup(state) is Outcome.QUALIFIED


def test_facts_volunteered_in_one_sentence_skip_their_questions() -> None:
    script = make_script()
    state, replies = converse(
        script,
        [
            "I'm Lee, I own the shop. We lose customers because nobody picks up at lunch, and we "
            "could spend about twenty grand a year on it, ideally within a month.",
        ],
    )
    assert replies[-1].agent == "scheduler"
    assert state.asked == "meeting"
    assert state.outcome is Outcome.QUALIFIED


def test_facts_are_accepted_in_any_order() -> None:
    script = make_script()
    state, _ = converse(
        script,
        [
            "This is Kim.",
            "Yes.",
            "Before that, our budget is fifty thousand and I'm the CEO.",  # asked about the need
            "We can't keep up with inbound calls.",
        ],
    )
    # budget and authority were volunteered, so only the timeline is left to ask
    assert state.asked == "timeline"
    assert state.facts.budget_usd == 50_000 and state.facts.decision_maker is True


def test_only_missing_questions_are_asked() -> None:
    script = make_script()
    asked = []
    state, _ = script.start("inbound")
    for line in [
        "Jo here.",
        "Go ahead.",
        "Our team is drowning in calls, we need help by next quarter.",
        "Around forty thousand.",
        "Yes.",
    ]:
        state, _ = script.on_text(state, line)
        asked.append(state.asked)
    # the timeline came with the need, so it is never asked
    assert asked == ["permission", "need", "budget", "authority", "meeting"]
    assert state.facts.timeline_months == 6


def test_a_budget_below_the_minimum_disqualifies_politely() -> None:
    script = make_script()
    state, replies = converse(script, QUALIFY_LINES[:3] + ["Maybe two thousand dollars."])
    assert replies[-1].agent == "wrap_up" and replies[-1].end_call
    assert triggers(replies)[-1] == "disqualified"
    assert script.on_hangup(state) is Outcome.DISQUALIFIED


def test_no_budget_disqualifies() -> None:
    script = make_script()
    state, replies = converse(script, QUALIFY_LINES[:3] + ["Honestly we have no money for this."])
    assert replies[-1].end_call
    assert script.on_hangup(state) is Outcome.DISQUALIFIED


def test_no_need_disqualifies() -> None:
    script = make_script()
    state, replies = converse(
        script, ["Pat speaking.", "Okay.", "Not really, we're fine as we are."]
    )
    assert replies[-1].end_call
    assert script.on_hangup(state) is Outcome.DISQUALIFIED


def test_a_plain_no_to_the_need_question_is_no_need() -> None:
    script = make_script()
    state, _ = converse(script, ["Pat speaking.", "Okay.", "No."])
    assert state.no_need and state.ended


def test_a_free_answer_to_the_need_question_is_kept_as_the_need() -> None:
    script = make_script()
    state, _ = converse(
        script, ["Pat speaking.", "Okay.", "Mostly our technicians are on jobs and calls pile in."]
    )
    assert state.facts.need == "Mostly our technicians are on jobs and calls pile in"


def test_a_long_timeline_is_nurture_with_a_callback_offer() -> None:
    script = make_script()
    state, replies = converse(script, QUALIFY_LINES[:5] + ["Probably not until next year."])
    assert replies[-1].agent == "wrap_up" and state.asked == "callback"
    assert not replies[-1].end_call
    state, reply = script.on_text(state, "Sure, that's fine.")
    assert reply.end_call
    assert script.on_hangup(state) is Outcome.NURTURE


def test_someone_else_deciding_is_nurture_and_the_questions_go_on() -> None:
    script = make_script()
    state, replies = converse(script, QUALIFY_LINES[:4] + ["My boss decides."])
    assert state.asked == "timeline"  # still worth knowing
    assert state.facts.decision_maker is False
    assert script.on_hangup(state) is Outcome.NURTURE


def test_yes_and_no_answer_the_authority_question() -> None:
    script = make_script()
    state, _ = converse(script, QUALIFY_LINES[:4] + ["No."])
    assert state.facts.decision_maker is False


def test_a_question_not_answered_twice_is_skipped() -> None:
    script = make_script()
    state, replies = converse(script, QUALIFY_LINES[:3] + ["Hmm.", "Let's see."])
    assert "budget" in state.skipped
    assert state.asked == "authority"


def test_an_unsure_answer_moves_on() -> None:
    script = make_script()
    state, _ = converse(script, QUALIFY_LINES[:3] + ["I really don't know."])
    assert state.asked == "authority" and "budget" in state.skipped


def test_unknown_budget_ends_with_a_follow_up_offer_not_a_qualification() -> None:
    script = make_script()
    state, replies = converse(script, QUALIFY_LINES[:3] + ["No idea.", "Yes.", "In two months."])
    assert state.asked == "callback" and replies[-1].agent == "wrap_up"
    state, _ = script.on_text(state, "Sure.")
    assert script.on_hangup(state) is Outcome.NURTURE


# --- objections and callbacks ---------------------------------------------------------------


def test_not_interested_gets_one_short_rebuttal() -> None:
    script = make_script()
    state, replies = converse(script, ["This is Ari.", "I'm not interested."])
    assert replies[-1].agent == "objection_handler"
    assert triggers(replies)[-1] == "objection"
    assert not replies[-1].end_call


def test_a_second_refusal_wraps_up() -> None:
    script = make_script()
    state, replies = converse(script, ["This is Ari.", "I'm not interested.", "No thanks."])
    assert replies[-1].agent == "wrap_up" and replies[-1].end_call
    assert triggers(replies)[-1] == "objection_unresolved"
    assert script.on_hangup(state) is Outcome.DISQUALIFIED


def test_a_caller_won_over_by_the_rebuttal_is_qualified_as_usual() -> None:
    script = make_script()
    state, replies = converse(script, ["This is Ari.", "Not interested.", "Okay, go on then."])
    assert replies[-1].agent == "qualifier" and state.asked == "need"
    assert triggers(replies)[-1] == "objection_resolved"
    assert not state.declined


@pytest.mark.parametrize("direction", ["inbound", "outbound"])
def test_we_are_good_as_the_first_line_is_heard_out_once_not_taken_as_no_need(
    direction: str,
) -> None:
    # A brush-off (or a greeting misheard as one) must not end the call at hello.
    script = make_script()
    state, replies = converse(script, ["I think we're good.", "Sure, go ahead."], direction)
    assert triggers(replies)[-3:-1] == ["caller_responded", "objection"]
    assert not replies[-2].end_call
    assert triggers(replies)[-1] == "objection_resolved" and state.asked == "need"


def test_declining_the_questions_counts_as_an_objection() -> None:
    script = make_script()
    _, replies = converse(script, ["This is Ari.", "No."])
    assert replies[-1].agent == "objection_handler"


def test_a_callback_with_a_time_ends_the_call_as_nurture() -> None:
    script = make_script()
    state, replies = converse(script, ["This is Bo.", "Can you call me back next quarter?"])
    assert replies[-1].end_call and replies[-1].agent == "wrap_up"
    assert triggers(replies)[-1] == "callback_requested"
    assert script.on_hangup(state) is Outcome.NURTURE


def test_a_bad_time_asks_when_to_call_back() -> None:
    script = make_script()
    state, replies = converse(script, ["This is Bo.", "Sorry, it's not a good time."])
    assert state.asked == "callback_time" and not replies[-1].end_call
    state, reply = script.on_text(state, "Try tomorrow afternoon.")
    assert reply.end_call
    assert script.on_hangup(state) is Outcome.NURTURE


# --- opting out and asking for a person -----------------------------------------------------


@pytest.mark.parametrize(
    "lines",
    [
        [],  # at the greeting
        ["This is Val."],  # asked for permission
        QUALIFY_LINES[:4],  # in the middle of qualifying
        QUALIFY_LINES,  # the scheduler is proposing a meeting
        [*QUALIFY_LINES, "Yes."],  # wrapping up after booking
    ],
)
@pytest.mark.parametrize("opt_out", ["Take me off your list.", "#9"])
def test_opting_out_ends_the_call_from_any_state_and_wins(lines: list[str], opt_out: str) -> None:
    script = make_script()
    state, replies = converse(script, [*lines, opt_out])
    assert replies[-1].end_call and replies[-1].agent == "wrap_up"
    handoffs = replies[-1].transitions
    assert (
        handoffs == []
        if len(replies) > 1 and replies[-2].agent == "wrap_up"
        else (handoffs[-1][2] == "opt_out")
    )
    assert state.outcome is Outcome.OPTED_OUT
    assert script.on_hangup(state) is Outcome.OPTED_OUT


@pytest.mark.parametrize("answer", ["Yes, please.", "#1", "I'm not interested."])
@pytest.mark.parametrize("mangled", [
    "put me on your do not call please",  # "list" lost
    "look it's all up again thank you",  # "do not call us again, thank you"
])
def test_a_possible_opt_out_is_asked_about_and_a_yes_opts_out(answer: str, mangled: str) -> None:
    script = make_script()
    asked, replies = converse(script, [*QUALIFY_LINES[:3], mangled])
    assert replies[-1].sentences == ["Would you like me to stop calling this number?"]
    assert asked.asked == "opt_out_confirm" and not asked.opted_out
    state, replies = converse(script, [*QUALIFY_LINES[:3], mangled, answer])
    assert replies[-1].end_call and state.outcome is Outcome.OPTED_OUT


def test_a_no_to_stop_calling_goes_back_to_the_question_it_interrupted() -> None:
    script = make_script()
    before, _ = converse(script, QUALIFY_LINES[:3])
    pending = before.asked
    state, replies = converse(
        script, [*QUALIFY_LINES[:3], "take me of your list", "No, no, carry on."])
    assert replies[-1].sentences[0] == "Sorry, my mistake."
    assert state.asked == pending and not state.opted_out
    assert not replies[-1].end_call


def test_a_possible_opt_out_never_answered_yes_or_no_is_taken_as_one() -> None:
    script = make_script()
    state, replies = converse(script, ["This is Val.", "stop uh calling", "mm", "blue"])
    assert replies[-2].sentences == ["Sorry, I didn't quite catch that.",
                                     "Should I stop calling this number? Yes or no."]
    assert replies[-1].end_call and state.outcome is Outcome.OPTED_OUT


@pytest.mark.parametrize("ask", ["Can I speak to a real person?", "#0"])
def test_asking_for_a_person_transfers_when_a_number_is_set(ask: str) -> None:
    script = make_script()
    state, replies = converse(script, ["This is Max.", ask])
    reply = replies[-1]
    assert reply.transfer and reply.agent == "handoff"
    assert reply.transitions == [("qualifier", "handoff", "human_requested")]
    assert state.ended
    assert script.on_hangup(state) is Outcome.TRANSFERRED


def test_without_a_transfer_number_a_callback_is_offered() -> None:
    script = make_script(transfer_number=None)
    state, replies = converse(script, ["This is Max.", "Let me talk to a human."])
    assert not replies[-1].transfer and not replies[-1].end_call
    assert replies[-1].agent == "handoff" and state.asked == "callback"
    assert state.outcome is Outcome.NURTURE
    state, reply = script.on_text(state, "Yes please.")
    assert reply.end_call
    assert script.on_hangup(state) is Outcome.NURTURE


# --- scheduling ---------------------------------------------------------------------------


def test_the_scheduler_proposes_the_next_business_day() -> None:
    script = make_script()
    state, replies = converse(script, QUALIFY_LINES)
    assert state.proposed_meeting == "Thursday at 10 AM"
    assert "Thursday at ten in the morning" in replies[-1].text


def test_pressing_one_accepts_the_proposed_time() -> None:
    script = make_script()
    state, replies = converse(script, [*QUALIFY_LINES, "#1"])
    assert state.facts.meeting_time == "Thursday at 10 AM" and state.meeting_confirmed
    assert replies[-1].agent == "wrap_up" and state.asked == "anything_else"


def test_declining_the_proposed_time_asks_for_another() -> None:
    script = make_script()
    state, _ = converse(script, [*QUALIFY_LINES, "No, that doesn't work."])
    assert state.asked == "meeting_time"
    state, reply = script.on_text(state, "How about Monday morning?")
    assert state.pending_meeting == "Monday morning"
    assert "Monday morning" in reply.text
    state, reply = script.on_text(state, "Yes.")
    assert state.facts.meeting_time == "Monday morning"


def test_a_time_given_after_booking_moves_the_meeting() -> None:
    script = make_script()
    state, replies = converse(
        script, [*QUALIFY_LINES, "#1", "Actually, Friday afternoon is better.", "Yes."]
    )
    assert state.facts.meeting_time == "Friday afternoon"
    assert not replies[-1].end_call


def test_qualified_stays_qualified_when_the_caller_hangs_up_before_booking() -> None:
    script = make_script()
    state, _ = converse(script, QUALIFY_LINES)
    assert state.facts.meeting_time is None
    assert script.on_hangup(state) is Outcome.QUALIFIED


# --- silence, repeats and small talk ------------------------------------------------------


def test_silence_reprompts_with_the_pending_question() -> None:
    script = make_script()
    state, replies = converse(script, ["This is Noa.", "..."])
    assert "still there" in replies[-1].text
    assert "two minutes" in replies[-1].text
    assert state.reprompts == 1 and not replies[-1].end_call


def test_after_three_unanswered_reprompts_the_call_ends_abandoned() -> None:
    script = make_script()
    state, replies = converse(script, ["This is Noa.", "...", "...", "..."])
    assert not any(reply.end_call for reply in replies)
    state, reply = script.on_silence(state)
    assert reply.end_call and reply.transitions[-1][2] == "no_response"
    assert script.on_hangup(state) is Outcome.ABANDONED


def test_speaking_resets_the_reprompt_count() -> None:
    script = make_script()
    state, _ = converse(script, ["This is Noa.", "...", "...", "Sorry, yes.", "...", "..."])
    assert state.reprompts == 2 and not state.ended


def test_max_reprompts_comes_from_the_script() -> None:
    script = QualificationScript(
        QualificationPolicy(),
        transfer_number=None,
        company_name="Acme",
        agent_name="Robin",
        max_reprompts=1,
    )
    state, _ = script.start("inbound")
    state, first = script.on_silence(state)
    state, second = script.on_silence(state)
    assert not first.end_call and second.end_call


def test_an_outbound_lead_who_stays_silent_hears_the_introduction() -> None:
    script = make_script()
    state, _ = script.start("outbound")
    state, reply = script.on_silence(state)
    assert reply.agent == "greeter" and "Robin" in reply.text and "recorded" in reply.text


def test_silence_after_qualifying_keeps_the_call_qualified() -> None:
    script = make_script()
    state, _ = converse(script, [*QUALIFY_LINES, "...", "...", "...", "..."])
    assert state.ended
    assert script.on_hangup(state) is Outcome.QUALIFIED


def test_asking_to_repeat_repeats_the_pending_question() -> None:
    script = make_script()
    state, replies = converse(script, QUALIFY_LINES[:3] + ["Sorry, can you repeat that?"])
    assert state.asked == "budget"
    assert "budget" in replies[-1].text


def test_asking_what_this_is_about_gets_an_answer_and_the_question_again() -> None:
    script = make_script()
    state, replies = converse(script, ["This is Noa.", "What is this about?"])
    assert "Acme Voice" in replies[-1].text
    assert state.asked == "permission"


def test_asking_if_we_are_a_bot_is_answered_honestly() -> None:
    script = make_script()
    _, replies = converse(script, ["Wait, am I talking to a robot?"])
    assert "AI" in replies[-1].text


@pytest.mark.parametrize(
    "line",
    ["Sorry, can you repeat that?", "What is this about?", "Hold on a second."],
)
def test_a_question_is_put_three_times_in_a_row_at_most(line: str) -> None:
    # Over the phone a misheard answer can read as the same request every time, and
    # none of these counts as a failed answer: nothing else bounds the loop.
    script = make_script()
    state, replies = converse(script, QUALIFY_LINES[:2] + [line] * 3)
    need_turns = replies[2:5]  # the need question, then the first two lines at it
    assert all("biggest challenge" in r.text or "take your time" in r.text for r in need_turns)
    assert "biggest challenge" not in replies[-1].text
    assert "budget" in replies[-1].text
    assert state.skipped == ["need"] and state.asked == "budget"


def test_hold_on_keeps_the_question_pending() -> None:
    script = make_script()
    state, replies = converse(script, QUALIFY_LINES[:3] + ["Hold on a second."])
    assert state.asked == "budget" and state.attempts == 0
    assert "take your time" in replies[-1].text


# --- the state machine's contract -----------------------------------------------------------


def test_events_after_the_call_ended_change_nothing() -> None:
    script = make_script()
    state, _ = converse(script, ["Stop calling me."])
    for event in (
        lambda s: script.on_text(s, "hello?"),
        lambda s: script.on_dtmf(s, "1"),
        script.on_silence,
    ):
        after, reply = event(state)
        assert after == state and reply.sentences == [] and not reply.end_call


def test_inputs_are_never_mutated() -> None:
    script = make_script()
    state, _ = converse(script, QUALIFY_LINES[:3])
    snapshot = state.model_copy(deep=True)
    script.on_text(state, "About thirty thousand a year.")
    script.on_silence(state)
    script.on_dtmf(state, "9")
    assert state == snapshot


def test_the_state_survives_a_json_checkpoint() -> None:
    script = make_script()
    state, _ = converse(script, QUALIFY_LINES[:4])
    restored = ConversationState.model_validate_json(state.model_dump_json())
    assert restored == state
    _, direct = script.on_text(state, "Yes, I decide.")
    _, replayed = script.on_text(restored, "Yes, I decide.")
    assert direct == replayed


def test_the_outcome_reached_is_recorded_in_the_state() -> None:
    script = make_script()
    state, _ = converse(script, QUALIFY_LINES[:5])
    assert state.outcome is None
    state, _ = script.on_text(state, "Within two months.")
    assert state.outcome is Outcome.QUALIFIED


_CALLER_LINES = [
    "Hello?",
    "Who is this?",
    "Yes, this is Dana.",
    "Sure.",
    "No.",
    "Not interested.",
    "We miss calls after hours.",
    "We don't really have that problem.",
    "About fifty thousand a year.",
    "five grand a month",
    "Maybe two thousand.",
    "We have no budget.",
    "I'm the owner.",
    "My boss decides.",
    "Within three months.",
    "Next year.",
    "Tuesday at 10am.",
    "Thursday afternoon is fine.",
    "What?",
    "Call me back next week.",
    "It's not a good time.",
    "What is this about?",
    "Are you a bot?",
    "Hold on.",
    "How much does it cost?",
    "That's all, thanks.",
    "Bye.",
    "I don't know.",
    "#1",
    "#2",
    "#5",
    "...",
    "...",
    "...",
]


@pytest.mark.parametrize("seed", range(60))
def test_every_reply_is_short_plain_speech_with_numbers_as_words(seed: int) -> None:
    """Random walks through the script: whatever the caller does, replies stay speakable."""
    rng = random.Random(seed)
    for transfer in (TRANSFER, None):
        script = make_script(transfer_number=transfer)
        direction = rng.choice(["inbound", "outbound"])
        state, reply = script.start(direction)  # type: ignore[arg-type]
        replies = [reply] if reply else []
        for _ in range(25):
            if state.ended:
                break
            line = rng.choice(_CALLER_LINES)
            if line == "...":
                state, reply = script.on_silence(state)
            elif line.startswith("#"):
                state, reply = script.on_dtmf(state, line[1:])
            else:
                state, reply = script.on_text(state, line)
            replies.append(reply)
            assert reply.sentences or state.ended, f"silent reply to {line!r}"
        for reply in replies:
            text = reply.text
            assert len(text.split()) <= 45, text
            assert not re.search(r"\d", text), text
            assert not re.search(r"[*_#`\[\]]", text), text
        assert script.on_hangup(state) in Outcome


def test_an_understanding_from_elsewhere_drives_the_same_script() -> None:
    """The LangGraph agents may understand a line with an LLM and reuse the script."""
    script = make_script()
    state, _ = converse(script, QUALIFY_LINES[:3])
    state, reply = script.on_understanding(state, Understanding(budget_usd=80_000))
    assert state.facts.budget_usd == 80_000 and state.asked == "authority"
    assert "eighty thousand dollars" in reply.text


def test_all_prompts_lists_what_the_agents_say_with_the_configured_names() -> None:
    settings = load_settings(
        agent_integration={"company_name": "Acme Voice", "agent_name": "Robin"}
    )
    prompts = all_prompts(settings)
    assert "Thanks for calling Acme Voice, this is Robin." in prompts
    assert "Roughly what budget do you have for this each year?" in prompts
    assert len(prompts) == len(set(prompts))
    assert not any(re.search(r"\d", prompt) for prompt in prompts)


def test_every_sentence_of_an_unnamed_call_is_among_the_prompts() -> None:
    script = make_script()
    _, replies = converse(
        script,
        [
            "Yes.",
            "Sure.",
            "We miss calls.",
            "About fifty thousand.",
            "Yes.",
            "Within a month.",
            "#1",
            "No, that's all.",
        ],
    )
    settings = load_settings(
        agent_integration={"company_name": "Acme Voice", "agent_name": "Robin"}
    )
    prompts = set(all_prompts(settings))
    assert [s for reply in replies for s in reply.sentences if s not in prompts] == []


def test_another_fact_in_answer_to_the_need_question_is_not_taken_as_the_need() -> None:
    script = make_script()
    state, _ = converse(script, ["Pat speaking.", "Okay.", "I'm the owner of the company."])
    assert state.facts.need is None and state.facts.decision_maker is True
    assert state.asked == "need"


def test_a_caller_who_says_goodbye_mid_qualification_is_let_go() -> None:
    script = make_script()
    state, replies = converse(script, QUALIFY_LINES[:3] + ["Okay, thanks, bye."])
    assert replies[-1].end_call and triggers(replies)[-1] == "caller_closing"
    assert script.on_hangup(state) is Outcome.ABANDONED


@pytest.mark.parametrize("line", ["No, that's all.", "No, I think that's all for now, thanks."])
def test_no_thats_all_to_the_need_question_closes_and_disqualifies_nobody(line: str) -> None:
    script = make_script()
    state, replies = converse(script, [
        "Pat speaking.", "Okay.", "About thirty thousand a year.", "Yes, I decide.",
        "Within two months.", line])
    assert replies[-2].sentences[-1].startswith("What's your biggest challenge")
    assert replies[-1].end_call and triggers(replies)[-1] == "caller_closing"
    assert not state.no_need
    assert script.on_hangup(state) is not Outcome.DISQUALIFIED


def test_after_a_recovery_the_agent_bridges_and_asks_its_pending_question_again() -> None:
    script = make_script()
    state, replies = converse(script, ["This is Jamie.", "Sure, go ahead."])
    asked = replies[-1].sentences[-1]
    reply = script.on_resume(state)
    assert reply.sentences == ["Sorry about that, I lost you for a second.", asked]
    assert not (reply.end_call or reply.transfer)
    # Nothing the caller answered is asked for again, and the state is not changed.
    assert script.on_text(state, "About forty thousand a year.")[0].facts.budget_usd == 40_000


def test_after_a_recovery_a_call_being_ended_is_ended() -> None:
    script = make_script()
    opted_out, _ = converse(script, ["Take me off your list, do not call me again."])
    assert script.on_resume(opted_out).end_call
    transferred, _ = converse(script, ["Can I talk to a real person please?"])
    assert script.on_resume(transferred).transfer
    voicemail, _ = converse(
        script,
        ["The person you are trying to reach is not available, please leave a message."],
        direction="outbound",
    )
    reply = script.on_resume(voicemail)
    assert reply.end_call and reply.sentences == []  # the machine is not greeted twice


# --- a bare budget figure ------------------------------------------------------------------


def _asked_budget() -> list[str]:
    return QUALIFY_LINES[:3]


def test_a_bare_budget_figure_is_asked_about_not_taken_as_dollars() -> None:
    script = make_script()
    state, replies = converse(script, [*_asked_budget(), "Around forty."])
    assert replies[-1].sentences == ["Just to check, is that forty thousand dollars a year?"]
    assert state.facts.budget_usd is None and state.outcome is not Outcome.DISQUALIFIED
    state, replies = converse(script, [*_asked_budget(), "Around forty.", "Yes."])
    assert state.facts.budget_usd == 40_000
    assert state.asked == "authority"  # one question, then on


def test_a_no_to_the_budget_check_asks_for_the_figure_again() -> None:
    script = make_script()
    state, replies = converse(script, [*_asked_budget(), "about fifty", "No."])
    assert replies[-1].sentences == ["Sorry, my mistake.", "Just a rough figure is fine.",
                                     "About how much a year could you spend?"]
    assert state.asked == "budget" and state.facts.budget_usd is None
    state, _ = converse(script, [*_asked_budget(), "about fifty", "No.", "Eighty thousand."])
    assert state.facts.budget_usd == 80_000


def test_a_figure_with_its_size_answers_the_budget_check_by_itself() -> None:
    script = make_script()
    state, _ = converse(script, [*_asked_budget(), "about fifty", "No, five hundred thousand."])
    assert state.facts.budget_usd == 500_000


@pytest.mark.parametrize(
    "line", ["About thirty thousand a year.", "fifty grand", "around 40k", "low six figures",
             "a few hundred a month"],
)
def test_a_budget_said_with_its_size_is_not_asked_about(line: str) -> None:
    script = make_script()
    state, _ = converse(script, [*_asked_budget(), line])
    assert state.asked != "budget_confirm" and state.facts.budget_usd is not None


def test_a_budget_check_twice_unanswered_leaves_the_budget_unknown_and_moves_on() -> None:
    script = make_script()
    state, replies = converse(script, [*_asked_budget(), "about fifty", "hmm", "blue sky"])
    assert state.facts.budget_usd is None and "budget" in state.skipped
    assert state.asked == "authority"


def test_a_bare_budget_volunteered_before_any_question_is_checked_at_once() -> None:
    script = make_script()
    state, replies = converse(script, ["This is Jamie.", "Sure, our budget is about fifty.",
                                       "Yes."])
    assert replies[-2].sentences == ["Just to check, is that fifty thousand dollars a year?"]
    assert state.facts.budget_usd == 50_000


@pytest.mark.parametrize(
    "line",
    ["alright uh we get a lot of alright like and on that's me",  # misheard over the phone
     "the kids keep me up honestly, you know how it is"],
)
def test_a_free_answer_off_the_subject_is_never_stored_as_the_need(line: str) -> None:
    script = make_script()
    state, replies = converse(script, [*QUALIFY_LINES[:2], line])
    assert state.facts.need is None and state.asked == "need"
    assert replies[-1].sentences == ["For example, missed calls, slow follow up, or too many "
                                     "calls for the team?"]


def test_a_free_answer_about_the_business_is_the_need_in_the_callers_words() -> None:
    script = make_script()
    state, _ = converse(script, [*QUALIFY_LINES[:2], "honestly our website forms go nowhere"])
    assert state.facts.need == "Our website forms go nowhere"


# --- a half-heard request for a person -------------------------------------------------------


def test_a_half_heard_request_for_a_person_is_asked_about_and_a_yes_transfers() -> None:
    script = make_script()
    state, replies = converse(script, [*QUALIFY_LINES[:3], "an actual sales person"])
    assert replies[-1].sentences == ["Would you like me to put you through to a person?"]
    assert not state.human_requested
    state, replies = converse(script, [*QUALIFY_LINES[:3], "an actual sales person", "Yes."])
    assert replies[-1].transfer and state.outcome is Outcome.TRANSFERRED


def test_a_no_to_a_person_goes_back_to_the_question_it_interrupted() -> None:
    script = make_script()
    before, _ = converse(script, QUALIFY_LINES[:3])
    state, replies = converse(script, [*QUALIFY_LINES[:3], "an actual sales person", "No."])
    assert replies[-1].sentences[0] == "Sorry, my mistake."
    assert state.asked == before.asked and not state.human_requested


def test_a_check_for_a_person_twice_unanswered_puts_the_caller_through() -> None:
    script = make_script()
    state, replies = converse(script, ["This is Val.", "the operator", "mm", "blue"])
    assert replies[-1].transfer and state.human_requested


def test_a_need_that_mentions_a_person_is_a_need_not_a_request() -> None:
    script = make_script()
    state, _ = converse(script, [*QUALIFY_LINES[:2],
                                 "We want a real person answering our calls after hours."])
    assert state.facts.need and state.asked == "budget"


def _asked_timeline() -> list[str]:
    return QUALIFY_LINES[:5]


def test_a_bare_timeline_figure_is_asked_about_then_taken_as_months() -> None:
    script = make_script()
    state, replies = converse(script, [*_asked_timeline(), "Around six."])
    assert replies[-1].sentences == ["Just to check, about six months from now?"]
    assert state.facts.timeline_months is None
    state, _ = converse(script, [*_asked_timeline(), "Around six.", "Yes."])
    assert state.facts.timeline_months == 6
    assert state.current_agent == "scheduler"  # all four criteria met: a meeting next


def test_a_no_to_the_timeline_check_asks_for_it_again_and_a_real_answer_is_taken() -> None:
    script = make_script()
    state, replies = converse(script, [*_asked_timeline(), "six", "No."])
    assert replies[-1].sentences == ["Sorry, my mistake.", "Roughly how many months from now "
                                     "would you want to start?"]
    state, _ = converse(script, [*_asked_timeline(), "six", "No, six weeks."])
    assert state.facts.timeline_months == 1.5


# --- the script's own wording and question order (`ScriptSettings`) ------------------


def test_a_reply_worded_by_the_settings_replaces_the_template() -> None:
    script = QualificationScript(
        QualificationPolicy(), transfer_number=None, company_name="Acme Voice",
        agent_name="Robin",
        script=ScriptSettings(replies={"greeting": ["Hey there, {agent} at {company}.",
                                                    "We record calls."]}),
    )
    _, reply = script.start("inbound")
    assert reply is not None
    assert reply.sentences[:2] == ["Hey there, Robin at Acme Voice.", "We record calls."]
    # What callers can hear includes the new wording (a recogniser is trained on it).
    settings = load_settings(script={"replies": {"greeting": ["Howdy from {company}."]}})
    prompts = all_prompts(settings)
    assert "Howdy from Switchboard." in prompts


def test_the_question_order_and_wording_come_from_the_settings() -> None:
    script = QualificationScript(
        QualificationPolicy(), transfer_number=None, company_name="Acme Voice",
        agent_name="Robin", today=lambda: WEDNESDAY,
        script=ScriptSettings(question_order=["timeline", "budget", "authority", "need"],
                              questions={"timeline": "When do you need this live?"}),
    )
    state, _ = script.start("inbound")
    state, _ = script.on_text(state, "Jo here.")
    state, reply = script.on_text(state, "Go ahead.")
    assert state.asked == "timeline"
    assert "When do you need this live?" in reply.sentences


@pytest.mark.parametrize(
    ("script", "field"),
    [
        ({"replies": {"greting": ["Hi."]}}, "greting"),
        ({"replies": {"greeting": ["Hi {caller}."]}}, "replies"),
        ({"question_order": ["need", "budget"]}, "question_order"),
    ],
)
def test_bad_script_settings_are_refused_with_the_field_named(script: dict, field: str) -> None:
    with pytest.raises(ValidationError) as refused:
        ScriptSettings.model_validate(script)
    assert field in str(refused.value)

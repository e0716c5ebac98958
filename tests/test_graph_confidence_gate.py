"""The confidence gate: a caller's line the recogniser was unsure of is never made a fact
or an action; the agent asks again in other words, and moves on after two, never loops.

Played through the script (the direct path), through the direct path's responder with
the confidence a recogniser reports, and through the agents' workflow, which gate alike.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date

import pytest
from pipecat.frames.frames import BotStartedSpeakingFrame, TranscriptionFrame
from pipecat.tests.utils import SleepFrame, run_test

from actors.direct_path import DirectResponder
from actors.responder import CallerEvent
from actors.speech.pocketsphinx_stt import Recognition
from graph.workflow.agents import VoiceAgents
from graph.workflow.orchestrator import AgentOrchestrator
from graph.workflow.script import QualificationScript
from graph.workflow.state import AgentReply, ConversationState
from graph.workflow.turn_graph import compile_workflow
from switchboard.live_config import LiveConfigError, parse_live_config
from switchboard.models import CallSession, Outcome
from switchboard.settings import QualificationPolicy, load_settings
from tests.test_conversation_follow_up import Session, processor
from tests.test_llm_openai_double import openai_double

WEDNESDAY = date(2025, 3, 12)
THRESHOLD = 0.3
UNSURE = 0.1  # below the threshold
SURE = 0.9

# A caller's line and the confidence it was heard with (None: typed, no recogniser).
Line = tuple[str, float | None]


def make_script(transfer_number: str | None = "+15557650100") -> QualificationScript:
    return QualificationScript(
        QualificationPolicy(), transfer_number=transfer_number, company_name="Acme Voice",
        agent_name="Robin", today=lambda: WEDNESDAY, min_confidence=THRESHOLD,
    )


def converse(script: QualificationScript, lines: Sequence[Line],
             state: ConversationState | None = None
             ) -> tuple[ConversationState, list[AgentReply]]:
    if state is None:
        state, _ = script.start("inbound")
    replies = []
    for text, confidence in lines:
        state, reply = script.on_text(state, text, confidence=confidence)
        replies.append(reply)
    return state, replies


def at_budget(script: QualificationScript) -> ConversationState:
    """An inbound call whose pending question is the budget."""
    state, _ = converse(script, [
        ("This is Jamie.", SURE),
        ("Sure, go ahead.", SURE),
        ("We miss a lot of calls when the office is closed.", SURE),
    ])
    assert state.asked == "budget"
    return state


def test_a_budget_heard_with_low_confidence_is_asked_again_in_other_words_not_stored() -> None:
    script = make_script()
    state, (reply,) = converse(script, [("About eighty thousand a year.", UNSURE)],
                               at_budget(script))
    assert state.facts.budget_usd is None and state.pending_budget is None
    assert state.asked == "budget"
    assert reply.sentences == ["Sorry, I didn't catch that.", "Roughly what budget per year?"]
    # the re-ask is worded unlike the question and its other forms
    replies = script.replies
    assert reply.sentences[-1] not in [*replies.question("budget"),
                                       *replies.question("budget", short=True),
                                       *replies.rephrase("budget")]


def test_the_same_budget_heard_clearly_is_stored() -> None:
    script = make_script()
    state, _ = converse(script, [("About eighty thousand a year.", SURE)], at_budget(script))
    assert state.facts.budget_usd == 80_000


def test_an_answer_heard_clearly_after_a_low_confidence_one_is_taken() -> None:
    script = make_script()
    state, _ = converse(script, [("About eighty thousand a year.", UNSURE),
                                 ("Eighty thousand a year.", SURE)], at_budget(script))
    assert state.facts.budget_usd == 80_000 and state.asked == "authority"


def test_two_low_confidence_answers_in_a_row_move_on_to_the_next_question() -> None:
    script = make_script()
    state, replies = converse(script, [("About eighty thousand a year.", UNSURE),
                                       ("Eighty thousand.", UNSURE)], at_budget(script))
    assert state.facts.budget_usd is None
    assert "budget" in state.skipped
    assert state.asked == "authority"
    assert "decision" in replies[-1].text


def test_low_confidence_lines_never_loop_a_call_ends_or_moves_on() -> None:
    """Whatever the caller says, if nothing is heard clearly the call still ends: each
    question is tried twice, a second lost question offers a callback, and that too is
    asked at most twice."""
    script = make_script()
    state, _ = script.start("inbound")
    turns = 0
    while not state.ended:
        state, _ = script.on_text(state, "mumble mumble", confidence=UNSURE)
        turns += 1
        assert turns <= 8
    assert state.facts.budget_usd is None and not state.callback_requested
    assert state.outcome != Outcome.OPTED_OUT


def test_a_second_question_lost_to_a_bad_line_offers_a_callback() -> None:
    script = make_script()
    state, replies = converse(script, [("About eighty thousand a year.", UNSURE)] * 4,
                              at_budget(script))
    assert state.asked == "callback" and state.current_agent == "wrap_up"
    assert "line isn't very clear" in replies[-1].text
    state, (reply,) = converse(script, [("Yes please.", SURE)], state)
    assert state.callback_requested and reply.end_call


def test_a_low_confidence_opt_out_gets_the_confirmation_question_not_ignored() -> None:
    script = make_script()
    state, (reply,) = converse(script, [("Take me off your list.", UNSURE)], at_budget(script))
    assert not state.opted_out and not reply.end_call
    assert state.asked == "opt_out_confirm"
    assert "Would you like me to stop calling this number?" in reply.text
    # a clear yes acts on it
    state, (reply,) = converse(script, [("Yes.", SURE)], state)
    assert state.opted_out and reply.end_call and state.outcome == Outcome.OPTED_OUT


def test_a_low_confidence_answer_to_the_opt_out_question_is_asked_again_then_opts_out() -> None:
    script = make_script()
    state, _ = converse(script, [("Take me off your list.", UNSURE)], at_budget(script))
    state, (first,) = converse(script, [("Yes.", UNSURE)], state)
    assert not state.opted_out and state.asked == "opt_out_confirm"
    assert first.sentences[0] == "Sorry, I didn't catch that."
    state, (second,) = converse(script, [("Yes.", UNSURE)], state)
    # calling someone who may have asked not to be called is the one mistake not made
    assert state.opted_out and second.end_call


def test_a_caller_who_hangs_up_while_asked_whether_to_stop_calling_has_opted_out() -> None:
    script = make_script()
    state, _ = converse(script, [("Take me off your list.", UNSURE)], at_budget(script))
    state, _ = converse(script, [("Yes.", UNSURE)], state)
    assert state.asked == "opt_out_confirm"
    assert script.on_hangup(state) == Outcome.OPTED_OUT


def test_a_low_confidence_request_for_a_person_is_checked_not_transferred() -> None:
    script = make_script()
    state, (reply,) = converse(script, [("Can I speak to a real person?", UNSURE)],
                               at_budget(script))
    assert not reply.transfer and not state.transferred
    assert state.asked == "person_confirm"
    state, (reply,) = converse(script, [("Yes please.", SURE)], state)
    assert reply.transfer


def test_a_low_confidence_yes_books_no_meeting() -> None:
    script = make_script()
    state, _ = converse(script, [
        ("About eighty thousand a year.", SURE),
        ("Yes, I decide.", SURE),
        ("Within two months.", SURE),
    ], at_budget(script))
    assert state.asked == "meeting"
    state, (reply,) = converse(script, [("Yes, that works.", UNSURE)], state)
    assert not state.meeting_confirmed and state.facts.meeting_time is None
    assert state.asked == "meeting" and reply.text.startswith("Sorry, I didn't catch that.")
    state, (reply,) = converse(script, [("Yes, that works.", UNSURE)], state)
    # twice unheard: a specialist will find a time, nothing booked
    assert state.facts.meeting_time is None and state.asked == "anything_else"


def test_text_turns_have_no_confidence_and_are_never_gated() -> None:
    script = make_script()
    state, _ = converse(script, [("About eighty thousand a year.", None)], at_budget(script))
    assert state.facts.budget_usd == 80_000


def test_no_threshold_gates_nothing() -> None:
    script = QualificationScript(QualificationPolicy(), transfer_number=None,
                                 company_name="Acme Voice", agent_name="Robin",
                                 today=lambda: WEDNESDAY)
    state, _ = converse(script, [("This is Jamie.", 0.01)])
    assert state.caller_name == "Jamie"


def _settings():
    settings = load_settings()
    settings.agent_integration.min_stt_confidence = THRESHOLD
    return settings


async def test_the_direct_path_gates_a_recognised_line_and_not_a_typed_one() -> None:
    call = CallSession(call_sid="CA-gate", direction="inbound", from_number="+15550001111")
    spoken, typed = DirectResponder(_settings(), call), DirectResponder(_settings(), call)
    for responder in (spoken, typed):
        await responder.open()
        for line in ("This is Jamie.", "Sure, go ahead.",
                     "We miss a lot of calls when the office is closed."):
            await responder.respond(CallerEvent("text", line, SURE))
    reply = await spoken.respond(CallerEvent("text", "About eighty thousand a year.", UNSURE))
    await typed.respond(CallerEvent("text", "About eighty thousand a year."))
    assert "Roughly what budget per year?" in reply.text
    assert spoken.view().facts.budget_usd is None
    assert typed.view().facts.budget_usd == 80_000


@pytest.mark.parametrize("confidence, stored", [(UNSURE, None), (SURE, 80_000.0), (None, 80_000.0)])
async def test_the_agents_workflow_gates_like_the_direct_path(confidence, stored) -> None:
    agents = VoiceAgents(_settings(), llm=None, today=lambda: WEDNESDAY)
    graph = compile_workflow(agents)
    state: dict = {"event": {"kind": "start", "text": ""}, "direction": "inbound"}
    state = await graph.ainvoke(state)
    for line in ("This is Jamie.", "Sure, go ahead.",
                 "We miss a lot of calls when the office is closed.",
                 "About eighty thousand a year."):
        event: dict = {"kind": "text", "text": line}
        if line.startswith("About"):
            if confidence is not None:
                event["confidence"] = confidence
        else:
            event["confidence"] = SURE
        state = await graph.ainvoke({**state, "event": event})
    assert state["conversation"].facts.budget_usd == stored
    if stored is None:
        assert state["sentences"][-1] == "Roughly what budget per year?"


# --- from the pipeline's transcription to the responder -------------------------------------


def heard_as(line: str, confidence: float) -> list:
    """A final transcription as PocketSphinx's service pushes it (its result attached)."""
    recognition = Recognition(text=line, score=0, audio_seconds=1.0, decode_seconds=0.1,
                              confidence=confidence)
    return [TranscriptionFrame(text=line, user_id="", timestamp="", result=recognition),
            SleepFrame(0.1)]


@pytest.mark.parametrize("mode, confidence, reply", [
    ("audio", UNSURE, "Could you tell me your name?"),
    ("text", None, "Nice to meet you, Jamie."),
])
async def test_a_transcription_brings_its_confidence_to_the_turn_in_audio_only(
    mode: str, confidence: float | None, reply: str
) -> None:
    """The same frame, with PocketSphinx's result on it: an audio call's turn carries the
    confidence and is gated; a text call's has none (its frames come from typed text)."""
    session = Session("sent")
    frames = [SleepFrame(0.2), *heard_as("This is Jamie.", UNSURE), SleepFrame(0.3),
              # audio turns are reported when the reply's first audio goes out
              BotStartedSpeakingFrame(), SleepFrame(0.2)]
    await run_test(processor(session, mode=mode), frames_to_send=frames)
    (turn,) = session.turns
    assert turn.event.confidence == confidence
    assert reply in turn.reply.text


async def test_the_orchestrator_gates_a_turn_whose_metadata_says_it_was_heard_unsurely(
    redis_client, redis_prefix: str
) -> None:
    settings = load_settings(redis_prefix=redis_prefix,
                             agent_integration={"min_stt_confidence": THRESHOLD})
    orchestrator = AgentOrchestrator(settings, redis=redis_client, llm=None,
                                     today=lambda: WEDNESDAY)
    call = f"CA{uuid.uuid4().hex}"
    metadata = {"direction": "inbound", "event": "text"}
    try:
        await orchestrator.process_voice_input(call, "", {**metadata, "event": "start"})
        for line in ("This is Jamie.", "Sure, go ahead.",
                     "We miss a lot of calls when the office is closed."):
            await orchestrator.process_voice_input(call, line, {**metadata, "confidence": SURE})
        budget = "About eighty thousand a year."
        unsure = await orchestrator.process_voice_input(
            call, budget, {**metadata, "confidence": UNSURE})
        assert unsure["facts"]["budget_usd"] is None
        assert unsure["sentences"][-1] == "Roughly what budget per year?"
        sure = await orchestrator.process_voice_input(call, budget,
                                                      {**metadata, "confidence": SURE})
        assert sure["facts"]["budget_usd"] == 80_000
    finally:
        await orchestrator.aclose()


def test_the_threshold_is_a_live_setting_of_the_agents() -> None:
    base = load_settings()
    live = parse_live_config(
        {"version": "v-gate", "agent_integration": {"min_stt_confidence": 0.5}}, base)
    assert live.settings.agent_integration.min_stt_confidence == 0.5
    with pytest.raises(LiveConfigError, match="min_stt_confidence"):
        parse_live_config(
            {"version": "v-gate", "agent_integration": {"min_stt_confidence": 1.5}}, base)

async def test_a_call_follows_the_threshold_of_the_live_settings_it_started_with() -> None:
    live = parse_live_config(
        {"version": "v-gate", "agent_integration": {"min_stt_confidence": 0.5}},
        load_settings())
    responder = DirectResponder(live.settings, CallSession(call_sid="CA-live"))
    await responder.open()
    # 0.4 passes the default threshold (0.3), not this version's
    reply = await responder.respond(CallerEvent("text", "This is Jamie.", 0.4))
    assert reply.sentences == ["Sorry, I didn't catch that.", "Could you tell me your name?"]


async def test_with_an_llm_a_low_confidence_line_is_gated_too_and_its_reask_said_as_written(
    redis_client, redis_prefix: str
) -> None:
    """The LLM reads the line (it may catch what the rules miss) but the gate is the
    script's: no fact is kept, and the re-ask is not rewritten into an answer to what
    was misheard."""
    async with openai_double() as double:
        double.extract = lambda line, request: (
            {"budget_usd": 80000} if "eighty" in line else {})
        double.reply = lambda draft, request: "Eighty thousand, great to hear."
        settings = load_settings(
            redis_prefix=redis_prefix, llm_base_url=double.base_url,
            llm_economy_model="economy-model", llm_premium_model="premium-model",
            agent_integration={"min_stt_confidence": THRESHOLD})
        orchestrator = AgentOrchestrator(settings, redis=redis_client, today=lambda: WEDNESDAY)
        call = f"CA{uuid.uuid4().hex}"
        try:
            await orchestrator.process_voice_input(call, "", {"event": "start"})
            for line in ("This is Jamie.", "Sure, go ahead.",
                         "We miss a lot of calls when the office is closed."):
                await orchestrator.process_voice_input(
                    call, line, {"event": "text", "confidence": SURE})
            unsure = await orchestrator.process_voice_input(
                call, "About eighty thousand a year.", {"event": "text", "confidence": UNSURE})
        finally:
            await orchestrator.aclose()
    assert unsure["facts"]["budget_usd"] is None
    assert unsure["sentences"] == ["Sorry, I didn't catch that.", "Roughly what budget per year?"]

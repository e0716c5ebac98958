""""Send me some information" is an outcome: the intent, and the script's offer of a text.

A caller who would rather read than talk is offered, once, a text with a link (an email
from a person when their number cannot take one or no link is configured). Yes ends the
call `nurture` with the follow-up recorded; no goes back to the question the request
interrupted; neither, twice, does the same. Ordinary answers never set it off.
"""

from __future__ import annotations

import pytest

from graph.llm import Extraction, combine
from graph.understanding.caller_line import understand, understand_dtmf
from graph.understanding.intents import detect_wants_info
from graph.understanding.text import normalize
from graph.workflow.policy import CallSignals, nurture_reason, reached_outcome
from graph.workflow.script import QualificationScript, all_prompts
from graph.workflow.state import AgentReply, ConversationState
from switchboard.models import CallFacts, Outcome
from switchboard.settings import QualificationPolicy, load_settings
from tests.test_graph_script import WEDNESDAY
from tests.test_llm_openai_double import empty_extraction

LINK = "https://acme.example/details"


def make_script(info_link: str | None = LINK) -> QualificationScript:
    return QualificationScript(
        QualificationPolicy(),
        transfer_number="+15557650100",
        company_name="Acme Voice",
        agent_name="Robin",
        today=lambda: WEDNESDAY,
        info_link=info_link,
    )


def play(script: QualificationScript, lines: list[str], *, can_text: bool = True
         ) -> tuple[ConversationState, list[AgentReply]]:
    """An inbound call; "#1" is a key press."""
    state, first = script.start("inbound", can_text=can_text)
    replies = [first] if first else []
    for line in lines:
        if line.startswith("#"):
            state, reply = script.on_dtmf(state, line[1:])
        else:
            state, reply = script.on_text(state, line)
        replies.append(reply)
    return state, replies


TO_THE_NEED = ["This is Sam.", "Sure."]  # the qualifier has just asked for the need
ASKS = "Can you just send me some information?"

# --- the intent -----------------------------------------------------------------------------

REQUESTS = [
    "Can you just send me some information?",
    "can you just send me some information",  # as the recogniser writes it
    "Email me something.",
    "Do you have a website?",
    "What's your website?",
    "Send me a brochure.",
    "Just text me the details.",
    "I'd rather read about it first.",
    "Could you email me the details?",
    "Send me an email.",
    "Just email me.",
    "Text me instead.",
    "Is there a website I can look at?",
    "Can you send it over in writing?",
    "Put it in an email.",
    "I'd prefer to get an email.",
    "Honestly, just send me a link.",
    "Yeah, could you shoot me an email with the details?",
    "Why don't you send me something?",
    "Let me read about it first.",
    "Where can I read more?",
    "Could I get some information first?",
    "um can you send me some info",
]

NOT_REQUESTS = [
    # needs and facts: sending things is what the caller's business does
    "We send a lot of information to clients.",
    "We email our customers every week.",
    "They email me brochures all day.",
    "Our website leads go unanswered.",
    "We get a lot of leads from our website.",
    "we send quotes to customers by email",
    "so we text them the details",
    "customers text us all the time",
    "I get sent a lot of information.",
    "we have a website",
    "I read about you online",
    "I want them to send me information",
    # refusals
    "Don't send me anything.",
    "No need to send me information.",
    "Can you not send me anything",
    # other acts
    "Email me next week.",
    "Please don't email me.",
    "stop texting me",
    # ordinary answers
    "Yes, that's me.",
    "About fifty thousand a year.",
    "Within two months.",
    "We miss calls after hours.",
    "I would rather not say.",
    "I'd like to look at the numbers first",
    "Sure, go ahead.",
]


@pytest.mark.parametrize("line", REQUESTS)
def test_a_request_to_be_sent_something_to_read_is_heard(line: str) -> None:
    assert understand(line).wants_info is True


@pytest.mark.parametrize("line", NOT_REQUESTS)
def test_an_ordinary_answer_is_never_taken_for_an_information_request(line: str) -> None:
    assert understand(line).wants_info is False


def test_the_request_is_heard_in_any_sentence_of_the_line() -> None:
    assert understand("I'm busy right now. Can you email me the details?").wants_info


def test_an_opt_out_is_never_an_information_request() -> None:
    heard = understand("Stop calling me and don't send me anything.")
    assert heard.opt_out and not heard.wants_info


def test_the_detector_takes_the_normalised_line() -> None:
    assert detect_wants_info(normalize("Could you e-mail me the details?"))
    assert not detect_wants_info(normalize("We e-mail our clients the details."))


def test_a_key_press_is_never_an_information_request() -> None:
    assert not any(understand_dtmf(key).wants_info for key in "0123456789*#")


def test_the_llm_hearing_a_request_the_rules_missed_counts() -> None:
    line = "could you fire over a one-page thing about it"
    rules = understand(line)
    assert not rules.wants_info
    heard = combine(rules, Extraction(**{**empty_extraction(), "wants_info": True}))
    assert heard.wants_info


def test_an_opt_out_from_either_reader_overrides_the_request() -> None:
    heard = combine(understand("just email me"),
                    Extraction(**{**empty_extraction(), "opt_out": True}))
    assert heard.opt_out and not heard.wants_info


# --- the offer ------------------------------------------------------------------------------


def test_a_caller_asking_for_information_is_offered_a_text_with_a_link() -> None:
    state, replies = play(make_script(), [*TO_THE_NEED, ASKS])
    assert replies[-1].text == "I can text you a link with the details. Would you like that?"
    assert state.asked == "info_confirm" and state.interrupted_question == "need"
    assert replies[-1].follow_up is None  # nothing is sent before a yes
    assert state.outcome is None


@pytest.mark.parametrize("yes", ["Yes please.", "Sure, go ahead.", "#1", "Yeah, text me the link."])
def test_a_yes_texts_the_link_and_says_so(yes: str) -> None:
    state, replies = play(make_script(), [*TO_THE_NEED, ASKS, yes])
    reply = replies[-1]
    assert reply.follow_up == "sms_link"
    assert reply.text == "Great, I'm texting you the link now."
    assert not reply.end_call  # the goodbye waits for Twilio's answer
    assert state.current_agent == "wrap_up"
    assert ("qualifier", "wrap_up", "info_requested") in reply.transitions
    assert state.follow_up == "sms_link" and state.follow_up_status == "pending"
    assert state.outcome == Outcome.NURTURE


def test_once_the_text_is_sent_the_caller_hears_so_and_goodbye() -> None:
    script = make_script()
    state, _ = play(script, [*TO_THE_NEED, ASKS, "Yes please."])
    state, reply = script.on_follow_up(state, "sent")
    assert reply.sentences == ["Done, it's on its way.", "Thanks for your time, Sam.",
                               "Talk soon. Goodbye."]
    assert reply.end_call and state.ended
    assert state.follow_up_status == "sent"
    assert script.on_hangup(state) == Outcome.NURTURE


def test_a_text_that_could_not_be_sent_is_promised_by_email_instead() -> None:
    script = make_script()
    state, _ = play(script, [*TO_THE_NEED, ASKS, "Yes please."])
    state, reply = script.on_follow_up(state, "failed")
    assert reply.sentences[:2] == ["Sorry, I couldn't send a text to this number.",
                                   "I'll have someone email you the details instead."]
    assert reply.end_call and state.follow_up_status == "failed"
    assert script.on_hangup(state) == Outcome.NURTURE


def test_a_text_twilio_has_not_confirmed_yet_is_on_its_way() -> None:
    script = make_script()
    state, _ = play(script, [*TO_THE_NEED, ASKS, "Yes please."])
    state, reply = script.on_follow_up(state, "pending")
    assert reply.sentences[0] == "It should reach you in a minute." and reply.end_call


def test_a_caller_who_hangs_up_while_the_text_goes_out_is_still_nurture() -> None:
    script = make_script()
    state, _ = play(script, [*TO_THE_NEED, ASKS, "Yes please."])
    assert script.on_hangup(state) == Outcome.NURTURE


def test_how_the_text_went_changes_nothing_on_a_call_not_waiting_for_one() -> None:
    script = make_script()
    state, _ = play(script, TO_THE_NEED)
    after, reply = script.on_follow_up(state, "sent")
    assert after == state and reply.sentences == [] and not reply.end_call


def test_a_no_goes_back_to_the_question_the_request_interrupted() -> None:
    state, replies = play(make_script(), [*TO_THE_NEED, ASKS, "No thanks."])
    assert replies[-1].sentences == [
        "No problem.", "What's your biggest challenge with handling calls or leads today?"]
    assert state.asked == "need" and state.current_agent == "qualifier"
    assert state.follow_up is None and state.outcome is None


def test_the_offer_is_made_once_per_call() -> None:
    state, replies = play(make_script(), [*TO_THE_NEED, ASKS, "No.", "Can you email me something?"])
    assert state.asked != "info_confirm"
    assert "text you a link" not in replies[-1].text


def test_an_answer_with_facts_instead_of_yes_or_no_is_kept_and_the_questions_go_on() -> None:
    state, replies = play(make_script(),
                          [*TO_THE_NEED, ASKS, "No, we miss a lot of calls after hours."])
    assert state.facts.need and state.follow_up is None
    assert state.asked == "budget"
    assert "budget" in replies[-1].text


def test_facts_said_with_the_request_are_kept() -> None:
    state, _ = play(make_script(), [*TO_THE_NEED,
                                    "We spend about fifty thousand a year, but just send me "
                                    "some information."])
    assert state.facts.budget_usd == 50_000 and state.asked == "info_confirm"


def test_an_offer_twice_unanswered_carries_on_with_the_questions() -> None:
    state, replies = play(make_script(), [*TO_THE_NEED, ASKS, "Hmm.", "Well."])
    assert replies[-2].text.startswith("Sorry, I didn't quite catch that.")
    assert replies[-1].sentences[0] == "No problem, let's keep going."
    assert state.asked == "need" and state.follow_up is None


def test_asked_to_repeat_the_offer_is_said_again() -> None:
    state, replies = play(make_script(), [*TO_THE_NEED, ASKS, "Sorry, say that again?"])
    assert state.asked == "info_confirm" and "text you a link" in replies[-1].text


def test_a_number_that_cannot_take_a_text_is_offered_an_email_instead() -> None:
    script = make_script()
    state, replies = play(script, [*TO_THE_NEED, ASKS], can_text=False)
    assert state.asked == "email_confirm"
    assert "email you the details" in replies[-1].text
    state, reply = script.on_text(state, "Yes please.")
    assert reply.follow_up == "email" and reply.end_call and state.ended
    assert reply.sentences[0] == "Great, someone from our team will email you the details."
    assert script.on_hangup(state) == Outcome.NURTURE


def test_without_a_link_configured_an_email_is_offered() -> None:
    state, _ = play(make_script(info_link=None), [*TO_THE_NEED, ASKS])
    assert state.asked == "email_confirm"


def test_a_caller_who_names_themselves_and_asks_is_asked_for_two_minutes_after_a_no() -> None:
    state, replies = play(make_script(), ["This is Sam, can you just send me some information?",
                                          "No, that's fine."])
    assert state.caller_name == "Sam"
    assert state.current_agent == "qualifier" and state.asked == "permission"


def test_a_caller_not_interested_who_asks_for_information_is_offered_it() -> None:
    state, replies = play(make_script(), [*TO_THE_NEED,
                                          "Not interested, just send me some information."])
    assert state.asked == "info_confirm" and state.current_agent == "qualifier"
    state, _ = play(make_script(), [*TO_THE_NEED,
                                    "Not interested, just send me some information.", "Yes."])
    assert state.outcome == Outcome.NURTURE


def test_an_opt_out_while_the_offer_is_pending_wins() -> None:
    state, replies = play(make_script(), [*TO_THE_NEED, ASKS, "Stop calling me."])
    assert state.opted_out and replies[-1].end_call and state.follow_up is None


def test_a_person_asked_for_while_the_offer_is_pending_is_put_through() -> None:
    state, replies = play(make_script(), [*TO_THE_NEED, ASKS, "Can I talk to a real person?"])
    assert state.transferred and replies[-1].transfer


def test_while_a_meeting_is_booked_a_request_for_details_is_not_offered_a_text() -> None:
    script = make_script()
    lines = ["This is Jamie.", "Sure, go ahead.", "We miss a lot of calls when the office is "
             "closed.", "About thirty thousand a year.", "Yes, that's me.", "Within two months."]
    state, _ = play(script, lines)
    assert state.current_agent == "scheduler"
    state, reply = script.on_text(state, "Can you email me the details?")
    assert state.asked != "info_confirm" and reply.follow_up is None


def test_the_offer_and_its_answer_survive_a_json_checkpoint() -> None:
    script = make_script()
    state, _ = play(script, [*TO_THE_NEED, ASKS])
    restored = ConversationState.model_validate_json(state.model_dump_json())
    after, reply = script.on_text(restored, "Yes please.")
    assert reply.follow_up == "sms_link" and after.follow_up == "sms_link"


def test_after_a_recovery_a_call_sending_its_text_says_goodbye() -> None:
    script = make_script()
    state, _ = play(script, [*TO_THE_NEED, ASKS, "Yes please."])
    reply = script.on_resume(state)
    assert reply.end_call and reply.sentences[-1] == "Talk soon. Goodbye."


def test_every_sentence_of_the_offer_is_among_the_prompts() -> None:
    settings = load_settings()
    prompts = set(all_prompts(settings))
    script = QualificationScript(settings.qualification, transfer_number=None,
                                 company_name=settings.agent_integration.company_name,
                                 agent_name=settings.agent_integration.agent_name,
                                 info_link=LINK)
    said: list[str] = []
    for can_text in (True, False):
        for answers in (["Yes."], ["No."], ["Hmm.", "Well."]):
            state, replies = play(script, ["Sure.", ASKS, *answers], can_text=can_text)
            said += [s for r in replies for s in r.sentences]
    for status in ("sent", "failed", "pending"):
        state, _ = play(script, ["Sure.", ASKS, "Yes."])
        said += script.on_follow_up(state, status)[1].sentences
    assert set(said) <= prompts


# --- the policy -----------------------------------------------------------------------------


def test_a_follow_up_agreed_is_nurture_whatever_weak_facts_say() -> None:
    policy = QualificationPolicy()
    facts = CallFacts(budget_usd=2_000)
    assert reached_outcome(facts, policy, CallSignals(follow_up="sms_link")) == Outcome.NURTURE
    assert nurture_reason(CallFacts(), policy, CallSignals(follow_up="email")) == "follow_up"


def test_a_qualified_lead_stays_qualified_with_a_follow_up() -> None:
    facts = CallFacts(budget_usd=50_000, decision_maker=True, need="missed calls",
                      timeline_months=2)
    signals = CallSignals(follow_up="sms_link")
    assert reached_outcome(facts, QualificationPolicy(), signals) == Outcome.QUALIFIED


def test_an_opt_out_outranks_a_follow_up() -> None:
    signals = CallSignals(follow_up="sms_link", opted_out=True)
    assert reached_outcome(CallFacts(), QualificationPolicy(), signals) == Outcome.OPTED_OUT

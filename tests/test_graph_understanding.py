"""Deterministic understanding of callers: typed text and speech-recogniser output.

Each case is a way people really say something on the phone; the recogniser
variants are lower case, unpunctuated, with numbers as words.
"""

from __future__ import annotations

from datetime import date

import pytest

from graph.understanding.caller_line import Understanding, understand, understand_dtmf

TODAY = date(2025, 3, 10)  # a Monday in March


def heard(text: str, expecting: str | None = None) -> Understanding:
    return understand(text, today=TODAY, expecting=expecting)


# --- budget -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "usd"),
    [
        ("fifty thousand dollars", 50_000),
        ("We spend about $50,000 a year on answering services.", 50_000),
        ("we spend about fifty thousand dollars a year", 50_000),
        ("$75k", 75_000),
        ("Probably 75k.", 75_000),
        ("a hundred and twenty thousand bucks", 120_000),
        ("maybe half a million", 500_000),
        ("fifteen grand, give or take", 15_000),
        ("one hundred thousand dollars this year", 100_000),
        ("around 50,000", 50_000),
        ("two point five million", 2_500_000),
        ("a quarter million", 250_000),
        ("about 20 thousand a year", 20_000),
        ("We've set aside $1.2M for the whole program.", 1_200_000),
        ("our budget is seventy five k", 75_000),
        ("the board approved thirty thousand for it", 30_000),
        ("I think we could do 40 grand", 40_000),
        ("we have fifty thousand in the budget", 50_000),
        ("up to 30k, not more", 30_000),
        ("budget's about twelve thousand five hundred", 12_500),
    ],
)
def test_budget_amounts_are_read_in_dollars(text: str, usd: float) -> None:
    assert heard(text).budget_usd == pytest.approx(usd)


@pytest.mark.parametrize(
    ("text", "usd"),
    [
        ("five thousand a month", 60_000),
        ("We pay roughly $3,000 per month right now", 36_000),
        ("about two grand monthly", 24_000),
        ("5k/mo", 60_000),
        ("ten thousand a quarter", 40_000),
        ("our monthly budget is around four thousand dollars", 48_000),
    ],
)
def test_recurring_amounts_are_annualised(text: str, usd: float) -> None:
    assert heard(text).budget_usd == pytest.approx(usd)


def test_a_range_keeps_its_low_end_with_the_shared_scale() -> None:
    assert heard("somewhere between twenty and thirty thousand").budget_usd == 20_000
    assert heard("fifty to seventy five k").budget_usd == 50_000


def test_the_last_figure_corrects_an_earlier_one() -> None:
    assert heard("forty thousand, no wait, sixty thousand dollars").budget_usd == 60_000


@pytest.mark.parametrize(
    "text",
    [
        "We get about 5,000 calls a month.",
        "we have twenty staff on the phones",
        "Tuesday at ten in the morning",
        "we want it live in 2026",
        "about three hundred leads a week",
        "we are a two person shop",
        "we want something within three months",
        "call me at 5",
        "We run three clinics, and new patient calls go to voicemail.",
        "we have two restaurants and a food truck",
    ],
)
def test_numbers_that_are_not_money_are_not_a_budget(text: str) -> None:
    assert heard(text).budget_usd is None


def test_a_bare_small_number_counts_only_as_an_answer_to_the_budget_question() -> None:
    assert heard("about fifty").budget_usd is None
    assert heard("about fifty", expecting="budget").budget_usd == 50


@pytest.mark.parametrize(
    "text",
    [
        "no budget",
        "We have no budget for anything like this.",
        "we have no money for this",
        "Honestly, we can't afford it right now.",
        "we cannot afford that",
        "we dont have a budget for this",
        "there is nothing budgeted for it",
        "our budget is zero",
        "the budget got cut, we are not spending anything",
        "we haven't budgeted for anything like that",
    ],
)
def test_no_budget_is_recognised(text: str) -> None:
    understanding = heard(text)
    assert understanding.no_budget is True
    assert understanding.budget_usd is None


@pytest.mark.parametrize(
    "text",
    [
        "We can't afford to lose more leads.",
        "budget is not an issue",
        "we have no budget issues at all",
        "we spend about fifty thousand dollars a year",
    ],
)
def test_no_budget_is_not_read_into_other_sentences(text: str) -> None:
    assert heard(text).no_budget is False


# --- authority ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "I run operations, so the decision is mine.",
        "it's my call",
        "it is my call",
        "I'm the CEO.",
        "i am the c e o",
        "I'm the owner",
        "im the founder of the company",
        "I'm the VP of sales",
        "i am the director of operations",
        "I'm head of customer success",
        "I sign off on all of that",
        "I make the decisions around here",
        "the final say is mine",
        "that's my decision",
        "I own the business",
        "Yeah I have the final say",
        "I call the shots",
        "as the owner, I decide",
    ],
)
def test_the_caller_deciding_is_recognised(text: str) -> None:
    assert heard(text).decision_maker is True


@pytest.mark.parametrize(
    "text",
    [
        "me and my partner decide together",
        "My business partner and I make these decisions.",
        "it's a shared decision",
        "we decide as a team",
        "I'm one of the decision makers",
        "it would be a joint decision with our CFO",
    ],
)
def test_sharing_the_decision_counts_as_deciding(text: str) -> None:
    assert heard(text).decision_maker is True


@pytest.mark.parametrize(
    "text",
    [
        "I would have to run it by my boss",
        "I'd have to run it by my boss, she makes these decisions.",
        "my manager decides",
        "someone else makes that call",
        "it's not up to me",
        "its not my call",
        "the board decides on anything like this",
        "I'd need approval",
        "i would need to get sign off from finance",
        "I'm not the decision maker",
        "That's above my pay grade.",
        "the decision is made by our cfo",
        "honestly I just work here",
        "I'd have to check with the owner",
        "it all goes through procurement",
        "my boss has the final say",
        "I can make a recommendation but that's it",
    ],
)
def test_someone_else_deciding_is_recognised(text: str) -> None:
    assert heard(text).decision_maker is False


@pytest.mark.parametrize(
    "text",
    [
        "We lose leads every weekend.",
        "I'm the office manager",
        "yes",
        "we get a lot of calls",
        "I am the owner's assistant",
    ],
)
def test_authority_is_unknown_when_not_said(text: str) -> None:
    assert heard(text).decision_maker is None


@pytest.mark.parametrize(
    ("text", "role"),
    [
        ("I run operations, so the decision is mine.", "operations"),
        ("I am the chief executive, it is my call.", "chief executive"),
        ("I'm the VP of sales at Acme", "VP of sales"),
        ("i am the ceo", "CEO"),
        ("I'm the sales director", "sales director"),
        ("I'm a co-founder", "co-founder"),
        ("I'm head of customer success here", "head of customer success"),
        ("I'm the office manager", "office manager"),
        ("I run the company", "owner"),
        ("I am the chief operating officer", "chief operating officer"),
    ],
)
def test_a_stated_role_is_kept_as_a_title(text: str, role: str) -> None:
    assert heard(text).role == role


def test_no_role_without_a_title() -> None:
    assert heard("I am not sure yet").role is None
    assert heard("I'm Dana").role is None


# --- need -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "We lose leads because nobody answers after hours.",
        "we lose a lot of leads because nobody answers the phone after hours",
        "Our support team is overwhelmed.",
        "We need a better way to follow up with inbound leads.",
        "We're struggling with call volume.",
        "yes we need help with that",
        "Calls go to voicemail when we're busy and people hang up.",
        "we miss calls all the time",
        "Leads go cold before anyone gets back to them.",
        "we're short staffed and can't keep up with the phones",
        "that's exactly our problem",
        "our biggest problem is response time",
        "We're looking for something to answer calls at night.",
        "it would really help us",
        "we waste hours every week qualifying bad leads",
        "We already have a receptionist, but she's swamped.",
        "half our calls go unanswered because no one is available",
        "We manage apartment buildings and tenants can never reach anyone after five.",
    ],
)
def test_a_stated_need_is_recognised(text: str) -> None:
    understanding = heard(text)
    assert understanding.need
    assert understanding.no_need is False


def test_the_need_is_the_callers_own_sentence_tidied() -> None:
    understanding = heard("Well, we lose leads because nobody answers after hours.")
    assert understanding.need == "We lose leads because nobody answers after hours"


def test_the_need_is_taken_from_the_sentence_that_states_it() -> None:
    understanding = heard("Hi there. Our front desk is overwhelmed with calls. Anyway.")
    assert understanding.need == "Our front desk is overwhelmed with calls"


@pytest.mark.parametrize(
    "text",
    [
        "we don't really have that problem",
        "Honestly we are a two person shop, we do not really have that problem.",
        "two person shop, we don't have that problem",
        "we're fine as we are",
        "We don't need that.",
        "not something we need",
        "we already have an answering service",
        "that's not really an issue for us",
        "we handle it fine ourselves",
        "we have no problems with that",
        "To be honest, we don't get many calls, and the phones are fine as they are.",
        "the way things are works fine for us, the system is fine the way it is",
    ],
)
def test_no_need_is_recognised(text: str) -> None:
    understanding = heard(text)
    assert understanding.no_need is True
    assert understanding.need is None


@pytest.mark.parametrize("text", ["we're all set, thanks", "I think we're good", "we're good"])
def test_we_are_good_answers_the_need_question_but_at_the_greeting_turns_the_call_away(
    text: str,
) -> None:
    asked_about_need = heard(text, expecting="need")
    assert asked_about_need.no_need is True and asked_about_need.not_interested is False
    for opening in (None, "identity", "permission"):
        at_the_greeting = heard(text, expecting=opening)
        assert at_the_greeting.not_interested is True
        assert at_the_greeting.no_need is False


def test_nothing_means_no_need_only_as_an_answer_to_the_need_question() -> None:
    assert heard("nothing really").no_need is False
    assert heard("nothing really", expecting="need").no_need is True


@pytest.mark.parametrize(
    "text",
    [
        "I need to check with my boss",
        "I need to think about it",
        "I don't want to miss your call",
        "We have no budget for this.",
        "don't waste my time",
    ],
)
def test_procedural_needs_are_not_a_business_need(text: str) -> None:
    assert heard(text).need is None


# --- timeline -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "months"),
    [
        ("within three months", 3),
        ("We want something live within three months.", 3),
        ("in six weeks", 1.5),
        ("this quarter", 3),
        ("next quarter", 6),
        ("As soon as possible", 1),
        ("right away", 1),
        ("asap", 1),
        ("a s a p", 1),
        ("within a month", 1),
        ("next year", 12),
        ("Maybe next year, not before.", 12),
        ("not before next year", 12),
        ("in a couple of months", 2),
        ("in two years", 24),
        ("end of next year", 21),  # from March: nine months to December, then twelve
        ("by the end of the year", 9),
        ("by the summer", 3),  # summer starts in June
        ("in the next 90 days", 3),
        ("three to six months", 6),
        ("six months to a year", 12),
        ("in a month or two", 2),
        ("a year and a half from now", 18),
        ("by Q3", 6),
        ("we'd like it by september", 6),
        ("As soon as possible, within a month.", 1),
        ("we are hoping to go live in about four months", 4),
        ("we want to roll it out over the next few weeks", 0.75),
        ("not any time soon", 12),
        # the caller's own count of months says what the date meant
        ("We want it live before the summer, so within about five months.", 5),
    ],
)
def test_timelines_are_read_in_months(text: str, months: float) -> None:
    assert heard(text).timeline_months == pytest.approx(months)


@pytest.mark.parametrize(
    "text",
    [
        "we've had this problem for three months",
        "we started two years ago",
        "we spend five thousand a month",
        "Sure, call me back in a few months.",
        "it is not urgent",
        "one hundred thousand dollars this year",
        "we get two hundred calls a week",
    ],
)
def test_past_durations_rates_and_callback_times_are_not_timelines(text: str) -> None:
    assert heard(text).timeline_months is None


def test_soon_counts_only_as_an_answer_to_the_timeline_question() -> None:
    assert heard("pretty soon").timeline_months is None
    assert heard("pretty soon", expecting="timeline").timeline_months == 3


def test_the_end_of_the_year_depends_on_today() -> None:
    assert understand("by the end of the year", today=date(2025, 10, 1)).timeline_months == 2


# --- meeting time ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "when"),
    [
        ("Tuesday at ten in the morning", "Tuesday at 10 AM"),
        ("tuesday at ten in the morning works for me", "Tuesday at 10 AM"),
        ("Thursday afternoon", "Thursday afternoon"),
        ("Thursday afternoon is fine.", "Thursday afternoon"),
        ("tomorrow at 3pm", "tomorrow at 3 PM"),
        ("next Monday 9:30", "next Monday at 9:30 AM"),
        ("any time Friday", "any time Friday"),
        ("friday anytime works", "any time Friday"),
        ("How about Wednesday at 2?", "Wednesday at 2 PM"),
        ("half past two on wednesday", "Wednesday at 2:30 PM"),
        ("I'm busy Monday but Tuesday at 2 works", "Tuesday at 2 PM"),
        ("Monday is bad, how about Wednesday morning?", "Wednesday morning"),
        ("nine thirty a m on thursday", "Thursday at 9:30 AM"),
        ("friday at noon", "Friday at noon"),
        ("March 3rd at 11am", "March 3 at 11 AM"),
    ],
)
def test_meeting_times_are_normalised(text: str, when: str) -> None:
    assert heard(text).meeting_time == when


def test_a_bare_hour_is_a_time_only_when_we_asked_for_one() -> None:
    assert heard("ten works").meeting_time is None
    assert heard("ten works", expecting="meeting").meeting_time == "10 AM"


def test_hours_described_are_not_a_meeting_time_unless_we_asked_for_one() -> None:
    described = "tenants can never reach anyone after five"
    assert heard(described).meeting_time is None
    assert heard("any time after five", expecting="meeting").meeting_time == "5 PM"


def test_next_week_is_a_meeting_time_only_as_an_answer() -> None:
    assert heard("sometime next week", expecting="meeting_time").meeting_time == (
        "sometime next week"
    )


# --- yes and no ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "yes",
        "Yeah.",
        "yep",
        "sure",
        "Go ahead.",
        "okay",
        "ok",
        "sounds good",
        "absolutely",
        "that works",
        "I guess so",
        "I guess so, what is this about?",
        "Yes, speaking.",
        "Sure, I have a few minutes.",
        "of course",
        "Sorry, I was distracted. Yes, go on.",
        "uh huh",
        "yeah that's right",
        "no problem",
        "i do",
        "fine",
        "Mondays are fine.",
    ],
)
def test_yes_in_its_many_forms(text: str) -> None:
    assert heard(text).affirmative is True


@pytest.mark.parametrize(
    "text",
    [
        "no",
        "No.",
        "nope",
        "not really",
        "no thanks",
        "No thank you.",
        "not now",
        "no, that is all, thank you",
        "I am not interested",
        "nah",
        "definitely not",
        "I don't think so",
        "not at the moment",
        "we're good",
        "i do not",
        "Nothing really, we're fine.",
        "Thanks, we're good.",
    ],
)
def test_no_in_its_many_forms(text: str) -> None:
    assert heard(text).affirmative is False


@pytest.mark.parametrize(
    "text",
    [
        "We have no budget for this.",
        "no one answers after hours",
        "Maybe next year, not before.",
        "I'm not sure",
        "Hello?",
    ],
)
def test_no_as_a_determiner_or_a_hedge_is_not_an_answer(text: str) -> None:
    assert heard(text).affirmative is None


# --- conversational acts -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "take me off your list",
        "Please take me off your list and do not call me again.",
        "do not call me again",
        "Don't call me again.",
        "dont call me again",
        "stop calling me",
        "remove my number",
        "put me on your do not call list",
        "put me on your do-not-call list",
        "unsubscribe",
        "Never call this number again.",
        "I don't want any more calls from you",
        "please stop calling",
        "lose my number",
        "don't call me",
    ],
)
def test_opt_out_requests(text: str) -> None:
    assert heard(text).opt_out is True


@pytest.mark.parametrize(
    "text",
    [
        "I don't want to miss your call",
        "don't call me before 9",
        "please don't call me at work",
        "don't call me after six",
        "call me back next week",
        "we don't want to lose calls",
    ],
)
def test_things_that_are_not_opt_outs(text: str) -> None:
    assert heard(text).opt_out is False


@pytest.mark.parametrize(
    "text",
    [
        "can I talk to a real person",
        "Can I just talk to a real person please?",
        "let me speak to a human",
        "get me a representative",
        "get me to an agent",
        "get me an agent",
        "get me an operator",
        "transfer me",
        "is there someone I can talk to",
        "I want to talk to a person",
        "operator",
        "representative please",
        "put me through to your sales team",
        "I'd like to speak with someone from your team",
        "connect me with a live agent",
    ],
)
def test_asking_for_a_person(text: str) -> None:
    assert heard(text).wants_human is True


@pytest.mark.parametrize(
    "text",
    [
        "I'd have to talk to my boss",
        "are you a real person?",
        "we need a person to answer our phones",
        "I talked to a rep last week",
    ],
)
def test_things_that_are_not_asking_for_a_person(text: str) -> None:
    assert heard(text).wants_human is False


def test_asking_if_we_are_a_bot_is_its_own_question() -> None:
    assert heard("am I talking to a robot?").asks_if_ai is True


@pytest.mark.parametrize(
    "text",
    [
        "call me back in a few months",
        "try me next quarter",
        "can you call back later",
        "now is not a good time",
        "it's a bad time, I'm driving",
        "could we do this another time",
        "I'm in a meeting, can you call me tomorrow",
        "Sure, call me back in a few months.",
        "reach out again after the holidays",
    ],
)
def test_asking_to_be_called_later(text: str) -> None:
    assert heard(text).callback_later is True


def test_do_not_call_me_back_is_an_opt_out_not_a_callback() -> None:
    understanding = heard("don't call me back")
    assert understanding.opt_out is True
    assert understanding.callback_later is False


@pytest.mark.parametrize(
    "text",
    [
        "I'm not interested",
        "no thanks, not interested",
        "not interested",
        "we're not really interested",
        "it's not for us",
        "I'll pass",
    ],
)
def test_not_interested(text: str) -> None:
    assert heard(text).not_interested is True


@pytest.mark.parametrize(
    "text",
    [
        "The person you are trying to reach is not available.",
        "please leave a message after the tone",
        "Please leave a message after the beep.",
        "you have reached the voicemail of John Smith",
        "at the tone please record your message",
        "Hi, you've reached Dana. I can't take your call right now.",
        "the number you have dialed is not available right now",
        "the subscriber you are calling is unavailable",
        "the mailbox is full",
    ],
)
def test_answering_machine_greetings(text: str) -> None:
    assert heard(text).voicemail_greeting is True


@pytest.mark.parametrize(
    "text",
    ["we are not available after six so we miss calls", "Hello?", "Yes, this is Dana."],
)
def test_people_are_not_answering_machines(text: str) -> None:
    assert heard(text).voicemail_greeting is False


@pytest.mark.parametrize(
    "text",
    [
        "that's all, thank you",
        "bye",
        "Goodbye!",
        "nothing else",
        "No, that is all. Thank you.",
        "that will be it",
        "have a good day",
        "ok talk soon",
        "Nope, that covers it. Thanks!",
    ],
)
def test_closing_the_call(text: str) -> None:
    assert heard(text).closing is True


@pytest.mark.parametrize(
    "text",
    [
        "sorry, can you repeat that",
        "what?",
        "pardon?",
        "Sorry?",
        "say that again",
        "i didn't catch that",
        "you're breaking up",
        "come again?",
    ],
)
def test_asking_us_to_repeat(text: str) -> None:
    assert heard(text).repeat_request is True


@pytest.mark.parametrize(
    "text",
    [
        "what is this about",
        "What is this about?",
        "who is this",
        "Hello, who is calling?",
        "why are you calling me",
    ],
)
def test_asking_who_we_are_or_why_we_call(text: str) -> None:
    assert heard(text).asks_purpose is True


def test_we_lose_repeat_customers_is_no_repeat_request() -> None:
    assert heard("we lose repeat customers").repeat_request is False


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("Yes, this is Dana speaking.", "Dana"),
        ("Hi, yes, this is Sam.", "Sam"),
        ("yes this is priya", "Priya"),
        ("My name's Jordan.", "Jordan"),
        ("Alex here", "Alex"),
        ("I'm Morgan from Acme.", "Morgan"),
    ],
)
def test_the_callers_name(text: str, name: str) -> None:
    assert heard(text).caller_name == name


@pytest.mark.parametrize(
    "text",
    [
        "Yes, speaking.", "this is about our account", "I'm swamped", "i am busy", "it is my call",
        # what the recogniser made of "do not call me anymore" and "hey, Chris here"
        "look call me anymore", "hey lead here",
        # "I'd rather talk to one of your sales people, is that possible?", misheard
        "i'd rather talk what's your really people you've got hospital",
    ],
)
def test_no_name_where_none_was_said(text: str) -> None:
    assert heard(text).caller_name is None


@pytest.mark.parametrize("text", ["I'm not sure", "no idea", "it depends", "i don't know"])
def test_unsure_answers(text: str) -> None:
    assert heard(text).unsure is True


# --- several facts in one line ----------------------------------------------------------------


def test_several_facts_in_one_sentence_are_all_read() -> None:
    understanding = heard(
        "I'm the owner, we miss half our calls, and we could spend 30k a year starting next month"
    )
    assert understanding.decision_maker is True
    assert understanding.need
    assert understanding.budget_usd == 30_000
    assert understanding.timeline_months == 2


def test_recogniser_output_reads_like_typed_text() -> None:
    typed = heard(
        "Our budget is about $40,000 a year, and it's my call. We need it within 2 months."
    )
    spoken = heard(
        "our budget is about forty thousand dollars a year and its my call we need it within two "
        "months"
    )
    for understanding in (typed, spoken):
        assert understanding.budget_usd == 40_000
        assert understanding.timeline_months == 2
    assert typed.decision_maker is True


def test_empty_text_means_nothing() -> None:
    assert heard("") == Understanding()
    assert heard("   ") == Understanding()


# --- key presses -------------------------------------------------------------------------------


def test_key_presses_are_answers() -> None:
    assert understand_dtmf("1").affirmative is True
    assert understand_dtmf("2").affirmative is False
    assert understand_dtmf("0").wants_human is True
    assert understand_dtmf("9").opt_out is True


def test_other_keys_mean_nothing_but_are_kept() -> None:
    understanding = understand_dtmf("5")
    assert understanding.dtmf == "5"
    assert understanding.affirmative is None and not understanding.opt_out


def test_understanding_is_immutable() -> None:
    with pytest.raises(AttributeError):
        heard("yes").affirmative = False  # type: ignore[misc]


# --- what recognisers and real callers add -----------------------------------------------------


@pytest.mark.parametrize(
    ("text", "months", "usd"),
    [
        ("we want it in to months", 2, None),
        ("we could spend about for thousand a month", None, 48_000),
    ],
)
def test_misrecognised_number_words_are_restored_where_a_quantity_must_follow(
    text: str, months: float | None, usd: float | None
) -> None:
    understanding = heard(text)
    assert understanding.timeline_months == months
    assert understanding.budget_usd == usd


def test_waiting_for_months_is_not_a_misrecognised_four() -> None:
    assert heard("we have been waiting for months").timeline_months is None


@pytest.mark.parametrize(
    ("text", "when"),
    [
        ("Can you call me back next quarter?", "next quarter"),
        ("call me back in a few months", "in a few months"),
        ("try me tomorrow afternoon", "tomorrow"),
        ("Maybe in the new year. Try me again in January.", "in january"),
        ("could you ring us after march", "after march"),
        ("call me later", None),
    ],
)
def test_when_to_call_back_is_kept_as_said(text: str, when: str | None) -> None:
    understanding = heard(text)
    assert understanding.callback_later is True
    assert understanding.callback_when == when


def test_a_name_is_not_read_from_call_me_back() -> None:
    assert heard("call me back in a few months").caller_name is None
    assert heard("call me Sam").caller_name == "Sam"


def test_money_the_business_makes_is_not_a_budget() -> None:
    assert heard("we have about a million dollars in revenue").budget_usd is None
    both = heard("we make two million a year and could spend fifty thousand on this")
    assert both.budget_usd == 50_000


def test_the_need_leaves_out_clauses_about_other_things() -> None:
    understanding = heard(
        "We're looking for a better way to handle after hours calls, budget around 40k and I'm "
        "the COO"
    )
    assert understanding.need == "We're looking for a better way to handle after hours calls"
    assert understanding.budget_usd == 40_000 and understanding.decision_maker is True


@pytest.mark.parametrize(
    "text",
    [
        "we already use an answering service but they are terrible",
        "our receptionist quit and the phones ring off the hook",
        "we use voicemail and nobody checks it",
        "the front desk can't get to the phone when they're with patients",
    ],
)
def test_dissatisfaction_and_strain_are_needs(text: str) -> None:
    understanding = heard(text)
    assert understanding.need and not understanding.no_need
    assert understanding.voicemail_greeting is False


@pytest.mark.parametrize(
    "text",
    ["we have a call center already and it works great", "We don't get that many calls honestly."],
)
def test_being_well_served_is_no_need(text: str) -> None:
    assert heard(text).no_need is True


def test_hold_on_and_questions_of_the_callers_own() -> None:
    assert heard("Hold on a second.").asks_to_wait is True
    assert heard("How much does it cost?").asks_question is True
    assert heard("how much does it cost").asks_question is True
    assert heard("We lose leads.").asks_question is False


def test_a_busy_office_is_not_an_opt_out() -> None:
    understanding = heard("the phones never stop ringing")
    assert understanding.opt_out is False
    assert understanding.need


@pytest.mark.parametrize(
    ("text", "decides"),
    [
        ("I'm not the right person for this, you'd want our office manager.", False),
        ("you would have to talk to the owner", False),
        ("I'm the operations manager, but the owner signs off.", False),
        ("I handle purchasing for the company.", True),
        ("I'm the one who signs the checks", True),
        ("that would be up to our regional director", False),
        ("i am the marketing manager and my boss is the owner", False),
    ],
)
def test_more_ways_of_saying_who_decides(text: str, decides: bool) -> None:
    assert heard(text).decision_maker is decides


@pytest.mark.parametrize("text", ["That would be me.", "Me.", "yep that's me"])
def test_that_is_me_answers_yes(text: str) -> None:
    assert heard(text).affirmative is True


@pytest.mark.parametrize(
    ("text", "months"),
    [
        ("We need it by end of month.", 1),
        ("ideally yesterday", 1),
        ("this needs to happen this month", 1),
        ("we were thinking january", 10),
        ("Sometime in the next six months.", 6),
        ("A couple of weeks.", 0.5),
    ],
)
def test_more_timelines(text: str, months: float) -> None:
    assert heard(text).timeline_months == pytest.approx(months)


@pytest.mark.parametrize(
    ("text", "when"),
    [
        ("i can do friday after lunch", "Friday afternoon"),
        ("friday lunchtime works", "Friday at lunchtime"),
        ("Could we do 2:30 on Friday?", "Friday at 2:30 PM"),
        ("Thursday at 14:30", "Thursday at 2:30 PM"),
        ("at 4 oclock", "4 PM"),
    ],
)
def test_more_meeting_times(text: str, when: str) -> None:
    assert heard(text).meeting_time == when


@pytest.mark.parametrize(
    "text", ["we want a person to answer our phones", "I want an agent that answers calls"]
)
def test_wanting_someone_to_do_the_job_is_a_need_not_a_transfer(text: str) -> None:
    understanding = heard(text)
    assert understanding.need and understanding.wants_human is False

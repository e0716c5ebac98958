"""Phrasings people use on sales calls that the deterministic understanding must read.

Written for this file (none taken from the public scenarios); each group checks a
family of phrasings and the look-alikes that must not be read the same way.
"""

from __future__ import annotations

from datetime import date

import pytest

from graph.llm import EXTRACTION_SCHEMA, Extraction, combine
from graph.understanding.caller_line import Understanding, understand

TODAY = date(2025, 3, 10)  # a Monday in March


def heard(text: str, expecting: str | None = None) -> Understanding:
    return understand(text, today=TODAY, expecting=expecting)


# --- the caller's name ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("Good morning, Farah speaking.", "Farah"),
        ("good afternoon farah speaking", "Farah"),
        ("You've reached Ines, who's this?", "Ines"),
        ("you have reached ines who is this", "Ines"),
        ("Hello, you're through to Odile.", "Odile"),
        ("Front office, Tomasz speaking.", "Tomasz"),
        ("Morning! Kwame here.", "Kwame"),
        ("Lena Fischer speaking.", "Lena"),
    ],
)
def test_a_name_given_the_way_people_answer_a_phone_is_read(text: str, name: str) -> None:
    assert heard(text).caller_name == name


@pytest.mark.parametrize(
    "text", ["Generally speaking, we're fine.", "honestly speaking no", "the whole team here",
             "Yes, speaking."],
)
def test_words_before_speaking_or_here_are_not_always_a_name(text: str) -> None:
    assert heard(text).caller_name is None


@pytest.mark.parametrize(
    ("text", "name"),
    [("Rosalind.", "Rosalind"), ("hi, bram", "Bram"), ("hi it's morgan", "Morgan"),
     ("good morning it's taylor", "Taylor"), ("yep it's pat", "Pat"), ("hi i'm ezra", "Ezra")],
)
def test_a_bare_name_answers_who_am_i_speaking_with(text: str, name: str) -> None:
    assert heard(text, expecting="identity").caller_name == name
    assert heard(text).caller_name is None  # said out of the blue, it is no introduction


@pytest.mark.parametrize(
    "text", ["Thanks.", "pardon", "huh", "Sure.", "it's fine", "i'm busy", "hi it's me"],
)
def test_a_one_word_reply_to_who_am_i_speaking_with_is_not_always_a_name(text: str) -> None:
    assert heard(text, expecting="identity").caller_name is None


@pytest.mark.parametrize(
    "text", ["This is Acme Dental.", "You've reached Harbor Plumbing, how can I help?"],
)
def test_a_business_answering_the_phone_is_not_the_callers_name(text: str) -> None:
    assert heard(text).caller_name is None


def test_a_person_answering_with_you_have_reached_is_no_answering_machine() -> None:
    assert heard("You've reached Ines, who's this?").voicemail_greeting is False
    assert heard("you have reached marco how can i help").voicemail_greeting is False
    assert heard("You've reached Marco at Baxter Dental.").voicemail_greeting is True
    assert heard("Hi, you've reached Lou, leave your number").voicemail_greeting is True


# --- timelines ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "months"),
    [
        ("We'd want it within the quarter.", 3),
        ("within the quarter", 3),
        ("sometime during this quarter", 3),
        ("by the end of the quarter", 3),
        ("in the coming quarter", 6),
        ("next quarter, probably", 6),
        ("we're aiming for Q3", 6),
        ("before the summer", 3),
        ("ASAP really", 1),
        ("as quickly as possible", 1),
        ("yesterday, honestly", 1),
        ("Yesterday.", 1),
        ("we needed it yesterday", 1),
        ("no rush, maybe next year", 12),
        ("in a couple of months", 2),
        ("in a month or two", 2),
        ("six to eight weeks", 2),
        ("by the new year", 10),
        ("we want it done before Christmas", 9),
        ("within weeks, not months", 1),
        ("second half of the year", 9),
        ("the first half of next year", 15),
        ("Not for another six months or so.", 6),
        ("when our contract runs out in June", 3),
        ("We need it by Monday", 0.25),
        ("Today if possible", 1),
        ("We're looking at next fiscal year", 12),
    ],
)
def test_timelines_in_their_many_forms(text: str, months: float) -> None:
    assert heard(text).timeline_months == pytest.approx(months)


@pytest.mark.parametrize(
    "text",
    ["I called you yesterday", "we get about 200 calls a day", "It took a week to set up",
     "our revenue in the second half was good", "Let's reconnect in the new year.",
     "ping me next month", "reach out in a couple of months", "i am out until monday",
     "for Monday"],
)
def test_past_rates_and_callback_times_are_not_timelines(text: str) -> None:
    assert heard(text).timeline_months is None


# --- budgets --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "usd"),
    [
        ("we're looking at maybe 30 to 40k", 30_000),
        ("Somewhere in the low six figures.", 100_000),
        ("it's a six-figure budget", 100_000),
        ("mid five figures", 40_000),
        ("high five figures", 70_000),
        ("in the tens of thousands", 10_000),
        ("a few hundred a month", 3_600),
        ("maybe 500 a month", 6_000),
        ("a grand a month", 12_000),
        ("we spent 80k last year on it", 80_000),
    ],
)
def test_budgets_in_their_many_forms(text: str, usd: float) -> None:
    assert heard(text).budget_usd == pytest.approx(usd)


@pytest.mark.parametrize(
    ("text", "ceiling"),
    [("under ten grand", 10_000), ("less than 10k a year", 10_000),
     ("well under fifty thousand", 50_000), ("not even five grand", 5_000)],
)
def test_a_budget_under_a_figure_stays_below_it(text: str, ceiling: float) -> None:
    budget = heard(text).budget_usd
    assert budget is not None and ceiling - 1 <= budget < ceiling


def test_up_to_a_figure_includes_it() -> None:
    assert heard("no more than 25k").budget_usd == 25_000


@pytest.mark.parametrize(
    "text",
    ["call me at 555 123 4567", "my cell is 415 555 0199", "it's extension 2040",
     "we get about 500 a month", "we make six figures", "we have about 5 locations"],
)
def test_phone_numbers_counts_and_revenue_are_not_budgets(text: str) -> None:
    assert heard(text).budget_usd is None


# --- who decides ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "It's me and my partner.",
        "my co-founder and I",
        "it would be me and our CFO",
        "I'm the one who signs the checks",
        "the buck stops with me",
        "I can make that decision",
        "I can approve it",
        "I have sign-off authority",
        "it's not just my decision",
        "I'd be involved in the decision",
        "me and the other partners decide",
        "that is my partner and me",
        "I'm the GM",
    ],
)
def test_the_caller_decides_or_shares_the_decision(text: str) -> None:
    assert heard(text).decision_maker is True


@pytest.mark.parametrize(
    "text",
    [
        "I'd have to run it by my boss",
        "The board signs off on anything like that.",
        "I'd need to get my manager to sign off",
        "my director would need to approve",
        "procurement handles that",
        "corporate decides",
        "we'd need board approval",
        "it's up to the owner",
        "I'm just the receptionist",
        "I'm not involved in the decision",
        "I can't approve it",
        "That'd be my boss, really.",
        "My wife handles all that",
        "The final decision is my partner's",
        "I'd have to get the owner on board",
        "we have a committee for that",
        "I just answer the phones",
        "I'm the operations manager, but the CFO signs",
        "not me",
        "It's not really up to me",
    ],
)
def test_someone_else_decides(text: str) -> None:
    assert heard(text).decision_maker is False


@pytest.mark.parametrize(
    "text", ["me and my team handle the calls", "it is me and my team that answer the phones"],
)
def test_me_and_my_team_doing_the_work_says_nothing_about_deciding(text: str) -> None:
    assert heard(text).decision_maker is None


# --- need -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "It takes us days to get back to people.",
        "We don't have anyone to answer on weekends.",
        "honestly our follow up is terrible",
        "We spend way too much time chasing dead leads.",
        "The phones ring all day and we miss half of them.",
        "we have no way to qualify inbound leads",
        "we get too many spam calls",
    ],
)
def test_needs_in_their_many_forms(text: str) -> None:
    understanding = heard(text)
    assert understanding.need is not None and not understanding.no_need


@pytest.mark.parametrize(
    "text", ["Our current setup is fine.", "No real problems.", "we hardly get any calls"],
)
def test_no_need_in_its_many_forms(text: str) -> None:
    assert heard(text).no_need is True


@pytest.mark.parametrize("text", ["It took a week to set up", "we spend a lot of time in meetings"])
def test_time_spent_is_a_need_only_on_calls_and_leads(text: str) -> None:
    assert heard(text).need is None


@pytest.mark.parametrize("text", ["after hours coverage", "lead qualification", "overflow"])
def test_a_short_answer_naming_part_of_the_job_is_the_need(text: str) -> None:
    assert heard(text, expecting="need").need is not None
    assert heard(text).need is None


def test_a_question_back_is_not_the_need() -> None:
    assert heard("What do you mean by calls?", expecting="need").need is None


# --- opting out -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "I'm not interested, don't ring again",
        "please don't phone again",
        "Don't call back.",
        "wrong number, and don't call again",
        "Don't bother calling back.",
        "I don't want to hear from you again",
        "I never want to get a call from you again",
        "I want to be taken off your list",
        "I asked you people not to call me",
        "I don't want calls from anyone anymore",
        "I don't want any more of these calls",
        "We're on the DNC list",
        "lose my number",
        "I'd rather you didn't call me anymore",
        "Please never call back",
        "I'm not interested, and don't call back",
    ],
)
def test_opting_out_in_its_many_forms(text: str) -> None:
    assert heard(text).opt_out is True


@pytest.mark.parametrize(
    "text",
    [
        "I can't stop thinking about it",
        "our customers hate it when we don't call back",
        "they do not call me back",
        "we never call back leads fast enough",
        "a lot of new patient calls just go to voicemail and never call back",
        "we don't want any calls going to voicemail",
        "i do not want to miss any calls",
        "Please do not call me at work.",
        "call me back tomorrow",
    ],
)
def test_look_alikes_of_an_opt_out_are_not_one(text: str) -> None:
    assert heard(text).opt_out is False


@pytest.mark.parametrize(
    "text",
    [
        "put me on your do not call please",  # "list" lost on the line
        "take me of your list",
        "do not call",
        "uh stop uh calling",
        "i want to opt",
        "unsubscribe",
        "no more calls",
        "remove my number",
        "look call me anymore",
        "look don't again thank you",
        "to be live from your list please",  # "remove this number from your list"
        "i'd rather you we actual we anymore thank you",  # "... didn't call me anymore"
        # no word of the opt-out left, its letters within two edits of "call us again"
        "look it's all up again thank you",  # "do not call us again, thank you"
        "leave a callback number again",  # "please do not call this number again"
        "uh no look it's all up again",
    ],
)
def test_what_a_mangled_opt_out_leaves_is_worth_asking_about(text: str) -> None:
    understood = heard(text)
    assert understood.opt_out or understood.maybe_opt_out


@pytest.mark.parametrize(
    "text",
    [
        "our customers hate it when we don't call back",
        "they do not call me back",
        "we don't want any calls going to voicemail",
        "the phones never stop ringing",
        "call me back tomorrow",
        "no more than three calls a day get answered",
        "I stopped calling them",
        "a lot of new patient calls just go to voicemail and never call back",
        # "I was told to ring you about the phone thing", as the line left it
        "oh hello yes it's priya actually what don't ring you about two weeks being",
        # a call, or an "again", in a line that is no opt-out
        "call me again next week",
        "you can call me again on friday",
        "we'd have to start all over again",
        "we call them again if they miss us",
    ],
)
def test_a_need_or_a_callback_is_not_taken_for_a_possible_opt_out(text: str) -> None:
    assert heard(text).maybe_opt_out is False


@pytest.mark.parametrize(
    "text",
    [
        "i'd like to talk to an actual you we're done",  # "... an actual salesperson"
        "look we someone real",  # "put me through to someone real"
        "an actual sales person",
        "can i talk to a real per son",
        # "I'd rather talk to one of your sales people, is that possible?"
        "i'd rather talk what's your really people you've got hospital",
    ],
)
def test_what_a_mangled_request_for_a_person_leaves_is_worth_asking_about(text: str) -> None:
    understood = heard(text)
    assert understood.wants_human or understood.maybe_wants_human


@pytest.mark.parametrize(
    "text",
    ["our human resources team handles it", "we need a human touch", "are you a real person",
     "we want a real person answering our calls", "I'd rather talk about pricing first",
     "I'd rather talk to you later", "I'd rather not talk right now"],
)
def test_a_need_or_a_question_about_us_is_not_a_half_heard_request_for_a_person(
    text: str,
) -> None:
    understood = heard(text)
    assert not understood.wants_human
    assert not understood.maybe_wants_human or understood.has_bant


# --- asking for a person --------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "Is there a real person there?",
        "are there any humans there",
        "I need to speak to a manager",
        "Could I talk to your sales team?",
        "put a human on the line",
        "Is there a manager I can speak to?",
        "Do you have a human I can talk to?",
        "Get me your supervisor",
        "operator, please",
        "Can I get a representative, please?",
        "I'd rather talk to one of your sales people",
    ],
)
def test_asking_for_a_person_in_its_many_forms(text: str) -> None:
    assert heard(text).wants_human is True


@pytest.mark.parametrize(
    "text",
    ["I need to talk to my manager first", "Is there a person who answers your phones?",
     "we need to talk to sales about it"],
)
def test_talking_to_ones_own_people_is_not_asking_for_ours(text: str) -> None:
    assert heard(text).wants_human is False


# --- yes and no -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["yep", "sure thing", "absolutely", "go for it", "ask away", "a hundred percent", "100%",
     "I'd love to", "happy to", "I would love to hear more", "yeah, no problem", "Me, I guess."],
)
def test_yes_variants(text: str) -> None:
    assert heard(text).affirmative is True


@pytest.mark.parametrize(
    "text",
    ["nah", "not really", "probably not", "not exactly", "not at all", "yeah, no",
     "Yeah no, I think we're good"],
)
def test_no_variants(text: str) -> None:
    assert heard(text).affirmative is False


def test_no_way_to_is_not_a_no() -> None:
    assert heard("there's no way to know").affirmative is None


# --- calling back ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "when"),
    [
        ("Could you ring me back this afternoon?", "this afternoon"),
        ("let's talk next week", "next week"),
        ("follow up with me in Q3", "in q3"),
        ("Reach out in a couple of months.", "in a couple of months"),
        ("busy right now, call later", None),
        ("can we reschedule this call", None),
        ("Maybe later.", None),
    ],
)
def test_callback_requests_in_their_many_forms(text: str, when: str | None) -> None:
    understanding = heard(text)
    assert understanding.callback_later is True
    assert understanding.callback_when == when


@pytest.mark.parametrize("text", ["Can you hold for a sec?", "can you wait a moment"])
def test_asking_us_to_hold_on(text: str) -> None:
    assert heard(text).asks_to_wait is True


def test_we_call_leads_later_is_no_callback_request() -> None:
    assert heard("we call leads later in the day").callback_later is False


# --- answering a proposed meeting time with another -----------------------------------------


@pytest.mark.parametrize(
    ("text", "when"),
    [
        ("Could we do Wednesday at three instead?", "Wednesday at 3 PM"),
        ("How about Thursday morning?", "Thursday morning"),
        ("Tuesday doesn't work, Friday at 2?", "Friday at 2 PM"),
        ("Thursday's no good, can we do Friday?", "Friday"),
        ("Monday at ten is no good, how about Friday at two?", "Friday at 2 PM"),
        ("any chance of next Monday?", "next Monday"),
        ("not tomorrow, the day after?", "the day after tomorrow"),
        ("Can we make it later in the week?", "later this week"),
        ("I'd prefer the afternoon", "any afternoon"),
    ],
)
def test_a_counter_proposal_is_a_meeting_time_and_never_a_callback(text: str, when: str) -> None:
    understanding = heard(text, expecting="meeting")
    assert understanding.meeting_time == when
    assert understanding.proposes_time is True
    assert understanding.callback_later is False


@pytest.mark.parametrize(
    "text", ["Do you have anything earlier?", "something later?", "what other times do you have",
             "another day would be better"],
)
def test_asking_for_another_time_without_naming_one_is_a_counter_proposal(text: str) -> None:
    understanding = heard(text, expecting="meeting")
    assert understanding.proposes_time is True and understanding.callback_later is False


@pytest.mark.parametrize("text", ["How about pricing, what does it cost per month?",
                                  "what about 5 users", "what about the setup time?"])
def test_a_question_about_something_else_is_no_counter_proposal(text: str) -> None:
    understanding = heard(text, expecting="booked")
    assert understanding.proposes_time is False and understanding.meeting_time is None


@pytest.mark.parametrize("text", ["the first half of next year", "the second thing is price"])
def test_an_ordinal_before_a_noun_is_no_meeting_date(text: str) -> None:
    assert heard(text, expecting="meeting").meeting_time is None


def test_can_we_do_this_wednesday_asks_for_a_callback_until_a_meeting_is_being_arranged() -> None:
    assert heard("Can we do this Wednesday?").callback_later is True
    assert heard("Can we do this Wednesday?", expecting="meeting").callback_later is False


def test_asking_for_a_call_in_so_many_words_while_scheduling_stays_a_callback() -> None:
    understanding = heard("Could you call me back next week instead?", expecting="meeting")
    assert understanding.callback_later is True and understanding.meeting_time == "next week"


def test_an_llm_calling_a_counter_proposal_a_callback_is_overruled() -> None:
    silent = {name: False if spec.get("type") == "boolean" else None
              for name, spec in EXTRACTION_SCHEMA["properties"].items()}
    text = "Could we do Wednesday at three instead?"
    extracted = Extraction(**{**silent, "callback_later": True, "callback_when": "Wednesday"})
    combined = combine(heard(text, expecting="meeting"), extracted, expecting_meeting=True)
    assert combined.callback_later is False and combined.callback_when is None
    assert combined.meeting_time == "Wednesday at 3 PM" and combined.proposes_time

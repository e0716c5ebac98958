"""What callers say to a qualification agent: the general half of the STT corpus.

The language model that steers PocketSphinx is trained on two things: the
workflow's own prompts (passed in by the caller of `language_model`) and the
answers generated here — amounts of money, roles and who decides, timelines and
meeting times, yes/no and fillers, opt-outs, asking for a person, greetings,
needs, and the greetings of answering machines.

The answers come from a small grammar: a rule is a list of alternatives, an
alternative may name other rules as `{rule}`, and sentences are sampled from
the top-level rules with a fixed seed (so the corpus, and the cache key of the
model built from it, is stable). Every phrase of the big closed classes —
amounts, durations, days, clock times, titles — is also emitted once on its
own, so each of their n-grams is seen at least once.

The phrasings are the generic ones a sales line hears; none is taken from the
test scenarios (DESIGN.md: nothing in the product may be built from them).
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence

from actors.speech.spoken import number_words

#: Bump when the grammar changes in a way the cache key would not see.
CORPUS_VERSION = 2

_REF = re.compile(r"\{(\w+)\}")

# ---------------------------------------------------------------------------
# Closed classes, generated
# ---------------------------------------------------------------------------

FIRST_NAMES = """
aaron abby adam adrian ahmed aisha alan alex alexander alexis ali alice alicia
allison amanda amber amir amy ana andre andrea andrew angela anil ann anna anne
anthony antonio april arjun ashley barbara ben benjamin beth betty bill bob
brad brandon brenda brian brittany bruce carl carla carlos carol caroline
catherine charles charlie chen chris christina christine christopher cindy claire
craig crystal cynthia dan dana daniel danielle david dean deborah denise dennis
derek diana diane diego donald donna doug dylan ed eddie elena elizabeth ellen
emily emma eric erica erin ethan eva evan fatima frank gabriel gary george
gina grace greg hannah harry heather helen henry ian isaac isabel jack jackie
jacob james jamie jan jane janet jason javier jay jeff jennifer jenny jeremy
jerry jessica jill jim joan joe joel john jon jordan jorge jose joseph josh
joshua joy juan judy julia julie justin karen kate katie kathy keith kelly ken
kevin kim kyle laura lauren lee leo linda lisa liz logan lucas lucy luis luke
lynn marcus maria mark martha martin mary matt matthew max megan melissa michael
michelle mike mohammed monica morgan nancy natalie nathan neil nicole nina noah
olivia omar pam pat patricia patrick paul paula peter phil priya rachel raj
ravi ray rebecca richard rick rita rob robert robin ron rosa ruth ryan sam
samantha sandra sara sarah scott sean sharon sophia stephanie steve steven
sue susan taylor ted teresa thomas tim tina todd tom tony tracy tyler valerie
vanessa victor vincent walter wei wendy william yusuf zach
""".split()

_DEPARTMENTS = [
    "sales", "operations", "ops", "marketing", "support", "customer support",
    "customer service", "customer success", "finance", "i t", "revenue", "growth",
    "business development", "engineering", "h r", "product", "procurement",
]
_TITLES_PLAIN = [
    "owner", "founder", "co founder", "president", "chief executive",
    "chief executive officer", "c e o", "ceo", "coo", "cfo", "cto",
    "chief operating officer", "chief financial officer", "chief revenue officer",
    "general manager", "office manager", "practice manager", "managing partner",
    "managing director", "partner", "manager", "team lead", "business owner",
    "principal", "administrator", "assistant", "receptionist", "director",
]


def _titles() -> list[str]:
    titles = list(_TITLES_PLAIN)
    for dept in _DEPARTMENTS:
        for level in ("vp", "vice president", "head", "director"):
            titles.append(f"{level} of {dept}")
        for level in ("manager", "director", "lead"):
            titles.append(f"{dept} {level}")
    return titles


def _amounts() -> list[str]:
    """Money as said on the phone: "fifty thousand", "a hundred and twenty k", ..."""
    phrases: list[str] = []
    for n in range(1, 1000):
        for words in dict.fromkeys([number_words(n), number_words(n, and_after_hundred=True)]):
            phrases += [f"{words} thousand", f"{words} thousand dollars"]
            if n % 5 == 0 or n < 30:
                phrases += [f"{words} k", f"{words} grand"]
        if 100 <= n < 200:
            rest = number_words(n, and_after_hundred=True).removeprefix("one hundred")
            phrases += [f"a hundred{rest} thousand", f"a hundred{rest} thousand dollars"]
    for n in range(1, 100):
        words = number_words(n)
        phrases += [f"{words} hundred dollars", f"{words} hundred", f"{words} dollars",
                    f"{words} million", f"{words} million dollars"]
    for n in range(1, 10):
        for d in range(1, 10):
            phrases.append(f"{number_words(n)} point {number_words(d)} million")
    phrases += [
        "a thousand dollars", "a few thousand dollars", "a couple thousand dollars",
        "a couple of thousand", "a few hundred dollars", "a couple hundred thousand",
        "a couple hundred thousand dollars", "a few hundred thousand", "several thousand dollars",
        "tens of thousands", "tens of thousands of dollars", "hundreds of thousands",
        "half a million", "half a million dollars", "a quarter million",
        "a quarter of a million", "a million", "a million dollars", "one and a half million",
        "two and a half million", "a hundred thousand", "a hundred k", "a hundred grand",
        "six figures", "five figures", "low six figures", "mid five figures",
    ]
    return phrases


def _durations() -> list[str]:
    """How long until something happens: "within three months", "next quarter", ..."""
    phrases: list[str] = []
    counts = ["one", "a", "a couple of", "a few", "several", "two", "three", "four", "five",
              "six", "seven", "eight", "nine", "ten", "eleven", "twelve", "eighteen",
              "twenty four"]
    for count in counts:
        for unit in ("days", "weeks", "months", "years"):
            unit_word = unit[:-1] if count in ("one", "a") else unit
            for lead in ("within", "in", "in about", "about", "under", "less than",
                         "more than", "after", "for"):
                phrases.append(f"{lead} {count} {unit_word}")
            phrases += [f"{count} {unit_word} from now", f"{count} {unit_word} or so"]
            if count not in ("one", "a"):
                # "in the next few months", not "in the next a few months"
                bare = count.removeprefix("a ")
                phrases += [f"in the next {bare} {unit_word}", f"over the next {bare} {unit_word}"]
    for when in ("week", "month", "quarter", "year"):
        phrases += [f"this {when}", f"next {when}", f"by the end of the {when}",
                    f"by the end of next {when}", f"later this {when}", f"early next {when}",
                    f"sometime next {when}", f"not before next {when}", f"not until next {when}",
                    f"not this {when}", f"at the start of next {when}"]
    phrases += [
        "as soon as possible", "as soon as we can", "right away", "right now", "immediately",
        "soon", "pretty soon", "no rush", "no hurry", "not for a while", "half a year",
        "a year from now", "in the spring", "in the summer", "in the fall", "in the winter",
        "in the new year", "after the holidays", "at some point", "eventually",
    ]
    months = ("january february march april may june july august september october "
              "november december").split()
    for month in months:
        phrases += [f"in {month}", f"by {month}", f"before {month}", f"starting in {month}",
                    f"not until {month}"]
    return phrases


def _clock_times() -> list[str]:
    phrases = ["noon", "midday", "lunchtime", "end of day", "first thing in the morning"]
    for hour in (number_words(h) for h in range(1, 13)):
        phrases += [hour, f"{hour} o'clock", f"{hour} a m", f"{hour} p m", f"{hour} am",
                    f"{hour} pm", f"{hour} thirty", f"{hour} fifteen", f"{hour} forty five",
                    f"half past {hour}", f"quarter past {hour}", f"quarter to {hour}"]
        for part in ("morning", "afternoon", "evening"):
            phrases += [f"{hour} in the {part}", f"{hour} thirty in the {part}"]
    return phrases


def _days() -> list[str]:
    days = ["today", "tomorrow", "next week", "this week", "the day after tomorrow",
            "later today", "this afternoon", "this evening", "early next week",
            "later this week", "end of the week", "tomorrow morning", "tomorrow afternoon"]
    for day in "monday tuesday wednesday thursday friday saturday sunday".split():
        days += [day, f"next {day}", f"this {day}", f"on {day}", f"this coming {day}"]
        days += [f"{day} {part}" for part in ("morning", "afternoon", "evening", "lunchtime")]
    return days


# ---------------------------------------------------------------------------
# The grammar
# ---------------------------------------------------------------------------

RULES: dict[str, Sequence[str]] = {
    # closed classes
    "name": FIRST_NAMES,
    "title": _titles(),
    "dept": _DEPARTMENTS,
    "amount": _amounts(),
    "duration": _durations(),
    "clock": _clock_times(),
    "day": _days(),
    # small talk
    "pre": ["", "", "", "", "", "", "yes", "yeah", "well", "um", "uh", "so", "okay", "oh",
            "honestly", "i mean", "i think", "i guess", "look", "sure", "no", "hmm",
            "actually", "to be honest", "you know", "basically", "right", "alright"],
    "post": ["", "", "", "", "", "", "", "", "", "", "", "", "thanks", "thank you", "i think",
             "i guess", "for now", "or so", "more or less", "please", "you know",
             "to be honest", "honestly", "at least", "right now"],
    "yes": ["yes", "yeah", "yep", "yup", "sure", "of course", "absolutely", "definitely",
            "certainly", "correct", "right", "exactly", "that's right", "that is right",
            "okay", "ok", "alright", "uh huh", "mhm", "i think so", "i guess so",
            "sounds good", "that works", "why not", "go ahead", "go on", "please do",
            "yes please", "sure thing", "you bet", "that's correct", "yes it is",
            "yes i am", "yes we do", "we do", "i do", "it is", "i am"],
    "no": ["no", "nope", "nah", "not really", "no thanks", "no thank you", "not at all",
           "i don't think so", "i do not think so", "not right now", "not yet", "never",
           "no way", "not exactly", "no it isn't", "no i'm not", "no we don't", "we don't",
           "i don't", "not that i know of"],
    "ack": ["okay", "ok", "sure", "right", "got it", "i see", "uh huh", "alright",
            "sounds good", "fine", "great", "perfect", "cool", "thanks", "thank you",
            "no problem", "fair enough", "makes sense", "go on", "go ahead", "hmm", "sure go on",
            "okay go on", "alright go ahead", "that's fine", "sounds great", "good"],
    "unsure": ["i'm not sure", "i don't know", "i do not know", "i have no idea",
               "let me think", "good question", "maybe", "it depends", "i suppose so",
               "hard to say", "i'd have to check", "not sure yet", "i can't say"],
    "greet": ["hello", "hi", "hey", "hi there", "hello there", "good morning",
              "good afternoon", "good evening", "yes hello", "hello hello", "hey there"],
    "who": ["who is this", "who's this", "who is calling", "who's calling", "who am i speaking with",
            "who is this please", "sorry who is this", "who are you", "who are you with",
            "what company is this", "what company are you with", "where are you calling from",
            "what is this about", "what's this about", "what is this regarding",
            "what is this call about", "what do you want", "what can i do for you",
            "how can i help you", "how did you get my number", "is this a sales call",
            "are you a robot", "is this a real person", "am i talking to a machine",
            "is this recorded", "what are you selling"],
    "intro": ["this is {name}", "{name} speaking", "{name} here", "it's {name}",
              "my name is {name}", "this is {name} speaking", "you've got {name}",
              "you're speaking with {name}", "speaking", "this is she", "this is he",
              "that's me", "yes that's me", "this is {name} from the office"],
    "time_avail": ["i have a minute", "i've got a minute", "i have a few minutes",
                   "i've got a few minutes", "i have a couple of minutes", "i have some time",
                   "i have five minutes", "i only have a minute", "i've got time",
                   "i'm busy right now", "this is not a good time", "now is not a good time",
                   "i'm in a meeting", "i'm driving", "make it quick", "i'm kind of busy",
                   "i can talk", "now is fine", "it's a good time"],
    "repair": ["sorry what was that", "sorry i missed that", "can you repeat that",
               "can you say that again", "say that again", "i didn't catch that",
               "i did not catch that", "what did you say", "pardon", "sorry", "what",
               "come again", "you broke up", "you're breaking up", "i can't hear you",
               "can you hear me", "i can hear you", "hold on", "hold on a second",
               "one second", "just a moment", "give me a second", "i'm still here",
               "are you still there", "sorry about that", "sorry i got distracted",
               "sorry someone walked in", "where were we", "okay i'm back", "keep going",
               "please continue", "carry on"],
    "closing": ["that's all", "that's it", "that's everything", "nothing else", "i'm all set",
                "we're done", "that's all for now", "that's all i need", "goodbye", "bye",
                "bye bye", "have a good day", "have a nice day", "you too", "talk soon",
                "take care", "see you then", "thanks for calling", "thank you bye",
                "thanks bye", "that is all", "no that's it", "nothing more"],
    "interest": ["i'm interested", "i am interested", "that sounds interesting",
                 "that sounds good", "tell me more", "how much does it cost", "how much is it",
                 "what does it cost", "what's the price", "send me an email",
                 "can you send me some information", "send me some info",
                 "we already have a solution", "we already use something",
                 "we're happy with what we have", "it sounds too expensive",
                 "that's too expensive", "how does it work", "what does it do",
                 "is there a free trial", "do you integrate with our {tool}",
                 "we already use a {tool}", "we're happy with our current {tool}"],
    "tool": ["crm", "phone system", "call center", "answering service", "voicemail",
             "spreadsheet", "website", "chat bot", "software", "system", "vendor",
             "contractor", "outsourced team", "salesforce", "hubspot", "calendar"],
    # opt-out
    "optout": ["do not call me again", "don't call me again", "please do not call me again",
               "please don't call me again", "do not call this number again",
               "don't call here again", "never call me again", "don't ever call me again",
               "stop calling me", "please stop calling", "stop calling this number",
               "take me off your list", "please take me off your list",
               "take me off your calling list", "take my number off your list",
               "remove me from your list", "please remove me from your list",
               "remove my number", "remove me from your database",
               "put me on your do not call list", "add me to your do not call list",
               "put me on the do not call list", "i'm on the do not call list",
               "unsubscribe", "lose my number", "do not contact me again",
               "don't contact me again", "i don't want any more calls",
               "no more calls please"],
    "not_interested": ["i am not interested", "i'm not interested", "we are not interested",
                       "we're not interested", "not interested", "no thanks",
                       "not interested thanks", "i'm good thanks", "we're all set",
                       "i don't want it", "i don't need this"],
    # a person
    "ask_person": ["can i talk to", "can i just talk to", "can i speak to", "can i just speak to",
                   "can i speak with", "could i talk to", "could i speak to", "i want to talk to",
                   "i want to speak to", "i'd like to talk to", "i would like to speak to",
                   "i need to talk to", "let me talk to", "let me speak to", "put me through to",
                   "transfer me to", "connect me to", "connect me with", "get me", "i need",
                   "i want", "is there", "give me"],
    "person": ["a person", "a real person", "a human", "a human being", "someone", "somebody",
               "a live person", "an agent", "a representative", "a rep", "a manager",
               "your manager", "a salesperson", "an operator", "the operator", "someone real",
               "a live agent", "customer service", "sales", "support", "someone in sales",
               "an actual person", "a real human", "your supervisor", "someone else"],
    # roles and decisions
    "boss": ["my boss", "my manager", "my business partner", "my partner", "the owner",
             "the ceo", "the founder", "our ceo", "our c e o", "our cfo", "the board",
             "our director", "my supervisor", "the president", "our finance team",
             "the head of sales", "our vp of sales", "the leadership team", "my wife",
             "my husband", "our owner", "the partners", "corporate", "head office",
             "the committee", "my co founder", "the general manager", "our accountant"],
    "role": ["i'm the {title}", "i am the {title}", "i'm {title}", "i am {title}",
             "i'm the {title} here", "i am the {title} of the {company}",
             "i work as the {title}", "i run {dept}",
             "i run {dept} here", "i run the {dept} team", "i head up {dept}", "i lead {dept}",
             "i lead the {dept} team", "i manage {dept}", "i manage the {dept} team",
             "i'm in charge of {dept}", "i look after {dept}", "i work in {dept}",
             "i'm in {dept}", "i own the {company}", "i own the business", "it's my {company}",
             "i started the {company}", "i'm just the {title}", "i'm the {title} at the {company}"],
    "decider": ["the decision is mine", "it's my decision", "it is my decision", "it's my call",
                "it is my call", "i make the decisions", "i make the decisions here",
                "i make that decision", "i decide", "i'm the decision maker",
                "i am the decision maker", "i'm the one who decides", "i sign off on it",
                "i sign off on purchases", "i have the final say", "i can make that call",
                "i can decide that", "that would be me", "that's me", "i handle that",
                "i'm the one you want", "i do", "me"],
    "shared": ["we decide together", "it's a team decision", "it is a team decision",
               "it's a joint decision", "i share the decision with {boss}",
               "{boss} and i decide together", "me and {boss}", "both of us",
               "i'm one of the decision makers", "i'm part of the decision",
               "i have a say but {boss} signs off", "it's a group decision"],
    "defer": ["{boss} decides", "{boss} {decides}", "that's {boss}", "that would be {boss}",
              "that's up to {boss}", "it's up to {boss}", "i would have to ask {boss}",
              "i'd have to ask {boss}", "i would have to check with {boss}",
              "i'd have to check with {boss}", "i would have to run it by {boss}",
              "i'd have to run it by {boss}", "i have to talk to {boss}",
              "i'd need to talk to {boss}", "i need to get approval from {boss}",
              "i'd need {boss} to sign off", "it's not my call", "it's not my decision",
              "it is not my decision", "i'm not the decision maker",
              "i am not the decision maker", "i don't make the decisions",
              "i do not make those decisions", "someone else decides", "that's above me",
              "that's not up to me", "it's not up to me", "i don't decide that"],
    "decides": ["makes the decisions", "makes those decisions", "makes these decisions",
                "makes that call", "makes the call", "decides", "signs off on it",
                "signs off on purchases", "has the final say", "handles that",
                "approves everything", "approves purchases", "decides on that",
                "does the buying", "handles the budget"],
    "pronoun": ["she", "he", "they"],
    "company": ["company", "business", "firm", "agency", "practice", "clinic", "shop",
                "office", "startup", "team", "store", "restaurant", "dealership", "group"],
    # budget
    "hedge": ["", "", "", "about", "around", "roughly", "maybe", "probably", "approximately",
              "somewhere around", "under", "over", "less than", "more than", "up to", "at least",
              "at most", "close to", "just over", "just under", "like", "something like",
              "in the range of", "no more than"],
    "period": ["", "", "a year", "per year", "a month", "per month", "this year", "next year",
               "annually", "a quarter", "per quarter", "for the year", "each month", "in total",
               "a year on it", "a month on it", "on this", "for this"],
    "money": ["{hedge} {amount} {period}", "{hedge} {amount}", "{amount} {period}"],
    "budget_subject": ["our budget", "the budget", "our budget for this", "the budget for this",
                       "our budget for something like this", "the budget for that",
                       "what we have", "what we can spend", "our spend", "the number",
                       "our annual budget", "the annual budget", "our monthly budget"],
    "we_modal": ["we could", "we could probably", "we can", "we might", "we'd", "we would",
                 "we'd probably", "i could", "i can", "we should be able to", "we'd be able to",
                 "we're able to", "we'd be willing to"],
    "verb_spend": ["spend", "invest", "budget", "put in", "pay", "afford", "allocate",
                   "set aside", "do"],
    "spend_now": ["we spend", "we're spending", "we are spending", "we pay", "we're paying",
                  "we are paying", "we already spend", "we currently spend", "we invest",
                  "we budgeted", "we have budgeted", "we set aside"],
    "no_budget": ["we have no budget", "we don't have a budget", "we do not have a budget",
                  "there is no budget", "there's no budget", "there's no money",
                  "we don't have any money", "we can't afford it", "we cannot afford that",
                  "we can't afford anything", "the budget isn't set yet",
                  "the budget is not decided yet", "i don't know the budget",
                  "i'm not sure about the budget", "it depends on the price", "not much",
                  "not a lot", "very little", "nothing", "zero", "we have no money",
                  "money is tight", "budgets are frozen", "we're on a tight budget"],
    "for_that": ["", "for this", "for that", "for anything like that", "for something like this",
                 "right now", "this year", "at the moment", "for new tools", "for any of this"],
    # timeline
    "when_frame": ["we want {thing} {ready} {duration}", "we need {thing} {ready} {duration}",
                   "we'd like {thing} {ready} {duration}", "we hope to have {thing} {ready} {duration}",
                   "we want to start {duration}", "we'd like to start {duration}",
                   "we want to get started {duration}", "we'd like to get going {duration}",
                   "we need it {duration}", "we need this {duration}", "we need something {duration}",
                   "we are looking to do this {duration}", "we're looking at {duration}",
                   "we're thinking {duration}", "we plan to decide {duration}",
                   "we'll decide {duration}", "probably {duration}", "maybe {duration}",
                   "hopefully {duration}", "ideally {duration}", "not before {duration}",
                   "not until {duration}", "{duration} at the earliest", "{duration} at the latest",
                   "as soon as possible", "it's not urgent", "there's no rush",
                   "we're just looking", "we are just looking around",
                   "we're just exploring options", "we are still researching",
                   "we're in no hurry", "it's urgent", "we needed it yesterday"],
    "thing": ["something", "it", "this", "a solution", "a system", "the new system",
              "something in place", "this done"],
    "ready": ["", "live", "running", "up and running", "in place", "ready", "working",
              "set up", "done"],
    "callback": ["call me back {duration}", "call me back later", "call me back in a few months",
                 "call me back next week", "call me later", "try me again {duration}",
                 "follow up with me {duration}", "reach out {duration}",
                 "check back {duration}", "give me a call {duration}", "call me next {when}",
                 "try again later", "get back to me {duration}"],
    "when": ["week", "month", "quarter", "year"],
    # meeting
    "slot": ["{day}", "{day} at {clock}", "at {clock}", "{clock}", "{day} {clock}",
             "{day} around {clock}", "{day} after {clock}", "{day} before {clock}"],
    "slot_frame": ["{slot}", "{slot} works", "{slot} works for me", "{slot} is fine",
                   "{slot} is good", "{slot} would be great", "{slot} is perfect",
                   "how about {slot}", "what about {slot}", "can we do {slot}", "let's do {slot}",
                   "let's say {slot}", "i'm free {slot}", "i am free {slot}",
                   "i'm available {slot}", "i'm busy {slot}", "sometime {day}",
                   "any time after {clock}", "any time before {clock}",
                   "do you have anything {day}", "can we do {clock} instead",
                   "{slot} if that works", "i could do {slot}", "maybe {slot}",
                   "that time works", "that works for me", "that doesn't work for me",
                   "that does not work for me", "book it", "book me in", "please book it",
                   "send me an invite", "send me a calendar invite", "sure book it"],
    # needs
    "leads": ["leads", "calls", "customers", "inquiries", "prospects", "clients", "bookings",
              "appointments", "deals", "sales", "opportunities", "phone calls", "new leads",
              "inbound leads", "incoming calls", "new customers", "web leads", "referrals"],
    "team": ["team", "sales team", "support team", "front desk", "office", "staff", "reps",
             "agents", "receptionist", "call center", "people", "crew", "office manager",
             "sales reps", "support staff", "ops team"],
    "problem": ["we lose {leads}", "we lose a lot of {leads}", "we're losing {leads}",
                "we miss {leads}", "we miss a lot of {leads}", "we're missing {leads}",
                "{leads} go cold", "{leads} fall through the cracks", "{leads} slip through",
                "{leads} wait on hold too long", "{leads} go to voicemail",
                "too many calls go to voicemail", "nobody answers the phone",
                "no one answers the phone", "nobody picks up the phone",
                "nobody calls {leads} back", "we can't answer every call",
                "we can't keep up with {leads}", "we cannot keep up with the {leads}",
                "our {team} is overwhelmed", "our {team} is overwhelmed with {leads}",
                "our {team} is too busy", "our {team} is swamped", "our {team} is stretched thin",
                "our {team} can't handle the volume", "our {team} spends too much time on bad {leads}",
                "our {team} wastes time on unqualified {leads}", "our response time is too slow",
                "we take too long to call {leads} back", "customers wait too long",
                "we can't afford to hire more people", "hiring is too expensive",
                "our {tool} is not working", "our {tool} is too expensive",
                "we get too many {leads}", "we get a lot of {leads}",
                "we get hundreds of {leads} a week", "we get {amount} {leads} a month"],
    "cause": ["because nobody answers the phone", "because no one picks up",
              "because we're too busy", "after hours", "on weekends", "at night",
              "when the office is closed", "when we're busy", "during lunch",
              "because we are short staffed", "because our {team} is overwhelmed",
              "because nobody follows up"],
    "need": ["we need help", "we need help with {leads}", "we need help qualifying {leads}",
             "we need to qualify {leads} faster", "we need a better way to {handle} {leads}",
             "we want a better way to {handle} {leads}", "we want to {handle} {leads} faster",
             "we need more {leads}", "we want to book more {leads}", "we want to book more meetings",
             "we want to automate our {leads}", "we want to automate the phones",
             "we need someone to answer the phone", "we need coverage after hours",
             "we want to stop losing {leads}", "that's why we need help", "so we need help",
             "so yes we need something", "that's the problem", "that's our biggest problem"],
    "handle": ["handle", "qualify", "follow up with", "respond to", "answer", "track", "book",
               "screen", "sort", "manage", "route", "call back"],
    "no_need": ["we {dont} {really} have that problem", "that's not a problem for us",
                "that is not a problem for us", "we {dont} {really} need it",
                "we {dont} {really} need that", "we {dont} need anything like that",
                "we handle it ourselves", "we have it covered", "we're fine", "we are fine",
                "it works fine for us", "we're a {size} {company}", "we are a {size} {company}",
                "we're just a {size} {company}", "we're too small", "we don't get many calls",
                "we don't get many leads", "it's not an issue for us"],
    "dont": ["don't", "do not"],
    "really": ["", "really", "actually"],
    "size": ["small", "tiny", "two person", "three person", "five person", "ten person",
             "family", "one person", "local", "big", "growing", "small local", "one man"],
    # answering machines
    "machine": ["the number you have dialed is not available",
                "the subscriber you have dialed is not available",
                "the party you are calling is not available", "{name} is not available",
                "the mailbox is full", "the mailbox is full and cannot accept any messages",
                "please leave a message after the tone", "please leave a message after the beep",
                "please leave your name and number", "please leave your name number and a brief message",
                "please leave a message", "record your message after the tone",
                "when you are finished hang up or press pound for more options",
                "to leave a callback number press five", "press one to leave a message",
                "you have reached {name}", "you have reached the voicemail of {name}",
                "hi you've reached {name}", "hi this is {name} i can't come to the phone right now",
                "sorry i missed your call", "i'm not available right now",
                "leave a message and i'll call you back", "leave a message and i will get back to you",
                "i'll get back to you as soon as i can",
                "your call has been forwarded to an automatic voice message system",
                "is not available", "at the tone", "beep", "you may hang up",
                "to re record press three", "when you have finished press pound",
                "our office is currently closed", "our business hours are {day} through {day}",
                "please call back during business hours", "you have reached the office of {name}"],
}

#: (rule, samples) — sentences are drawn from these top-level frames.
TOP: list[tuple[str, int]] = [
    ("{greet}", 60),
    ("{greet} {intro}", 1200),
    ("{yes} {intro}", 1500),
    ("{intro}", 800),
    ("{pre} {who}", 800),
    ("{greet} {who}", 600),
    ("{yes} {who}", 300),
    ("{pre} {time_avail} {post}", 500),
    ("{yes} {time_avail}", 300),
    ("{pre} {yes} {post}", 800),
    ("{pre} {no} {post}", 600),
    ("{yes} {ack}", 300),
    ("{no} {ack}", 200),
    ("{pre} {ack}", 300),
    ("{pre} {unsure}", 300),
    ("{pre} {repair}", 600),
    ("{repair} {yes} {ack}", 300),
    ("{pre} {closing}", 300),
    ("{no} {closing} {post}", 400),
    ("{pre} {interest} {post}", 700),
    ("{pre} {optout} {post}", 1200),
    ("{not_interested} {optout}", 800),
    ("{optout} and {optout}", 500),
    ("{pre} {not_interested} {post}", 300),
    ("{pre} {ask_person} {person} {post}", 1500),
    ("{person} please", 60),
    ("{pre} {role} {post}", 1500),
    ("{role} so {decider}", 1200),
    ("{role} and {decider}", 400),
    ("{role} but {defer}", 1200),
    ("{pre} {decider} {post}", 800),
    ("{pre} {shared} {post}", 600),
    ("{pre} {defer} {post}", 1500),
    ("{defer} {pronoun} {decides}", 800),
    ("{pre} {pronoun} {decides}", 300),
    ("{pre} {money}", 4000),
    ("{budget_subject} is {money}", 3000),
    ("{we_modal} {verb_spend} {money}", 3000),
    ("{spend_now} {money}", 2500),
    ("we have {money} budgeted", 800),
    ("we have {money} set aside", 500),
    ("i'd say {money}", 800),
    ("i would say {money}", 500),
    ("{pre} {no_budget} {for_that} {post}", 1200),
    ("{pre} {when_frame} {post}", 4000),
    ("{pre} {callback} {post}", 1500),
    ("{pre} {slot_frame} {post}", 5000),
    ("{pre} {problem} {post}", 3000),
    ("{problem} {cause}", 2500),
    ("{problem} so {need}", 1200),
    ("{pre} {need} {post}", 1500),
    ("{pre} {no_need} {post}", 1500),
    ("{no_need} {no_budget}", 300),
    ("{machine}", 800),
    ("{machine} {machine}", 800),
]

#: Closed classes emitted in full once each (see module docstring).
ENUMERATED = ("amount", "duration", "clock", "day", "title", "optout", "person", "who")


def _expand(text: str, rng: random.Random, depth: int = 0) -> str:
    if depth > 6:
        raise ValueError(f"grammar recursion too deep at: {text}")
    return _REF.sub(lambda m: _expand(rng.choice(RULES[m.group(1)]), rng, depth + 1), text)


def general_answers(*, seed: int = 7) -> list[str]:
    """Sentences a caller may say to a qualification agent (lower case, spoken words).

    About 80k sentences; generation takes about half a second.
    """
    rng = random.Random(seed)
    sentences: list[str] = []
    for rule in ENUMERATED:
        for phrase in RULES[rule]:
            sentences.append(" ".join(_expand(phrase, rng).split()))
    for frame, samples in TOP:
        for _ in range(samples):
            sentences.append(" ".join(_expand(frame, rng).split()))
    return [s for s in sentences if s]

"""What callers say to a qualification agent: the general half of the STT corpus.

The language model that steers PocketSphinx is trained on two things: the
workflow's own prompts (passed in by the caller of `language_model`) and the
answers generated here from templates — amounts of money, roles and who decides,
timelines and meeting times, yes/no and fillers, opt-outs, asking for a person,
greetings, needs, and the greetings of answering machines.

Templates are written as `{slot}` patterns. Every slot is a list of phrases; a
template expands to the cartesian product of its slots, sampled down (with a
fixed seed, so the corpus, and therefore its cache key, is stable) when the
product is large. Nothing here is taken from test scenarios: the phrasings are
the generic ones a sales line hears every day.
"""

from __future__ import annotations

import itertools
import random
import re
from collections.abc import Iterator, Sequence

from actors.speech.spoken import number_words

#: Bump when the templates change in a way the cache key would not see.
CORPUS_VERSION = 1

_SLOT = re.compile(r"\{(\w+)\}")

# ---------------------------------------------------------------------------
# Slot vocabularies
# ---------------------------------------------------------------------------

FIRST_NAMES = ["aaron", "abby", "adam", "adrian", "ahmed", "aisha", "alan", "alex", "alexander", "alexis", "ali", "alice", "alicia", "allison", "amanda", "amber", "amir", "amy", "ana", "andre", "andrea", "andrew", "angela", "anil", "ann", "anna", "anne", "anthony", "antonio", "april", "arjun", "ashley", "barbara", "ben", "benjamin", "beth", "betty", "bill", "bob", "brad", "brandon", "brenda", "brian", "brittany", "bruce", "carl", "carla", "carlos", "carol", "caroline", "catherine", "charles", "charlie", "chen", "chris", "christina", "christine", "christopher", "cindy", "claire", "craig", "crystal", "cynthia", "dan", "dana", "daniel", "danielle", "david", "dean", "deborah", "denise", "dennis", "derek", "diana", "diane", "diego", "donald", "donna", "doug", "dylan", "ed", "eddie", "elena", "elizabeth", "ellen", "emily", "emma", "eric", "erica", "erin", "ethan", "eva", "evan", "fatima", "frank", "gabriel", "gary", "george", "gina", "grace", "greg", "hannah", "harry", "heather", "helen", "henry", "ian", "isaac", "isabel", "jack", "jackie", "jacob", "james", "jamie", "jan", "jane", "janet", "jason", "javier", "jay", "jeff", "jennifer", "jenny", "jeremy", "jerry", "jessica", "jill", "jim", "joan", "joe", "joel", "john", "jon", "jordan", "jorge", "jose", "joseph", "josh", "joshua", "joy", "juan", "judy", "julia", "julie", "justin", "karen", "kate", "katie", "kathy", "keith", "kelly", "ken", "kevin", "kim", "kyle", "laura", "lauren", "lee", "leo", "linda", "lisa", "liz", "logan", "lucas", "lucy", "luis", "luke", "lynn", "maria", "mark", "martha", "martin", "mary", "matt", "matthew", "max", "megan", "melissa", "michael", "michelle", "mike", "mohammed", "monica", "morgan", "nancy", "natalie", "nathan", "neil", "nicole", "nina", "noah", "olivia", "omar", "pam", "pat", "patricia", "patrick", "paul", "paula", "peter", "phil", "priya", "rachel", "raj", "ravi", "ray", "rebecca", "richard", "rick", "rita", "rob", "robert", "robin", "ron", "rosa", "ruth", "ryan", "sam", "samantha", "sandra", "sara", "sarah", "scott", "sean", "sharon", "sophia", "stephanie", "steve", "steven", "sue", "susan", "taylor", "ted", "teresa", "thomas", "tim", "tina", "todd", "tom", "tony", "tracy", "tyler", "valerie", "vanessa", "victor", "vincent", "walter", "wei", "wendy", "william", "yusuf", "zach"]

_TITLES_PLAIN = [
    "owner",
    "founder",
    "co founder",
    "president",
    "chief executive",
    "chief executive officer",
    "c e o",
    "ceo",
    "coo",
    "cfo",
    "cto",
    "chief operating officer",
    "chief financial officer",
    "chief revenue officer",
    "general manager",
    "office manager",
    "managing partner",
    "managing director",
    "partner",
    "manager",
    "team lead",
    "business owner",
]
_DEPARTMENTS = [
    "sales",
    "operations",
    "marketing",
    "support",
    "customer support",
    "customer service",
    "customer success",
    "finance",
    "i t",
    "revenue",
    "growth",
    "business development",
    "engineering",
    "h r",
    "product",
]
_TITLES = (
    _TITLES_PLAIN
    + [f"{level} of {dept}" for level in ("vp", "vice president", "head", "director")
       for dept in _DEPARTMENTS]
    + [f"{dept} {level}" for level in ("manager", "director", "lead") for dept in _DEPARTMENTS]
)
_BOSSES = [
    "my boss",
    "my manager",
    "my business partner",
    "my partner",
    "the owner",
    "the ceo",
    "the founder",
    "our ceo",
    "our c e o",
    "our cfo",
    "the board",
    "our director",
    "my supervisor",
    "the president",
    "our finance team",
    "the head of sales",
    "our vp of sales",
    "the leadership team",
    "my wife",
    "my husband",
]
_WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
_PARTS_OF_DAY = ["morning", "afternoon", "evening"]
_UNITS = ["days", "weeks", "months", "years"]
_SMALL_COUNTS = ["two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
                 "eleven", "twelve", "eighteen", "twenty four"]
_PERIODS = ["a year", "per year", "a month", "per month", "this year", "next year",
            "annually", "a quarter", "per quarter", "for the year", "each month", "in total"]
_HEDGES = ["", "about", "around", "roughly", "maybe", "probably", "approximately",
           "somewhere around", "under", "over", "less than", "more than", "up to",
           "at least", "at most", "close to", "just over", "just under"]
_FILLERS = ["", "", "", "yes", "yeah", "well", "um", "uh", "so", "okay", "oh", "honestly",
            "i mean", "i think", "i guess", "right", "sure", "no", "hmm", "actually", "look"]

# ---------------------------------------------------------------------------
# Amounts
# ---------------------------------------------------------------------------


def _amount_phrases() -> list[str]:
    """Money as said on the phone: "fifty thousand", "a hundred and twenty k", ..."""
    phrases: list[str] = []
    for n in range(1, 1000):
        plain = number_words(n)
        with_and = number_words(n, and_after_hundred=True)
        for words in {plain, with_and}:
            phrases.append(f"{words} thousand")
            phrases.append(f"{words} thousand dollars")
            if n % 5 == 0 or n < 30:
                phrases.append(f"{words} k")
                phrases.append(f"{words} grand")
        if 100 <= n < 200:
            rest = with_and.removeprefix("one hundred")
            phrases.append(f"a hundred{rest} thousand")
            phrases.append(f"a hundred{rest} thousand dollars")
    for n in range(1, 100):
        words = number_words(n)
        phrases.append(f"{words} hundred dollars")
        phrases.append(f"{words} hundred")
        phrases.append(f"{words} dollars")
        phrases.append(f"{words} million")
        phrases.append(f"{words} million dollars")
    phrases += [
        "a thousand dollars",
        "a few thousand dollars",
        "a couple thousand dollars",
        "a couple of thousand",
        "a few hundred dollars",
        "a couple hundred thousand",
        "a couple hundred thousand dollars",
        "a few hundred thousand",
        "several thousand dollars",
        "tens of thousands",
        "tens of thousands of dollars",
        "hundreds of thousands",
        "half a million",
        "half a million dollars",
        "a quarter million",
        "a quarter of a million",
        "a million",
        "a million dollars",
        "one point five million",
        "one and a half million",
        "two and a half million",
        "a hundred thousand",
        "a hundred k",
        "a hundred grand",
        "six figures",
        "five figures",
        "low six figures",
        "mid five figures",
    ]
    for n in range(1, 10):
        for d in range(1, 10):
            phrases.append(f"{number_words(n)} point {number_words(d)} million")
    return phrases


def _timeline_phrases() -> list[str]:
    phrases = []
    counts = ["one", "a", "a couple of", "a few", "several", *_SMALL_COUNTS]
    for count in counts:
        for unit in _UNITS:
            unit_word = unit[:-1] if count in ("one", "a") else unit
            for lead in ("within", "in", "in about", "for", "about", "under", "less than",
                         "more than", "after"):
                phrases.append(f"{lead} {count} {unit_word}")
            if count not in ("one", "a"):
                # "in the next few months", not "in the next a few months"
                bare = count.removeprefix("a ")
                phrases.append(f"in the next {bare} {unit_word}")
                phrases.append(f"over the next {bare} {unit_word}")
            phrases.append(f"{count} {unit_word} from now")
            phrases.append(f"{count} {unit_word} or so")
    phrases += [
        "this quarter",
        "next quarter",
        "this month",
        "next month",
        "this week",
        "next week",
        "this year",
        "next year",
        "later this year",
        "early next year",
        "sometime next year",
        "by the end of the year",
        "by the end of the quarter",
        "by the end of the month",
        "by the end of next quarter",
        "as soon as possible",
        "as soon as we can",
        "right away",
        "right now",
        "immediately",
        "yesterday",
        "soon",
        "pretty soon",
        "no rush",
        "no hurry",
        "not before next year",
        "not this year",
        "not for a while",
        "half a year",
        "a year from now",
        "in the spring",
        "in the summer",
        "in the fall",
        "in the new year",
        "after the holidays",
        "at some point",
        "no timeline",
        "we do not have a timeline",
        "we don't have a timeline yet",
    ]
    for month in ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november", "december"]:
        phrases += [f"in {month}", f"by {month}", f"before {month}", f"starting in {month}"]
    return phrases


def _clock_phrases() -> list[str]:
    hours = [number_words(h) for h in range(1, 13)]
    phrases = ["noon", "midday", "lunchtime", "end of day", "first thing in the morning"]
    for hour in hours:
        phrases += [
            hour,
            f"{hour} o'clock",
            f"{hour} a m",
            f"{hour} p m",
            f"{hour} am",
            f"{hour} pm",
            f"{hour} thirty",
            f"{hour} fifteen",
            f"{hour} forty five",
            f"half past {hour}",
            f"quarter past {hour}",
            f"quarter to {hour}",
        ]
        for part in _PARTS_OF_DAY:
            phrases.append(f"{hour} in the {part}")
            phrases.append(f"{hour} thirty in the {part}")
    return phrases


def _day_phrases() -> list[str]:
    days = ["today", "tomorrow", "next week", "this week", "the day after tomorrow"]
    for day in _WEEKDAYS:
        days += [day, f"next {day}", f"this {day}", f"on {day}"]
        days += [f"{day} {part}" for part in _PARTS_OF_DAY]
        days += [f"{day} {part}" for part in ("morning", "afternoon")]
    days += [f"tomorrow {part}" for part in _PARTS_OF_DAY]
    days += ["tomorrow morning", "tomorrow afternoon", "later today", "this afternoon",
             "this evening", "early next week", "later this week", "end of the week"]
    return days


# ---------------------------------------------------------------------------
# Templates
# ---------------------------------------------------------------------------

SLOTS: dict[str, Sequence[str]] = {
    "filler": _FILLERS,
    "name": FIRST_NAMES,
    "title": _TITLES,
    "dept": _DEPARTMENTS,
    "boss": _BOSSES,
    "amount": _amount_phrases(),
    "hedge": _HEDGES,
    "period": _PERIODS,
    "timeline": _timeline_phrases(),
    "day": _day_phrases(),
    "clock": _clock_phrases(),
    "yes": ["yes", "yeah", "yep", "yup", "sure", "of course", "absolutely", "definitely",
            "certainly", "correct", "right", "exactly", "that's right", "that is right",
            "okay", "ok", "alright", "uh huh", "mhm", "i think so", "i guess so",
            "sounds good", "that works", "why not", "go ahead", "go on", "please do"],
    "no": ["no", "nope", "nah", "not really", "no thanks", "no thank you", "not at all",
           "i don't think so", "i do not think so", "not right now", "not interested",
           "i'm good", "we're good", "not yet", "never", "no way"],
    "ack": ["okay", "ok", "sure", "right", "got it", "i see", "uh huh", "alright",
            "sounds good", "fine", "great", "perfect", "cool", "thanks", "thank you",
            "no problem", "fair enough", "makes sense", "go on", "go ahead", "hmm"],
    "greet": ["hello", "hi", "hey", "hi there", "hello there", "good morning",
              "good afternoon", "good evening", "yes hello", "hello hello"],
    "team": ["team", "sales team", "support team", "front desk", "office", "staff",
             "reps", "agents", "receptionist", "call center", "people", "crew"],
    "leads": ["leads", "calls", "customers", "inquiries", "prospects", "clients",
              "bookings", "appointments", "deals", "sales", "opportunities", "phone calls"],
    "company": ["company", "business", "firm", "agency", "practice", "clinic", "shop",
                "office", "startup", "team", "store", "restaurant", "dealership"],
    "size": ["small", "tiny", "two person", "three person", "five person", "ten person",
             "family", "one person", "local", "big", "growing", "small local"],
    "tool": ["crm", "phone system", "call center", "answering service", "voicemail",
             "spreadsheet", "website", "chat bot", "software", "system", "vendor",
             "contractor", "outsourced team", "salesforce", "hubspot"],
    "verb_spend": ["spend", "invest", "budget", "put", "pay", "afford", "allocate", "set aside"],
    "pronoun": ["we", "i", "they", "our team", "the company"],
    "person": ["a person", "a real person", "a human", "a human being", "someone",
               "somebody", "a live person", "an agent", "a representative", "a rep",
               "a manager", "your manager", "a salesperson", "an operator", "the operator",
               "someone real", "a live agent", "customer service", "sales", "support"],
}

#: Samples kept from a template whose slots multiply out to more than this (limit 0).
DEFAULT_SAMPLES = 120
#: A template limit of ALL keeps every combination.
ALL = -1

# (template, how many expansions to keep: 0 = DEFAULT_SAMPLES, ALL = every one).
# Every phrase of the big slots (amounts, timelines, days, clock times, names) is
# kept once on its own, so each of their n-grams is seen; the sentence frames
# around them are sampled, so no single frame dominates the sentence starts.
TEMPLATES: list[tuple[str, int]] = [
    ("{amount}", ALL),
    ("{timeline}", ALL),
    ("{day}", ALL),
    ("{clock}", ALL),
    ("{title}", ALL),
    # -- greetings and who is calling
    ("{greet}", 0),
    ("{greet} who is this", 0),
    ("{greet} who is calling", 0),
    ("{greet} who's calling", 0),
    ("{greet} this is {name}", 400),
    ("{greet} {name} speaking", 300),
    ("{greet} {name} here", 200),
    ("{yes} this is {name}", 1000),
    ("{yes} this is {name} speaking", 300),
    ("{yes} speaking", 0),
    ("this is {name}", ALL),
    ("this is {name} speaking", 0),
    ("{name} speaking", 0),
    ("{name} here", 0),
    ("it's {name}", 0),
    ("my name is {name}", 0),
    ("speaking", 0),
    ("who is this", 0),
    ("who's this", 0),
    ("who is calling", 0),
    ("who is this please", 0),
    ("sorry who is this", 0),
    ("what is this about", 0),
    ("what is this regarding", 0),
    ("what's this about", 0),
    ("what is this call about", 0),
    ("{filler} what company are you with", 20),
    ("{filler} how did you get my number", 20),
    ("{filler} is this a sales call", 20),
    ("{filler} are you a robot", 20),
    ("{filler} is this a real person", 20),
    ("{filler} am i talking to a machine", 20),
    ("{yes} i have a few minutes", 0),
    ("{yes} i have a minute", 0),
    ("i have a few minutes", 0),
    ("i've got a few minutes", 0),
    ("i only have a minute", 0),
    ("i'm busy right now", 0),
    ("this is not a good time", 0),
    ("now is not a good time", 0),
    ("can you call me back later", 0),
    ("{yes} what is this about", 80),
    ("{filler} {yes}", 0),
    ("{filler} {no}", 0),
    ("{ack}", 0),
    ("{yes} {ack}", 200),
    ("{no} {ack}", 150),
    ("{filler} {yes} go on", 0),
    ("{filler} {yes} go ahead", 0),
    ("{filler} that is all", 0),
    ("{no} that is all", 0),
    ("{no} that's all", 0),
    ("{no} that is all thank you", 0),
    ("{no} that's it thanks", 0),
    ("that's all for now", 0),
    ("thank you bye", 0),
    ("thanks bye", 0),
    ("goodbye", 0),
    ("bye", 0),
    ("have a good day", 0),
    ("you too", 0),
    ("sorry i was distracted", 0),
    ("sorry {yes} go on", 0),
    ("sorry i missed that", 0),
    ("sorry what was that", 0),
    ("sorry can you repeat that", 0),
    ("can you say that again", 0),
    ("i didn't catch that", 0),
    ("i did not catch that", 0),
    ("what did you say", 0),
    ("pardon", 0),
    ("what", 0),
    ("hold on", 0),
    ("hold on a second", 0),
    ("one second", 0),
    ("just a moment", 0),
    ("i'm still here", 0),
    ("are you still there", 0),
    ("can you hear me", 0),
    ("i can hear you", 0),
    ("i'm not sure", 0),
    ("i don't know", 0),
    ("i do not know", 0),
    ("i have no idea", 0),
    ("let me think", 0),
    ("good question", 0),
    ("maybe", 0),
    ("it depends", 0),
    ("i guess so", 0),
    ("i suppose so", 0),
    ("{filler} i'm interested", 0),
    ("{filler} i am interested", 0),
    ("{filler} that sounds interesting", 0),
    ("{filler} tell me more", 0),
    ("{filler} how much does it cost", 0),
    ("{filler} how much is it", 0),
    ("{filler} what does it cost", 0),
    ("{filler} send me an email", 0),
    ("{filler} can you send me some information", 0),
    ("{filler} we already have a solution", 0),
    ("{filler} we already use a {tool}", 0),
    ("{filler} we're happy with our current {tool}", 0),
    ("{filler} it sounds too expensive", 0),
    ("{filler} that's too expensive", 0),
    # -- opt out
    ("{filler} do not call me again", 0),
    ("{filler} don't call me again", 0),
    ("{filler} please do not call me again", 0),
    ("{filler} please don't call me again", 0),
    ("{filler} do not call this number again", 0),
    ("{filler} don't call here again", 0),
    ("{filler} stop calling me", 0),
    ("{filler} please stop calling", 0),
    ("{filler} take me off your list", 0),
    ("{filler} please take me off your list", 0),
    ("{filler} take me off your calling list", 0),
    ("{filler} remove me from your list", 0),
    ("{filler} please remove me from your list", 0),
    ("{filler} remove my number", 0),
    ("{filler} put me on your do not call list", 0),
    ("{filler} add me to the do not call list", 0),
    ("{filler} i'm on the do not call list", 0),
    ("{filler} unsubscribe", 0),
    ("{filler} lose my number", 0),
    ("{filler} never call me again", 0),
    ("{filler} i am not interested", 0),
    ("{filler} i'm not interested", 0),
    ("{filler} we are not interested", 0),
    ("{filler} we're not interested", 0),
    ("{filler} not interested thanks", 0),
    ("i am not interested please take me off your list", 0),
    ("i'm not interested take me off your list and do not call again", 0),
    ("not interested stop calling", 0),
    ("please take me off your list and don't call me again", 0),
    ("remove me from your list and do not contact me again", 0),
    # -- asking for a person
    ("{filler} can i talk to {person}", 0),
    ("{filler} can i just talk to {person}", 0),
    ("{filler} can i speak to {person}", 0),
    ("{filler} can i speak with {person}", 0),
    ("{filler} i want to talk to {person}", 0),
    ("{filler} i'd like to talk to {person}", 0),
    ("{filler} i would like to speak to {person}", 0),
    ("{filler} let me talk to {person}", 0),
    ("{filler} let me speak to {person}", 0),
    ("{filler} put me through to {person}", 0),
    ("{filler} transfer me to {person}", 0),
    ("{filler} connect me to {person}", 0),
    ("{filler} get me {person}", 0),
    ("{filler} i need {person}", 0),
    ("{person} please", 0),
    ("is there {person} i can talk to", 0),
    ("can i talk to {person} please", 0),
    ("can i just talk to {person} please", 0),
    ("i want a human", 0),
    ("operator", 0),
    ("representative", 0),
    ("agent", 0),
    ("human please", 0),
    ("i don't want to talk to a robot", 0),
    ("i do not want to talk to a machine", 0),
    # -- roles and who decides
    ("{filler} i'm the {title}", 0),
    ("{filler} i am the {title}", 0),
    ("{filler} i'm {title}", 300),
    ("{filler} i am {title}", 300),
    ("i'm the {title} here", 0),
    ("i'm the {title} of the {company}", 300),
    ("i am the {title} so it's my call", 0),
    ("i am the {title} it is my call", 0),
    ("i'm the {title} so the decision is mine", 0),
    ("i'm the {title} so i decide", 0),
    ("i'm the {title} but {boss} decides", 600),
    ("i am the {title} but i would have to ask {boss}", 400),
    ("i run {dept}", 0),
    ("i run {dept} here", 0),
    ("i run {dept} so the decision is mine", 0),
    ("i run {dept} so it's my call", 0),
    ("i run the {dept} team", 0),
    ("i head up {dept}", 0),
    ("i lead {dept}", 0),
    ("i lead the {dept} team", 0),
    ("i manage {dept}", 0),
    ("i manage the {dept} team", 0),
    ("i work in {dept}", 0),
    ("i'm in {dept}", 0),
    ("i own the {company}", 0),
    ("i own the business", 0),
    ("it's my {company}", 0),
    ("i started the {company}", 0),
    ("{filler} the decision is mine", 0),
    ("{filler} it's my decision", 0),
    ("{filler} it is my decision", 0),
    ("{filler} it's my call", 0),
    ("{filler} it is my call", 0),
    ("{filler} i make the decisions", 0),
    ("{filler} i make the decisions here", 0),
    ("{filler} i make that decision", 0),
    ("{filler} i decide", 0),
    ("{filler} i'm the decision maker", 0),
    ("{filler} i am the decision maker", 0),
    ("{filler} i'm the one who decides", 0),
    ("{filler} i sign off on it", 0),
    ("{filler} i sign off on purchases", 0),
    ("{filler} i have the final say", 0),
    ("{filler} i can make that call", 0),
    ("{filler} that would be me", 0),
    ("{filler} that's me", 0),
    ("{filler} yes that's me", 0),
    ("{filler} me", 0),
    ("{filler} we decide together", 0),
    ("{filler} it's a team decision", 0),
    ("{filler} it is a team decision", 0),
    ("{filler} it's a joint decision", 0),
    ("{filler} i share the decision with {boss}", 0),
    ("{filler} {boss} and i decide together", 0),
    ("{filler} me and {boss}", 0),
    ("{filler} i'm one of the decision makers", 0),
    ("{filler} {boss} decides", 0),
    ("{filler} {boss} makes the decisions", 0),
    ("{filler} {boss} makes these decisions", 0),
    ("{filler} {boss} makes that call", 0),
    ("{filler} {boss} signs off on it", 0),
    ("{filler} {boss} has the final say", 0),
    ("{filler} that's {boss}", 0),
    ("{filler} that would be {boss}", 0),
    ("{filler} that's up to {boss}", 0),
    ("{filler} it's up to {boss}", 0),
    ("{filler} i would have to ask {boss}", 0),
    ("{filler} i'd have to ask {boss}", 0),
    ("{filler} i would have to check with {boss}", 0),
    ("{filler} i'd have to check with {boss}", 0),
    ("{filler} i would have to run it by {boss}", 0),
    ("{filler} i'd have to run it by {boss}", 0),
    ("{filler} i have to talk to {boss}", 0),
    ("i would have to run it by {boss} she makes these decisions", 0),
    ("i would have to run it by {boss} he makes these decisions", 0),
    ("i'd have to run it by {boss} she decides", 0),
    ("i'd have to run it by {boss} he decides", 0),
    ("{filler} she makes these decisions", 0),
    ("{filler} he makes these decisions", 0),
    ("{filler} she makes the decisions", 0),
    ("{filler} he makes the decisions", 0),
    ("{filler} she decides", 0),
    ("{filler} he decides", 0),
    ("{filler} they decide", 0),
    ("{filler} it's not my call", 0),
    ("{filler} it's not my decision", 0),
    ("{filler} it is not my decision", 0),
    ("{filler} i'm not the decision maker", 0),
    ("{filler} i am not the decision maker", 0),
    ("{filler} i don't make the decisions", 0),
    ("{filler} i do not make those decisions", 0),
    ("{filler} someone else decides", 0),
    ("{filler} the board decides", 0),
    # -- budget
    ("{hedge} {amount}", 3000),
    ("{hedge} {amount} {period}", 3000),
    ("{filler} {hedge} {amount} {period}", 2000),
    ("our budget is {hedge} {amount}", 2000),
    ("our budget is {hedge} {amount} {period}", 2000),
    ("our budget for this is {hedge} {amount} {period}", 2000),
    ("our budget for this is {hedge} {amount}", 1000),
    ("the budget is {hedge} {amount}", 1000),
    ("the budget is {hedge} {amount} {period}", 1000),
    ("we have {hedge} {amount} {period}", 1000),
    ("we have {hedge} {amount} budgeted", 1000),
    ("we have {hedge} {amount} set aside", 500),
    ("we could {verb_spend} {hedge} {amount}", 1000),
    ("we could probably {verb_spend} {hedge} {amount} on it", 1500),
    ("we could probably {verb_spend} {hedge} {amount} {period}", 1000),
    ("we can {verb_spend} {hedge} {amount} {period}", 1000),
    ("we spend {hedge} {amount} {period} on it", 1500),
    ("we spend {hedge} {amount} {period} on this", 1000),
    ("we're spending {hedge} {amount} {period}", 800),
    ("we are spending {hedge} {amount} {period}", 800),
    ("we'd spend {hedge} {amount}", 600),
    ("i'd say {hedge} {amount}", 800),
    ("i would say {hedge} {amount} {period}", 800),
    ("{hedge} {amount} this year", 1000),
    ("we have no budget", 0),
    ("we have no budget for this", 0),
    ("we have no budget for anything like this", 0),
    ("there is no budget", 0),
    ("there's no budget for that", 0),
    ("we don't have a budget", 0),
    ("we do not have a budget for this", 0),
    ("we don't have any money for this", 0),
    ("we can't afford it", 0),
    ("we cannot afford that", 0),
    ("the budget isn't set yet", 0),
    ("the budget is not decided yet", 0),
    ("i don't know the budget", 0),
    ("i'm not sure about the budget", 0),
    ("it depends on the price", 0),
    ("not much", 0),
    ("not a lot", 0),
    ("very little", 0),
    ("nothing", 0),
    ("zero", 0),
    # -- timeline
    ("{filler} {timeline}", 1000),
    ("we want something live {timeline}", 0),
    ("we want this live {timeline}", 0),
    ("we want to start {timeline}", 0),
    ("we'd like to start {timeline}", 0),
    ("we need it {timeline}", 0),
    ("we need this {timeline}", 0),
    ("we need something {timeline}", 0),
    ("we want to have it {timeline}", 0),
    ("we are looking to do this {timeline}", 0),
    ("we're looking at {timeline}", 0),
    ("we hope to start {timeline}", 0),
    ("probably {timeline}", 0),
    ("maybe {timeline}", 0),
    ("hopefully {timeline}", 0),
    ("ideally {timeline}", 0),
    ("not before {timeline}", 300),
    ("{timeline} not before", 300),
    ("maybe next year not before", 0),
    ("as soon as possible {timeline}", 0),
    ("it's not urgent", 0),
    ("there's no rush", 0),
    ("we're just looking", 0),
    ("we are just looking around", 0),
    ("we're just exploring options", 0),
    ("we are still researching", 0),
    ("{filler} call me back {timeline}", 0),
    ("{filler} call me back in a few months", 0),
    ("{filler} call me back later", 0),
    ("{filler} call me back next week", 0),
    ("{filler} call me later", 0),
    ("{filler} try me again {timeline}", 0),
    ("{filler} follow up with me {timeline}", 0),
    ("{filler} reach out {timeline}", 0),
    # -- meeting times
    ("{day}", 0),
    ("{day} works", 0),
    ("{day} works for me", 0),
    ("{day} is fine", 0),
    ("{day} is good", 0),
    ("{day} would be great", 0),
    ("{day} at {clock}", 3000),
    ("{day} at {clock} works", 1500),
    ("{day} at {clock} works for me", 1500),
    ("{day} at {clock} is fine", 800),
    ("how about {day} at {clock}", 1200),
    ("what about {day}", 0),
    ("how about {day}", 0),
    ("can we do {day}", 0),
    ("let's do {day}", 0),
    ("let's say {day} at {clock}", 800),
    ("at {clock}", 0),
    ("at {clock} works for me", 0),
    ("{clock} works", 0),
    ("{clock} is fine", 0),
    ("any time after {clock}", 0),
    ("any time before {clock}", 0),
    ("sometime {day}", 0),
    ("i'm free {day}", 0),
    ("i am free {day} at {clock}", 1000),
    ("i'm available {day}", 0),
    ("i'm busy {day}", 0),
    ("that time works", 0),
    ("that works for me", 0),
    ("that doesn't work for me", 0),
    ("that does not work for me", 0),
    ("do you have anything {day}", 0),
    ("can we do {clock} instead", 0),
    ("book it", 0),
    ("book me in", 0),
    ("please book it", 0),
    ("send me an invite", 0),
    ("send me a calendar invite", 0),
    ("my email is on file", 0),
    # -- needs
    ("{filler} we lose {leads}", 0),
    ("{filler} we lose a lot of {leads}", 0),
    ("{filler} we miss {leads}", 0),
    ("{filler} we miss a lot of {leads}", 0),
    ("{filler} we're missing {leads}", 0),
    ("{filler} we lose {leads} because nobody answers the phone", 0),
    ("{filler} we lose a lot of {leads} because nobody answers the phone", 0),
    ("we lose {leads} because nobody picks up after hours", 0),
    ("we lose a lot of {leads} after hours", 0),
    ("{filler} nobody answers the phone", 0),
    ("{filler} nobody answers the phone after hours", 0),
    ("{filler} no one answers the phone after hours", 0),
    ("{filler} nobody picks up the phone", 0),
    ("{filler} we can't answer every call", 0),
    ("{filler} we can't keep up with {leads}", 0),
    ("{filler} we cannot keep up with the {leads}", 0),
    ("{filler} our {team} is overwhelmed", 0),
    ("{filler} our {team} is overwhelmed with {leads}", 0),
    ("our {team} is overwhelmed with {leads} so yes we need help", 0),
    ("{filler} our {team} is too busy", 0),
    ("{filler} our {team} is swamped", 0),
    ("{filler} our {team} is stretched thin", 0),
    ("{filler} our {team} spends too much time on bad {leads}", 0),
    ("{filler} our {team} wastes time on unqualified {leads}", 0),
    ("{filler} we need help", 0),
    ("{filler} we need help with {leads}", 0),
    ("{filler} we need help qualifying {leads}", 0),
    ("{filler} we need to qualify {leads} faster", 0),
    ("{filler} we need a better way to handle {leads}", 0),
    ("{filler} we need a better way to qualify {leads}", 0),
    ("{filler} we need a better way to qualify inbound {leads}", 0),
    ("{filler} we need a better way to follow up with {leads}", 0),
    ("{filler} we want to respond to {leads} faster", 0),
    ("{filler} we need more {leads}", 0),
    ("{filler} we want to book more {leads}", 0),
    ("{filler} we want to book more meetings", 0),
    ("{filler} we want to automate our {leads}", 0),
    ("{filler} we want to automate the phone", 0),
    ("{filler} our response time is too slow", 0),
    ("{filler} we take too long to call {leads} back", 0),
    ("{filler} {leads} wait on hold too long", 0),
    ("{filler} customers wait too long", 0),
    ("{filler} {leads} go cold", 0),
    ("{filler} {leads} fall through the cracks", 0),
    ("{filler} calls go to voicemail", 0),
    ("{filler} too many calls go to voicemail", 0),
    ("{filler} we can't afford to hire more people", 0),
    ("{filler} hiring is too expensive", 0),
    ("{filler} our {tool} is not working", 0),
    ("{filler} our {tool} is too expensive", 0),
    ("{filler} we are a {size} {company}", 0),
    ("{filler} we're a {size} {company}", 0),
    ("{filler} we're just a {size} {company}", 0),
    ("{filler} we do not really have that problem", 0),
    ("{filler} we don't really have that problem", 0),
    ("{filler} we don't have that problem", 0),
    ("{filler} that's not a problem for us", 0),
    ("{filler} we don't need it", 0),
    ("{filler} we do not need that", 0),
    ("{filler} we don't need anything like that", 0),
    ("{filler} we handle it ourselves", 0),
    ("{filler} we have it covered", 0),
    ("{filler} we're fine", 0),
    ("{filler} it works fine for us", 0),
    ("{filler} we get a lot of {leads}", 0),
    ("{filler} we get too many {leads}", 0),
    ("{filler} we get hundreds of {leads} a week", 0),
    ("{filler} we get {amount} {leads} a month", 300),
    ("{filler} our {team} can't handle the volume", 0),
    # -- answering machines
    ("the person you are trying to reach is not available", 0),
    ("the person you are calling is not available", 0),
    ("the number you have dialed is not available", 0),
    ("the subscriber you have dialed is not available", 0),
    ("the mailbox is full", 0),
    ("the mailbox is full and cannot accept any messages", 0),
    ("please leave a message after the tone", 0),
    ("please leave a message after the beep", 0),
    ("please leave your name and number", 0),
    ("please leave your name number and a brief message", 0),
    ("at the tone please record your message", 0),
    ("please record your message after the tone", 0),
    ("when you have finished recording you may hang up", 0),
    ("when you are finished recording hang up or press pound for more options", 0),
    ("to leave a callback number press five", 0),
    ("press one to leave a message", 0),
    ("you have reached {name}", 0),
    ("you have reached the voicemail of {name}", 0),
    ("hi you've reached {name}", 0),
    ("hi this is {name} i can't come to the phone right now", 0),
    ("sorry i missed your call", 0),
    ("i'm not available right now", 0),
    ("leave a message and i'll call you back", 0),
    ("leave a message and i will get back to you", 0),
    ("i'll get back to you as soon as i can", 0),
    ("your call has been forwarded to an automatic voice message system", 0),
    ("is not available", 0),
    ("record your message", 0),
    ("beep", 0),
]

# Follow-ups that callers tack on to an answer ("..., so yes, we need help").
_CODAS = [""] * 20 + ["thanks", "thank you", "so yes", "i think", "for now", "or so",
                      "more or less", "please"]


def _expand(template: str, limit: int, rng: random.Random) -> Iterator[str]:
    names = _SLOT.findall(template)
    pools = [SLOTS[name] for name in names]
    total = 1
    for pool in pools:
        total *= len(pool)
    if limit == 0:
        limit = DEFAULT_SAMPLES
    if limit < 0 or total <= limit:
        combos: Iterator[tuple[str, ...]] = itertools.product(*pools)
    else:
        combos = (tuple(rng.choice(pool) for pool in pools) for _ in range(limit))
    for combo in combos:
        values = iter(combo)
        yield _SLOT.sub(lambda _m: next(values), template)


def general_answers(*, seed: int = 7) -> list[str]:
    """Sentences a caller may say to a qualification agent (lower case, spoken words).

    About 100k sentences; generation takes well under a second.
    """
    rng = random.Random(seed)
    sentences: list[str] = []
    for template, limit in TEMPLATES:
        for sentence in _expand(template, limit, rng):
            coda = rng.choice(_CODAS)
            sentence = f"{sentence} {coda}" if coda else sentence
            sentences.append(" ".join(sentence.split()))
    return sentences

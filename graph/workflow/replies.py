"""What the agents say: every template of the qualification script, shaped for the ear.

Owns the wording. A deployment or an experiment's variant may word some replies and
the qualifying questions its own way (`switchboard.settings.ScriptSettings`); the rest
are these templates. Sentences are short, plain text (no markdown), with numbers
spelled out so any text-to-speech engine reads them right. The LangGraph agents
use these as their no-LLM answers and as examples of tone. Nothing here
decides what to say next; `graph.workflow.script` does.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from dataclasses import dataclass, field

from graph.understanding.meeting import speak_meeting_time
from graph.understanding.numbers import amount_to_words, number_to_words
from graph.workflow.state import Question

# (full question, short form used when reprompting after silence)
QUESTIONS: dict[Question, tuple[str, str]] = {
    "identity": ("Who do I have the pleasure of speaking with?", "May I have your name?"),
    "permission": ("Do you have two minutes for a few quick questions?",
                   "Do you have two minutes?"),
    "need": ("What's your biggest challenge with handling calls or leads today?",
             "What's your biggest challenge with calls or leads?"),
    "budget": ("Roughly what budget do you have for this each year?",
               "Roughly what's your yearly budget?"),
    "authority": ("Will you be the one making the decision on this?",
                  "Are you the one who decides?"),
    "timeline": ("When would you want something like this in place?",
                 "When would you want this in place?"),
    "objection": ("Could I ask just two quick questions to see if it's worth your time?",
                  "Just two quick questions?"),
    "meeting_time": ("What day and time would suit you?", "What day and time works for you?"),
    "anything_else": ("Is there anything else I can help with?", "Anything else I can help with?"),
    "callback": ("Would it be all right if we called you back later?",
                 "Can we call you back later?"),
    "callback_time": ("When would be a better time to call you back?",
                      "When should we call you back?"),
    "opt_out_confirm": ("Would you like me to stop calling this number?",
                        "Should I stop calling this number? Yes or no."),
    "person_confirm": ("Would you like me to put you through to a person?",
                       "Shall I put you through to a person? Yes or no."),
    "info_confirm": ("I can text you a link with the details. Would you like that?",
                     "Shall I text you the link? Yes or no."),
    "email_confirm": ("I can have someone from our team email you the details. "
                      "Would you like that?",
                      "Shall we email you the details? Yes or no."),
}

# The question asked again after a line heard too unsurely to act on: worded unlike the
# question and its short form, so a caller who was misheard says it differently too.
# `{when}` is a meeting time, `{amount}` a sum of money, `{months}` a number of months.
UNHEARD: dict[Question, str] = {
    "identity": "Could you tell me your name?",
    "permission": "Is now a good time for a few quick questions?",
    "need": "What's the main problem with your calls or leads?",
    "budget": "Roughly what budget per year?",
    "authority": "Do you make the final decision on this?",
    "timeline": "How soon would you want to start?",
    "objection": "May I ask you two short questions?",
    "budget_confirm": "Was that {amount} a year? Yes or no.",
    "timeline_confirm": "Was that {months} from now? Yes or no.",
    "meeting": "Is {when} good for you? Yes or no.",
    "meeting_time": "Which day and time would be best for you?",
    "meeting_confirm": "Should I book {when}? Yes or no.",
    "anything_else": "Can I help with anything else today?",
    "callback": "Shall we call you back another time? Yes or no.",
    "callback_time": "What time should we call you back?",
    "opt_out_confirm": "Do you want us to stop calling you? Yes or no.",
    "person_confirm": "Do you want to talk to a person? Yes or no.",
    "info_confirm": "Would you like a text with the details? Yes or no.",
    "email_confirm": "Would you like the details by email? Yes or no.",
}


def _with_name(text: str, name: str | None) -> str:
    """"Thanks." -> "Thanks, Dana." when we know the caller's name."""
    if not name:
        return text
    return f"{text[:-1]}, {name}{text[-1]}"


def _spoken_budget(usd: float) -> str:
    """"about fifty thousand dollars"; a ceiling ("under 50k", read by
    `graph.understanding.budget_reading` as one dollar short of it) as "just under fifty
    thousand dollars"."""
    if usd >= 1000 and (usd + 1) % 1000 == 0:
        return f"just under {amount_to_words(usd + 1)}"
    return f"about {amount_to_words(usd)}"


@dataclass(frozen=True)
class Replies:
    """The script's wording for one company and one agent name."""

    company: str
    agent: str
    # Sentences by reply name (`ScriptSettings.replies`), `{company}`/`{agent}` unfilled.
    own_replies: Mapping[str, list[str]] = field(default_factory=dict, hash=False)
    # A qualifying question's full wording (`ScriptSettings.questions`).
    own_questions: Mapping[str, str] = field(default_factory=dict, hash=False)

    def _own(self, name: str, default: list[str]) -> list[str]:
        """The reply `name` as this script words it, else the template's `default`."""
        sentences = self.own_replies.get(name)
        if not sentences:
            return default
        return [sentence.format(company=self.company, agent=self.agent)
                for sentence in sentences]

    # --- opening ----------------------------------------------------------------------

    def greeting(self) -> list[str]:
        return self._own("greeting", [
            f"Thanks for calling {self.company}, this is {self.agent}.",
            "This call may be recorded.",
        ])

    def introduction(self, name: str | None) -> list[str]:
        hello = f"Hi {name}, this is" if name else "Hi, this is"
        return [f"{hello} {self.agent} from {self.company}.", "This call may be recorded."]

    def reintroduction(self) -> list[str]:
        return self._own("reintroduction", [f"Hi, this is {self.agent} with {self.company}."])

    def purpose(self) -> list[str]:
        return self._own("purpose", [
            f"{self.company} answers every call and qualifies your leads, day and night.",
        ])

    def ai_disclosure(self) -> list[str]:
        return self._own("ai_disclosure", [
            f"I'm {self.agent}, an AI assistant for {self.company}.",
            "I can put you through to a person at any time.",
        ])

    def nice_to_meet(self, name: str | None) -> list[str]:
        return [f"Nice to meet you, {name}."] if name else ["Thanks."]

    # --- questions --------------------------------------------------------------------

    def question(self, asked: Question, *, short: bool = False,
                 proposed: str | None = None, amount: float | None = None) -> list[str]:
        if asked == "timeline_confirm":  # `amount`: months
            months = number_to_words(amount or 0)
            unit = "month" if amount == 1 else "months"
            if short:
                return [f"About {months} {unit}?"]
            return [f"Just to check, about {months} {unit} from now?"]
        if asked == "budget_confirm":  # `amount`: what a bare figure likely meant
            said = amount_to_words(amount or 0)
            if short:
                return [f"Is that {said} a year?"]
            return [f"Just to check, is that {said} a year?"]
        if asked == "meeting_confirm":  # `proposed`: the time the caller gave
            when = speak_meeting_time(proposed or "")
            if short:
                return [f"Is {when} right?"]
            return [f"Just to confirm, that's {when}.", "Is that right?"]
        if asked == "meeting":
            when = speak_meeting_time(proposed or "")
            if short:
                return [f"Does {when} work for you?"]
            return [f"Could we book a short call with a specialist on {when}?",
                    "Say yes or press one, or tell me a time that suits you better."]
        full, brief = QUESTIONS[asked]
        return [brief if short else self.own_questions.get(asked, full)]

    def unheard(self, asked: Question, *, proposed: str | None = None,
                amount: float | None = None) -> list[str]:
        """`asked` again after a line heard too unsurely to act on ("Sorry, I didn't
        catch that. Roughly what budget per year?")."""
        unit = "month" if amount == 1 else "months"
        again = UNHEARD[asked].format(
            when=speak_meeting_time(proposed or "") if asked.startswith("meeting") else "",
            amount=amount_to_words(amount or 0) if asked == "budget_confirm" else "",
            months=f"{number_to_words(amount or 0)} {unit}" if asked == "timeline_confirm"
            else "",
        )
        return ["Sorry, I didn't catch that.", again]

    def bad_line(self) -> list[str]:
        """Before offering a callback on a line too unclear to go on."""
        return ["Sorry, the line isn't very clear."]

    def rephrase(self, asked: Question) -> list[str]:
        """A second try at a question the caller did not quite answer."""
        if asked == "budget":
            return ["Just a rough figure is fine.", "About how much a year could you spend?"]
        if asked == "timeline":
            return ["Roughly how many months from now would you want to start?"]
        if asked == "need":
            return ["For example, missed calls, slow follow up, or too many calls for the team?"]
        return ["Sorry, I didn't quite catch that.", *self.question(asked, short=True)]

    # --- acknowledgements -------------------------------------------------------------

    def acknowledge(self, learned: set[str], *, budget: float | None,
                    decides: bool | None) -> list[str]:
        if len(learned) > 1:
            return ["Thanks, that's really helpful."]
        if "need" in learned:
            return ["That makes sense, and it's a common problem."]
        if "budget" in learned and budget is not None:
            return [f"Got it, {_spoken_budget(budget)} a year."]
        if "authority" in learned:
            return ["Great, thanks."] if decides else ["Understood, thanks for letting me know."]
        if "timeline" in learned:
            return ["Good to know."]
        return []

    def not_caught(self) -> list[str]:
        return ["Sorry, I didn't quite catch that."]

    def repeat(self) -> list[str]:
        return ["Sure."]

    def lost_you(self) -> list[str]:
        """After the call moved to another server: the caller may have heard a gap."""
        return ["Sorry about that, I lost you for a second."]

    def where_were_we(self) -> list[str]:
        return ["Where were we?"]

    # --- outcomes ---------------------------------------------------------------------

    def opted_out(self) -> list[str]:
        return ["Understood.", "We'll take your number off our list and won't call you again.",
                "Sorry for the trouble. Goodbye."]

    def transferring(self) -> list[str]:
        return ["Of course.", "I'm connecting you with someone from our team now.",
                "Please hold."]

    def no_one_to_transfer(self) -> list[str]:
        return ["Our team can't take calls right now, but someone can call you back."]

    def voicemail(self) -> list[str]:
        return self._own("voicemail", [
            f"Hi, this is {self.agent} from {self.company}.", "Sorry we missed you.",
            "We help teams answer and qualify every sales call.",
            "We'll try you again soon, or you can call us back at this number.",
            "Thanks, goodbye.",
        ])

    def disqualified(self, name: str | None, *, budget: bool) -> list[str]:
        why = ("It sounds like the budget isn't there right now, so I won't take more of your "
               "time." if budget else "It sounds like we're not the right fit right now.")
        return [_with_name("Thanks for being upfront.", name), why,
                "Have a great day. Goodbye."]

    def nurture(self, reason: str | None) -> list[str]:
        if reason == "long_timeline":
            return ["It sounds like the timing isn't quite right yet."]
        if reason == "not_decision_maker":
            return ["It sounds like someone else will make the final call."]
        return ["Thanks, that's really helpful."]

    def callback_agreed(self, name: str | None, *, when_known: bool) -> list[str]:
        first = ("Of course, we'll call you back then." if when_known
                 else "Great, we'll be in touch.")
        return [first, _with_name("Thanks for your time.", name), "Goodbye."]

    def callback_declined(self) -> list[str]:
        return ["No problem.", "Thanks for your time. Goodbye."]

    def rebuttal(self) -> list[str]:
        return self._own("rebuttal", [
            "I understand.", "Most teams we talk to miss more calls than they realise.",
        ])

    def declined(self) -> list[str]:
        return self._own("declined", ["No problem at all.", "Thanks for your time. Goodbye."])

    def strong_fit(self, name: str | None) -> list[str]:
        return [_with_name("Great.", name), "It sounds like we could really help."]

    def booked(self, when: str) -> list[str]:
        return [f"Perfect, you're booked for {speak_meeting_time(when)}.",
                "A specialist will send you an invite."]

    def carry_on(self) -> list[str]:
        """After a possible opt-out the caller said was not one."""
        return ["Sorry, my mistake."]

    def meeting_noted(self, when: str) -> list[str]:
        """A meeting time offered before the questions were done."""
        said = speak_meeting_time(when)
        return [f"{said[:1].upper()}{said[1:]}, noted."]

    def misheard_time(self) -> list[str]:
        return ["Sorry about that."]

    def moved(self, when: str) -> list[str]:
        return [f"No problem, I've moved it to {speak_meeting_time(when)}."]

    def meeting_deferred(self) -> list[str]:
        return self._own("meeting_deferred", [
            "No problem, a specialist will email you to find a time.",
        ])

    # --- sending information -----------------------------------------------------------

    def texting_link(self) -> list[str]:
        """Said while the text goes out; what Twilio answered is said next."""
        return ["Great, I'm texting you the link now."]

    def link_sent(self) -> list[str]:
        return ["Done, it's on its way."]

    def link_not_sent(self) -> list[str]:
        return ["Sorry, I couldn't send a text to this number.",
                "I'll have someone email you the details instead."]

    def link_on_its_way(self) -> list[str]:
        """Twilio had not answered yet: the text is still being sent."""
        return ["It should reach you in a minute."]

    def email_agreed(self) -> list[str]:
        return ["Great, someone from our team will email you the details."]

    def info_declined(self) -> list[str]:
        return ["No problem."]

    def info_not_now(self) -> list[str]:
        """The offer twice answered with neither yes nor no: the questions go on."""
        return ["No problem, let's keep going."]

    def specialist_will_answer(self) -> list[str]:
        return ["Good question.", "Your specialist will cover that on the call."]

    def good_question(self) -> list[str]:
        return ["Good question.", "A specialist can go through that with you."]

    def take_your_time(self) -> list[str]:
        return ["Sure, take your time."]

    def what_else(self) -> list[str]:
        return ["Sure, what else can I help with?"]

    def goodbye(self, name: str | None) -> list[str]:
        return [_with_name("Thanks for your time.", name), "Talk soon. Goodbye."]

    # --- silence ----------------------------------------------------------------------

    def still_there(self, reprompt: int) -> list[str]:
        return ["Are you still there?"] if reprompt == 1 else ["Sorry, I didn't hear anything."]

    def hello_silence(self) -> list[str]:
        return self._own("hello_silence", [
            f"Hello? This is {self.agent} from {self.company}.", "This call may be recorded.",
        ])

    def silence_goodbye(self) -> list[str]:
        return self._own("silence_goodbye", [
            "I'll let you go for now.", "Feel free to call us back any time. Goodbye.",
        ])

    # --- all of it --------------------------------------------------------------------

    def every_sentence(self) -> list[str]:
        """Every sentence these templates can say, once each, for sample values where a
        template takes one (a recogniser's language model is trained on them)."""
        said: list[str] = [
            *self.greeting(), *self.introduction(None), *self.reintroduction(), *self.purpose(),
            *self.ai_disclosure(), *self.nice_to_meet(None), *self.not_caught(),
            *self.repeat(), *self.opted_out(), *self.transferring(), *self.no_one_to_transfer(),
            *self.voicemail(), *self.callback_declined(), *self.rebuttal(), *self.declined(),
            *self.strong_fit(None), *self.meeting_deferred(), *self.specialist_will_answer(),
            *self.good_question(), *self.take_your_time(), *self.what_else(),
            *self.goodbye(None), *self.still_there(1), *self.still_there(2),
            *self.hello_silence(), *self.silence_goodbye(), *self.lost_you(),
            *self.where_were_we(), *self.misheard_time(), *self.carry_on(),
            *self.texting_link(), *self.link_sent(), *self.link_not_sent(),
            *self.link_on_its_way(), *self.email_agreed(), *self.info_declined(),
            *self.info_not_now(), *self.bad_line(),
        ]
        for asked in QUESTIONS:
            said += [*self.question(asked), *self.question(asked, short=True),
                     *self.rephrase(asked), *self.unheard(asked)]
        for budget in (False, True):
            said += self.disqualified(None, budget=budget)
        for reason in ("long_timeline", "not_decision_maker", None):
            said += self.nurture(reason)
        for known in (True, False):
            said += self.callback_agreed(None, when_known=known)
        for learned in ({"need"}, {"budget"}, {"authority"}, {"timeline"}, {"need", "budget"}):
            for decides in (True, False):
                said += self.acknowledge(learned, budget=50_000, decides=decides)
        said += self.acknowledge({"budget"}, budget=49_999, decides=None)
        for months in (1, 3, 6, 12):
            said += [*self.question("timeline_confirm", amount=months),
                     *self.question("timeline_confirm", short=True, amount=months),
                     *self.unheard("timeline_confirm", amount=months)]
        for amount in (20_000, 50_000, 100_000):
            said += [*self.question("budget_confirm", amount=amount),
                     *self.question("budget_confirm", short=True, amount=amount),
                     *self.unheard("budget_confirm", amount=amount)]
        for day in calendar.day_name[:5]:
            for when in (f"{day} at 10 AM", f"{day} morning", f"{day} afternoon"):
                said += [*self.question("meeting", proposed=when),
                         *self.question("meeting", short=True, proposed=when),
                         *self.question("meeting_confirm", proposed=when),
                         *self.question("meeting_confirm", short=True, proposed=when),
                         *self.unheard("meeting", proposed=when),
                         *self.unheard("meeting_confirm", proposed=when),
                         *self.booked(when), *self.moved(when), *self.meeting_noted(when)]
        return list(dict.fromkeys(said))

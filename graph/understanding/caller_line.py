"""What a caller's line means: BANT facts, meeting time and conversational acts.

`understand` is the deterministic understanding every agent shares: the direct
path uses it alone; the LangGraph agents use it when no LLM is configured and
to check what an LLM extracted. It reads typed text and speech-recogniser
output alike (lower case, no punctuation, numbers as words). `understand_dtmf`
reads a key press as DESIGN.md defines it: 1 yes, 2 no, 0 a person, 9 stop
calling me.

The optional `expecting` names the question the caller is answering ("budget",
"timeline", "meeting", "need", "identity"; "booked" once a meeting is booked), which
settles what a bare fragment means:
"about fifty" answers a budget question, "ten works" a meeting one, "Dana." our
"who am I speaking with?". While a meeting is being arranged, a caller who names
or asks for another time ("could we do Wednesday at three instead?") is proposing
a time, not asking to be called back.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date

from graph.understanding import intents
from graph.understanding.authority import read_authority
from graph.understanding.budget_reading import read_budget
from graph.understanding.meeting import read_meeting_time
from graph.understanding.names import read_bare_name, read_name
from graph.understanding.need import read_need
from graph.understanding.text import split_sentences
from graph.understanding.timeline import bare_months, read_timeline


@dataclass(frozen=True)
class Understanding:
    """Everything read from one caller turn; None/False where it was not said."""

    budget_usd: float | None = None
    budget_unsized: bool = False  # "about fifty": fifty dollars, or fifty thousand?
    no_budget: bool = False
    decision_maker: bool | None = None
    role: str | None = None
    need: str | None = None
    no_need: bool = False
    timeline_months: float | None = None
    bare_months: float | None = None  # "around six" to "when?": months, most likely; asked
    meeting_time: str | None = None
    affirmative: bool | None = None
    opt_out: bool = False
    maybe_opt_out: bool = False  # part of an opt-out, too mangled to act on: ask
    maybe_wants_human: bool = False  # part of a request for a person: ask
    wants_human: bool = False
    callback_later: bool = False
    not_interested: bool = False
    voicemail_greeting: bool = False
    closing: bool = False
    repeat_request: bool = False
    caller_name: str | None = None
    asks_purpose: bool = False  # "who is this?", "what is this about?"
    asks_if_ai: bool = False  # "am I talking to a robot?"
    unsure: bool = False  # "not sure", "I don't know"
    callback_when: str | None = None  # when to call back, as said ("next quarter")
    asks_to_wait: bool = False  # "hold on a second"
    asks_question: bool = False  # a question of their own ("how much does it cost?")
    proposes_time: bool = False  # asks for another meeting time ("anything later?")
    wants_info: bool = False  # asks to be sent something to read instead ("email me details")
    dtmf: str | None = None  # the key pressed, for a key press

    @property
    def has_bant(self) -> bool:
        """True when the turn states any qualification fact, for or against."""
        return (
            self.budget_usd is not None or self.no_budget or self.decision_maker is not None
            or self.need is not None or self.no_need or self.timeline_months is not None
        )

# The questions asked before any about the caller's business.
_OPENING_QUESTIONS = (None, "identity", "permission")


def understand(
    text: str, *, today: date | None = None, expecting: str | None = None
) -> Understanding:
    """Read one caller line; `today` dates relative timelines (default: today)."""
    sentences = split_sentences(text)
    if not sentences:
        return Understanding()
    joined = " ".join(sentence.text for sentence in sentences)

    budget, no_budget, budget_unsized = read_budget(sentences, expecting=expecting == "budget")
    decision_maker, role = read_authority(sentences)
    need, no_need = read_need(sentences, expecting=expecting == "need")
    # Said before we have asked about their business, "we're good" turns the call away:
    # an objection to hear out once, not an answer about a need nobody asked about.
    brushed_off = expecting in _OPENING_QUESTIONS and intents.detect_brush_off(joined)
    no_need = no_need and not brushed_off
    timeline = read_timeline(sentences, today=today or date.today(),
                             expecting=expecting == "timeline")
    bare = None if timeline is not None else bare_months(sentences,
                                                          expecting=expecting == "timeline")
    meeting = read_meeting_time(sentences, expecting=expecting in ("meeting", "meeting_time"))

    opt_out = intents.detect_opt_out(joined)
    callback, callback_when = intents.detect_callback_later(joined)
    scheduling = expecting in ("meeting", "meeting_time", "booked")
    proposes_time = scheduling and (meeting is not None
                                    or intents.detect_counter_proposal(joined))
    if proposes_time and not intents.detect_contact_request(joined):
        callback = False  # "could we do Wednesday instead?" answers our proposal
    affirmative = None
    for sentence in sentences:  # the first sentence that answers yes or no decides
        affirmative = intents.detect_affirmative(sentence.text)
        if affirmative is not None:
            break
    heard = Understanding(
        budget_usd=budget,
        no_budget=no_budget,
        budget_unsized=budget_unsized,
        decision_maker=decision_maker,
        role=role,
        need=need,
        no_need=no_need,
        timeline_months=timeline,
        bare_months=bare,
        meeting_time=meeting,
        affirmative=affirmative,
        opt_out=opt_out,
        maybe_opt_out=not opt_out and intents.detect_maybe_opt_out(joined),
        wants_human=intents.detect_wants_human(joined) and not opt_out,
        maybe_wants_human=intents.detect_maybe_wants_human(joined) and not opt_out,
        callback_later=callback and not opt_out,
        callback_when=callback_when if callback and not opt_out else None,
        not_interested=intents.detect_not_interested(joined) or brushed_off,
        voicemail_greeting=intents.detect_voicemail_greeting(joined),
        closing=intents.detect_closing(joined) or any(
            intents.detect_closing(sentence.text) for sentence in sentences
        ),
        repeat_request=any(intents.detect_repeat_request(s.text) for s in sentences),
        caller_name=next(
            (name for s in sentences if (name := read_name(s.raw, s.text))), None
        ) or (read_bare_name(sentences[0].raw, joined) if expecting == "identity" else None),
        asks_purpose=intents.detect_asks_purpose(joined),
        asks_if_ai=intents.detect_asks_if_ai(joined),
        unsure=intents.detect_unsure(joined),
        asks_to_wait=intents.detect_asks_to_wait(joined),
        asks_question=any(intents.detect_question(s.raw, s.text) for s in sentences),
        proposes_time=proposes_time,
        wants_info=not opt_out and any(intents.detect_wants_info(s.text) for s in sentences),
    )
    if (not (opt_out or heard.maybe_opt_out or heard.has_bant or heard.callback_later
             or meeting) and intents.sounds_like_opt_out(joined)):
        # spelled like an opt-out's remnant, with nothing else read from it: asked about
        return replace(heard, maybe_opt_out=True)
    return heard


_DTMF = {
    "1": Understanding(affirmative=True, dtmf="1"),
    "2": Understanding(affirmative=False, dtmf="2"),
    "0": Understanding(wants_human=True, dtmf="0"),
    "9": Understanding(opt_out=True, dtmf="9"),
}


def understand_dtmf(digit: str) -> Understanding:
    """A key press as an answer: 1 yes, 2 no, 0 a person, 9 stop calling me."""
    key = digit.strip()
    return _DTMF.get(key, Understanding(dtmf=key or None))

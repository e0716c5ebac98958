"""The templated qualification script: the direct path when no LLM or orchestrator is up.

Owns the turn-by-turn state machine of DESIGN.md's default policy. Each call
takes a `ConversationState` and one caller event (a line, a key press, a stretch
of silence) and returns a new state and the `AgentReply` to speak; inputs are
never mutated, so a checkpointed state can be replayed.

The agents and when they speak:

- greeter — greets (inbound) or introduces itself after the lead's first words
  (outbound), discloses recording, learns who is calling;
- qualifier — asks for permission, then for whichever of need, budget,
  authority and timeline is still unknown, taking facts in any order;
- objection_handler — one short rebuttal to "not interested";
- scheduler — proposes a meeting and books the time the caller accepts or gives;
- handoff — puts the caller through to a person, or offers a callback;
- wrap_up — every goodbye: disqualified, nurture, opt-out, after booking;
- voicemail — leaves a short message on an answering machine.

Some events win wherever the call is: asking not to be called again, and
asking for a person.

A line the recogniser was unsure of (a confidence below `min_confidence`) is never
made a fact or an action. It can still ask what may be a request to stop calling or
for a person, which is never ignored: it is checked ("Would you like me to stop
calling this number?"). Otherwise the agent says it did not catch that and asks again
in other words; a second failure at the same question moves on as an unanswered
question does (skipped, deferred, or a goodbye at the wrap-up), and a second question
lost that way offers a callback instead of carrying on over a bad line. A line with no
confidence (text mode, key presses) is never gated.

A caller who asks to be sent something to read instead of talking ("can you just
send me some information?") is offered, once, a text with a link (or, when their
number cannot take a text or no link is configured, an email from a person). Yes
ends the call `nurture` with the follow-up recorded: the reply carries
`follow_up="sms_link"`, the session sends the text, and `on_follow_up` says how that
went before the goodbye. No goes back to the question the request interrupted;
neither, twice, does the same.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, timedelta
from typing import Literal

from pydantic import BaseModel, Field

from graph.understanding import intents
from graph.understanding.caller_line import Understanding, understand, understand_dtmf
from graph.understanding.meeting import is_day_and_hour, on_day_of
from graph.understanding.need import about_the_business, tidy_need
from graph.understanding.text import normalize
from graph.workflow.policy import (
    budget_below_minimum,
    criteria_met,
    nurture_reason,
    reached_outcome,
)
from graph.workflow.policy import final_outcome as policy_final_outcome
from graph.workflow.replies import Replies
from graph.workflow.state import BANT_QUESTIONS, AgentReply, ConversationState, Question
from switchboard.models import AgentName, Direction, FollowUpKind, FollowUpStatus, Outcome
from switchboard.settings import QualificationPolicy, ScriptSettings, VoiceAgentIntegrationConfig

__all__ = [
    "AgentPart", "AgentReply", "ConversationState", "QualificationScript", "ScriptReply",
    "all_prompts",
]

_QUALIFYING_AGENTS = ("start", "greeter", "qualifier", "objection_handler")
# A bare greeting or "who is this?" answers nothing; the greeter introduces
# itself again rather than moving on.
_GREETING_ONLY = re.compile(
    r"^(?:(?:hello|hi|hey|yes|yeah|hello there|who|is|this|it|calling|speaking|um|uh|oh|"
    r"sorry|there|what|can you hear me|good|morning|afternoon|evening)\s*)+$"
)
_MIN_NEED_WORDS = 4  # a free answer to "what's your biggest challenge" this long is the need
_MAX_ATTEMPTS = 2  # tries at one question before moving on
# Times one question is put in a row. A request to repeat it, to wait, or to say what the
# call is about does not count as a failed answer, but over the phone a mishearing can
# look like any of them again and again: past this, such a line moves the call on too.
_MAX_PUTS = 3
# Questions asking what a half-heard line meant, or offering what the caller asked for;
# they interrupt the pending question, which is asked again after a no.
_INFO_OFFERS = ("info_confirm", "email_confirm")
_CHECKS = ("opt_out_confirm", "person_confirm", *_INFO_OFFERS)
# Information is offered while the caller is being qualified; once a meeting is being
# booked or the call wrapped up, a request for details is the specialist's to answer.
_OFFERING_AGENTS = ("greeter", "qualifier", "objection_handler")
# Questions whose answers may be bare fragments ("about fifty", "ten works")
_EXPECTING = (*BANT_QUESTIONS, "meeting", "meeting_time", "identity")


class AgentPart(BaseModel):
    """The sentences one agent speaks within a step; the LangGraph agents voice their own."""

    agent: str
    sentences: list[str] = Field(default_factory=list)


class ScriptReply(AgentReply):
    """An `AgentReply` that also tells which agent says which sentences: `parts[0]` is the
    agent that held the call when the step began, `parts[i + 1]` the `to` of `transitions[i]`."""

    parts: list[AgentPart] = Field(default_factory=list)


class _Turn:
    """One step of the script: the state being changed and the reply being built."""

    def __init__(self, state: ConversationState) -> None:
        self.state = state.model_copy(deep=True)
        self.sentences: list[str] = []
        self.transitions: list[tuple[str, str, str]] = []
        # who said what: one part per agent that held the call during this step
        self.parts: list[AgentPart] = [AgentPart(agent=self.state.current_agent)]
        self.end_call = False
        self.transfer = False
        self.follow_up: FollowUpKind | None = None

    def move(self, agent: AgentName, trigger: str) -> None:
        if agent != self.state.current_agent:
            self.transitions.append((self.state.current_agent, agent, trigger))
            self.state.current_agent = agent
            self.parts.append(AgentPart(agent=agent))

    def say(self, sentences: list[str]) -> None:
        self.sentences.extend(sentences)
        self.parts[-1].sentences.extend(sentences)

    def end(self) -> None:
        self.state.ended = True
        self.state.asked = None
        self.end_call = True

    def reply(self) -> ScriptReply:
        return ScriptReply(
            sentences=self.sentences,
            agent=self.state.current_agent,
            end_call=self.end_call,
            transfer=self.transfer,
            transitions=self.transitions,
            parts=self.parts,
            follow_up=self.follow_up,
        )


class QualificationScript:
    """DESIGN.md's qualification policy as a deterministic, template-driven dialogue."""

    def __init__(
        self,
        policy: QualificationPolicy,
        *,
        transfer_number: str | None,
        company_name: str,
        agent_name: str,
        max_reprompts: int = 3,
        today: Callable[[], date] = date.today,
        info_link: str | None = None,
        min_confidence: float = 0.0,
        script: ScriptSettings | None = None,
    ) -> None:
        self.policy = policy
        # The deployment's (or the call's experiment variant's) wording and question order.
        script = script or ScriptSettings()
        self.question_order: tuple[Question, ...] = tuple(script.question_order)
        # A spoken line heard with less confidence than this is gated (0: none is).
        self.min_confidence = min_confidence
        self.transfer_number = transfer_number
        # Without a link to text, information is offered as an email from a person.
        self.info_link = info_link
        self.replies = Replies(company=company_name, agent=agent_name,
                               own_replies=script.replies, own_questions=script.questions)
        self.max_reprompts = max_reprompts
        self.today = today

    # --- events -----------------------------------------------------------------------

    def start(self, direction: Direction, answered_by: str | None = None, *,
              can_text: bool = False) -> tuple[ConversationState, AgentReply | None]:
        """Open a call. Inbound: the greeter speaks first. Outbound: the lead speaks
        first (None reply), unless Twilio says a machine answered. `can_text`: the
        lead's number can take a text (the session knows the number)."""
        turn = _Turn(ConversationState(direction=direction, can_text=can_text))
        if answered_by and (answered_by.startswith("machine") or answered_by == "fax"):
            self._leave_voicemail(turn, speak=answered_by != "fax")
            return self._finish(turn)
        if direction == "outbound":
            return turn.state, None
        turn.move("greeter", "call_started")
        turn.say(self.replies.greeting())
        self._ask(turn, "identity")
        return self._finish(turn)

    def on_text(self, state: ConversationState, text: str, *,
                confidence: float | None = None) -> tuple[ConversationState, AgentReply]:
        """The caller said `text`, heard by a recogniser with `confidence` (None: typed,
        or no recogniser reported one)."""
        if state.ended:
            return state, AgentReply(agent=state.current_agent)
        return self.on_understanding(state, self.read_line(state, text), text,
                                     confidence=confidence)

    def unsure_of(self, confidence: float | None) -> bool:
        """A line heard with `confidence` is too unsure to act on."""
        return confidence is not None and confidence < self.min_confidence

    def read_line(self, state: ConversationState, text: str) -> Understanding:
        """The deterministic reading of a caller line, framed by the pending question."""
        expecting = state.asked if state.asked in _EXPECTING else None
        if state.asked == "meeting_confirm":
            expecting = "meeting_time"  # "no, two in the afternoon" corrects the time
        elif state.asked == "budget_confirm":
            expecting = "budget"  # "no, more like eighty" corrects the figure
        elif state.asked == "timeline_confirm":
            expecting = "timeline"
        if state.meeting_confirmed and state.asked == "anything_else":
            expecting = "booked"  # "can we make it earlier?" moves the meeting
        return understand(text, today=self.today(), expecting=expecting)

    def on_dtmf(self, state: ConversationState, digit: str) -> tuple[ConversationState, AgentReply]:
        """The caller pressed a key: 1 yes, 2 no, 0 a person, 9 stop calling me."""
        if state.ended:
            return state, AgentReply(agent=state.current_agent)
        return self.on_understanding(state, understand_dtmf(digit))

    def on_silence(self, state: ConversationState) -> tuple[ConversationState, AgentReply]:
        """One reprompt interval passed in silence: reprompt, or end the call when
        `max_reprompts` reprompts in a row went unanswered."""
        if state.ended:
            return state, AgentReply(agent=state.current_agent)
        turn = _Turn(state)
        current = turn.state
        if current.reprompts >= self.max_reprompts:
            turn.move("wrap_up", "no_response")
            turn.say(self.replies.silence_goodbye())
            turn.end()
            return self._finish(turn)
        current.reprompts += 1
        if current.current_agent == "start":  # outbound, and the lead has not spoken
            turn.move("greeter", "caller_silent")
            turn.say(self.replies.hello_silence())
            self._ask(turn, "identity")
            return self._finish(turn)
        turn.say(self.replies.still_there(current.reprompts))
        if current.asked is not None:
            self._ask(turn, current.asked, short=True)
        return self._finish(turn)

    def on_resume(self, state: ConversationState) -> AgentReply:
        """The call moved to another actor and the caller may have missed the agent's
        last words: a short bridge, then the pending question again. Nothing changes:
        what the caller already answered stays answered. A call the agent was ending is
        ended: put through, or said goodbye to (an answering machine just hung up on)."""
        agent = state.current_agent
        if state.ended and state.voicemail:
            return AgentReply(agent=agent, end_call=True)
        if state.ended and state.transferred:
            return AgentReply(sentences=[*self.replies.lost_you(), *self.replies.transferring()],
                              agent=agent, transfer=True)
        if state.ended or state.follow_up is not None:
            # (a text being sent when the call moved: the session finishes sending it)
            return AgentReply(
                sentences=[*self.replies.lost_you(), *self.replies.goodbye(state.caller_name)],
                agent=agent, end_call=True,
            )
        pending = state.asked is not None and state.last_question
        question = [state.last_question] if pending else self.replies.where_were_we()
        return AgentReply(sentences=[*self.replies.lost_you(), *question],
                          agent=state.current_agent)

    def on_follow_up(self, state: ConversationState,
                     status: FollowUpStatus) -> tuple[ConversationState, AgentReply]:
        """The session tried to text the link the caller agreed to (`status`: `sent`,
        `failed`, or `pending` when Twilio had not answered in time): say so, and
        goodbye. Anything but a call waiting on its text is left as it is."""
        if state.ended or state.follow_up != "sms_link":
            return state, AgentReply(agent=state.current_agent)
        turn = _Turn(state)
        current = turn.state
        current.follow_up_status = status
        turn.say({"sent": self.replies.link_sent,
                  "failed": self.replies.link_not_sent}.get(status, self.replies.link_on_its_way)())
        turn.say(self.replies.goodbye(current.caller_name))
        turn.end()
        return self._finish(turn)

    def on_hangup(self, state: ConversationState) -> Outcome:
        """The outcome of the call now that it has ended."""
        return self.final_outcome(state)

    def final_outcome(self, state: ConversationState) -> Outcome:
        if state.asked == "opt_out_confirm":
            # The call ended while the agent asked whether to stop calling: the caller
            # may have asked not to be called and can no longer be asked. Calling them
            # again is the one mistake a line cannot make.
            return Outcome.OPTED_OUT
        return policy_final_outcome(state.facts, self.policy, state.signals())

    # --- one caller turn --------------------------------------------------------------

    def on_understanding(self, state: ConversationState, heard: Understanding,
                         text: str = "", *, confidence: float | None = None
                         ) -> tuple[ConversationState, AgentReply]:
        """Answer a caller turn already understood (by `understand`, or by an LLM that
        fills the same `Understanding`); `text` is the line as said, if any, and
        `confidence` how sure its recogniser was (see the module docstring)."""
        if state.ended:
            return state, AgentReply(agent=state.current_agent)
        turn = _Turn(state)
        current = turn.state
        current.reprompts = 0
        current.turns += 1
        if self.unsure_of(confidence):
            self._on_unsure_line(turn, heard)
        elif heard.opt_out:
            self._opt_out(turn)
        elif current.asked == "opt_out_confirm":
            # Asked twice without a yes or no, the number is taken off: calling someone
            # who may have asked not to be called is the one mistake a line cannot make.
            yes = heard.affirmative is True or heard.not_interested or heard.closing
            self._on_check(turn, heard, yes=yes, act=self._opt_out)
        elif current.asked == "person_confirm" and not heard.wants_human:
            # Twice not understood, a person is the best answer anyway.
            self._on_check(turn, heard, yes=heard.affirmative is True, act=self._hand_off)
        elif heard.maybe_opt_out:
            # Never carry on past what may be a request to stop calling, nor act on it
            # unheard: ask.
            self._check(turn, "opt_out_confirm")
        elif heard.maybe_wants_human and not heard.wants_human and not heard.has_bant:
            self._check(turn, "person_confirm")
        elif heard.voicemail_greeting and current.direction == "outbound" and current.turns == 1:
            # an answering machine's greeting is the first thing an outbound call hears
            self._leave_voicemail(turn, speak=True)
        elif heard.wants_human:
            self._hand_off(turn)
        elif current.current_agent == "start":
            self._first_outbound_line(turn, heard, text)
        elif current.asked in _INFO_OFFERS:
            self._on_info_offer(turn, heard, text)
        elif heard.wants_info and self._may_offer_info(current):
            self._offer_info(turn, heard, text)
        elif (heard.repeat_request and not heard.has_bant and heard.meeting_time is None
              and not self._put_enough(current)):
            turn.say(self.replies.repeat())
            if current.asked is not None:
                self._ask(turn, current.asked)
        elif (heard.asks_to_wait and not heard.has_bant and heard.affirmative is None
              and not self._put_enough(current)):
            turn.say(self.replies.take_your_time())  # the question stays pending
            current.times_asked += 1  # and is as good as put again
        else:
            if heard.asks_if_ai:
                turn.say(self.replies.ai_disclosure())
            self._answer(turn, heard, text)
        return self._finish(turn)

    # --- lines heard too unsurely to act on --------------------------------------------

    def _on_unsure_line(self, turn: _Turn, heard: Understanding) -> None:
        """A line below the confidence threshold: nothing in it becomes a fact or an
        action. What may be a request to stop calling or for a person is asked about;
        anything else is asked again (see the module docstring)."""
        current = turn.state
        if current.asked == "opt_out_confirm":
            # Twice unclear, the number is taken off, as for any unclear answer here.
            self._ask_unheard(turn, give_up=self._opt_out)
        elif current.asked == "person_confirm":
            self._ask_unheard(turn, give_up=self._hand_off)
        elif heard.opt_out or heard.maybe_opt_out:
            self._check(turn, "opt_out_confirm")
        elif heard.wants_human or heard.maybe_wants_human:
            self._check(turn, "person_confirm")
        elif current.current_agent == "start":
            # An outbound call's first words: whatever they were, the agent introduces
            # itself and asks who it is speaking with; nothing is read from them.
            self._first_outbound_line(turn, Understanding(), "")
        elif current.asked is None:
            turn.say(self.replies.not_caught())
            turn.say(self.replies.where_were_we())
        else:
            self._ask_unheard(turn, give_up=self._give_up_unheard)

    def _ask_unheard(self, turn: _Turn, give_up: Callable[[_Turn], None]) -> None:
        """The pending question again, in other words; `give_up` after the second line
        at it that could not be used (this one included)."""
        current = turn.state
        asked = current.asked
        assert asked is not None
        if self._out_of_tries(turn, give_up):
            return
        confirming = asked == "meeting_confirm"
        turn.say(self.replies.unheard(
            asked, proposed=current.pending_meeting if confirming else current.proposed_meeting,
            amount=current.pending_timeline if asked == "timeline_confirm"
            else current.pending_budget))
        self._ask(turn, asked, keep_attempts=True, speak=False)

    def _give_up_unheard(self, turn: _Turn) -> None:
        """The pending question could not be heard twice: go on without its answer. A
        second question lost that way while qualifying offers a callback instead."""
        current = turn.state
        asked = current.asked
        assert asked is not None
        current.unheard_questions += 1
        qualifying = current.current_agent in _QUALIFYING_AGENTS
        if qualifying and (asked == "objection" or current.unheard_questions >= 2):
            turn.move("wrap_up", "caller_unheard")
            turn.say(self.replies.bad_line())
            self._ask(turn, "callback")
        elif asked in _INFO_OFFERS:
            turn.say(self.replies.info_not_now())
            self._back_to_questions(turn)
        elif asked == "identity":
            turn.move("qualifier", "caller_responded")
            self._ask(turn, "permission")
        elif asked == "permission":
            self._advance(turn, set())  # a caller who talks is listening
        elif asked in BANT_QUESTIONS or asked in ("budget_confirm", "timeline_confirm"):
            criterion = {"budget_confirm": "budget", "timeline_confirm": "timeline"}.get(
                asked, asked)
            if asked != criterion:
                setattr(current, f"pending_{criterion}", None)
            current.skipped.append(criterion)
            self._advance(turn, set())
        elif asked in ("meeting", "meeting_time", "meeting_confirm"):
            self._defer_meeting(turn)
        elif asked == "callback_time":  # the callback itself was agreed
            turn.say(self.replies.callback_agreed(current.caller_name, when_known=False))
            turn.end()
        else:  # anything else, may we call back: unsure at the end, close
            turn.say(self.replies.goodbye(current.caller_name))
            turn.end()

    def _answer(self, turn: _Turn, heard: Understanding, text: str) -> None:
        """The turn, as the agent holding the call answers it."""
        handler = {
            "greeter": self._on_greeter,
            "qualifier": self._on_qualifier,
            "objection_handler": self._on_objection,
            "scheduler": self._on_scheduler,
            "handoff": self._on_callback_answer,
            "wrap_up": self._on_wrap_up,
        }.get(turn.state.current_agent)
        if handler is not None:
            handler(turn, heard, text)

    def _opt_out(self, turn: _Turn) -> None:
        turn.state.opted_out = True
        turn.move("wrap_up", "opt_out")
        turn.say(self.replies.opted_out())
        turn.end()

    def _check(self, turn: _Turn, question: Question) -> None:
        """Ask whether the caller meant what was half heard (stop calling, a person),
        keeping the question it interrupts."""
        current = turn.state
        if current.asked not in _CHECKS:
            current.interrupted_question = current.asked
        self._ask(turn, question)

    def _on_check(self, turn: _Turn, heard: Understanding, *, yes: bool,
                  act: Callable[[_Turn], None]) -> None:
        """The answer to a check: yes acts, no goes back to the interrupted question, and
        twice neither acts too (each check's reason is at its call)."""
        current = turn.state
        if yes:
            current.interrupted_question = None
            act(turn)
            return
        if heard.affirmative is False:
            question = current.interrupted_question
            current.interrupted_question = None
            turn.say(self.replies.carry_on())
            if question is not None:
                self._ask(turn, question, keep_attempts=True)
            else:
                current.asked = None
                turn.say(self.replies.where_were_we())
            return
        assert current.asked is not None
        self._ask_again(turn, current.asked, give_up=act)

    # --- "send me some information" ---------------------------------------------------

    def _may_offer_info(self, current: ConversationState) -> bool:
        return (not current.info_offered and current.follow_up is None
                and current.current_agent in _OFFERING_AGENTS and current.asked not in _CHECKS)

    def _offer_info(self, turn: _Turn, heard: Understanding, text: str) -> None:
        """The caller would rather read than talk: offer a text with a link (or an email
        from a person), once, keeping whatever else they said and the question it
        interrupts."""
        current = turn.state
        current.info_offered = True
        if heard.caller_name and current.caller_name is None:
            current.caller_name = heard.caller_name
        if heard.has_bant:  # "we spend about 50k, but just send me something first"
            self._absorb(current, heard, text)
        self._check(turn, "info_confirm" if current.can_text and self.info_link
                    else "email_confirm")

    def _on_info_offer(self, turn: _Turn, heard: Understanding, text: str) -> None:
        """The answer to "I can text you a link with the details. Would you like that?".

        Yes (or the request again) sends it; no goes back to the interrupted question,
        and an answer that says more than no ("no, we spend about fifty thousand")
        is that question's answer; neither, twice, carries on as a no would."""
        current = turn.state
        offer = current.asked
        assert offer is not None
        if heard.affirmative is True or (heard.wants_info and heard.affirmative is None):
            current.interrupted_question = None
            if heard.has_bant:  # "yes please, and we spend about 50k": kept
                self._absorb(current, heard, text)
            self._agree_to_info(turn, texting=offer == "info_confirm")
            return
        # "No, we miss a lot of calls after hours": the no turns the offer down, the
        # rest answers the question the request interrupted, read as its answer
        question = current.interrupted_question
        rest = _after_no(text) if heard.affirmative is False else text
        if rest:
            current.asked = question
            again = self.read_line(current, rest)
            if (again.has_bant or again.not_interested or again.callback_later or again.closing
                    or again.asks_purpose
                    or (question == "identity" and again.caller_name is not None)
                    or (question == "need" and self._free_answer(again, rest))):
                current.interrupted_question = None
                self._answer(turn, again, rest)
                return
            current.asked = offer
        if heard.affirmative is False:
            turn.say(self.replies.info_declined())
            self._back_to_questions(turn)
            return
        if heard.repeat_request:
            turn.say(self.replies.repeat())
            self._ask(turn, offer, keep_attempts=True)
            return

        def not_now(turn: _Turn) -> None:
            turn.say(self.replies.info_not_now())
            self._back_to_questions(turn)

        self._ask_again(turn, offer, give_up=not_now)

    def _agree_to_info(self, turn: _Turn, *, texting: bool) -> None:
        current = turn.state
        current.declined = False
        current.asked = None
        turn.move("wrap_up", "info_requested")
        if texting:
            # The session texts the link now and tells `on_follow_up` how it went; the
            # goodbye waits for that.
            current.follow_up, current.follow_up_status = "sms_link", "pending"
            turn.follow_up = "sms_link"
            turn.say(self.replies.texting_link())
            return
        current.follow_up, current.follow_up_status = "email", "requested"
        turn.follow_up = "email"
        turn.say(self.replies.email_agreed())
        turn.say(self.replies.goodbye(current.caller_name))
        turn.end()

    def _back_to_questions(self, turn: _Turn) -> None:
        """After the offer was turned down: the question it interrupted, or the next."""
        current = turn.state
        question = current.interrupted_question
        current.interrupted_question = None
        if current.current_agent == "greeter" and current.caller_name:
            turn.move("qualifier", "caller_identified")  # the name came with the request
            self._ask(turn, "permission")
        elif question is not None:
            self._ask(turn, question, keep_attempts=True)
        elif current.current_agent == "qualifier":
            self._advance(turn, set())
        else:
            current.asked = None
            turn.say(self.replies.where_were_we())

    def _first_outbound_line(self, turn: _Turn, heard: Understanding, text: str) -> None:
        turn.move("greeter", "caller_answered")
        name = heard.caller_name
        turn.state.caller_name = name
        turn.say(self.replies.introduction(name))
        if heard.has_bant or heard.not_interested or heard.callback_later:
            turn.move("qualifier", "caller_identified" if name else "caller_responded")
            self._qualify(turn, heard, text, fresh=True)
            return
        if heard.asks_purpose or name:
            self._pitch(turn)
        if name:
            turn.move("qualifier", "caller_identified")
            self._ask(turn, "permission")
        else:
            self._ask(turn, "identity")

    def _on_greeter(self, turn: _Turn, heard: Understanding, text: str) -> None:
        current = turn.state
        if heard.caller_name:
            current.caller_name = heard.caller_name
        bare = _GREETING_ONLY.match(normalize(text)) is not None
        if not heard.caller_name and not heard.has_bant and (heard.asks_purpose or bare) and (
            current.attempts < 1 and heard.affirmative is None
        ):
            current.attempts += 1
            turn.say(self.replies.reintroduction())
            if heard.asks_purpose:
                self._pitch(turn)
            self._ask(turn, "identity", short=True, keep_attempts=True)
            return
        turn.move("qualifier", "caller_identified" if current.caller_name else "caller_responded")
        if heard.not_interested or heard.callback_later:
            self._qualify(turn, heard, text, fresh=True)
            return
        if heard.has_bant:
            self._qualify(turn, heard, text, fresh=True)
            return
        turn.say(self.replies.nice_to_meet(current.caller_name))
        if heard.asks_purpose:
            self._pitch(turn)
        self._ask(turn, "permission")

    def _on_qualifier(self, turn: _Turn, heard: Understanding, text: str) -> None:
        self._qualify(turn, heard, text, fresh=False)

    def _qualify(self, turn: _Turn, heard: Understanding, text: str, *, fresh: bool) -> None:
        """Take in what the caller said and ask for what is still missing."""
        current = turn.state
        learned = self._absorb(current, heard, text)
        if heard.callback_later:
            self._callback(turn, heard)
            return
        if heard.not_interested or (
            current.asked in ("permission", "objection") and heard.affirmative is False
            and not learned
        ):
            self._object(turn)
            return
        if heard.closing and not learned:
            turn.move("wrap_up", "caller_closing")
            turn.say(self.replies.goodbye(current.caller_name))
            turn.end()
            return
        offered = self._take_offered_meeting(current, heard)
        for criterion, check, pending in (
            ("budget", "budget_confirm", current.pending_budget),
            ("timeline", "timeline_confirm", current.pending_timeline),
        ):
            if criterion in learned:
                continue
            if current.asked == check:
                self._unconfirmed_figure(turn, heard, criterion)
                return
            if pending is not None:
                self._ask(turn, check)  # one short question, then on
                return
        if current.asked == "permission" and not learned and not fresh:
            if (heard.affirmative is None and (heard.asks_purpose or heard.asks_question)
                    and not self._put_enough(current)):
                if heard.asks_purpose:
                    self._pitch(turn)
                else:
                    turn.say(self.replies.good_question())
                self._ask(turn, "permission", keep_attempts=True)
                return
            if heard.asks_purpose and not current.pitched:
                self._pitch(turn)  # they said yes already: once is enough
            # anything but a refusal lets us go on; a caller who talks is listening
        elif (offered and current.asked in BANT_QUESTIONS and not learned and not fresh
              and not self._put_enough(current)):
            # Not an answer, and no failed one either: the time is kept for later.
            turn.say(self.replies.meeting_noted(offered))
            self._ask(turn, current.asked, short=True, keep_attempts=True)
            return
        elif (current.asked in BANT_QUESTIONS and not learned and not fresh
              and self._unanswered(turn, heard)):
            return
        if offered and not criteria_met(current.facts, self.policy).all_met:
            turn.say(self.replies.meeting_noted(offered))  # (once met, it is proposed)
        self._advance(turn, learned)

    def _take_offered_meeting(self, current: ConversationState, heard: Understanding
                              ) -> str | None:
        """A day and hour the caller offered for a meeting while we were still asking
        questions ("can we do Monday at eleven?"): kept, to be proposed once they
        qualify. None when the line offered none."""
        when = heard.meeting_time
        if when is None or not is_day_and_hour(when):
            return None
        current.offered_meeting = when
        return when

    def _unconfirmed_figure(self, turn: _Turn, heard: Understanding,
                            criterion: Literal["budget", "timeline"]) -> None:
        """The caller did not say yes to "is that fifty thousand dollars a year?" (or
        "about six months from now?"): a no asks for it again; twice unclear, it is left
        unknown and the call goes on."""
        current = turn.state

        def forget(turn: _Turn) -> None:
            setattr(current, f"pending_{criterion}", None)

        def leave_unknown(turn: _Turn) -> None:
            forget(turn)
            current.skipped.append(criterion)
            self._advance(turn, set())

        if heard.affirmative is False:
            forget(turn)
            turn.say(self.replies.carry_on())
            turn.say(self.replies.rephrase(criterion))
            self._ask(turn, criterion, speak=False)
            return
        assert current.asked is not None
        self._ask_again(turn, current.asked, give_up=leave_unknown)

    def _ask_again(self, turn: _Turn, question: Question,
                   give_up: Callable[[_Turn], None]) -> None:
        """A confirmation answered with neither yes nor no: asked once more, short; after
        that `give_up`. A confirmation costs a turn or two, never a loop."""
        if self._out_of_tries(turn, give_up):
            return
        turn.say(self.replies.not_caught())
        self._ask(turn, question, short=True, keep_attempts=True)

    @staticmethod
    def _out_of_tries(turn: _Turn, give_up: Callable[[_Turn], None]) -> bool:
        """Count a line at the pending question that could not be used; after the last
        try, `give_up` (and True)."""
        turn.state.attempts += 1
        if turn.state.attempts >= _MAX_ATTEMPTS:
            give_up(turn)
            return True
        return False

    def _unanswered(self, turn: _Turn, heard: Understanding) -> bool:
        """Handle a turn that did not answer the pending BANT question; True when a
        reply was given and the turn is over."""
        current = turn.state
        asked = current.asked
        assert asked is not None
        put_enough = self._put_enough(current)
        if heard.asks_purpose and not put_enough:
            self._pitch(turn)
            self._ask(turn, asked, keep_attempts=True)
            return True
        current.attempts += 1
        if heard.unsure or current.attempts >= _MAX_ATTEMPTS or put_enough:
            current.skipped.append(asked)
            return False  # move on to the next question
        if heard.asks_question:
            turn.say(self.replies.good_question())
            self._ask(turn, asked, keep_attempts=True)
            return True
        turn.say(self.replies.rephrase(asked))
        self._ask(turn, asked, keep_attempts=True, speak=False)
        return True

    def _absorb(self, current: ConversationState, heard: Understanding, text: str) -> set[str]:
        """Record the facts of this turn; the names of the criteria newly learned."""
        if current.current_agent not in _QUALIFYING_AGENTS:
            return set()
        facts = current.facts
        before = facts.model_copy()
        before_no = (current.no_need, current.no_budget)
        asked = current.asked
        if heard.role:
            current.role = heard.role
        if heard.need and not facts.need:
            facts.need = heard.need
            current.no_need = False
        elif heard.no_need and (facts.need is None or asked == "need"):
            facts.need, current.no_need = None, True
        if heard.budget_usd is not None and heard.budget_unsized:
            # "about fifty": never fifty dollars unasked (below the minimum, it would end
            # the call); most likely thousands, which the caller is asked to confirm
            current.pending_budget = heard.budget_usd * 1000
        elif heard.budget_usd is not None:
            facts.budget_usd, current.no_budget = heard.budget_usd, False
            current.pending_budget = None
        elif asked == "budget_confirm" and heard.affirmative is True:
            facts.budget_usd, current.no_budget = current.pending_budget, False
            current.pending_budget = None
        elif heard.no_budget:
            current.no_budget = True
        if heard.decision_maker is not None:
            facts.decision_maker = heard.decision_maker
        if heard.timeline_months is not None:
            facts.timeline_months = heard.timeline_months
            current.pending_timeline = None
        elif heard.bare_months is not None:
            current.pending_timeline = heard.bare_months  # "around six": months? asked
        elif asked == "timeline_confirm" and heard.affirmative is True:
            facts.timeline_months = current.pending_timeline
            current.pending_timeline = None
        # yes and no answer the question that was asked
        # "No, that's all" closes; it says nothing of the need or the budget (read as
        # "none", it would disqualify a caller whose answer may just have been misheard)
        bare_no = (heard.affirmative is False and not heard.has_bant and not heard.unsure
                   and not heard.closing)
        if asked == "authority" and heard.decision_maker is None and heard.affirmative is not None:
            facts.decision_maker = heard.affirmative
        elif asked == "need" and facts.need is None and not current.no_need:
            if bare_no:
                current.no_need = True
            elif not heard.has_bant and self._free_answer(heard, text):
                facts.need = tidy_need(text)
        elif asked == "budget" and bare_no and facts.budget_usd is None:
            current.no_budget = True
        return {
            name for name, changed in (
                ("need", facts.need != before.need or current.no_need != before_no[0]),
                ("budget", facts.budget_usd != before.budget_usd
                 or current.no_budget != before_no[1]),
                ("authority", facts.decision_maker != before.decision_maker),
                ("timeline", facts.timeline_months != before.timeline_months),
            ) if changed
        }

    @staticmethod
    def _free_answer(heard: Understanding, text: str) -> bool:
        """A substantive answer to the open need question is the need, in their words."""
        if (heard.affirmative is False or heard.unsure or heard.asks_purpose or heard.not_interested
                or heard.asks_question or heard.closing):
            return False
        return (len(text.split()) >= _MIN_NEED_WORDS and not text.strip().endswith("?")
                and about_the_business(normalize(text)))

    def _advance(self, turn: _Turn, learned: set[str]) -> None:
        """After taking in facts: wrap up, book, or ask the next missing question."""
        current = turn.state
        facts = current.facts
        short_of_money = current.no_budget or budget_below_minimum(facts, self.policy)
        if current.no_need or short_of_money:
            turn.move("wrap_up", "disqualified")
            turn.say(self.replies.disqualified(
                current.caller_name, budget=short_of_money and not current.no_need
            ))
            turn.end()
            return
        ack = self.replies.acknowledge(learned, budget=facts.budget_usd,
                                       decides=facts.decision_maker)
        if criteria_met(facts, self.policy).all_met:
            turn.move("scheduler", "bant_complete")
            current.proposed_meeting = current.offered_meeting or self._propose_meeting()
            turn.say(self.replies.strong_fit(current.caller_name))
            self._ask(turn, "meeting")
            return
        turn.say(ack)
        next_question = self._next_question(current)
        if next_question is not None:
            self._ask(turn, next_question)
            return
        reason = nurture_reason(facts, self.policy, current.signals())
        turn.move("wrap_up", "nurture" if reason else "qualification_incomplete")
        if not ack or reason in ("long_timeline", "not_decision_maker"):
            turn.say(self.replies.nurture(reason))
        self._ask(turn, "callback")

    def _next_question(self, current: ConversationState) -> Question | None:
        facts = current.facts
        unknown = {
            "need": facts.need is None and not current.no_need,
            "budget": facts.budget_usd is None and not current.no_budget,
            "authority": facts.decision_maker is None,
            "timeline": facts.timeline_months is None,
        }
        for question in self.question_order:
            if unknown[question] and question not in current.skipped:
                return question
        return None

    # --- objections, callbacks, handoff, voicemail ------------------------------------

    def _object(self, turn: _Turn) -> None:
        current = turn.state
        current.declined = True
        if current.objections == 0:
            current.objections = 1
            turn.move("objection_handler", "objection")
            turn.say(self.replies.rebuttal())
            self._ask(turn, "objection")
            return
        turn.move("wrap_up", "objection_unresolved")
        turn.say(self.replies.declined())
        turn.end()

    def _on_objection(self, turn: _Turn, heard: Understanding, text: str) -> None:
        current = turn.state
        if heard.callback_later:
            current.declined = False
            self._absorb(current, heard, text)
            self._callback(turn, heard)
            return
        if heard.affirmative is True or heard.has_bant:
            current.declined = False
            turn.move("qualifier", "objection_resolved")
            learned = self._absorb(current, heard, text)
            self._advance(turn, learned)
            return
        if heard.affirmative is False or heard.not_interested:
            self._object(turn)
            return
        current.attempts += 1
        if current.attempts >= _MAX_ATTEMPTS:
            self._object(turn)
            return
        if heard.asks_purpose or heard.asks_question:
            self._pitch(turn)
        else:
            turn.say(self.replies.not_caught())
        self._ask(turn, "objection", short=True, keep_attempts=True)

    def _callback(self, turn: _Turn, heard: Understanding) -> None:
        """The caller asked to be called back later."""
        current = turn.state
        current.callback_requested = True
        current.declined = False
        turn.move("wrap_up", "callback_requested")
        if heard.callback_when or heard.meeting_time or current.asked == "callback":
            turn.say(self.replies.callback_agreed(current.caller_name, when_known=True))
            turn.end()
            return
        turn.say(["No problem."])
        self._ask(turn, "callback_time")

    def _hand_off(self, turn: _Turn) -> None:
        current = turn.state
        current.human_requested = True
        turn.move("handoff", "human_requested")
        if self.transfer_number:
            current.transferred = True
            turn.say(self.replies.transferring())
            turn.transfer = True
            current.ended = True
            current.asked = None
            return
        turn.say(self.replies.no_one_to_transfer())
        self._ask(turn, "callback", short=True)

    def _on_callback_answer(self, turn: _Turn, heard: Understanding, text: str) -> None:
        """The answer to "may we call you back?" (after a nurture or a failed handoff)."""
        current = turn.state
        if current.asked == "callback_time" or heard.affirmative is not False:
            current.callback_requested = True
            known = current.asked == "callback_time" or bool(
                heard.callback_when or heard.meeting_time or heard.timeline_months
            )
            turn.say(self.replies.callback_agreed(current.caller_name, when_known=known))
        else:
            turn.say(self.replies.callback_declined())
        turn.end()

    def _leave_voicemail(self, turn: _Turn, *, speak: bool) -> None:
        turn.state.voicemail = True
        turn.move("voicemail", "voicemail_detected")
        if speak:
            turn.say(self.replies.voicemail())
        turn.end()

    # --- scheduling and wrapping up ---------------------------------------------------

    def _propose_meeting(self) -> str:
        """The next business day at ten in the morning, by weekday name."""
        day = self.today() + timedelta(days=1)
        while day.weekday() >= 5:
            day += timedelta(days=1)
        return f"{day.strftime('%A')} at 10 AM"

    def _on_scheduler(self, turn: _Turn, heard: Understanding, text: str) -> None:
        """The answer to a proposed time, or to "what time suits you?". A time the caller
        gives is booked, on the proposed day when they named none ("how about three?");
        asking for another time without naming one ("anything later?") is asked which;
        only a caller who cannot schedule now ("call me back next month") is deferred."""
        current = turn.state
        if current.asked == "meeting_confirm":
            self._on_read_back(turn, heard, text)
        elif heard.meeting_time:
            # the time on the table: our proposal, or the meeting being moved
            base = (current.proposed_meeting if current.asked == "meeting"
                    else current.facts.meeting_time if current.meeting_confirmed else None)
            when = on_day_of(heard.meeting_time, base or "", normalize(text))
            if current.asked == "meeting" and when == current.proposed_meeting:
                self._book(turn, when)  # our own proposal, said back to us
            else:
                self._read_back(turn, when)
        elif current.asked == "meeting" and heard.affirmative is True and not heard.proposes_time:
            self._book(turn, current.proposed_meeting or self._propose_meeting())
        elif heard.proposes_time and current.attempts + 1 < _MAX_ATTEMPTS:
            if current.asked == "meeting_time":
                current.attempts += 1
            turn.say(self.replies.repeat())  # "Sure."
            self._ask(turn, "meeting_time", keep_attempts=True)
        elif heard.callback_later:
            current.callback_requested = True
            turn.move("wrap_up", "callback_requested")
            turn.say(self.replies.meeting_deferred())
            self._ask(turn, "anything_else")
        elif heard.affirmative is False or heard.unsure or current.attempts + 1 >= _MAX_ATTEMPTS:
            if current.asked == "meeting":
                turn.say(["No problem."])
                self._ask(turn, "meeting_time")
            else:
                turn.move("wrap_up", "meeting_deferred")
                turn.say(self.replies.meeting_deferred())
                self._ask(turn, "anything_else")
        else:
            current.attempts += 1
            turn.say(self.replies.not_caught())
            self._ask(turn, current.asked or "meeting_time", short=True, keep_attempts=True)

    def _read_back(self, turn: _Turn, when: str) -> None:
        """A time the caller gave is said back before it is booked: over the phone
        "Wednesday at two" can arrive as "well you bet two", and a wrong meeting stated
        as fact is worse than one more question."""
        turn.state.pending_meeting = when
        self._ask(turn, "meeting_confirm", keep_attempts=True)

    def _on_read_back(self, turn: _Turn, heard: Understanding, text: str) -> None:
        """The answer to "Just to confirm, that's Wednesday at 2 PM. Is that right?"."""
        current = turn.state
        pending = current.pending_meeting or ""
        if heard.meeting_time:
            when = on_day_of(heard.meeting_time, pending, normalize(text))
            if when == pending:  # "yes, Wednesday at two"
                self._book(turn, when)
                return
            current.attempts += 1
            if current.attempts >= _MAX_ATTEMPTS:
                self._defer_meeting(turn)
                return
            turn.say(self.replies.misheard_time())
            self._read_back(turn, when)  # a correction is read back in turn
        elif heard.affirmative is True:
            self._book(turn, pending)
        elif heard.closing and not intents.detect_correction(normalize(text)):
            # "No, that's all, thanks": the time was heard back and let stand
            self._book(turn, pending, closing=True)
        elif heard.affirmative is False or heard.proposes_time:
            current.pending_meeting = None
            turn.say(self.replies.misheard_time())
            self._ask(turn, "meeting_time")
        elif heard.callback_later:
            current.pending_meeting = None
            current.callback_requested = True
            turn.move("wrap_up", "callback_requested")
            turn.say(self.replies.meeting_deferred())
            self._ask(turn, "anything_else")
        else:
            self._ask_again(turn, "meeting_confirm", give_up=self._defer_meeting)

    def _defer_meeting(self, turn: _Turn) -> None:
        """No time could be agreed for sure: the specialist will arrange one."""
        turn.state.pending_meeting = None
        turn.move("wrap_up", "meeting_deferred")
        turn.say(self.replies.meeting_deferred())
        self._ask(turn, "anything_else")

    def _book(self, turn: _Turn, when: str, *, closing: bool = False) -> None:
        current = turn.state
        moved = current.meeting_confirmed
        current.facts.meeting_time = when
        current.meeting_confirmed = True
        current.pending_meeting = None
        turn.move("wrap_up", "meeting_booked")
        turn.say(self.replies.moved(when) if moved else self.replies.booked(when))
        if closing:
            turn.say(self.replies.goodbye(current.caller_name))
            turn.end()
        else:
            self._ask(turn, "anything_else")

    def _on_wrap_up(self, turn: _Turn, heard: Understanding, text: str) -> None:
        current = turn.state
        if current.asked in ("callback", "callback_time"):
            self._on_callback_answer(turn, heard, text)
            return
        qualified = criteria_met(current.facts, self.policy).all_met
        if qualified and heard.meeting_time and heard.meeting_time != current.facts.meeting_time:
            when = on_day_of(heard.meeting_time, current.facts.meeting_time or "", normalize(text))
            turn.move("scheduler", "reschedule_requested")
            current.attempts = 0
            self._read_back(turn, when)
            return
        if qualified and heard.proposes_time and current.meeting_confirmed:
            turn.move("scheduler", "reschedule_requested")  # "can we make it earlier?"
            turn.say(self.replies.repeat())
            self._ask(turn, "meeting_time")
            return
        if heard.closing or heard.affirmative is False or heard.not_interested:
            turn.say(self.replies.goodbye(current.caller_name))
            turn.end()
            return
        current.attempts += 1
        if current.attempts >= _MAX_ATTEMPTS + 1:
            turn.say(self.replies.goodbye(current.caller_name))
            turn.end()
            return
        if heard.affirmative is True and len(text.split()) <= 3:
            turn.say(self.replies.what_else())
            current.asked = "anything_else"
            return
        if not heard.asks_question:
            # Not a question we can hand to the specialist: most often the caller's
            # "that's everything, thanks" misheard. Close rather than answer it.
            turn.say(self.replies.goodbye(current.caller_name))
            turn.end()
            return
        turn.say(self.replies.specialist_will_answer())
        self._ask(turn, "anything_else", short=True, keep_attempts=True)

    # --- helpers ----------------------------------------------------------------------

    def _pitch(self, turn: _Turn) -> None:
        turn.say(self.replies.purpose())
        turn.state.pitched = True

    def _ask(self, turn: _Turn, question: Question, *, short: bool = False,
             keep_attempts: bool = False, speak: bool = True) -> None:
        current = turn.state
        if question != current.asked and not keep_attempts:
            current.attempts = 0
        current.times_asked = current.times_asked + 1 if question == current.asked else 1
        current.asked = question
        confirming = question == "meeting_confirm"
        when = current.pending_meeting if confirming else current.proposed_meeting
        amount = (current.pending_timeline if question == "timeline_confirm"
                  else current.pending_budget)
        spoken = self.replies.question(question, short=short, proposed=when, amount=amount)
        current.last_question = " ".join(
            self.replies.question(question, proposed=when, amount=amount))
        if speak:
            turn.say(spoken)

    @staticmethod
    def _put_enough(current: ConversationState) -> bool:
        """Whether the pending question was put `_MAX_PUTS` times in a row already."""
        return current.times_asked >= _MAX_PUTS

    def _finish(self, turn: _Turn) -> tuple[ConversationState, AgentReply]:
        current = turn.state
        current.outcome = reached_outcome(current.facts, self.policy, current.signals())
        return current, turn.reply()


_LEADING_NO = re.compile(
    r"^\s*(?:no|nope|nah|not really|not now)\b[\s,.!]*(?:(?:thanks|thank you)\b[\s,.!]*)?",
    re.IGNORECASE,
)


def _after_no(text: str) -> str:
    """What a line says after its opening no ("No thanks, we ..." -> "we ...")."""
    return _LEADING_NO.sub("", text, count=1).strip()


def all_prompts(settings: VoiceAgentIntegrationConfig) -> list[str]:
    """Every sentence the script's agents can say with these settings' company and agent
    names: what callers hear, and so the words their answers echo."""
    integration = settings.agent_integration
    return Replies(company=integration.company_name, agent=integration.agent_name,
                   own_replies=settings.script.replies,
                   own_questions=settings.script.questions).every_sentence()

"""The qualification policy: which BANT criteria a call meets and what its outcome is.

Owns DESIGN.md's default policy with every number taken from
`switchboard.settings.QualificationPolicy`. The outcome of a call is decided
from its facts and from what the conversation reached (`CallSignals`), in this
order of precedence:

1. `opted_out` — the caller asked not to be called again; wins over everything;
2. `transferred` — the caller asked for a person and was put through;
3. `voicemail` — an answering machine picked up;
4. `qualified` — all four criteria met, booked or not;
5. `nurture` — the caller asked to be called back, or to be sent information (a
   text with a link) instead of talking now (an invitation to follow up outweighs a
   weak fact: "no budget this year, call me in January");
6. `disqualified` — no need, no budget or a budget below the minimum, or the
   caller declined to go on;
7. `nurture` — interested, but the timeline is too long, someone else decides,
   or they wanted a person when none could take the call;
8. `abandoned` — none of these was reached.
"""

from __future__ import annotations

from dataclasses import dataclass

from switchboard.models import CallFacts, Outcome
from switchboard.settings import QualificationPolicy

CRITERIA = ("budget", "authority", "need", "timeline")


@dataclass(frozen=True)
class CallSignals:
    """What a conversation reached besides the BANT facts themselves."""

    opted_out: bool = False
    transferred: bool = False
    voicemail: bool = False
    callback_requested: bool = False
    human_requested: bool = False  # asked for a person; no one could take the call
    declined: bool = False  # not interested, still after one rebuttal
    no_need: bool = False
    no_budget: bool = False
    # The caller agreed to be sent information ("sms_link", or "email" from a person).
    follow_up: str | None = None


@dataclass(frozen=True)
class Criteria:
    """Which of the four BANT criteria the facts meet."""

    budget: bool
    authority: bool
    need: bool
    timeline: bool

    @property
    def met(self) -> tuple[str, ...]:
        return tuple(name for name in CRITERIA if getattr(self, name))

    @property
    def missing(self) -> tuple[str, ...]:
        return tuple(name for name in CRITERIA if not getattr(self, name))

    @property
    def all_met(self) -> bool:
        return len(self.met) == len(CRITERIA)


def criteria_met(facts: CallFacts, policy: QualificationPolicy) -> Criteria:
    return Criteria(
        budget=facts.budget_usd is not None and facts.budget_usd >= policy.min_budget_usd,
        # a shared decision is recorded as True: the caller decides with others
        authority=facts.decision_maker is True,
        need=bool(facts.need),
        timeline=facts.timeline_months is not None
        and facts.timeline_months <= policy.max_timeline_months,
    )


def qualification_score(facts: CallFacts, policy: QualificationPolicy) -> float:
    """The share of the four criteria met: 0, .25, .5, .75 or 1."""
    return len(criteria_met(facts, policy).met) / len(CRITERIA)


def is_qualified(facts: CallFacts, policy: QualificationPolicy) -> bool:
    return criteria_met(facts, policy).all_met


def budget_below_minimum(facts: CallFacts, policy: QualificationPolicy) -> bool:
    return facts.budget_usd is not None and facts.budget_usd < policy.min_budget_usd


def is_disqualified(facts: CallFacts, policy: QualificationPolicy,
                    signals: CallSignals | None = None) -> bool:
    """No need, no budget or one below the minimum, or the caller declined."""
    signals = signals or CallSignals()
    return (
        signals.no_need or signals.no_budget or signals.declined
        or budget_below_minimum(facts, policy)
    )


def nurture_reason(facts: CallFacts, policy: QualificationPolicy,
                   signals: CallSignals | None = None) -> str | None:
    """Why a lead is worth calling again later, or None.

    "callback_requested", "follow_up" (the caller asked to be sent information),
    "long_timeline", "not_decision_maker" or "human_requested" (a person was asked for
    and none could take the call).
    """
    signals = signals or CallSignals()
    if signals.callback_requested:
        return "callback_requested"
    if signals.follow_up:
        return "follow_up"
    if facts.timeline_months is not None and facts.timeline_months > policy.max_timeline_months:
        return "long_timeline"
    if facts.decision_maker is False:
        return "not_decision_maker"
    if signals.human_requested:
        return "human_requested"
    return None


def wants_premium(facts: CallFacts, policy: QualificationPolicy) -> bool:
    """True when the call earns asking for the premium tier."""
    return qualification_score(facts, policy) >= policy.premium_score or (
        facts.budget_usd is not None and facts.budget_usd >= policy.premium_budget_usd
    )


def reached_outcome(facts: CallFacts, policy: QualificationPolicy,
                    signals: CallSignals | None = None) -> Outcome | None:
    """The outcome the call has reached so far, or None when none yet."""
    signals = signals or CallSignals()
    if signals.opted_out:
        return Outcome.OPTED_OUT
    if signals.transferred:
        return Outcome.TRANSFERRED
    if signals.voicemail:
        return Outcome.VOICEMAIL
    if is_qualified(facts, policy):
        return Outcome.QUALIFIED
    if signals.callback_requested or signals.follow_up:
        return Outcome.NURTURE
    if is_disqualified(facts, policy, signals):
        return Outcome.DISQUALIFIED
    if nurture_reason(facts, policy, signals):
        return Outcome.NURTURE
    return None


def final_outcome(facts: CallFacts, policy: QualificationPolicy,
                  signals: CallSignals | None = None) -> Outcome:
    """The outcome of a call that has ended: what it reached, else abandoned."""
    return reached_outcome(facts, policy, signals) or Outcome.ABANDONED

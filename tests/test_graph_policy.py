"""The qualification policy: BANT criteria, premium, and the outcome of a call."""

from __future__ import annotations

import pytest

from graph.workflow.policy import (
    CallSignals,
    criteria_met,
    final_outcome,
    is_disqualified,
    nurture_reason,
    qualification_score,
    reached_outcome,
    wants_premium,
)
from switchboard.models import CallFacts, Outcome
from switchboard.settings import QualificationPolicy

POLICY = QualificationPolicy()
QUALIFIED = CallFacts(
    budget_usd=50_000, decision_maker=True, need="We miss calls", timeline_months=3
)


def test_each_criterion_met_adds_a_quarter_to_the_score() -> None:
    facts = CallFacts()
    assert qualification_score(facts, POLICY) == 0
    facts.need = "Leads go cold"
    assert qualification_score(facts, POLICY) == 0.25
    facts.budget_usd = 10_000
    assert qualification_score(facts, POLICY) == 0.5
    facts.decision_maker = True
    assert qualification_score(facts, POLICY) == 0.75
    facts.timeline_months = 6
    assert qualification_score(facts, POLICY) == 1.0


@pytest.mark.parametrize(
    ("facts", "missing"),
    [
        (
            CallFacts(budget_usd=9_999, decision_maker=True, need="x", timeline_months=1),
            ("budget",),
        ),
        (
            CallFacts(budget_usd=20_000, decision_maker=False, need="x", timeline_months=1),
            ("authority",),
        ),
        (CallFacts(budget_usd=20_000, decision_maker=True, need="", timeline_months=1), ("need",)),
        (
            CallFacts(budget_usd=20_000, decision_maker=True, need="x", timeline_months=6.5),
            ("timeline",),
        ),
        (CallFacts(), ("budget", "authority", "need", "timeline")),
    ],
)
def test_criteria_report_what_is_missing(facts: CallFacts, missing: tuple[str, ...]) -> None:
    assert criteria_met(facts, POLICY).missing == missing


def test_thresholds_are_inclusive() -> None:
    facts = CallFacts(budget_usd=10_000, decision_maker=True, need="x", timeline_months=6)
    assert criteria_met(facts, POLICY).all_met


def test_settings_change_the_thresholds() -> None:
    strict = QualificationPolicy(min_budget_usd=100_000, max_timeline_months=2)
    assert criteria_met(QUALIFIED, strict).missing == ("budget", "timeline")


@pytest.mark.parametrize(
    ("facts", "premium"),
    [
        (CallFacts(budget_usd=50_000), True),  # budget alone reaches the premium budget
        (CallFacts(budget_usd=49_999), False),
        (CallFacts(budget_usd=20_000, decision_maker=True, need="x"), True),  # score .75
        (CallFacts(decision_maker=True, need="x"), False),  # score .5
        (CallFacts(), False),
    ],
)
def test_premium_is_wanted_at_a_high_score_or_a_big_budget(facts: CallFacts, premium: bool) -> None:
    assert wants_premium(facts, POLICY) is premium


@pytest.mark.parametrize(
    ("facts", "signals", "disqualified"),
    [
        (CallFacts(), CallSignals(no_need=True), True),
        (CallFacts(), CallSignals(no_budget=True), True),
        (CallFacts(budget_usd=5_000), CallSignals(), True),
        (CallFacts(), CallSignals(declined=True), True),
        (CallFacts(budget_usd=10_000), CallSignals(), False),
        (CallFacts(decision_maker=False, timeline_months=24), CallSignals(), False),
    ],
)
def test_disqualification(facts: CallFacts, signals: CallSignals, disqualified: bool) -> None:
    assert is_disqualified(facts, POLICY, signals) is disqualified


@pytest.mark.parametrize(
    ("facts", "signals", "reason"),
    [
        (CallFacts(timeline_months=12), CallSignals(), "long_timeline"),
        (CallFacts(decision_maker=False), CallSignals(), "not_decision_maker"),
        (CallFacts(), CallSignals(callback_requested=True), "callback_requested"),
        (CallFacts(), CallSignals(human_requested=True), "human_requested"),
        (CallFacts(timeline_months=6, decision_maker=True), CallSignals(), None),
    ],
)
def test_nurture_reasons(facts: CallFacts, signals: CallSignals, reason: str | None) -> None:
    assert nurture_reason(facts, POLICY, signals) == reason


def test_opting_out_wins_over_everything() -> None:
    every_signal = CallSignals(
        opted_out=True, transferred=True, voicemail=True, callback_requested=True
    )
    assert final_outcome(QUALIFIED, POLICY, every_signal) is Outcome.OPTED_OUT


def test_a_transfer_outranks_a_qualified_lead() -> None:
    assert final_outcome(QUALIFIED, POLICY, CallSignals(transferred=True)) is Outcome.TRANSFERRED


def test_voicemail_is_its_own_outcome() -> None:
    assert final_outcome(CallFacts(), POLICY, CallSignals(voicemail=True)) is Outcome.VOICEMAIL


def test_all_four_criteria_qualify_even_without_a_booked_meeting() -> None:
    assert QUALIFIED.meeting_time is None
    assert final_outcome(QUALIFIED, POLICY) is Outcome.QUALIFIED


def test_a_long_timeline_or_another_decider_is_nurture() -> None:
    later = QUALIFIED.model_copy(update={"timeline_months": 12})
    someone_else = QUALIFIED.model_copy(update={"decision_maker": False})
    assert final_outcome(later, POLICY) is Outcome.NURTURE
    assert final_outcome(someone_else, POLICY) is Outcome.NURTURE


def test_no_need_or_a_small_budget_is_disqualified() -> None:
    small = QUALIFIED.model_copy(update={"budget_usd": 2_000})
    assert final_outcome(small, POLICY) is Outcome.DISQUALIFIED
    assert final_outcome(CallFacts(), POLICY, CallSignals(no_need=True)) is Outcome.DISQUALIFIED


def test_a_weak_fact_does_not_outrank_disqualification() -> None:
    facts = CallFacts(budget_usd=2_000, decision_maker=False, timeline_months=12)
    assert final_outcome(facts, POLICY) is Outcome.DISQUALIFIED


def test_an_invitation_to_call_back_outranks_disqualification() -> None:
    signals = CallSignals(no_budget=True, callback_requested=True)
    assert final_outcome(CallFacts(), POLICY, signals) is Outcome.NURTURE


def test_a_person_asked_for_without_a_transfer_number_is_nurture() -> None:
    assert final_outcome(CallFacts(), POLICY, CallSignals(human_requested=True)) is (
        Outcome.NURTURE
    )


def test_nothing_reached_is_abandoned() -> None:
    assert reached_outcome(CallFacts(), POLICY) is None
    assert final_outcome(CallFacts(), POLICY) is Outcome.ABANDONED
    partial = CallFacts(need="We miss calls", budget_usd=30_000)
    assert final_outcome(partial, POLICY) is Outcome.ABANDONED

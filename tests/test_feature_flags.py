"""Feature flags: a share of leads, sticky per lead, inside optional targeting."""

from __future__ import annotations

import pytest

from switchboard.flags import FlagRule, Lead, assign_flags, flag_on, in_share

LEADS = [f"+1555{n:07d}" for n in range(500)]


def test_a_flag_at_twenty_percent_goes_to_twenty_percent_of_leads() -> None:
    rule = FlagRule(percent=20)
    share = sum(flag_on("new_greeting", rule, Lead(number)) for number in LEADS) / len(LEADS)
    assert 0.16 <= share <= 0.24


def test_a_lead_gets_the_same_answer_on_every_call() -> None:
    rule = FlagRule(percent=20)
    first = [flag_on("new_greeting", rule, Lead(number)) for number in LEADS]
    again = [flag_on("new_greeting", rule, Lead(number)) for number in LEADS]
    assert first == again


def test_assignment_is_the_documented_hash_of_name_and_number() -> None:
    import hashlib

    for number in LEADS[:50]:
        digest = hashlib.sha256(f"integration_enabled:{number}".encode()).hexdigest()
        expected = int(digest[:8], 16) % 10000 < 37.5 * 100
        assert in_share("integration_enabled", number, 37.5) is expected


def test_raising_the_percentage_only_adds_leads() -> None:
    at_10 = {n for n in LEADS if in_share("f", n, 10)}
    at_30 = {n for n in LEADS if in_share("f", n, 30)}
    assert at_10 <= at_30 and len(at_30) > len(at_10)


def test_zero_and_a_hundred_percent_are_nobody_and_everybody() -> None:
    assert not any(in_share("f", n, 0) for n in LEADS)
    assert all(in_share("f", n, 100) for n in LEADS)


def test_two_flags_split_leads_independently() -> None:
    a = {n for n in LEADS if in_share("a", n, 50)}
    b = {n for n in LEADS if in_share("b", n, 50)}
    assert a != b


def test_targeting_by_direction_campaign_and_number_prefix() -> None:
    rule = FlagRule(percent=100, directions=["outbound"], campaigns=["spring"],
                    number_prefixes=["+1555"])
    assert flag_on("f", rule, Lead("+15550001111", "outbound", "spring"))
    assert not flag_on("f", rule, Lead("+15550001111", "inbound", "spring"))
    assert not flag_on("f", rule, Lead("+15550001111", "outbound", "autumn"))
    assert not flag_on("f", rule, Lead("+15550001111", "outbound", None))
    assert not flag_on("f", rule, Lead("+14150001111", "outbound", "spring"))


def test_every_flag_is_answered_for_a_lead() -> None:
    flags = {"on": FlagRule(percent=100), "off": FlagRule(percent=0)}
    assert assign_flags(flags, Lead("+15550001111")) == {"off": False, "on": True}


@pytest.mark.parametrize("percent", [-1, 100.5])
def test_a_percentage_outside_0_to_100_is_refused(percent: float) -> None:
    with pytest.raises(ValueError, match="percent"):
        FlagRule(percent=percent)

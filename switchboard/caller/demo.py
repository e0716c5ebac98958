"""The call `switchboard call` places when no scenario is given: a lead who qualifies."""

from __future__ import annotations

from switchboard.scenario import Scenario, parse_scenario

DEMO_SCENARIO: Scenario = parse_scenario(
    {
        "name": "demo-front-desk-owner",
        "description": "A clinic owner whose front desk misses calls; qualifies and books.",
        "direction": "inbound",
        "from": "+15550107311",
        "to": "+15550100100",
        "lines": [
            "Hi, yes, this is Morgan from Harbor Dental.",
            "Sure, go ahead, I have a couple of minutes.",
            "Our front desk misses a lot of calls at lunch and on Saturdays.",
            "We have put aside roughly thirty thousand dollars a year for it.",
            "I own the practice, so it is my decision.",
            "Ideally within the next two months.",
            "Wednesday at two in the afternoon would suit me.",
            "That is everything, thanks.",
            {"hangup": True},
        ],
        "expect": {
            "outcome": "qualified",
            "budget_usd": 30000,
            "decision_maker": True,
            "timeline_months": 2,
        },
    },
    source="built-in demo scenario",
)

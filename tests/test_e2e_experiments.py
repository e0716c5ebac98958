"""Against a real `switchboard serve` whose live settings hold experiments: a text call
hears its variant's greeting and question order, its record shows the experiment and
the variant, a lead's second call gets the same variant, and the experiment's analytics
count the calls by the variants recorded.

Then the experiment of issue 13's "must show": 60 calls of generated callers (the
callers of `switchboard demo-data`) across two variants whose minimum budgets differ,
some numbers calling twice. Every number keeps its variant, the callers whose budget
lies between the two minimums are qualified by one variant and disqualified by the
other, and `/v1/analytics/experiments/{name}` equals what the call records say, with
its interval and test equal to a reference computed here from first principles.

The live settings are read from the Serve config a server starts with, so this module
runs a Switchboard of its own (slow tier) from serve_config.yaml with both experiments
added to its `user_config`.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from switchboard.caller.batch import place_calls
from switchboard.caller.generated import CallerGenerator
from switchboard.experiments import ExperimentRule, assign_variant
from switchboard.flags import Lead
from tests.e2e import RunningSwitchboard, live_text_call, run_switchboard, serve_config

pytestmark = [pytest.mark.slow, pytest.mark.parallel_safe, pytest.mark.timeout(600)]

EXPERIMENT = "opening"
WARM_GREETING = ["Hello and welcome to {company}, {agent} speaking.",
                 "This call may be recorded."]
OPENING: dict[str, Any] = {
    "variants": {
        "control": {},
        "warm": {"script": {"replies": {"greeting": WARM_GREETING},
                            "question_order": ["timeline", "need", "budget", "authority"]}},
    },
    "split": {"control": 50, "warm": 50},
    "directions": ["inbound"],
}

# The "must show" experiment. Its name sorts before "opening", so the leads it targets
# (numbers in two area codes the generated callers are given) take part in it and in
# nothing else; every other inbound call is in "opening".
BUDGET_BAR = "budget-bar"
HIGH_MINIMUM_USD = 30000
BUDGET_BAR_AREA_CODES = ("212", "415")
BUDGET_BAR_RULE: dict[str, Any] = {
    "variants": {
        "low-bar": {},  # the default policy: qualified from $10,000 a year
        "high-bar": {"qualification": {"min_budget_usd": HIGH_MINIMUM_USD}},
    },
    "split": {"low-bar": 50, "high-bar": 50},
    "number_prefixes": [f"+1{code}555" for code in BUDGET_BAR_AREA_CODES],
}
GENERATED_CALLS = 60


def _number_in(variant: str) -> str:
    """A lead's number the experiment gives `variant` (the assignment is a pure hash)."""
    rule = ExperimentRule.model_validate(OPENING)
    return next(number for number in (f"+1555801{n:04d}" for n in range(1000))
                if assign_variant(EXPERIMENT, rule, Lead(number)) == variant)


@pytest.fixture(scope="module")
def experiment_switchboard(tmp_path_factory: pytest.TempPathFactory
                           ) -> Iterator[RunningSwitchboard]:
    workdir = tmp_path_factory.mktemp("experiments")

    def with_experiment(config: dict) -> None:
        for deployment in config["applications"][0]["deployments"]:
            if "user_config" in deployment:  # one block for every deployment that reads it
                deployment["user_config"] = {
                    "version": "ab-1",
                    "experiments": {EXPERIMENT: OPENING, BUDGET_BAR: BUDGET_BAR_RULE},
                }

    with run_switchboard(workdir, config=serve_config(workdir, with_experiment)) as server:
        yield server


async def test_a_call_hears_its_variant_and_its_record_shows_it(
    experiment_switchboard: RunningSwitchboard,
) -> None:
    server = experiment_switchboard
    heard: dict[str, dict[str, Any]] = {}
    for variant in ("control", "warm"):
        number = _number_in(variant)
        calls = []
        for _ in range(2):  # the lead calls twice: the same variant both times
            async with live_text_call(server, number) as call:
                greeting = call.greeting
                await call.say("This is Sam.")
                asked = (await call.say("Sure, go ahead.")).sentences
            report = await server.report(call.call_sid)
            calls.append({"greeting": greeting, "asked": asked, "report": report})
        heard[variant] = calls[0]
        for made in calls:
            assert made["report"]["experiment"] == EXPERIMENT
            assert made["report"]["variant"] == variant
            assert made["report"]["config_version"] == "ab-1"
            assert made["greeting"] == calls[0]["greeting"]

    control, warm = heard["control"], heard["warm"]
    assert warm["greeting"][0] == "Hello and welcome to Switchboard, Alex speaking."
    assert control["greeting"][0] == "Thanks for calling Switchboard, this is Alex."
    assert "When would you want something like this in place?" in warm["asked"]
    assert "What's your biggest challenge with handling calls or leads today?" in control["asked"]

    async with httpx.AsyncClient(base_url=server.base_url) as client:
        response = await client.get(f"/v1/analytics/experiments/{EXPERIMENT}",
                                    headers={"Authorization": f"Bearer {server.api_token}"})
    assert response.status_code == 200, response.text
    counted = {row["variant"]: row["calls"] for row in response.json()["variants"]}
    assert counted == {"control": 2, "warm": 2}


async def test_sixty_generated_calls_analytics_equal_the_records(
    experiment_switchboard: RunningSwitchboard,
) -> None:
    server = experiment_switchboard
    calls = CallerGenerator(
        seed=13, area_codes=BUDGET_BAR_AREA_CODES, prefix="budget-bar-e2e"
    ).inbound_calls(GENERATED_CALLS)
    placed = await place_calls(calls, base_url=server.base_url, api_token=server.api_token,
                               concurrency=6)
    assert [p.error for p in placed if p.error] == []
    assert not any(p.skipped for p in placed)

    headers = {"Authorization": f"Bearer {server.api_token}"}
    async with httpx.AsyncClient(base_url=server.base_url, headers=headers, timeout=30) as api:
        reports = {}
        for call in calls:
            response = await api.get(f"/v1/calls/{call.call_sid}")
            assert response.status_code == 200, response.text
            reports[call.call_sid] = response.json()
        listed = await _all_calls(api, experiment=BUDGET_BAR)
        analytics = await api.get(f"/v1/analytics/experiments/{BUDGET_BAR}")
    assert analytics.status_code == 200, analytics.text

    # Every generated call, and nothing else, is in the experiment; the list says what
    # the reports say.
    assert {c["call_sid"] for c in listed} == set(reports)
    for summary in listed:
        report = reports[summary["call_sid"]]
        for key in ("experiment", "variant", "status", "outcome"):
            assert summary[key] == report[key], (key, summary, report)

    # Sticky per number: some numbers called twice, and each got the one variant its
    # hash gives, on every call.
    rule = ExperimentRule.model_validate(BUDGET_BAR_RULE)
    variants_of: dict[str, set[str]] = defaultdict(set)
    for call in calls:
        variants_of[call.persona.number].add(reports[call.call_sid]["variant"])
    repeated = {c.persona.number for c in calls if c.repeat}
    assert len(repeated) >= 5
    for number, variants in variants_of.items():
        assert variants == {assign_variant(BUDGET_BAR, rule, Lead(number))}, number
    assert set().union(*variants_of.values()) == {"low-bar", "high-bar"}

    # The callers react to the variants: a caller who qualifies on everything else,
    # with a budget between the two minimums, is qualified by low-bar and disqualified
    # by high-bar; above both minimums, by both.
    between: dict[str, int] = defaultdict(int)
    for call in calls:
        expect = call.scenario.expect
        if call.kind != "qualified" or expect is None:
            continue
        report = reports[call.call_sid]
        budget = expect.budget_usd
        assert report["facts"]["budget_usd"] == budget, report["turns"]
        low = report["variant"] == "low-bar"
        wanted = "qualified" if low or budget >= HIGH_MINIMUM_USD else "disqualified"
        assert report["outcome"] == wanted, (report["variant"], budget, report["turns"])
        if budget < HIGH_MINIMUM_USD:
            between[report["variant"]] += 1
    assert between["low-bar"] >= 1 and between["high-bar"] >= 1, between

    # The analytics per variant equal the counts of the call records.
    counted: dict[str, dict[str, int]] = defaultdict(lambda: {"calls": 0, "ended": 0,
                                                              "conversions": 0})
    for report in reports.values():
        row = counted[report["variant"]]
        row["calls"] += 1
        ended = report["status"] != "in_progress"
        row["ended"] += ended
        row["conversions"] += ended and report["outcome"] == "qualified"
    body = analytics.json()
    rows = {row["variant"]: row for row in body["variants"]}
    assert set(rows) == set(counted)
    for variant, expected in counted.items():
        row = rows[variant]
        assert {k: row[k] for k in expected} == expected, variant
        assert row["conversion"] == pytest.approx(expected["conversions"] / expected["ended"])

    # The interval and the test equal the reference computation.
    assert body["interval"]["method"] == "Wilson score"
    assert body["test"]["reference_variant"] == "high-bar"  # the first by name
    reference = counted["high-bar"]
    for variant, expected in counted.items():
        row = rows[variant]
        low, high = _wilson_reference(expected["conversions"], expected["ended"])
        assert row["ci_low"] == pytest.approx(low, abs=1e-12)
        assert row["ci_high"] == pytest.approx(high, abs=1e-12)
        if variant == "high-bar":
            assert row["z"] is None and row["p_value"] is None
            continue
        z, p_value = _pooled_z_reference(reference["conversions"], reference["ended"],
                                         expected["conversions"], expected["ended"])
        assert row["z"] == pytest.approx(z, rel=1e-9)
        assert row["p_value"] == pytest.approx(p_value, rel=1e-9, abs=1e-15)
        assert row["significant"] == (p_value < 0.05)


async def _all_calls(api: httpx.AsyncClient, **filters: str) -> list[dict[str, Any]]:
    """Every call of `GET /v1/calls` with `filters`, page by page (small pages, so the
    cursor is followed)."""
    calls: list[dict[str, Any]] = []
    params: dict[str, Any] = {**filters, "limit": 25}
    while True:
        response = await api.get("/v1/calls", params=params)
        assert response.status_code == 200, response.text
        page = response.json()
        calls += page["calls"]
        if page["next_cursor"] is None:
            return calls
        params["cursor"] = page["next_cursor"]


_NORMAL = statistics.NormalDist()


def _wilson_reference(successes: int, trials: int) -> tuple[float, float]:
    """The 95 % Wilson score interval from its definition: the proportions p whose
    score test |p_hat - p| / sqrt(p (1 - p) / n) <= z does not reject, i.e. the roots
    of (n + z^2) p^2 - (2 n p_hat + z^2) p + n p_hat^2 = 0."""
    z = _NORMAL.inv_cdf(0.975)
    p_hat = successes / trials
    a = trials + z * z
    b = -(2 * trials * p_hat + z * z)
    c = trials * p_hat * p_hat
    root = math.sqrt(b * b - 4 * a * c)
    return max(0.0, (-b - root) / (2 * a)), min(1.0, (-b + root) / (2 * a))


def _pooled_z_reference(successes_a: int, trials_a: int, successes_b: int, trials_b: int
                        ) -> tuple[float, float]:
    """The pooled two-proportion z statistic of B against A and its two-sided p-value,
    from the normal distribution's CDF."""
    pooled = (successes_a + successes_b) / (trials_a + trials_b)
    standard_error = math.sqrt(pooled * (1 - pooled) * (1 / trials_a + 1 / trials_b))
    z = (successes_b / trials_b - successes_a / trials_a) / standard_error
    return z, 2 * (1 - _NORMAL.cdf(abs(z)))

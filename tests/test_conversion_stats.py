"""The experiment statistics (`switchboard.conversion_stats`) against reference values:
Wilson intervals from Newcombe (1998) and by solving the score test's equation
directly; the pooled z-test against the Pearson chi-square of the 2x2 table (equal for
one degree of freedom), the normal tail by numerical integration, and known quantiles.
scipy is not installed, so the references are computed here by other routes."""

from __future__ import annotations

import math

import pytest

from switchboard.conversion_stats import (
    Z_95,
    normal_two_sided_p,
    two_proportion_z_test,
    wilson_interval,
)

# Newcombe RG (1998), "Two-sided confidence intervals for the single proportion:
# comparison of seven methods", Statistics in Medicine 17:857-872, Table II, method 3
# (score interval without continuity correction), to four decimals.
NEWCOMBE_WILSON = [
    (81, 263, 0.2553, 0.3662),
    (15, 148, 0.0624, 0.1605),
    (0, 20, 0.0000, 0.1611),
    (1, 29, 0.0061, 0.1718),
]


@pytest.mark.parametrize(("successes", "trials", "low", "high"), NEWCOMBE_WILSON)
def test_wilson_interval_matches_newcombes_published_values(
    successes: int, trials: int, low: float, high: float
) -> None:
    interval = wilson_interval(successes, trials)
    assert interval is not None
    assert (round(interval.low, 4), round(interval.high, 4)) == (low, high)


def _score_bound(successes: int, trials: int, above: bool) -> float:
    """The p where the score statistic |p̂ - p| / sqrt(p(1-p)/n) equals z, by bisection:
    the Wilson bound's definition, not its closed form."""
    observed = successes / trials
    lo, hi = (observed, 1.0) if above else (0.0, observed)
    for _ in range(200):
        mid = (lo + hi) / 2
        score = abs(observed - mid) / math.sqrt(mid * (1 - mid) / trials)
        inside = score < Z_95
        if above:
            lo, hi = (mid, hi) if inside else (lo, mid)
        else:
            lo, hi = (lo, mid) if inside else (mid, hi)
    return (lo + hi) / 2


@pytest.mark.parametrize(("successes", "trials"), [(1, 7), (30, 30 + 41), (44, 60), (499, 1000)])
def test_wilson_interval_bounds_are_where_the_score_test_reaches_z(
    successes: int, trials: int
) -> None:
    interval = wilson_interval(successes, trials)
    assert interval is not None
    assert interval.low == pytest.approx(_score_bound(successes, trials, above=False), abs=1e-9)
    assert interval.high == pytest.approx(_score_bound(successes, trials, above=True), abs=1e-9)


def _pearson_chi_square(a: int, n_a: int, b: int, n_b: int) -> float:
    """Σ (observed - expected)² / expected over the 2x2 table (no continuity correction)."""
    table = [[a, n_a - a], [b, n_b - b]]
    total = n_a + n_b
    columns = [a + b, total - a - b]
    chi2 = 0.0
    for row, row_total in zip(table, (n_a, n_b), strict=True):
        for observed, column_total in zip(row, columns, strict=True):
            expected = row_total * column_total / total
            chi2 += (observed - expected) ** 2 / expected
    return chi2


def _normal_tail_by_integration(z: float) -> float:
    """2 * ∫_|z|^∞ φ(x) dx by Simpson's rule (to 12 standard deviations)."""
    a, b, steps = abs(z), 12.0, 20_000
    h = (b - a) / steps
    pdf = [math.exp(-((a + i * h) ** 2) / 2) / math.sqrt(2 * math.pi) for i in range(steps + 1)]
    return 2 * h / 3 * (pdf[0] + pdf[-1] + 4 * sum(pdf[1:-1:2]) + 2 * sum(pdf[2:-1:2]))


@pytest.mark.parametrize(
    ("a", "n_a", "b", "n_b"),
    [(30, 100, 45, 100), (12, 30, 21, 30), (200, 1000, 230, 1000), (5, 40, 3, 55)],
)
def test_the_pooled_z_test_is_the_pearson_chi_square_of_the_table(
    a: int, n_a: int, b: int, n_b: int
) -> None:
    test = two_proportion_z_test(a, n_a, b, n_b)
    assert test is not None
    assert test.z**2 == pytest.approx(_pearson_chi_square(a, n_a, b, n_b), rel=1e-12)
    # z's sign says which way: positive when the second variant converts better.
    assert math.copysign(1, test.z) == math.copysign(1, b / n_b - a / n_a)
    assert test.p_value == pytest.approx(_normal_tail_by_integration(test.z), rel=1e-6)


def test_a_known_case_computed_by_hand() -> None:
    # 30/100 vs 45/100: pooled 0.375, SE sqrt(0.375 * 0.625 * 0.02) = 0.0684653,
    # z = 0.15 / 0.0684653 = 2.19089, two-sided p = 0.028460.
    test = two_proportion_z_test(30, 100, 45, 100)
    assert test is not None
    assert test.z == pytest.approx(2.19089, abs=1e-5)
    assert test.p_value == pytest.approx(0.028460, abs=1e-6)
    assert test.significant


@pytest.mark.parametrize(("z", "p"), [(1.959963984540054, 0.05), (2.5758293035489, 0.01),
                                      (1.6448536269514722, 0.10), (0.0, 1.0)])
def test_the_normal_tail_at_known_quantiles(z: float, p: float) -> None:
    assert normal_two_sided_p(z) == pytest.approx(p, rel=1e-9)
    assert normal_two_sided_p(-z) == pytest.approx(p, rel=1e-9)


def test_no_difference_is_not_significant_and_no_data_gives_no_answer() -> None:
    same = two_proportion_z_test(20, 100, 20, 100)
    assert same is not None and same.z == 0 and same.p_value == 1 and not same.significant
    assert two_proportion_z_test(0, 0, 3, 10) is None
    # Both never convert: no variance, nothing to tell.
    assert two_proportion_z_test(0, 50, 0, 60) is None
    assert wilson_interval(0, 0) is None
    everything = wilson_interval(12, 12)
    assert everything is not None and everything.high == 1.0 and everything.low < 1.0


def test_impossible_counts_are_refused() -> None:
    with pytest.raises(ValueError):
        wilson_interval(5, 3)
    with pytest.raises(ValueError):
        two_proportion_z_test(1, 10, -1, 10)

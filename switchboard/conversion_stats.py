"""The statistics of an experiment's conversions: a proportion's 95 % Wilson score
interval, and the pooled two-proportion z-test between two variants.

Pure functions of counts, no I/O; `db.analytics` calls them on what PostgreSQL counted.
The Wilson interval rather than the textbook (Wald) one because a variant of a young
experiment has few calls and conversions near 0 or 1, where Wald's interval is too
narrow and leaves [0, 1].
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# The two-sided 97.5 % quantile of the standard normal distribution (95 % confidence).
Z_95 = 1.959963984540054
SIGNIFICANCE_LEVEL = 0.05
TEST_NAME = "two-proportion z-test, pooled variance, two-sided"


@dataclass(frozen=True)
class Interval:
    low: float
    high: float


@dataclass(frozen=True)
class ZTest:
    """The test of H0 "both variants convert at the same rate"."""

    z: float
    p_value: float

    @property
    def significant(self) -> bool:
        return self.p_value < SIGNIFICANCE_LEVEL


def wilson_interval(successes: int, trials: int, z: float = Z_95) -> Interval | None:
    """The Wilson score interval of `successes` out of `trials`; None without trials."""
    _check_counts(successes, trials)
    if trials == 0:
        return None
    p = successes / trials
    z2 = z * z
    centre = (p + z2 / (2 * trials)) / (1 + z2 / trials)
    half = (z / (1 + z2 / trials)) * math.sqrt(p * (1 - p) / trials + z2 / (4 * trials * trials))
    # Clamped: at 0 or n successes rounding can put a bound a hair outside [0, 1].
    return Interval(max(0.0, centre - half), min(1.0, centre + half))


def normal_two_sided_p(z: float) -> float:
    """P(|Z| >= |z|) for a standard normal Z."""
    return math.erfc(abs(z) / math.sqrt(2))


def two_proportion_z_test(
    successes_a: int, trials_a: int, successes_b: int, trials_b: int
) -> ZTest | None:
    """Pooled two-proportion z-test of B's rate against A's (z > 0: B converts better).

    None when it cannot be computed: a variant without trials, or no variance at all
    (both convert always or never, when the rates are equal and nothing can be told).
    """
    _check_counts(successes_a, trials_a)
    _check_counts(successes_b, trials_b)
    if trials_a == 0 or trials_b == 0:
        return None
    pooled = (successes_a + successes_b) / (trials_a + trials_b)
    variance = pooled * (1 - pooled) * (1 / trials_a + 1 / trials_b)
    if variance == 0:
        return None
    z = (successes_b / trials_b - successes_a / trials_a) / math.sqrt(variance)
    return ZTest(z=z, p_value=normal_two_sided_p(z))


def _check_counts(successes: int, trials: int) -> None:
    if trials < 0 or not 0 <= successes <= trials:
        raise ValueError(f"{successes} successes out of {trials} trials")

"""The exact binomial (Clopper-Pearson) interval of chapter 8's low-FPR estimates."""

from __future__ import annotations

import math

import pytest

from mgn.privacy.binomial import clopper_pearson


def binomial_tail_at_least(k: int, n: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p), summed exactly term by term."""
    return math.fsum(math.comb(n, j) * p**j * (1 - p) ** (n - j) for j in range(k, n + 1))


def root(function, target: float) -> float:
    """The p in [0, 1] where the increasing ``function(p)`` crosses ``target`` (bisection)."""
    low, high = 0.0, 1.0
    for _ in range(200):
        middle = (low + high) / 2
        low, high = (middle, high) if function(middle) < target else (low, middle)
    return (low + high) / 2


def brute_force_interval(k: int, n: int, confidence: float) -> tuple[float, float]:
    """Clopper-Pearson from its definition: P(X >= k | low) = P(X <= k | high) = alpha / 2."""
    alpha = 1 - confidence
    low = 0.0 if k == 0 else root(lambda p: binomial_tail_at_least(k, n, p), alpha / 2)
    high = 1.0 if k == n else root(lambda p: binomial_tail_at_least(k + 1, n, p), 1 - alpha / 2)
    return low, high


def test_zero_successes_has_the_closed_form_upper_end():
    low, high = clopper_pearson(0, 10)
    assert low == 0.0
    assert high == pytest.approx(1 - 0.025 ** (1 / 10), abs=1e-12)
    assert high == pytest.approx(0.3085, abs=5e-5)


def test_all_successes_mirrors_zero_successes():
    low, high = clopper_pearson(10, 10)
    assert high == 1.0
    assert low == pytest.approx(0.025 ** (1 / 10), abs=1e-12)
    for k, n in [(3, 17), (0, 1), (1, 250), (40, 100)]:
        lo, hi = clopper_pearson(k, n)
        mirror_lo, mirror_hi = clopper_pearson(n - k, n)
        assert (lo, hi) == pytest.approx((1 - mirror_hi, 1 - mirror_lo), abs=1e-12)


@pytest.mark.parametrize(
    ("k", "n", "confidence"),
    [(1, 10, 0.95), (5, 10, 0.95), (9, 10, 0.95), (3, 100, 0.95), (50, 120, 0.9), (2, 250, 0.99)],
)
def test_matches_the_binomial_tails_it_is_defined_by(k, n, confidence):
    low, high = clopper_pearson(k, n, confidence)
    expected = brute_force_interval(k, n, confidence)
    assert (low, high) == pytest.approx(expected, abs=1e-9)
    assert low < k / n < high


def test_a_larger_sample_or_lower_confidence_narrows_the_interval():
    width = [hi - lo for lo, hi in (clopper_pearson(10 * m, 100 * m) for m in (1, 4, 16))]
    assert width[0] > width[1] > width[2]
    lo95, hi95 = clopper_pearson(7, 40)
    lo80, hi80 = clopper_pearson(7, 40, 0.8)
    assert lo95 < lo80 < 7 / 40 < hi80 < hi95


def test_bad_counts_are_named():
    with pytest.raises(ValueError, match="trials must be positive"):
        clopper_pearson(0, 0)
    with pytest.raises(ValueError, match="successes must be at most trials = 5, got 6"):
        clopper_pearson(6, 5)
    with pytest.raises(ValueError, match="successes must be a non-negative int"):
        clopper_pearson(-1, 5)
    with pytest.raises(ValueError, match="successes must be a non-negative int"):
        clopper_pearson(1.0, 5)
    with pytest.raises(ValueError, match="trials must be a non-negative int"):
        clopper_pearson(1, True)
    with pytest.raises(ValueError, match="confidence must be in"):
        clopper_pearson(1, 5, 1.0)

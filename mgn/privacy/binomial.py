"""The exact (Clopper-Pearson) confidence interval of a proportion ``successes / trials``.

Chapter 8 reads an attack's TPR at a low FPR off a few hundred or thousand members; the interval
of such a proportion is the Clopper-Pearson one (Clopper and Pearson, 1934), built from the
binomial tails themselves: its lower end ``p_lo`` solves ``P(X >= k | p_lo) = alpha / 2`` and its
upper end ``p_hi`` solves ``P(X <= k | p_hi) = alpha / 2`` for ``X ~ Binomial(n, p)``, which are
quantiles of Beta distributions. It covers the true proportion at least ``confidence`` of the
time for every ``p`` and ``n``, also at ``k = 0`` or ``k = n`` where a bootstrap collapses to a
point.
"""

from __future__ import annotations

from scipy.stats import beta


def _count(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be a non-negative int, got {value!r}")
    return value


def clopper_pearson(successes: int, trials: int, confidence: float = 0.95) -> tuple[float, float]:
    """The two-sided ``confidence`` Clopper-Pearson interval of the proportion ``successes/trials``.

    Parameters
    ----------
    successes
        The count k, an int in ``0..trials``.
    trials
        The number n of independent trials, a positive int.
    confidence
        The coverage, in (0, 1).

    Returns
    -------
    ``(low, high)`` with ``0 <= low <= k/n <= high <= 1``; ``low = 0`` exactly when ``k = 0`` and
    ``high = 1`` exactly when ``k = n`` (the interval of ``n - k`` is ``1 - (high, low)``).
    """
    successes = _count("successes", successes)
    trials = _count("trials", trials)
    if trials == 0:
        raise ValueError("trials must be positive: a proportion of 0 trials has no interval")
    if successes > trials:
        raise ValueError(f"successes must be at most trials = {trials}, got {successes}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    alpha = 1 - confidence
    low = 0.0 if successes == 0 else beta.ppf(alpha / 2, successes, trials - successes + 1)
    high = (
        1.0 if successes == trials else beta.ppf(1 - alpha / 2, successes + 1, trials - successes)
    )
    return float(low), float(high)

"""What the attacks of chapter 8 say: seeds pooled, a fall resolved or not, the privacy frontier.

* :func:`attack_range` pools one attack over seeds: the mean of the point estimates and the range
  of the seeds' bootstrap intervals (the band of Figure 5); :func:`seed_range` does the same for
  plain numbers (accuracies).
* :func:`auc_fall` says how the attack AUC at a larger kappa compares with kappa = 0, from both
  intervals (:func:`mgn.report.interval_change`) and, when they overlap, the point estimates.
* :func:`dominated` reads the privacy-utility frontier: a defence is dominated when another is at
  least as accurate and the attack on it at most as strong.
* :func:`distance_from_chance` and :func:`has_proper_interval` are the checks of chapter 8 on a
  single :class:`~mgn.privacy.AttackResult`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from mgn.privacy.metrics import FPR_LEVELS, AttackResult
from mgn.report import interval_change

FALLS = ("resolved fall", "unresolved fall", "no fall", "resolved rise")


class SeedRange(NamedTuple):
    """A quantity over seeds: its ``mean`` and a ``low``-``high`` range around it."""

    mean: float
    low: float
    high: float

    def formatted(self, digits: int = 3) -> str:
        """``"mean [low, high]"`` with ``digits`` decimals, as the book's tables show it."""
        return f"{self.mean:.{digits}f} [{self.low:.{digits}f}, {self.high:.{digits}f}]"


def seed_range(values: Sequence[float]) -> SeedRange:
    """Mean, smallest and largest of ``values`` (one per seed; at least one)."""
    if len(values) == 0:
        raise ValueError("values must hold at least one seed's value")
    return SeedRange(float(np.mean(values)), float(min(values)), float(max(values)))


def attack_range(results: Sequence[AttackResult], tpr_at: float | None = None) -> SeedRange:
    """One attack over seeds: mean point estimate and the range of the seeds' intervals.

    Parameters
    ----------
    results
        The attack on each seed's model (at least one).
    tpr_at
        ``None`` for the AUC; an FPR level of :data:`~mgn.privacy.FPR_LEVELS` for the TPR there.

    Returns
    -------
    :class:`SeedRange`: the mean over seeds of the estimate, the smallest lower end and the largest
    upper end of their 95% bootstrap intervals.
    """
    if len(results) == 0:
        raise ValueError("results must hold at least one seed's attack")
    if tpr_at is None:
        points = [r.auc for r in results]
        intervals = [r.auc_interval for r in results]
    elif tpr_at in FPR_LEVELS:
        points = [r.tpr_at[tpr_at] for r in results]
        intervals = [r.tpr_interval[tpr_at] for r in results]
    else:
        raise ValueError(f"tpr_at must be None (the AUC) or one of {FPR_LEVELS}, got {tpr_at!r}")
    return SeedRange(
        float(np.mean(points)), min(i[0] for i in intervals), max(i[1] for i in intervals)
    )


def auc_fall(reference: SeedRange, other: SeedRange) -> str:
    """How the attack AUC ``other`` (a larger kappa) compares with ``reference`` (kappa = 0).

    Returns one of :data:`FALLS`: ``"resolved fall"`` when ``other``'s interval lies entirely
    below ``reference``'s, ``"resolved rise"`` when entirely above, and otherwise (the intervals
    overlap) ``"unresolved fall"`` when the mean is lower, ``"no fall"`` when it is not.
    """
    change = interval_change((reference.low, reference.high), (other.low, other.high))
    if change == "falls":
        return "resolved fall"
    if change == "rises":
        return "resolved rise"
    return "unresolved fall" if other.mean < reference.mean else "no fall"


def dominated(point: tuple[float, float], others: Sequence[tuple[float, float]]) -> bool:
    """Whether some of ``others`` is as accurate or more with an attack as weak or weaker.

    Points are ``(attack strength, accuracy)`` pairs, for example the mean loss-threshold AUC and
    the mean clean test accuracy of one defence setting.
    """
    attack, accuracy = point
    return any(a >= accuracy and s <= attack for s, a in others)


def distance_from_chance(result: AttackResult) -> float:
    """How far 0.5 lies outside the AUC interval of ``result`` (0 when the interval contains it)."""
    low, high = result.auc_interval
    return max(0.0, low - 0.5, 0.5 - high)


def has_proper_interval(result: AttackResult) -> bool:
    """Whether the AUC interval of ``result`` is finite and contains the AUC."""
    low, high = result.auc_interval
    return math.isfinite(low) and math.isfinite(high) and low <= result.auc <= high

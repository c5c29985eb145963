"""What the attacks of chapter 8 say, with training runs (seeds) as the unit of replication.

* :func:`over_seeds`: the mean of one quantity (an attack's AUC, a test accuracy) over the seeds
  of an arm, with its Student's t interval (:func:`mgn.report.mean_interval`).
* :func:`paired_change`: how a quantity moves from a reference arm (kappa = 0) to another (the
  largest kappa), from the per-seed differences: both arms of a seed share the data split and
  the initial weights, so the examples' own variation cancels in the difference. Its
  ``resolvable`` is the smallest true change the run detects with probability ``power``.
* :func:`chance_band`: how far from 1/2 an AUC of two groups drawn from one distribution strays
  (the Mann-Whitney null), the yardstick of the null check.
* :func:`dominated`: the privacy-utility frontier read with intervals.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
from scipy import stats

from mgn.report import interval_change, mean_interval


class SeedInterval(NamedTuple):
    """A quantity over seeds: its ``mean`` and the ``low``-``high`` 95% Student's t interval."""

    mean: float
    low: float
    high: float

    def formatted(self, digits: int = 3) -> str:
        """``"mean [low, high]"`` with ``digits`` decimals, as the book's tables show it."""
        return f"{self.mean:.{digits}f} [{self.low:.{digits}f}, {self.high:.{digits}f}]"


def _per_seed(name: str, values) -> np.ndarray:
    array = np.asarray(values, dtype=float)
    if array.ndim != 1 or array.size < 2:
        raise ValueError(
            f"{name} must hold one value per seed, at least 2, got shape {array.shape}"
        )
    if not np.isfinite(array).all():
        raise ValueError(f"{name} must be finite")
    return array


def over_seeds(values: Sequence[float]) -> SeedInterval:
    """Mean of ``values`` (one per seed, at least 2) and its 95% Student's t interval."""
    array = _per_seed("values", values)
    low, high = mean_interval(array)
    return SeedInterval(float(array.mean()), float(low), float(high))


class Change(NamedTuple):
    """``other - reference`` over paired seeds: the mean ``difference`` with its t ``interval``,
    its ``direction`` (``"falls"``, ``"no change"`` or ``"rises"``, from the interval) and the smallest change the run
    resolves, ``resolvable`` (at the power :func:`paired_change` was asked for)."""

    difference: SeedInterval
    direction: str
    resolvable: float


def paired_change(reference: Sequence[float], other: Sequence[float], power: float = 0.8) -> Change:
    """How ``other`` differs from ``reference``, seed by seed (both one value per seed).

    The direction is ``"falls"`` when the 95% t interval of the mean difference lies below 0,
    ``"rises"`` above 0, ``"no change"`` when it contains 0. ``resolvable`` is the minimum
    detectable change ``(t_{0.975} + t_{power}) s / sqrt(R)`` (R seeds, s the standard deviation
    of the differences, R - 1 degrees of freedom): a true change that large falls outside the
    interval's reach of 0 with probability about ``power``.
    """
    reference = _per_seed("reference", reference)
    other = _per_seed("other", other)
    if reference.shape != other.shape:
        raise ValueError(
            f"reference and other must pair the same seeds, got {reference.size} and {other.size}"
        )
    if not 0.5 <= power < 1:
        raise ValueError(f"power must be in [0.5, 1), got {power!r}")
    differences = other - reference
    interval = over_seeds(differences)
    dof = differences.size - 1
    spread = differences.std(ddof=1) / math.sqrt(differences.size)
    resolvable = (stats.t.ppf(0.975, dof) + stats.t.ppf(power, dof)) * spread
    direction = interval_change((0.0, 0.0), (interval.low, interval.high))
    return Change(interval, direction, float(resolvable))


def chance_band(members: int, nonmembers: int, z: float = 2.576) -> float:
    """Half-width ``z sqrt((M + n + 1) / (12 M n))`` of the AUC of two same-distribution groups.

    The AUC of ``members`` against ``nonmembers`` scores drawn from one distribution has mean 1/2
    and that standard deviation (Mann-Whitney); ``z = 2.576`` makes the band 99%.
    """
    for name, count in (("members", members), ("nonmembers", nonmembers)):
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ValueError(f"{name} must be a positive int, got {count!r}")
    return z * math.sqrt((members + nonmembers + 1) / (12 * members * nonmembers))


def dominated(point: Sequence[SeedInterval], others: Sequence[Sequence[SeedInterval]]) -> bool:
    """Whether a setting ``point = (attack, accuracy)`` is dominated by one of ``others``.

    Dominated: some other setting is resolved better on one axis (its attack interval lies below,
    or its accuracy interval above, the point's) and not resolved worse on the other.
    """
    attack, accuracy = point
    for their_attack, their_accuracy in others:
        weaker = interval_change(attack[1:], their_attack[1:])
        better = interval_change(accuracy[1:], their_accuracy[1:])
        if weaker != "rises" and better != "falls" and (weaker, better) != ("no change",) * 2:
            return True
    return False

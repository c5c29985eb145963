"""What a chapter shows of its numbers: Markdown tables and the book's verdict rule.

A claim of the paper is *confirmed* when it holds in every case the chapter measured,
*contradicted* when it holds in none, and *refined* in between (it holds, but only in part of the
range, or with another constant). Whether it holds in one case is decided by intervals: a value
inside an interval, or two intervals that do or do not overlap. The interval of a mean over a few
seeds is Student's t (:func:`mean_interval`), and the ratio of two paired means Fieller's
(:func:`ratio_interval`). Off the paper's scale (a smaller model, shorter training, other data) a
claim can be at most refined: ``verdict(..., at_paper_scale=False)``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import stats

__all__ = [
    "VERDICTS",
    "contains",
    "interval_change",
    "markdown_table",
    "mean_interval",
    "ratio_interval",
    "verdict",
]

VERDICTS = ("confirmed", "refined", "contradicted")


def _interval(name: str, interval: Sequence[float]) -> tuple[float, float]:
    if len(interval) != 2:
        raise ValueError(f"{name} must be a (low, high) pair, got {interval!r}")
    low, high = float(interval[0]), float(interval[1])
    if math.isnan(low) or math.isnan(high) or low > high:
        raise ValueError(f"{name} must satisfy low <= high (no NaN), got ({low}, {high})")
    return low, high


def verdict(holds: Sequence[bool], at_paper_scale: bool = True) -> str:
    """``"confirmed"`` if every case holds, ``"contradicted"`` if none does, else ``"refined"``.

    A run off the paper's scale (``at_paper_scale=False``) cannot confirm a claim about that
    scale: every case holding gives ``"refined"`` there.
    """
    holds = [bool(h) for h in holds]
    if not holds:
        raise ValueError("holds must name at least one case")
    if not any(holds):
        return "contradicted"
    return "confirmed" if all(holds) and at_paper_scale else "refined"


def contains(interval: Sequence[float], value: float) -> bool:
    """Whether ``value`` lies in the closed interval ``(low, high)``."""
    low, high = _interval("interval", interval)
    return low <= value <= high


def interval_change(reference: Sequence[float], other: Sequence[float]) -> str:
    """How ``other`` compares with ``reference``, two (low, high) intervals.

    ``"falls"`` when ``other`` lies entirely below ``reference``, ``"rises"`` when entirely above,
    ``"no change"`` when they overlap (the difference is not resolved).
    """
    ref_low, ref_high = _interval("reference", reference)
    low, high = _interval("other", other)
    if high < ref_low:
        return "falls"
    if low > ref_high:
        return "rises"
    return "no change"


def mean_interval(samples, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Student's t interval of the mean over the last axis (for example the seeds).

    Parameters
    ----------
    samples : (..., R) values, ``R >= 2`` replicates on the last axis (R - 1 degrees of freedom).
    level : the confidence level, in (0, 1).

    Returns
    -------
    ``(low, high)``, each ``(...)`` (NumPy floats for one set of samples): ``mean -+ t s / sqrt(R)``
    with ``s`` the sample standard deviation. Samples that agree exactly give ``low = high``.
    """
    samples = np.asarray(samples, dtype=float)
    if samples.ndim == 0 or samples.shape[-1] < 2:
        raise ValueError(
            f"samples need at least 2 replicates on the last axis, got {samples.shape}"
        )
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level!r}")
    replicates = samples.shape[-1]
    mean = samples.mean(-1)
    half = stats.t.ppf(0.5 + level / 2, replicates - 1) * samples.std(-1, ddof=1)
    half = half / math.sqrt(replicates)
    return (mean - half)[()], (mean + half)[()]


def ratio_interval(numerator, denominator, level: float = 0.95) -> tuple[float, float]:
    """Fieller's interval of ``mean(numerator) / mean(denominator)`` from paired replicates.

    Parameters
    ----------
    numerator, denominator : (R,) paired values (replicate ``j`` of both comes from seed ``j``),
        ``R >= 2``.
    level : the confidence level, in (0, 1).

    Returns
    -------
    ``(low, high)``: the ratios ``rho`` whose paired differences ``numerator - rho denominator``
    have a Student's t interval (R - 1 degrees of freedom) that holds 0. When the denominator's
    own interval holds 0 the set is unbounded and ``(-inf, inf)`` is returned.
    """
    a, b = np.asarray(numerator, dtype=float), np.asarray(denominator, dtype=float)
    if a.ndim != 1 or a.shape != b.shape or a.size < 2:
        raise ValueError(
            f"numerator and denominator must be 1-d of one length >= 2, got {a.shape}, {b.shape}"
        )
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level!r}")
    t2 = stats.t.ppf(0.5 + level / 2, a.size - 1) ** 2
    (v_aa, v_ab), (_, v_bb) = np.cov(a, b) / a.size
    quad = b.mean() ** 2 - t2 * v_bb
    if quad <= 0:
        return -math.inf, math.inf
    half_b = a.mean() * b.mean() - t2 * v_ab
    const = a.mean() ** 2 - t2 * v_aa
    root = math.sqrt(max(half_b**2 - quad * const, 0.0))
    return (half_b - root) / quad, (half_b + root) / quad


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A Markdown table: ``header`` cells, then one line per row (cells shown with ``str``).

    Every row must have as many cells as the header; format numbers before passing them.
    """
    if not header:
        raise ValueError("header must name at least one column")
    lines = [
        "| " + " | ".join(str(cell) for cell in header) + " |",
        "|" + "---|" * len(header),
    ]
    for index, row in enumerate(rows):
        if len(row) != len(header):
            raise ValueError(
                f"rows[{index}] has {len(row)} cells, expected {len(header)} (the header's)"
            )
        lines.append("| " + " | ".join(str(cell) for cell in row) + " |")
    return "\n".join(lines)

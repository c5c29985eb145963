"""What a chapter shows of its numbers: Markdown tables and the book's verdict rule.

A claim of the paper is *confirmed* when it holds in every case the chapter measured,
*contradicted* when it holds in none, and *refined* in between (it holds, but only in part of the
range, or with another constant). Whether it holds in one case is decided by intervals: a value
inside an interval, or two intervals that do or do not overlap. The interval of a mean over a few
seeds is Student's t (:func:`mean_interval`).
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


def verdict(holds: Sequence[bool]) -> str:
    """``"confirmed"`` if every case holds, ``"contradicted"`` if none does, else ``"refined"``."""
    holds = [bool(h) for h in holds]
    if not holds:
        raise ValueError("holds must name at least one case")
    return "confirmed" if all(holds) else "contradicted" if not any(holds) else "refined"


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

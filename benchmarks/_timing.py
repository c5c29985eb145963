"""Timing shared by the benchmarks: the median of repeated wall-clock measurements."""

from __future__ import annotations

import statistics
import timeit
from collections.abc import Callable


def median_seconds(function: Callable[[], object], repeats: int, number: int = 1) -> float:
    """Median over ``repeats`` runs of the seconds one call of ``function`` takes."""
    return statistics.median(timeit.repeat(function, repeat=repeats, number=number)) / number

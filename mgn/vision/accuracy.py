"""Clean accuracy against kappa (chapter 7, Figure 4): seeds pooled, the flat range, the decline.

A sweep trains one classifier per (kappa, seed) and records its clean accuracy after every epoch,
arrays of shape (kappas, seeds, epochs). :func:`summarise_sweep` reads the last epoch over seeds;
:func:`decline` measures the paper's shape, flat up to some kappa and then declining.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class SweepSummary:
    """Final-epoch accuracies of a sweep, each (kappas,) over seeds.

    ``test`` and ``train`` the mean clean test and train accuracy, ``test_se`` the standard error of
    the test mean, ``gap`` the mean of train minus test (the generalisation gap), ``low`` and
    ``high`` the smallest and largest seed's test accuracy.
    """

    test: np.ndarray
    test_se: np.ndarray
    train: np.ndarray
    gap: np.ndarray
    low: np.ndarray
    high: np.ndarray


def summarise_sweep(test: np.ndarray, train: np.ndarray) -> SweepSummary:
    """Pool the final epoch of ``test`` and ``train``, (kappas, seeds, epochs) accuracies, over seeds.

    At least two seeds are needed for the standard error.
    """
    test, train = np.asarray(test, float), np.asarray(train, float)
    if test.ndim != 3:
        raise ValueError(f"test must have shape (kappas, seeds, epochs), got {test.shape}")
    if train.shape != test.shape:
        raise ValueError(f"train must have the shape of test, {test.shape}, got {train.shape}")
    seeds = test.shape[1]
    if seeds < 2:
        raise ValueError(f"test must hold at least 2 seeds for a standard error, got {seeds}")
    final_test, final_train = test[:, :, -1], train[:, :, -1]
    return SweepSummary(
        test=final_test.mean(1),
        test_se=final_test.std(1, ddof=1) / np.sqrt(seeds),
        train=final_train.mean(1),
        gap=(final_train - final_test).mean(1),
        low=final_test.min(1),
        high=final_test.max(1),
    )


@dataclass(frozen=True)
class Decline:
    """The shape of accuracy against kappa.

    ``flat``: the largest kappa of the sweep up to which every mean test accuracy stays within the
    tolerance of kappa = 0. ``slope``: least-squares slope of the mean test accuracy against kappa
    over kappa >= ``start``, in points per unit kappa. ``drop``: accuracy at kappa = 0 minus at the
    largest kappa; ``interval``: twice the standard error of that difference. ``monotone``: every
    step over kappa >= ``start`` is at most twice the standard error of its difference.
    """

    flat: float
    slope: float
    drop: float
    interval: float
    monotone: bool


def decline(
    kappas: Sequence[float], summary: SweepSummary, *, start: float = 0.2, tolerance: float = 0.01
) -> Decline:
    """How flat, and how steep: :class:`Decline` of ``summary`` over ``kappas`` (first one 0).

    Parameters
    ----------
    kappas
        The sweep's kappas in increasing order, starting at 0 (the unmasked reference), with at
        least two at or above ``start``.
    summary
        :func:`summarise_sweep` of the sweep, one entry per kappa.
    start
        Where the decline is measured from (0.2, the end of the paper's flat range).
    tolerance
        Accuracy lost within the flat range (0.01: one point).
    """
    k = np.asarray(kappas, float)
    if k.ndim != 1 or len(k) != len(summary.test):
        raise ValueError(f"kappas must hold one kappa per summary entry ({len(summary.test)})")
    if k[0] != 0 or np.any(np.diff(k) <= 0):
        raise ValueError(f"kappas must increase from 0 (the unmasked reference), got {kappas!r}")
    tail = k >= start
    if tail.sum() < 2:
        raise ValueError(f"kappas must hold at least two values >= start = {start}, got {kappas!r}")
    test, se = summary.test, summary.test_se
    within = test > test[0] - tolerance
    last = len(k) - 1 if within.all() else int(np.argmin(within)) - 1
    steps = np.diff(test[tail])
    return Decline(
        flat=kappas[last],
        slope=100 * np.polyfit(k[tail], test[tail], 1)[0],
        drop=test[0] - test[-1],
        interval=2 * np.hypot(se[0], se[-1]),
        monotone=bool(np.all(steps <= 2 * np.hypot(se[tail][1:], se[tail][:-1]))),
    )

"""Clean accuracy against kappa (chapter 7, Figure 4): seeds pooled, the flat range, the decline.

A sweep trains one classifier per (kappa, seed) and records its clean accuracy after every epoch,
arrays of shape (kappas, seeds, epochs); seed ``j`` draws the same initial weights and batches at
every kappa, so seeds are paired across kappas. :func:`summarise_sweep` reads the last epoch over
seeds (Student's t intervals); :func:`decline` measures the paper's shape, flat up to some kappa
and then declining; :func:`figure4_verdict` turns it into a verdict, only on curves that reached a
plateau and at most "refined" off the paper's scale (:data:`FIGURE4`, :func:`departures`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from mgn.checks import least_squares_slope
from mgn.records import Check
from mgn.report import mean_interval, verdict

FIGURE4 = {
    "group_size": 10520,
    "mlp_epochs": 80,
    "cnn_epochs": 80,
    "mlp_hidden": 4096,
    "cnn_channels": (32, 64),
    "batch_size": 128,
    "cnn_lr": 1e-3,
    "cnn_weight_decay": 1e-5,
}
"""The paper's settings of Figure 4 on CIFAR-10 (its MLP's learning rate and schedule values are
not stated in the paper, so they are not part of its scale)."""

FLAT_RANGE_END = (0.2, 0.5)
"""Where the paper's flat range ends: about kappa = 0.2 (we accept up to 0.5)."""


def departures(settings: Mapping[str, object]) -> list[str]:
    """How a run's ``settings`` depart from :data:`FIGURE4`: one phrase per differing setting.

    ``settings`` must name every key of :data:`FIGURE4`; sequences compare as tuples.
    """
    missing = sorted(set(FIGURE4) - set(settings))
    if missing:
        raise ValueError(f"settings must name every setting of FIGURE4, missing {missing}")
    phrases = []
    for name, paper in FIGURE4.items():
        ours = settings[name]
        ours = tuple(ours) if isinstance(ours, (list, tuple)) else ours
        if ours != paper:
            phrases.append(f"{name.replace('_', ' ')} {ours} instead of {paper}")
    return phrases


@dataclass(frozen=True)
class SweepSummary:
    """Final-epoch accuracies of a sweep over seeds.

    ``test``, ``train`` (kappas,): the mean clean test and train accuracy; ``test_low``,
    ``test_high`` (kappas,): the Student's t interval of the test mean (``level``); ``gap``
    (kappas,): the mean of train minus test (the generalisation gap); ``final_test`` (kappas,
    seeds): each seed's final test accuracy (paired across kappas).
    """

    test: np.ndarray
    test_low: np.ndarray
    test_high: np.ndarray
    train: np.ndarray
    gap: np.ndarray
    final_test: np.ndarray


def summarise_sweep(test: np.ndarray, train: np.ndarray, level: float = 0.95) -> SweepSummary:
    """Pool the final epoch of ``test`` and ``train``, (kappas, seeds, epochs) accuracies, over seeds.

    At least two seeds are needed for an interval.
    """
    test, train = np.asarray(test, float), np.asarray(train, float)
    if test.ndim != 3:
        raise ValueError(f"test must have shape (kappas, seeds, epochs), got {test.shape}")
    if train.shape != test.shape:
        raise ValueError(f"train must have the shape of test, {test.shape}, got {train.shape}")
    if test.shape[1] < 2:
        raise ValueError(f"test must hold at least 2 seeds for an interval, got {test.shape[1]}")
    final_test, final_train = test[:, :, -1], train[:, :, -1]
    low, high = mean_interval(final_test, level)
    return SweepSummary(
        test=final_test.mean(1),
        test_low=low,
        test_high=high,
        train=final_train.mean(1),
        gap=(final_train - final_test).mean(1),
        final_test=final_test,
    )


@dataclass(frozen=True)
class Decline:
    """The shape of accuracy against kappa.

    ``flat``: the largest kappa of the sweep up to which every mean test accuracy stays within
    ``flat_tolerance`` of kappa = 0; ``flat_tolerance`` (kappas,): one point, or the test set's
    binomial resolution of the difference where that is wider. ``slope``: least-squares slope of
    the mean test accuracy against kappa over kappa >= ``start``, in points per unit kappa.
    ``drop``: mean accuracy at kappa = 0 minus at the largest kappa; ``drop_low``, ``drop_high``:
    the Student's t interval of the paired per-seed drops. ``monotone``: no step over
    kappa >= ``start`` is a rise resolved by the t interval of its paired per-seed steps.
    """

    flat: float
    flat_tolerance: np.ndarray
    slope: float
    drop: float
    drop_low: float
    drop_high: float
    monotone: bool

    @property
    def declines(self) -> bool:
        """The drop at the largest kappa is resolved: its whole interval lies above 0."""
        return bool(self.drop_low > 0)


def decline(
    kappas: Sequence[float],
    summary: SweepSummary,
    n_test: int,
    *,
    start: float = 0.2,
    tolerance: float = 0.01,
    level: float = 0.95,
) -> Decline:
    """How flat, and how steep: :class:`Decline` of ``summary`` over ``kappas`` (first one 0).

    Parameters
    ----------
    kappas
        The sweep's kappas in increasing order, starting at 0 (the unmasked reference), with at
        least two at or above ``start``.
    summary
        :func:`summarise_sweep` of the sweep, one entry per kappa.
    n_test
        Images in the test set: an accuracy ``p`` measured on it has the binomial standard error
        ``sqrt(p (1 - p) / n_test)``, and the flat range cannot be judged finer than the
        ``level`` half-width of the difference of two such accuracies.
    start
        Where the decline is measured from (0.2, the end of the paper's flat range).
    tolerance
        Accuracy lost within the flat range (0.01: one point), widened to the test set's
        resolution where that is coarser.
    level
        Confidence level of the intervals.
    """
    k = np.asarray(kappas, float)
    if k.ndim != 1 or len(k) != len(summary.test):
        raise ValueError(f"kappas must hold one kappa per summary entry ({len(summary.test)})")
    if k[0] != 0 or np.any(np.diff(k) <= 0):
        raise ValueError(f"kappas must increase from 0 (the unmasked reference), got {kappas!r}")
    tail = k >= start
    if tail.sum() < 2:
        raise ValueError(f"kappas must hold at least two values >= start = {start}, got {kappas!r}")
    if isinstance(n_test, bool) or not isinstance(n_test, (int, np.integer)) or n_test < 1:
        raise ValueError(f"n_test must be a positive integer, got {n_test!r}")
    test, final = summary.test, summary.final_test
    variance = test * (1 - test) / n_test
    resolution = stats.norm.ppf(0.5 + level / 2) * np.sqrt(variance[0] + variance)
    flat_tolerance = np.maximum(tolerance, resolution)
    within = test > test[0] - flat_tolerance
    last = len(k) - 1 if within.all() else int(np.argmin(within)) - 1
    drop_low, drop_high = mean_interval(final[0] - final[-1], level)
    step_low, _ = mean_interval(np.diff(final[tail], axis=0), level)
    return Decline(
        flat=kappas[last],
        flat_tolerance=flat_tolerance,
        slope=100 * least_squares_slope(k[tail], test[tail]),
        drop=test[0] - test[-1],
        drop_low=float(drop_low),
        drop_high=float(drop_high),
        monotone=bool(np.all(step_low <= 0)),
    )


def figure4_verdict(shape: Decline, plateaued: bool, at_paper_scale: bool) -> str:
    """The verdict on "flat up to kappa ~ 0.2, then a monotone decline" (Figure 4).

    ``"not tested"`` unless every curve reached a plateau (``plateaued``): accuracies of training
    still under way are not compared across kappas. Otherwise the book's rule
    (:func:`mgn.report.verdict`) over two cases, the decline (its interval above 0) and the whole
    shape (the decline, monotone, after a flat range ending within :data:`FLAT_RANGE_END`); at
    most ``"refined"`` off the paper's scale.
    """
    if not plateaued:
        return "not tested"
    low, high = FLAT_RANGE_END
    shape_holds = shape.declines and shape.monotone and low <= shape.flat <= high
    return verdict([shape.declines, shape_holds], at_paper_scale=at_paper_scale)


def learns_check(
    name: str, model: str, accuracies, chance: float = 0.1, margin: float = 0.2
) -> Check:
    """Every seed's clean model learns: its test accuracy at least ``margin`` above ``chance``.

    ``accuracies`` (seeds,) the test accuracies of the unmasked model; measured: the lowest.
    """
    accuracies = np.asarray(accuracies, dtype=float)
    if accuracies.ndim != 1 or accuracies.size == 0:
        raise ValueError(f"accuracies must be 1-d and nonempty, got shape {accuracies.shape}")
    return Check.at_least(
        name,
        f"the clean {model} learns: every seed's test accuracy at least {100 * margin:g} points "
        f"above chance ({100 * chance:g}%); measured: the lowest",
        float(accuracies.min()),
        chance + margin,
    )

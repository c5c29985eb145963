"""What a chapter reads off a loss curve: its initial rate, its plateau (and whether it reached
one), when it reaches a target, and how far a predicted curve is from a measured one.

A curve is an array whose last axis is the step (or round) ``k = 0..steps``; leading axes (for
example ``(kappa, seed)``) are kept, so that one call reads every curve of a sweep.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mgn.checks import least_squares_slope
from mgn.report import mean_interval

__all__ = [
    "PlateauTest",
    "first_below",
    "initial_log_slope",
    "plateau",
    "plateau_test",
    "relative_gap",
]


def _curves(loss) -> np.ndarray:
    loss = np.asarray(loss, dtype=float)
    if loss.ndim == 0 or loss.shape[-1] == 0:
        raise ValueError(f"loss must have a last axis of steps, got shape {loss.shape}")
    return loss


def initial_log_slope(loss, window: int) -> np.ndarray:
    """Least-squares slope of ``log loss`` against ``k`` over the steps ``k = 0..window``.

    Parameters
    ----------
    loss : (..., steps + 1) positive losses, the last axis the step.
    window : steps in the fit (``window + 1`` points), ``1 <= window <= steps``.

    Returns
    -------
    (...) slopes, one per curve (a NumPy float for one curve). ``exp(slope)`` is the per-step
    contraction of the loss, ``-slope`` its rate of decay.
    """
    loss = _curves(loss)
    if isinstance(window, bool) or not isinstance(window, int) or window < 1:
        raise ValueError(f"window must be an integer >= 1, got {window!r}")
    if window >= loss.shape[-1]:
        raise ValueError(f"window must be < the curve's length {loss.shape[-1]}, got {window}")
    if np.any(loss[..., : window + 1] <= 0):
        raise ValueError("loss must be > 0 over the window (its logarithm is fitted)")
    steps = np.arange(window + 1)
    log_loss = np.log(loss[..., : window + 1])
    slopes = [least_squares_slope(steps, curve) for curve in log_loss.reshape(-1, window + 1)]
    return np.array(slopes).reshape(loss.shape[:-1])[()]


def plateau(loss, fraction: float = 0.1) -> np.ndarray:
    """Mean loss over the last ``fraction`` of the steps: ``max(1, int(fraction * steps))`` values.

    Parameters
    ----------
    loss : (..., steps + 1) losses, the last axis the step.
    fraction : share of the steps averaged, in (0, 1].

    Returns
    -------
    (...) plateaus, one per curve (a NumPy float for one curve).
    """
    loss = _curves(loss)
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"fraction must be in (0, 1], got {fraction!r}")
    tail = max(1, int(fraction * (loss.shape[-1] - 1)))
    return loss[..., -tail:].mean(axis=-1)


def first_below(curve, target: float) -> int | None:
    """The first step ``k`` at which the 1-d ``curve`` is ``<= target``; None if it never is."""
    curve = np.asarray(curve, dtype=float)
    if curve.ndim != 1:
        raise ValueError(f"curve must be 1-d, got shape {curve.shape}")
    below = np.flatnonzero(curve <= target)
    return int(below[0]) if below.size else None


@dataclass(frozen=True)
class PlateauTest:
    """Whether curves stopped moving: their relative change over the last ``window`` of the steps.

    ``decrease`` is ``(..., R)``, per replicate ``(L[T - w] - L[T]) / L[T]`` (positive: still
    falling); ``low``, ``high`` its Student's t interval over the R replicates (``level``);
    ``plateaued`` is ``(...)``: the interval lies within ``[-tolerance, tolerance]``.
    """

    decrease: np.ndarray
    low: np.ndarray
    high: np.ndarray
    plateaued: np.ndarray
    window: int
    tolerance: float
    level: float


def plateau_test(
    loss, window: float = 0.2, tolerance: float = 0.01, level: float = 0.95
) -> PlateauTest:
    """Test whether each curve has reached a plateau, with the spread of its replicates.

    Parameters
    ----------
    loss : (..., R, steps + 1) positive losses: R >= 2 replicates (seeds) of each curve.
    window : the share of the steps over which the change is measured, in (0, 1]:
        ``w = max(1, int(window * steps))`` steps.
    tolerance : the largest relative change over the window that counts as a plateau (> 0).
    level : the confidence level of the interval over the replicates.

    Returns
    -------
    :class:`PlateauTest`. A curve is at a plateau when the whole interval of its relative
    decrease over the last ``w`` steps lies within ``+-tolerance``: a curve still falling, or
    rising, or too noisy to tell, is not.
    """
    loss = _curves(loss)
    if loss.ndim < 2 or loss.shape[-2] < 2 or loss.shape[-1] < 2:
        raise ValueError(f"loss must be (..., R >= 2, steps + 1 >= 2), got shape {loss.shape}")
    if np.any(loss <= 0):
        raise ValueError("loss must be > 0 (its relative change is measured)")
    if not 0.0 < window <= 1.0:
        raise ValueError(f"window must be in (0, 1], got {window!r}")
    if not tolerance > 0:
        raise ValueError(f"tolerance must be > 0, got {tolerance!r}")
    steps = max(1, int(window * (loss.shape[-1] - 1)))
    decrease = (loss[..., -1 - steps] - loss[..., -1]) / loss[..., -1]
    low, high = mean_interval(decrease, level)
    plateaued = (np.asarray(low) >= -tolerance) & (np.asarray(high) <= tolerance)
    return PlateauTest(decrease, low, high, plateaued[()], steps, float(tolerance), level)


def relative_gap(predicted, measured) -> float:
    """The largest ``|predicted - measured| / |measured|`` over two curves (or stacks) alike."""
    predicted, measured = np.asarray(predicted, dtype=float), np.asarray(measured, dtype=float)
    if predicted.shape != measured.shape or predicted.size == 0:
        raise ValueError(
            f"predicted and measured must have one nonempty shape, got {predicted.shape}, "
            f"{measured.shape}"
        )
    if np.any(measured == 0):
        raise ValueError("measured must be nonzero (the gap is relative to it)")
    return float(np.max(np.abs(predicted - measured) / np.abs(measured)))

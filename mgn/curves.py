"""What a chapter reads off a loss curve: its initial rate, its plateau, when it reaches a target.

A curve is an array whose last axis is the step (or round) ``k = 0..steps``; leading axes (for
example ``(kappa, seed)``) are kept, so that one call reads every curve of a sweep.
"""

from __future__ import annotations

import numpy as np

from mgn.checks import least_squares_slope

__all__ = [
    "first_below",
    "initial_log_slope",
    "plateau",
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

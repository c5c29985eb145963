"""Checks that a wrong formula would fail: the comparisons the chapters record, in one place.

Every function returns a :class:`~mgn.records.Check` whose tolerance comes from a stated standard
error (per point, not the largest) or from a stated error bound, so that a formula that misses a
term, a proxy in place of the exact form, or a false scaling claim fails it
(``tests/test_checks_can_fail.py`` feeds each one such an input). Equalities that hold by algebra
are not checks: record them with :meth:`mgn.records.Results.identity`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from scipy import stats

from mgn.records import Check
from mgn.report import mean_interval

__all__ = [
    "SlopeFit",
    "bitwise_equal_check",
    "central_difference",
    "eigenvalue_margin_check",
    "gradient_check",
    "least_squares_slope",
    "local_slopes",
    "loglog_slope",
    "paired_increase_check",
    "pooled_loglog_slope",
    "replicated_loglog_slope",
    "slope_excludes_check",
    "z_score_check",
    "z_scores",
]


def _array(name: str, value) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    array = np.asarray(value, dtype=float)
    if array.size == 0:
        raise ValueError(f"{name} must not be empty")
    return array


def z_scores(estimate, standard_error, reference) -> np.ndarray:
    """``|estimate - reference| / standard_error`` pointwise (NumPy, flattened)."""
    estimate, reference = _array("estimate", estimate), _array("reference", reference)
    standard_error = _array("standard_error", standard_error)
    if np.any(standard_error <= 0):
        raise ValueError("standard_error must be > 0 at every compared point")
    return (
        np.abs(estimate - reference).ravel()
        / np.broadcast_to(standard_error, estimate.shape).ravel()
    )


def z_score_check(
    name: str, claim: str, estimate, standard_error, reference, k: float = 5.0
) -> Check:
    """``max_i |estimate_i - reference_i| / se_i <= k``: each point against its own standard error.

    With ``N`` points and an exact reference, the largest |z| exceeds ``k = 5`` with probability
    at most ``N * 5.7e-7`` (Gaussian estimates); a reference that is off by more than ``k`` of its
    point's standard errors anywhere fails.
    """
    scores = z_scores(estimate, standard_error, reference)
    return Check.at_most(name, f"{claim} (max |z| over {scores.size} points <= {k:g})",
                         scores.max(), k)  # fmt: skip


def central_difference(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, h: float):
    """Central differences of the scalar ``fn`` at ``x`` along every coordinate (same shape)."""
    x = x.detach()
    grad = torch.zeros_like(x)
    flat = grad.view(-1)
    for i in range(x.numel()):
        step = torch.zeros_like(x).view(-1)
        step[i] = h
        step = step.view_as(x)
        flat[i] = (fn(x + step) - fn(x - step)).sum() / (2.0 * h)
    return grad


def gradient_check(
    name: str,
    claim: str,
    fn: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    gradient: torch.Tensor,
    h: float = 1e-4,
    k: float = 10.0,
) -> Check:
    """A gradient formula against central differences of the closed-form value ``fn``.

    The error of the central difference D(h) is ``h^2 f'''/6 + O(eps |f| / h)``; Richardson's
    ``|D(h) - D(2h)| / 3`` estimates the first part and ``eps |f| / h`` bounds the second. The
    tolerance is ``k`` times their sum per coordinate; measured is the largest ratio of
    ``|gradient - D(h)|`` to the per-coordinate error bound (passes at <= k).
    """
    fine, coarse = central_difference(fn, x, h), central_difference(fn, x, 2 * h)
    rounding = torch.finfo(x.dtype).eps * float(fn(x).abs().sum()) / h
    bound = (fine - coarse).abs() / 3.0 + rounding
    ratio = ((gradient.detach() - fine).abs() / bound).max()
    return Check.at_most(
        name, f"{claim} (|formula - central difference| <= {k:g} x its error bound)", ratio, k
    )


@dataclass(frozen=True)
class SlopeFit:
    """Least-squares slope of log(value) against log(kappa) with its 95% confidence interval."""

    slope: float
    low: float
    high: float
    points: int

    def __str__(self) -> str:
        return f"{self.slope:.2f} [{self.low:.2f}, {self.high:.2f}] ({self.points} points)"


def least_squares_slope(x, y) -> float:
    """Slope of the least-squares line through the points ``(x_i, y_i)``, both 1-d of one length.

    The book's one slope routine: every fitted slope and rate of the chapters goes through it
    (NumPy's degree-1 :func:`numpy.polyfit`), so that a value does not change in its last bits
    with the routine that fitted it. Needs at least two distinct ``x``.
    """
    x, y = _array("x", x), _array("y", y)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"x and y must be 1-d of one length, got {x.shape}, {y.shape}")
    if np.unique(x).size < 2:
        raise ValueError(f"a line needs at least 2 distinct x, got {x.size} point(s)")
    return float(np.polyfit(x, y, 1)[0])


def loglog_slope(x, values, level: float = 0.95) -> SlopeFit:
    """Fit ``log values = p log x + c`` by least squares; interval from Student's t (n - 2 dof).

    ``x`` and ``values`` are 1-d of one length; the slope is :func:`least_squares_slope` of the
    logarithms, its standard error the residuals' ``sqrt(SSR / (n - 2) / sum (log x - mean)^2)``.
    Needs at least three positive points (two leave no residual to estimate the error from).
    """
    x, values = _array("x", x), _array("values", values)
    if x.shape != values.shape or x.ndim != 1:
        raise ValueError(f"x and values must be 1-d of one length, got {x.shape}, {values.shape}")
    if x.size < 3:
        raise ValueError(f"a slope with an interval needs at least 3 points, got {x.size}")
    if np.any(x <= 0) or np.any(values <= 0):
        raise ValueError("x and values must be > 0 for a log-log fit")
    lx, ly = np.log(x), np.log(values)
    slope = least_squares_slope(lx, ly)
    centred = lx - lx.mean()
    residual = ly - ly.mean() - slope * centred
    stderr = math.sqrt((residual**2).sum() / (x.size - 2) / (centred**2).sum())
    half = stats.t.ppf(0.5 + level / 2, x.size - 2) * stderr
    return SlopeFit(slope, slope - half, slope + half, x.size)


def local_slopes(x, values) -> np.ndarray:
    """Slopes of log(values) against log(x) between neighbouring points (length ``len(x) - 1``)."""
    x, values = _array("x", x), _array("values", values)
    return np.diff(np.log(values)) / np.diff(np.log(x))


def slope_excludes_check(name: str, claim: str, fit: SlopeFit, excluded: float) -> Check:
    """Passes when ``excluded`` lies outside the fit's interval (measured: its distance outside)."""
    outside = max(fit.low - excluded, excluded - fit.high)
    statement = f"{claim}: exponent {fit} excludes {excluded:g} (distance outside > 0)"
    return Check(name, statement, outside, 0.0, bool(outside > 0))


def eigenvalue_margin_check(name: str, claim: str, matrix: torch.Tensor, margin: float = 100.0):
    """``lambda_min(matrix) >= margin * n eps ||matrix||_2``, the round-off of a symmetric solver.

    A symmetric eigen-solver returns the exact eigenvalues of ``matrix + E`` with
    ``||E||_2 <~ n eps ||matrix||_2``; a smallest eigenvalue within that of 0 is not resolved as
    positive. Returns ``(check, lambda_min)``.
    """
    eigenvalues = torch.linalg.eigvalsh(matrix)
    roundoff = matrix.shape[0] * torch.finfo(matrix.dtype).eps * float(eigenvalues.abs().max())
    lam = float(eigenvalues[0])
    check = Check.at_least(
        name,
        f"{claim} (lambda_min / (n eps ||H||_2) >= {margin:g}: positive beyond round-off)",
        lam / roundoff,
        margin,
    )
    return check, lam


def pooled_loglog_slope(x, groups, level: float = 0.95) -> SlopeFit:
    """One log-log slope shared by several curves over the same ``x``, each with its own intercept.

    ``groups`` is (G, len(x)): for example the same quantity on G problems (seeds) or from G
    starts. Centering log(values) and log(x) within each group removes the intercepts; the slope is
    the least-squares slope of the pooled centred points, its interval from Student's t with
    ``G len(x) - G - 1`` degrees of freedom, so the scatter between groups widens it.
    """
    x, groups = _array("x", x), np.atleast_2d(_array("groups", groups))
    if groups.shape[1] != x.size or x.ndim != 1:
        raise ValueError(
            f"groups must be (G, {x.size}) for x of length {x.size}, got {groups.shape}"
        )
    if np.any(x <= 0) or np.any(groups <= 0):
        raise ValueError("x and groups must be > 0 for a log-log fit")
    dof = groups.size - groups.shape[0] - 1
    if dof < 1:
        raise ValueError(f"too few points for a slope with an interval: {groups.shape}")
    lx = np.log(x) - np.log(x).mean()
    ly = np.log(groups) - np.log(groups).mean(axis=1, keepdims=True)
    slope = float((ly * lx).sum() / (groups.shape[0] * (lx**2).sum()))
    residual = ly - slope * lx
    stderr = math.sqrt((residual**2).sum() / dof / (groups.shape[0] * (lx**2).sum()))
    half = stats.t.ppf(0.5 + level / 2, dof) * stderr
    return SlopeFit(slope, slope - half, slope + half, groups.size)


def replicated_loglog_slope(x, replicates, level: float = 0.95) -> SlopeFit:
    """One log-log slope of replicated curves ``(R, len(x))``: pooled, or one curve if they agree.

    Replicates that differ (seeds of a random run) share a slope with their own intercepts
    (:func:`pooled_loglog_slope`); replicates that agree exactly (a deterministic run, such as
    kappa = 0) are one curve (:func:`loglog_slope`), not R copies that would feign degrees of
    freedom.
    """
    replicates = np.atleast_2d(_array("replicates", replicates))
    if np.all(replicates == replicates[:1]):
        return loglog_slope(x, replicates[0], level)
    return pooled_loglog_slope(x, replicates, level)


def paired_increase_check(
    name: str, claim: str, before, after, margin: float, level: float = 0.95
) -> Check:
    """``after`` exceeds ``before`` in every case, by Student's t interval of paired differences.

    ``before`` and ``after`` are ``(..., R)``: cases on the leading axes, R >= 2 paired replicates
    (seeds that share their random draws) on the last. Each case's increase ``after - before`` has
    a ``level`` interval over the replicates (:func:`mgn.report.mean_interval`, R - 1 degrees of
    freedom); the check passes when the lowest lower end over the cases is ``>= margin`` (a
    positive ``margin``: the smallest increase that counts, above round-off). Measured: that
    lowest lower end.
    """
    before, after = _array("before", before), _array("after", after)
    if before.shape != after.shape:
        raise ValueError(f"before and after must have one shape, got {before.shape}, {after.shape}")
    low, _ = mean_interval(after - before, level)
    statement = f"{claim} (lowest end of the {level:.0%} t interval of paired increases)"
    return Check.at_least(name, statement, float(np.min(low)), margin)


def bitwise_equal_check(name: str, claim: str, actual: torch.Tensor, expected: torch.Tensor):
    """``actual`` equals ``expected`` bit for bit (shape, dtype and every value).

    Measured: the largest ``|actual - expected|`` (``inf`` when shapes or dtypes differ); the
    tolerance is 0.
    """
    same = actual.shape == expected.shape and actual.dtype == expected.dtype
    gap = float((actual - expected).abs().max()) if same else math.inf
    return Check(name, f"{claim} (bit for bit: largest difference 0)", gap, 0.0,
                 bool(same and torch.equal(actual, expected)))  # fmt: skip

"""The expected masked loss in closed form, its decomposition, its regularizers, and Monte Carlo.

Chapter 2. For each input, E_c[(f(W; x ⊙ c) - y)^2] = (f~(x) - y)^2 + Var_c f(W; x ⊙ c), where
f~ = m^{-1/2} sum_r a_r E_c[relu(w_r^T (x ⊙ c))] is the smoothed network and
Var_c f = m^{-1} sum_{r, r'} a_r a_r' Cov(relu g_r, relu g_r') with (g_r) jointly Gaussian
(:mod:`mgn.bivariate`). Hence the exact expected masked loss (a sum over the n samples)

    E_c[L_masked(W)] = 1/2 sum_i (f~(x_i) - y_i)^2 + R(W),   R(W) = 1/2 sum_i Var_c f(W; x_i ⊙ c)
                     = 1/2 sum_i (f^(x_i) - y_i)^2 + R(W) + E(W)

with f^ the network of the paper's proxy z Phi(z/s). Cost O(n m^2), in torch (autograd, any device).
Every function takes ``kappa`` (the paper's Gaussian mask) or ``mask=`` (a mask of :mod:`mgn.masks`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from mgn.bivariate import relu_covariance, relu_variance
from mgn.masks import resolve_mask
from mgn.network import check_network_args, network
from mgn.output_variance import kink_band_variance
from mgn.progress import progress
from mgn.smoothed import smoothed_relu
from mgn.validation import check_kappas, check_positive, check_targets

_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
# Pairs (sample, neuron pair) handled at once by the variance: bounds memory to O(this).
_PAIRS_PER_CHUNK = 2**21
# Problems with fewer (sample, neuron pair) terms take every pair through the closed form.
_ALL_PAIRS_BELOW = 2**15
# Input entries (draws x n x d) perturbed at once by the Monte Carlo estimator.
_ENTRIES_PER_BATCH = 2**20


def clean_loss(W, a, X, y) -> torch.Tensor:
    """Clean loss L(W) = 1/2 sum_i (f(W; x_i) - y_i)^2 (the notation page; a sum, not a mean)."""
    W, a, X = check_network_args(W, a, X)
    y = check_targets(y, X)
    return 0.5 * (network(W, a, X) - y).square().sum()


def smoothed_network(W, a, X, kappa: float | None = None, *, mask=None, kind: str = "exact"):
    """Smoothed outputs f~(x_i) = E_c f(W; x_i ⊙ c) (``kind="exact"``) or the proxy f^ (chapters 1-2).

    Returns an (n,) tensor; at kappa = 0 it equals :func:`mgn.network` exactly.
    """
    W, a, X = check_network_args(W, a, X)
    z, s = resolve_mask(kappa, mask, closed_form=True).moments(W, X)
    return smoothed_relu(z, s, kind) @ a / math.sqrt(W.shape[0])


def all_pairs_variance(W, a, X, mask, z, s) -> torch.Tensor:
    """Var_c f for every input with every neuron pair through :func:`mgn.relu_covariance`, (n,).

    The plain form of :func:`masked_output_variance` (checked arguments, moments ``(z, s)`` of
    ``mask``): the cheaper one for small problems, and the reference of the split in
    :mod:`mgn.output_variance`.
    """
    m = W.shape[0]
    variance = relu_variance(z, s) @ (a * a)
    first, second = torch.triu_indices(m, m, offset=1, device=W.device)
    if first.numel():
        weights = a[first] * a[second]
        products = (W[first], W[second])
        rows = max(1, _PAIRS_PER_CHUNK // first.numel())
        cross = []
        for start in range(0, X.shape[0], rows):
            part = slice(start, start + rows)
            z_part, s_part = z[part], s[part]
            cov = mask.pair_covariance(*products, X[part])
            pair_cov = relu_covariance(
                z_part[:, first], z_part[:, second], s_part[:, first], s_part[:, second], cov
            )
            cross.append(pair_cov @ weights)
        variance = variance + 2.0 * torch.cat(cross)
    return variance / m


def _variance_from_moments(W, a, X, mask, z, s) -> torch.Tensor:
    """:func:`masked_output_variance` of checked arguments whose moments ``(z, s)`` are known."""
    m = W.shape[0]
    if X.shape[0] * m * (m - 1) // 2 < _ALL_PAIRS_BELOW:
        return all_pairs_variance(W, a, X, mask, z, s)
    return kink_band_variance(W, a, X, mask, z, s)


def masked_output_variance(W, a, X, kappa: float | None = None, *, mask=None) -> torch.Tensor:
    """Var_c f(W; x_i ⊙ c) for every input, in closed form (chapter 2), shape (n,).

    ``m^{-1} [sum_r a_r^2 Var(relu g_r) + 2 sum_{r < r'} a_r a_r' Cov(relu g_r, relu g_r')]`` with
    the cancellation-free moments of :mod:`mgn.bivariate`. Only the pairs of neurons whose kink the
    noise reaches (|z| < 8.5 s, :func:`mgn.kink_pair_share` of them) need the bivariate normal;
    the others sum in O(m d) per input, exactly to float64 resolution (the split and its bound:
    :mod:`mgn.output_variance`). Below 2^15 (input, pair) terms every pair takes the closed form
    (:func:`all_pairs_variance`). Memory stays O(n m^2) at most.
    """
    W, a, X = check_network_args(W, a, X)
    mask = resolve_mask(kappa, mask, closed_form=True)
    return _variance_from_moments(W, a, X, mask, *mask.moments(W, X))


def expected_masked_loss(W, a, X, y, kappa: float | None = None, *, mask=None) -> torch.Tensor:
    """Exact E_c[L_masked(W)] = 1/2 sum_i (f~(x_i) - y_i)^2 + 1/2 sum_i Var_c f(W; x_i ⊙ c).

    Parameters
    ----------
    W : (m, d) hidden weights; a : (m,) output weights; X : (n, d) inputs; y : (n,) targets.
    kappa : scale of the Gaussian mask c ~ N(1, kappa^2 I) (the notation page), or
    mask : a :class:`mgn.masks.GaussianFamilyMask` instead (e.g. ``AdditiveGaussian(0.1)``).

    Returns
    -------
    0-dim tensor, differentiable in W (and X, a, y); at kappa = 0 it equals the clean loss exactly.
    Cost O(n m^2) (chapter 2).
    """
    W, a, X = check_network_args(W, a, X)
    y = check_targets(y, X)
    mask = resolve_mask(kappa, mask, closed_form=True)
    z, s = mask.moments(W, X)
    residual = smoothed_relu(z, s, "exact") @ a / math.sqrt(W.shape[0]) - y
    variance = _variance_from_moments(W, a, X, mask, z, s)
    return 0.5 * residual.square().sum() + 0.5 * variance.sum()


@dataclass(frozen=True)
class LossDecomposition:
    """The pieces of chapter 2's decomposition (0-dim tensors, except the per-input ``gap``/``gap_bound``).

    ``expected = smoothed + regularizer = proxy + regularizer + error``; ``clean`` is L(W);
    ``gap = f~ - f^`` per input, with ``|gap| <= gap_bound = m^{-1/2} sum_r |a_r| s_r / sqrt(2 pi)``.
    """

    expected: torch.Tensor
    smoothed: torch.Tensor
    proxy: torch.Tensor
    regularizer: torch.Tensor
    error: torch.Tensor
    clean: torch.Tensor
    gap: torch.Tensor
    gap_bound: torch.Tensor


def loss_decomposition(W, a, X, y, kappa: float | None = None, *, mask=None) -> LossDecomposition:
    """Every piece of the decomposition theorem, exactly (chapter 2).

    smoothed = 1/2 sum (f~ - y)^2, proxy = 1/2 sum (f^ - y)^2, regularizer R = 1/2 sum Var_c f,
    error E = smoothed - proxy = 1/2 sum (f~ - f^)(f~ + f^ - 2y), computed from the gap
    f~ - f^ = m^{-1/2} sum_r a_r s_r phi(z_r/s_r) without cancellation.
    """
    W, a, X = check_network_args(W, a, X)
    y = check_targets(y, X)
    mask = resolve_mask(kappa, mask, closed_form=True)
    z, s = mask.moments(W, X)
    root_m = math.sqrt(W.shape[0])
    exact = smoothed_relu(z, s, "exact") @ a / root_m
    proxy = smoothed_relu(z, s, "proxy") @ a / root_m
    positive = s > 0
    safe_s = torch.where(positive, s, torch.ones_like(s))
    bump = torch.where(positive, s * torch.exp(-0.5 * (z / safe_s).square()), torch.zeros_like(s))
    gap = _INV_SQRT_2PI * bump @ a / root_m
    regularizer = 0.5 * _variance_from_moments(W, a, X, mask, z, s).sum()
    smoothed = 0.5 * (exact - y).square().sum()
    return LossDecomposition(
        expected=smoothed + regularizer,
        smoothed=smoothed,
        proxy=0.5 * (proxy - y).square().sum(),
        regularizer=regularizer,
        error=0.5 * (gap * (exact + proxy - 2.0 * y)).sum(),
        clean=clean_loss(W, a, X, y),
        gap=gap,
        gap_bound=_INV_SQRT_2PI * s @ a.abs() / root_m,
    )


def input_gradient(W, a, X) -> torch.Tensor:
    """grad_x f(W; x_i) = m^{-1/2} sum_r a_r 1{w_r^T x_i > 0} w_r for every input, shape (n, d)."""
    W, a, X = check_network_args(W, a, X)
    active = (X @ W.T > 0).to(W.dtype)
    return (active * a) @ W / math.sqrt(W.shape[0])


def quadratic_regularizer(W, a, X, kappa: float | None = None, *, mask=None) -> torch.Tensor:
    """Small-noise regularizer R_2(W) = 1/2 sum_i sum_k Var(x~_ik) (d f / d x_k (x_i))^2 (chapter 2).

    For the Gaussian mask Var(x~_ik) = kappa^2 x_ik^2, so R_2 = (kappa^2/2) sum_i ||x_i ⊙ grad_x f||^2;
    any :class:`mgn.masks.Mask` works (its ``input_variance``), e.g. dropout with Var = p/(1-p) x^2.
    """
    W, a, X = check_network_args(W, a, X)
    mask = resolve_mask(kappa, mask, closed_form=False)
    return 0.5 * (mask.input_variance(X) * input_gradient(W, a, X).square()).sum()


@dataclass(frozen=True)
class DecompositionSweep:
    """The pieces of :class:`LossDecomposition` over a grid of kappas.

    Attributes
    ----------
    kappas : (K,) the mask scales.
    expected, proxy, regularizer, error : (K,) E_c[L_masked], 1/2 sum (f^ - y)^2, R and E.
    quadratic : (K,) the quadratic regularizer R_2 (:func:`quadratic_regularizer`).
    error_bound : (K,) ``sum_i b_i (|f^(x_i) - y_i| + b_i / 2)`` with ``b = gap_bound``: a bound on
        ``|E|``, since ``f~ + f^ - 2y = 2 (f^ - y) + gap`` and ``|gap| <= b``.
    identity_gap : largest ``|expected - (proxy + R + E)| / expected`` over the grid (E is defined
        as the difference: only rounding shows).
    gap_excess : largest ``|f~ - f^| - gap_bound`` over inputs and kappas (<= 0 by the triangle
        inequality and ``phi <= 1 / sqrt(2 pi)``).
    """

    kappas: np.ndarray
    expected: np.ndarray
    proxy: np.ndarray
    regularizer: np.ndarray
    error: np.ndarray
    quadratic: np.ndarray
    error_bound: np.ndarray
    identity_gap: float
    gap_excess: float


def decomposition_sweep(W, a, X, y, kappas: Sequence[float]) -> DecompositionSweep:
    """:func:`loss_decomposition` and the quadratic regularizer at every kappa of ``kappas``.

    Parameters
    ----------
    W : (m, d) weights; a : (m,) output weights; X : (n, d) inputs; y : (n,) targets.
    kappas : the Gaussian mask scales (finite, >= 0).

    Returns
    -------
    :class:`DecompositionSweep` of float64 NumPy arrays, one entry per kappa.
    """
    kappas = check_kappas(kappas)
    pieces = {key: [] for key in ("expected", "proxy", "regularizer", "error", "quadratic")}
    error_bound, identity_gap, gap_excess = [], 0.0, -math.inf
    for kappa in progress(kappas):
        p = loss_decomposition(W, a, X, y, kappa)
        proxy_residual = smoothed_network(W, a, X, kappa, kind="proxy") - y
        bound = (p.gap_bound * (proxy_residual.abs() + 0.5 * p.gap_bound)).sum()
        quadratic = quadratic_regularizer(W, a, X, kappa)
        values = (p.expected, p.proxy, p.regularizer, p.error, quadratic)
        for key, value in zip(pieces, values, strict=True):
            pieces[key].append(value.item())
        error_bound.append(bound.item())
        total = p.proxy + p.regularizer + p.error
        identity_gap = max(identity_gap, abs((p.expected - total).item()) / p.expected.item())
        gap_excess = max(gap_excess, (p.gap.abs() - p.gap_bound).max().item())
    return DecompositionSweep(
        kappas=np.array(kappas),
        **{key: np.array(value) for key, value in pieces.items()},
        error_bound=np.array(error_bound),
        identity_gap=identity_gap,
        gap_excess=gap_excess,
    )


@dataclass(frozen=True)
class MonteCarloEstimate:
    """A Monte Carlo mean with its standard error (std of the draws / sqrt(draws))."""

    mean: float
    stderr: float
    draws: int


def masked_loss_monte_carlo(
    W,
    a,
    X,
    y,
    kappa: float | None = None,
    *,
    mask=None,
    draws: int = 10_000,
    seed: int = 0,
    batch: int | None = None,
) -> MonteCarloEstimate:
    """Monte Carlo estimate of E_c[L_masked(W)], a fresh mask for every input and draw (any mask).

    Each draw is one masked loss 1/2 sum_i (f(W; x~_i) - y_i)^2; the estimate is their mean and the
    standard error their standard deviation over sqrt(draws). Draws come ``batch`` at a time
    (default: about a million input entries per batch) from a torch.Generator seeded with ``seed``
    on X's device.
    """
    W, a, X = check_network_args(W, a, X)
    y = check_targets(y, X)
    mask = resolve_mask(kappa, mask, closed_form=False)
    check_positive("draws", draws, integer=True)
    if batch is None:
        batch = max(1, _ENTRIES_PER_BATCH // X.numel())
    check_positive("batch", batch, integer=True)
    generator = torch.Generator(device=X.device).manual_seed(seed)
    losses = []
    with torch.no_grad():
        for start in range(0, draws, batch):
            perturbed = mask.sample(X, generator, draws=min(batch, draws - start))
            outputs = torch.relu(perturbed @ W.T) @ a / math.sqrt(W.shape[0])
            losses.append(0.5 * (outputs - y).square().sum(dim=1))
    losses = torch.cat(losses).double()
    stderr = float(losses.std()) / math.sqrt(draws) if draws > 1 else math.inf
    return MonteCarloEstimate(mean=float(losses.mean()), stderr=stderr, draws=draws)

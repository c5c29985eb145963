"""Neural tangent kernel Gram matrices of the two-layer network, and lambda_0 (chapter 3).

Only W is trained, so the Jacobian of the outputs in W has rows
J_i = m^{-1/2} (a_r 1{w_r^T x_i > 0} x_i)_r and H(W) = J J^T. Through the activation pattern S:
H(W) = ((X X^T) ⊙ (S diag(a^2) S^T)) / m, never through per-sample Jacobians. Its expectation over
w ~ N(0, tau^2 I) is H_inf[i, j] = x_i^T x_j (pi - arccos(cos theta_ij)) / (2 pi); under the Gaussian
mask the smoothed network's Jacobian uses the Stein gradient of :func:`mgn.smoothed.smoothed_neuron_grad`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from mgn.data import init_network
from mgn.network import network
from mgn.progress import progress
from mgn.seeds import derived_seed
from mgn.smoothed import smoothed_neuron_grad
from mgn.validation import (
    as_float_tensor,
    check_kappa,
    check_nonempty,
    check_positive,
    check_rows,
    check_weights_and_inputs,
)


def _output_weights(a, W: torch.Tensor) -> torch.Tensor:
    """a as (m,) in W's dtype; all ones when ``a`` is None (a_r^2 = 1 for a_r in {-1, +1})."""
    if a is None:
        return torch.ones(W.shape[0], dtype=W.dtype, device=W.device)
    a = as_float_tensor("a", a, ndim=1)
    check_rows("a", a, W.shape[0], "the rows of W (the width m)")
    return a.to(device=W.device, dtype=W.dtype)


def ntk_gram_infinite(X) -> torch.Tensor:
    """Infinite-width Gram H_inf[i, j] = x_i^T x_j (pi - arccos(cos theta_ij)) / (2 pi) (chapter 3).

    ``cos theta_ij = x_i^T x_j / (||x_i|| ||x_j||)``, clamped into [-1, 1] (on the unit sphere it is
    x_i^T x_j). This is E_w[x_i^T x_j 1{w^T x_i > 0} 1{w^T x_j > 0}] for w ~ N(0, tau^2 I), any tau.

    Parameters
    ----------
    X : (n, d) inputs.

    Returns
    -------
    (n, n) symmetric positive semi-definite tensor in X's dtype and device.
    """
    X = as_float_tensor("X", X, ndim=2)
    check_nonempty("X", X)
    inner = X @ X.T
    norms = torch.linalg.vector_norm(X, dim=1)
    scale = torch.outer(norms, norms)
    cosine = torch.where(scale > 0, inner / torch.where(scale > 0, scale, 1.0), 0.0)
    return inner * (math.pi - torch.arccos(cosine.clamp(-1.0, 1.0))) / (2.0 * math.pi)


def ntk_gram(W, X, a=None) -> torch.Tensor:
    """Finite-width Gram H(W) = J J^T = ((X X^T) ⊙ (S diag(a^2) S^T)) / m (chapter 3).

    Parameters
    ----------
    W : (m, d) hidden weights; X : (n, d) inputs.
    a : (m,) output weights, optional: None means a_r^2 = 1 (a_r in {-1, +1}, the notation page).

    Returns
    -------
    (n, n) tensor; S[i, r] = 1{w_r^T x_i > 0} is the activation pattern. Cost O(n m d + n^2 m).
    """
    W, X = check_weights_and_inputs(W, X)
    weights = _output_weights(a, W)
    pattern = (X @ W.T > 0).to(W.dtype)
    return (X @ X.T) * ((pattern * weights.square()) @ pattern.T) / W.shape[0]


def ntk_gram_smoothed(W, X, kappa: float, a=None) -> torch.Tensor:
    """Gram of the smoothed network under the Gaussian mask: H~ = J~ J~^T (chapter 3).

    Row i of J~ is m^{-1/2} (a_r g_ir)_r with g_ir = grad_w E_c[relu(w_r^T (x_i ⊙ c))]
    = Phi(z/s) x_i + phi(z/s) kappa^2 (x_i ⊙ x_i ⊙ w_r)/s (Stein's lemma, chapter 1); so
    H~[i, j] = m^{-1} sum_r a_r^2 g_ir^T g_jr. At kappa = 0 it equals :func:`ntk_gram`.
    Memory O(n m d) (the (n, m, d) gradients, one matrix product).
    """
    kappa = check_kappa(kappa)
    W, X = check_weights_and_inputs(W, X)
    weights = _output_weights(a, W)
    grads = smoothed_neuron_grad(W[None], X[:, None], kappa) * weights[:, None]
    rows = grads.reshape(X.shape[0], -1)
    return rows @ rows.T / W.shape[0]


def lambda_0(X) -> torch.Tensor:
    """lambda_0 = lambda_min(H_inf) (chapter 3); positive when no two inputs are parallel."""
    return torch.linalg.eigvalsh(ntk_gram_infinite(X))[0]


@dataclass(frozen=True)
class GramEstimate:
    """A Monte Carlo estimate of ``H_inf``: ``mean`` and the ``stderr`` of each entry, both (n, n)."""

    mean: torch.Tensor
    stderr: torch.Tensor
    neurons: int


def ntk_gram_monte_carlo(X, neurons: int, *, seed: int = 0, chunk: int = 50_000) -> GramEstimate:
    """``H_inf`` estimated as ``H(W)`` of ``neurons`` random rows ``w ~ N(0, I)``, with its error.

    Entry (i, j) averages ``x_i^T x_j 1{w^T x_i > 0} 1{w^T x_j > 0}``: ``x_i^T x_j`` times a
    Bernoulli mean ``p_ij``, so its standard error is ``|x_i^T x_j| sqrt(p_ij (1 - p_ij) / neurons)``,
    known from the estimate itself. The rows are drawn ``chunk`` at a time from a generator seeded
    with ``seed`` on X's device.

    Parameters
    ----------
    X : (n, d) inputs.
    neurons : number of random rows averaged; chunk : rows per block (bounds the memory).

    Returns
    -------
    :class:`GramEstimate` with (n, n) tensors in X's dtype and device.
    """
    X = as_float_tensor("X", X, ndim=2)
    check_nonempty("X", X)
    check_positive("neurons", neurons, integer=True)
    check_positive("chunk", chunk, integer=True)
    inner = X @ X.T
    generator = torch.Generator(device=X.device).manual_seed(seed)
    together = torch.zeros_like(inner)
    for start in progress(range(0, neurons, chunk), desc="random w"):
        size = min(chunk, neurons - start)
        w = torch.randn(size, X.shape[1], generator=generator, dtype=X.dtype, device=X.device)
        pattern = (X @ w.T > 0).to(X.dtype)
        together += pattern @ pattern.T
    p_both = together / neurons  # the share of the rows with both inputs active
    stderr = inner.abs() * torch.sqrt(p_both * (1 - p_both) / neurons)
    return GramEstimate(inner * p_both, stderr, neurons)


@dataclass(frozen=True)
class GramConcentration:
    """How far ``H(W_0)`` of random initialisations lies from ``H_inf``, by width and draw.

    Attributes
    ----------
    widths : (len(widths),) the widths m.
    spectral : (len(widths), repeats) ``||H(W_0) - H_inf||_2``.
    entrywise : (len(widths), repeats) ``max_ij |H(W_0) - H_inf|_ij``.
    lambda_min : (len(widths), repeats) ``lambda_min(H(W_0))``.
    """

    widths: np.ndarray
    spectral: np.ndarray
    entrywise: np.ndarray
    lambda_min: np.ndarray


def ntk_concentration(
    X, widths: Sequence[int], repeats: int, *, tau: float = 1.0, seed: int = 0
) -> GramConcentration:
    """``H(W_0)`` against ``H_inf`` for ``repeats`` initialisations at each width.

    Draw ``r`` at width ``m`` is :func:`mgn.init_network` ``(m, d, tau)`` with the seed
    ``mgn.seeds.derived_seed(seed, r, m)``, in X's dtype: every (width, draw) has its own stream. Each entry of ``H(W_0)`` is a mean of m
    bounded i.i.d. terms, so the distances shrink like ``m^{-1/2}`` (chapter 3 fits the rate).

    Parameters
    ----------
    X : (n, d) inputs; widths : the widths m (positive integers); repeats : draws per width.
    tau : init scale; seed : base seed.
    """
    X = as_float_tensor("X", X, ndim=2)
    check_nonempty("X", X)
    widths = list(widths)
    if not widths:
        raise ValueError("widths must name at least one width")
    for width in widths:
        check_positive("widths", width, integer=True)
    check_positive("repeats", repeats, integer=True)
    H_inf = ntk_gram_infinite(X)
    measured = np.empty((3, len(widths), repeats))
    for i, width in enumerate(progress(widths, desc="width")):
        for r in range(repeats):
            draw_seed = derived_seed(seed, r, width)
            W0, _ = init_network(width, X.shape[1], tau=tau, seed=draw_seed, dtype=X.dtype)
            H = ntk_gram(W0.to(X.device), X)
            difference = H - H_inf
            measured[:, i, r] = (
                torch.linalg.matrix_norm(difference, ord=2).item(),
                difference.abs().max().item(),
                torch.linalg.eigvalsh(H)[0].item(),
            )
    return GramConcentration(np.array(widths), *measured)


def linearised_ntk_loss(W0, a, X, y, lr: float, steps: int) -> np.ndarray:
    """Clean loss of gradient descent on the network linearised at ``W0``, for k = 0..steps.

    With the Gram ``H(W_0) = sum_j lambda_j u_j u_j^T`` and the initial residual
    ``r_0 = f(W_0; X) - y``, GD on the linearised sum loss contracts ``u_j^T r`` by
    ``1 - lr lambda_j`` per step, so ``L_k = 1/2 sum_j (1 - lr lambda_j)^{2k} (u_j^T r_0)^2``
    (chapter 4 draws it beside the first steps of the clean run).

    Parameters
    ----------
    W0 : (m, d) weights; a : (m,) output weights; X : (n, d) inputs; y : (n,) targets.
    lr : step size (> 0); steps : the last step k (>= 0).

    Returns
    -------
    (steps + 1,) float64 array.
    """
    check_positive("lr", lr)
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise ValueError(f"steps must be an integer >= 0, got {steps!r}")
    y = as_float_tensor("y", y, ndim=1)
    check_rows("y", y, as_float_tensor("X", X, ndim=2).shape[0], "the rows of X")
    residual = network(W0, a, X) - y
    values, vectors = torch.linalg.eigh(ntk_gram(W0, X, a))
    projections = (vectors.T @ residual).cpu().numpy() ** 2
    factors = 1 - lr * values.cpu().numpy()
    return np.array([0.5 * np.sum(factors ** (2 * k) * projections) for k in np.arange(steps + 1)])

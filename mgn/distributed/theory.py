"""Local SGD without sampling, and the client-drift bound (chapter 6, the book's derivation).

* :func:`expected_local_gd`: chapter 5's prediction carried over to local SGD. Every worker takes
  deterministic GD steps on its shard's closed-form expected loss ``E_c[L_k]``
  (:func:`mgn.expected_masked_loss`), and the models are averaged each round.
* :func:`drift_constants`: the constants of the bound, measured at the round starts of a
  trajectory, and the :class:`mgn.biased_sgd.Constants` of chapter 5's theorem applied to the
  rounds, with step ``eta Q / K`` and the bias enlarged by the client drift

      D = (sqrt(2) eta / Q) sum_{j<Q} sum_k beta_k sqrt(j^2 G_k^2 + j V_k),

  ``G_k`` the norm of shard k's expected gradient and ``V_k`` its mask variance. ``D = 0`` at
  ``Q = 1``, where the bound is section 6's with step ``eta / K``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from mgn.biased_sgd import Constants
from mgn.distributed.local_sgd import shard_indices
from mgn.expected_loss import clean_loss, expected_masked_loss
from mgn.masked_gradient import clean_gradient, masked_gradient_bias, masked_gradient_monte_carlo
from mgn.ntk import ntk_gram
from mgn.progress import progress
from mgn.seeds import derived_seed

__all__ = [
    "DriftConstants",
    "drift_constants",
    "drift_term",
    "expected_local_gd",
]


def _block_inputs(X: torch.Tensor, shards: list[torch.Tensor]) -> torch.Tensor:
    """``(n, K d)``: sample i of shard k in the k-th block of d coordinates, zeros elsewhere."""
    n, d = X.shape
    workers = len(shards)
    blocks = torch.zeros(n, workers * d, dtype=X.dtype, device=X.device)
    for k, index in enumerate(shards):
        blocks[index, k * d : (k + 1) * d] = X[index]
    return blocks


def expected_local_gd(
    X,
    y,
    W0,
    a,
    kappa: float,
    lr: float,
    rounds: int,
    local_steps: int,
    workers: int,
    split: str = "iid",
) -> tuple[np.ndarray, torch.Tensor]:
    """Local GD on every shard's exact expected loss, averaged each round (no sampling).

    All K local models take their step in one evaluation of the closed form: the block-diagonal
    network ``diag(W_1, ..., W_K)`` with output weights ``sqrt(K) a`` on the block inputs gives
    sample i of shard k exactly ``f(W_k; x_i ⊙ c)`` (the other blocks see a zero input and add
    nothing, in mean or variance), so its expected loss is ``sum_k E_c[L_k(W_k)]`` and its gradient
    holds every shard's gradient on the diagonal. The off-diagonal blocks are held at zero (under
    the mask a unit with zero weights on an input's block has a nonzero gradient there). ``split``
    cuts the shards as :func:`mgn.distributed.local_sgd.shard_indices` does.

    Returns
    -------
    ``(clean_loss, W)``: the global model's clean loss ``(rounds + 1,)`` and the global models at
    the round starts and the end, ``(rounds + 1, m, d)``.
    """
    m, d = W0.shape
    blocks_X = _block_inputs(X, shard_indices(X.shape[0], workers, split, y))
    a_blocks = a.repeat(workers) * math.sqrt(workers)
    on_diagonal = torch.block_diag(*[torch.ones_like(W0)] * workers)
    W = W0.clone()
    history = [W.clone()]
    for _ in progress(range(rounds), desc=f"expected local GD kappa={kappa:g} Q={local_steps}"):
        local = torch.block_diag(*[W] * workers).requires_grad_(True)
        for _ in range(local_steps):
            (grad,) = torch.autograd.grad(
                expected_masked_loss(local, a_blocks, blocks_X, y, kappa), local
            )
            with torch.no_grad():
                local -= lr * grad * on_diagonal
        with torch.no_grad():
            diagonal = [local[k * m : (k + 1) * m, k * d : (k + 1) * d] for k in range(workers)]
            W = torch.stack(diagonal).sum(0) / workers
        history.append(W.clone())
    history = torch.stack(history)
    losses = np.array([float(clean_loss(W_t, a, X, y)) for W_t in history])
    return losses, history


@dataclass(frozen=True)
class DriftConstants:
    """Measured constants of the local-SGD bound and the section-6 constants they give.

    ``beta``, ``mu``: extremes of ``lambda_max``/``lambda_min`` of ``H(W)`` over the probes;
    ``beta_k``, ``G_k``, ``V_k``: per shard, the largest ``lambda_max(H_k)``, expected-gradient norm
    and mask variance of the shard gradient; ``zeta``: the largest norm of the mask bias of the
    full gradient; ``drift``: D of the module docstring; ``theorem``: section 6's constants for
    the rounds (``zeta2 = (zeta + D)^2``, ``M = 2``, ``sigma2 = 2 zeta2 + max sum_k V_k / Q``).
    """

    beta: float
    mu: float
    beta_k: np.ndarray
    G_k: np.ndarray
    V_k: np.ndarray
    zeta: float
    drift: float
    theorem: Constants


def drift_term(lr: float, local_steps: int, beta_k, G_k, V_k) -> float:
    """``D = (sqrt 2 eta / Q) sum_{j<Q} sum_k beta_k sqrt(j^2 G_k^2 + j V_k)`` (module docstring)."""
    j = np.arange(local_steps)[:, None]
    per_step = np.asarray(beta_k) * np.sqrt(j**2 * np.asarray(G_k) ** 2 + j * np.asarray(V_k))
    return float(math.sqrt(2.0) * lr * per_step.sum() / local_steps)


def drift_constants(
    X,
    y,
    a,
    kappa: float,
    lr: float,
    local_steps: int,
    workers: int,
    probes: Sequence[torch.Tensor],
    draws: int = 200,
    seed: int = 0,
) -> DriftConstants:
    """Measure the bound's constants at the global models ``probes`` (e.g. round starts)."""
    shards = shard_indices(X.shape[0], workers)
    beta, mu, zeta = 0.0, math.inf, 0.0
    beta_k, G_k, V_k = (np.zeros(workers) for _ in range(3))
    V_round = 0.0
    for index, W in enumerate(probes):
        eigenvalues = torch.linalg.eigvalsh(ntk_gram(W, X))
        beta, mu = max(beta, float(eigenvalues[-1])), min(mu, float(eigenvalues[0]))
        zeta = max(zeta, float(masked_gradient_bias(W, a, X, y, kappa).norm()))
        V_sum = 0.0
        for k, rows in enumerate(shards):
            Xk, yk = X[rows], y[rows]
            beta_k[k] = max(beta_k[k], float(torch.linalg.eigvalsh(ntk_gram(W, Xk))[-1]))
            expected = clean_gradient(W, a, Xk, yk) + masked_gradient_bias(W, a, Xk, yk, kappa)
            G_k[k] = max(G_k[k], float(expected.norm()))
            if kappa > 0:
                estimate = masked_gradient_monte_carlo(
                    W, a, Xk, yk, kappa, draws=draws, seed=derived_seed(seed, index, k)
                )
                V_k[k] = max(V_k[k], estimate.variance)
                V_sum += estimate.variance
        V_round = max(V_round, V_sum / local_steps)
    drift = drift_term(lr, local_steps, beta_k, G_k, V_k)
    zeta2 = (zeta + drift) ** 2
    theorem = Constants(beta=beta, mu=mu, zeta2=zeta2, M=2.0, sigma2=2.0 * zeta2 + V_round)
    return DriftConstants(beta, mu, beta_k, G_k, V_k, zeta, drift, theorem)

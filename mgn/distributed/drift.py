"""The client-drift bound of local SGD (chapter 6, section (d)), measured on Monte Carlo rounds.

A round from the global ``W_t`` moves it by ``-eta_r g_hat`` with ``eta_r = eta Q / K`` and the
round's direction ``g_hat = (1/Q) sum_{j<Q} sum_k g_k^(j)``. Its mean departs from the exact
expected gradient ``sum_k grad Lbar_k(W_t)`` (chapter 5's ``grad L + b``) by the client drift

    delta_t = (1/Q) sum_{j<Q} sum_k (m_k^(j) - grad Lbar_k(W_t)),   m_k^(j) = E_t g_k^(j),

and the book bounds it by

    ||delta_t|| <= D = (eta / Q) sum_{j<Q} sum_k beta_k sqrt(j^2 G_k^2 + j V_k)

under three premises on the round's local paths (``j`` local steps, worker ``k``):

- (P1) smoothness along the local path: ``||m_k^(j) - grad Lbar_k(W_t)|| <= beta_k
  (E ||W_k^(j) - W_t||^2)^(1/2)``;
- (P2) the mean gradient over the whole round: ``||m_k^(j)|| <= G_k``;
- (P3) the variance over the whole round, the path's randomness and its covariance with the mask
  noise included: ``tr Cov(W_k^(j) - W_t) <= eta^2 j V_k``.

:func:`round_paths` runs ``draws`` independent rounds from one ``W_t`` with the engine of
:func:`mgn.distributed.train_local_sgd` and keeps every local model; :func:`probe_drift` measures
at ``W_t`` what the bound and its premises need; :func:`fit_drift_constants` takes the constants
from some probes and :func:`check_drift` verifies the premises and the bound on others, as chapter
5 does for its theorem (:mod:`mgn.biased_sgd`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from mgn.biased_sgd import Constants
from mgn.distributed.local_sgd import LocalSGDEngine, shard_indices
from mgn.expected_loss import expected_masked_loss
from mgn.masked_gradient import clean_gradient
from mgn.ntk import ntk_gram
from mgn.records import Check
from mgn.seeds import derived_seed
from mgn.validation import check_kappa, check_positive

__all__ = [
    "DriftConstants",
    "DriftProbe",
    "RoundPaths",
    "check_drift",
    "drift_growth",
    "drift_term",
    "fit_drift_constants",
    "probe_drift",
    "round_paths",
]


@dataclass(frozen=True)
class RoundPaths:
    """``draws`` independent rounds of local SGD from one global model ``W (m, d)``.

    ``local`` is ``(draws, Q + 1, K, m, d)``: worker k's model after j local steps (``j = 0``:
    ``W``). ``at_start`` is ``(draws, Q, K, m, d)``: the masked gradient at ``W`` itself under
    the masks of local step j (common random numbers: ``E[g_k^(j) - at_start]`` is the drift of
    step j, with the mask noise cancelled); ``lr`` the local step size.
    """

    W: torch.Tensor
    local: torch.Tensor
    at_start: torch.Tensor
    lr: float

    @property
    def gradients(self) -> torch.Tensor:
        """The masked gradients the workers stepped along, ``(draws, Q, K, m, d)``."""
        return (self.local[:, :-1] - self.local[:, 1:]) / self.lr

    @property
    def direction(self) -> torch.Tensor:
        """The direction ``g_hat = (1/Q) sum_j sum_k g_k^(j)`` of each draw, ``(draws, m, d)``."""
        steps = self.local.shape[1] - 1
        return (self.W - self.local[:, -1]).sum(1) / (self.lr * steps)

    @property
    def changes(self) -> torch.Tensor:
        """``g_k^(j) - g_k(W)`` under one mask, ``(draws, Q, K, m, d)``: the gradient's drift."""
        return self.gradients - self.at_start

    def drift(self) -> tuple[torch.Tensor, float]:
        """The client drift ``delta_t`` by Monte Carlo, ``(m, d)``, and its standard error.

        The mean over the draws of ``(1/Q) sum_j sum_k (g_k^(j) - g_k(W))``: since ``E g_k(W) =
        grad Lbar_k(W)`` it needs no closed form, and the common masks cancel most of the noise.
        The standard error is the norm of the entries' standard errors.
        """
        delta, noise = _mean_and_noise(self.changes.sum(2).mean(1))
        return delta, float(noise)


def round_paths(
    X,
    y,
    W,
    a,
    kappa: float,
    lr: float,
    local_steps: int,
    workers: int,
    draws: int,
    seed: int = 0,
    split: str = "iid",
) -> RoundPaths:
    """Run ``draws`` rounds of ``local_steps`` masked local steps from ``W``, keeping every model.

    Draw r uses the streams of replicate r of :func:`mgn.distributed.train_local_sgd` with this
    ``seed`` (``derived_seed(seed, r)``): the mean of its last local models is that run's model
    after one round. A second engine with the same streams takes every step from ``W`` instead,
    which gives ``at_start``.
    """
    kappa = check_kappa(kappa)
    check_positive("lr", lr)
    check_positive("local_steps", local_steps, integer=True)
    check_positive("workers", workers, integer=True)
    check_positive("draws", draws, integer=True)
    m, d = W.shape
    seeds = [derived_seed(seed, r) for r in range(draws)]
    engines = [
        LocalSGDEngine(
            X,
            y,
            a.expand(draws, m),
            [kappa],
            seeds,
            range(workers),
            workers,
            lr,
            None,
            0.0,
            X.device,
            split,
        )  # fmt: skip
        for _ in range(2)
    ]
    start = W.expand(workers * draws, m, d)
    W_local, W_frozen = start.clone(), start.clone()
    local, at_start = [start], []
    for _ in range(local_steps):
        engines[0].local_step(W_local)
        local.append(W_local.clone())
        W_frozen.copy_(start)
        engines[1].local_step(W_frozen)
        at_start.append((start - W_frozen) / lr)
    shape = (workers, draws, m, d)
    return RoundPaths(
        W=W,
        local=torch.stack(local).view(local_steps + 1, *shape).permute(2, 0, 1, 3, 4),
        at_start=torch.stack(at_start).view(local_steps, *shape).permute(2, 0, 1, 3, 4),
        lr=lr,
    )


def drift_growth(
    X,
    y,
    models: Sequence[torch.Tensor],
    a,
    kappa: float,
    lr: float,
    local_steps: Sequence[int],
    workers: int,
    draws: int,
    seed: int = 0,
    split: str = "iid",
) -> np.ndarray:
    """``||delta||`` by Monte Carlo (:meth:`RoundPaths.drift`) from each model, for each ``Q``.

    Model r draws its rounds from the seed ``derived_seed(seed, r)``. Returns
    ``(len(models), len(local_steps))``.
    """
    return np.array([
        [
            float(round_paths(X, y, W, a, kappa, lr, Q, workers, draws, derived_seed(seed, r),
                              split).drift()[0].norm())
            for Q in local_steps
        ]
        for r, W in enumerate(models)
    ])  # fmt: skip


def _mean_and_noise(samples: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean over the leading (draw) axis and the norm of its standard errors over the last two."""
    draws = samples.shape[0]
    mean = samples.mean(0)
    noise = (samples.var(0) / draws).sum((-2, -1)).sqrt()
    return mean, noise


def _trace_covariance(samples: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``tr Cov`` over the leading (draw) axis of matrices (the last two axes), and its s.e."""
    draws = samples.shape[0]
    squares = (samples - samples.mean(0)).square().sum((-2, -1)) * draws / (draws - 1)
    return squares.mean(0), squares.std(0) / math.sqrt(draws)


@dataclass(frozen=True)
class DriftProbe:
    """What the drift bound needs at one round start ``W_t``, from :func:`round_paths`.

    Arrays over ``(Q, K)`` are indexed by the local step ``j = 0..Q-1`` and the worker ``k``;
    every ``*_se`` is a Monte Carlo standard error (for a vector: the norm of its entries').

    Attributes
    ----------
    drift, drift_se : ``||delta_t||``, the mean direction minus ``sum_k grad Lbar_k(W_t)``.
    bias_norm : ``||b(W_t)||``, the exact mask bias of the full gradient (chapter 5).
    direction_variance : ``tr Cov g_hat``, the round's noise.
    mean_step, mean_step_se : ``(Q, K)`` ``||m_k^(j)||``, the mean gradient at step j (P2).
    secant, secant_se : ``(Q, K)`` the smoothness the path needs (P1; 0 at ``j = 0``),
        ``||m_k^(j) - grad Lbar_k(W_t)|| / (E||W_k^(j) - W_t||^2)^(1/2)``.
    step_variance : ``(Q, K)`` ``tr Cov g_k^(j)``: mask noise and the path's randomness.
    path_variance, path_variance_se : ``(Q, K)`` ``tr Cov(W_k^(j) - W_t) / eta^2`` (P3).
    curvature : ``(K,)`` ``lambda_max(H_k(W_t))``, the Gram matrix of shard k (chapter 3).
    lambda_min, lambda_max : extreme eigenvalues of ``H(W_t)`` on all samples.
    """

    drift: float
    drift_se: float
    bias_norm: float
    direction_variance: float
    mean_step: np.ndarray
    mean_step_se: np.ndarray
    secant: np.ndarray
    secant_se: np.ndarray
    step_variance: np.ndarray
    path_variance: np.ndarray
    path_variance_se: np.ndarray
    curvature: np.ndarray
    lambda_min: float
    lambda_max: float


def _shard_gradient(W, a, X, y, kappa) -> torch.Tensor:
    W = W.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(expected_masked_loss(W, a, X, y, kappa), W)
    return grad


def probe_drift(
    X,
    y,
    W,
    a,
    kappa: float,
    lr: float,
    local_steps: int,
    workers: int,
    draws: int,
    seed: int = 0,
    split: str = "iid",
) -> DriftProbe:
    """Measure :class:`DriftProbe` at ``W`` from ``draws`` rounds (:func:`round_paths`).

    The exact ``grad Lbar_k(W)`` come from the closed form (:func:`mgn.expected_masked_loss`) on
    each shard; everything along the paths from the Monte Carlo rounds.
    """
    if draws < 2:
        raise ValueError(f"draws must be at least 2 for a standard error, got {draws}")
    paths = round_paths(X, y, W, a, kappa, lr, local_steps, workers, draws, seed, split)
    shards = shard_indices(X.shape[0], workers, split, y)
    start = torch.stack([_shard_gradient(W, a, X[s], y[s], kappa) for s in shards])  # (K, m, d)
    moved, moved_se = _mean_and_noise(paths.changes)  # (Q, K, m, d), (Q, K)
    steps = start + moved  # m_k^(j) = grad Lbar_k(W) + E[g_k^(j) - g_k(W)]
    drift, drift_se = paths.drift()
    displacement = paths.local[:, :-1] - W  # (draws, Q, K, m, d)
    distance = displacement.square().sum((-2, -1)).mean(0).sqrt()  # (Q, K)
    safe = torch.where(distance > 0, distance, torch.ones_like(distance))
    path_variance, path_variance_se = _trace_covariance(displacement / lr)
    curvature = [torch.linalg.eigvalsh(ntk_gram(W, X[s], a))[-1] for s in shards]
    eigenvalues = torch.linalg.eigvalsh(ntk_gram(W, X, a))
    bias = start.sum(0) - clean_gradient(W, a, X, y)
    numpy = lambda t: t.double().cpu().numpy()  # noqa: E731
    return DriftProbe(
        drift=float(drift.norm()),
        drift_se=drift_se,
        bias_norm=float(bias.norm()),
        direction_variance=float(_trace_covariance(paths.direction)[0]),
        mean_step=numpy(steps.norm(dim=(-2, -1))),
        mean_step_se=numpy(moved_se),
        secant=numpy(torch.where(distance > 0, moved.norm(dim=(-2, -1)) / safe, 0.0)),
        secant_se=numpy(torch.where(distance > 0, moved_se / safe, 0.0)),
        step_variance=numpy(_trace_covariance(paths.gradients)[0]),
        path_variance=numpy(path_variance),
        path_variance_se=numpy(path_variance_se),
        curvature=numpy(torch.stack(curvature)),
        lambda_min=float(eigenvalues[0]),
        lambda_max=float(eigenvalues[-1]),
    )


def drift_term(lr: float, local_steps: int, beta_k, G_k, V_k) -> float:
    """``D = (eta / Q) sum_{j<Q} sum_k beta_k sqrt(j^2 G_k^2 + j V_k)`` (module docstring)."""
    j = np.arange(local_steps)[:, None]
    per_step = np.asarray(beta_k) * np.sqrt(j**2 * np.asarray(G_k) ** 2 + j * np.asarray(V_k))
    return float(lr * per_step.sum() / local_steps)


@dataclass(frozen=True)
class DriftConstants:
    """Constants of the drift bound fitted on probes, and chapter 5's constants for the rounds.

    ``beta_k``, ``G_k``, ``V_k`` (per worker): the largest smoothness (``lambda_max(H_k)`` or the
    path's need, P1), mean gradient over the round (P2) and per-step variance over the round
    (mask noise and path randomness, P3); ``zeta``: the largest ``||b(W_t)||``; ``drift``: D;
    ``theorem``: :class:`mgn.biased_sgd.Constants` of the rounds, ``zeta2 = (zeta + D)^2``,
    ``M = 2``, ``sigma2 = 2 zeta2 + max tr Cov g_hat``.
    """

    beta_k: np.ndarray
    G_k: np.ndarray
    V_k: np.ndarray
    zeta: float
    drift: float
    theorem: Constants


def fit_drift_constants(
    probes: Sequence[DriftProbe], lr: float, local_steps: int
) -> DriftConstants:
    """The constants of the bound: maxima over ``probes`` (every local step of every round)."""
    if not probes:
        raise ValueError("probes must hold at least one DriftProbe")
    secant = np.stack([p.secant.max(0) for p in probes]).max(0)
    beta_k = np.maximum(np.stack([p.curvature for p in probes]).max(0), secant)
    G_k = np.stack([p.mean_step.max(0) for p in probes]).max(0)
    V_k = np.stack([p.step_variance.max(0) for p in probes]).max(0)
    zeta = max(p.bias_norm for p in probes)
    drift = drift_term(lr, local_steps, beta_k, G_k, V_k)
    zeta2 = (zeta + drift) ** 2
    theorem = Constants(
        beta=max(p.lambda_max for p in probes),
        mu=min(p.lambda_min for p in probes),
        zeta2=zeta2,
        M=2.0,
        sigma2=2.0 * zeta2 + max(p.direction_variance for p in probes),
    )
    return DriftConstants(beta_k, G_k, V_k, zeta, drift, theorem)


def _worst_ratio(measured: np.ndarray, bound: np.ndarray) -> float:
    """Largest ``measured / bound``; a positive ``measured`` over a zero bound is ``inf``."""
    measured, bound = np.broadcast_arrays(np.asarray(measured, float), np.asarray(bound, float))
    ratio = np.where(bound > 0, measured / np.where(bound > 0, bound, 1.0), np.inf)
    return float(np.where(measured > 0, ratio, 0.0).max())


def check_drift(
    constants: DriftConstants,
    verify: Sequence[DriftProbe],
    se_multiplier: float = 3.0,
) -> list[Check]:
    """Each premise (P1)-(P3) and the bound ``||delta_t|| <= D`` on the probes ``verify``.

    Every measured quantity is a Monte Carlo mean, allowed ``se_multiplier`` of its standard
    errors; each check's measured value is the largest ratio of that quantity, less the allowance,
    to its bound (passes at <= 1).
    """
    if not verify:
        raise ValueError("verify must hold at least one DriftProbe")
    k = se_multiplier
    steps = np.arange(verify[0].mean_step.shape[0])[:, None]
    smooth = [_worst_ratio(p.secant - k * p.secant_se, constants.beta_k) for p in verify]
    gradient = [_worst_ratio(p.mean_step - k * p.mean_step_se, constants.G_k) for p in verify]
    variance = [
        _worst_ratio(p.path_variance - k * p.path_variance_se, steps * constants.V_k)
        for p in verify
    ]
    drift = [_worst_ratio(p.drift - k * p.drift_se, constants.drift) for p in verify]
    allowance = f"less {k:g} s.e., largest ratio to the bound"
    return [
        Check.at_most(
            "P1 smoothness along the path",
            f"||m_k^(j) - grad Lbar_k(W_t)|| <= beta_k (E||W_k^(j) - W_t||^2)^(1/2) ({allowance})",
            max(smooth),
            1.0,
        ),
        Check.at_most(
            "P2 gradient over the round",
            f"||m_k^(j)|| <= G_k at every local step ({allowance})",
            max(gradient),
            1.0,
        ),
        Check.at_most(
            "P3 variance over the round",
            f"tr Cov(W_k^(j) - W_t) <= eta^2 j V_k at every local step ({allowance})",
            max(variance),
            1.0,
        ),
        Check.at_most(
            "drift within D",
            f"||delta_t|| <= D, the mean round direction by Monte Carlo ({allowance})",
            max(drift),
            1.0,
        ),
    ]

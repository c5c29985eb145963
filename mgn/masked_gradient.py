"""The masked gradient and its bias for the clean loss (chapter 5).

The mask sits inside the ReLU, so the masked gradient g = grad_W 1/2 sum_i (f(W; x~_i) - y_i)^2 is
a biased estimate of grad L(W): E_c[g] = grad E_c[L_masked](W) = grad L(W) + b(W). The exact bias
comes from the closed form of the expected loss (:mod:`mgn.expected_loss`) by autograd; the Monte
Carlo estimate averages masked gradients over fresh masks, with standard errors.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from mgn.expected_loss import clean_loss, expected_masked_loss
from mgn.masks import resolve_mask
from mgn.network import check_network_args
from mgn.validation import check_positive, check_targets


def masked_gradients(W, a, X_masked: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Gradients of 1/2 sum_i (f(W; x~_i) - y_i)^2 in W for a batch of masked inputs.

    ``X_masked`` is (D, n, d): D independent draws of the n masked inputs; returns (D, m, d):
    ``m^{-1/2} sum_i (f(x~_i) - y_i) a_r 1{w_r^T x~_i > 0} x~_i`` for each draw.
    """
    root_m = math.sqrt(W.shape[0])
    pre = X_masked @ W.T  # (D, n, m)
    residual = torch.relu(pre) @ a / root_m - y  # (D, n)
    weights = (pre > 0).to(W.dtype) * residual[..., None] * (a / root_m)  # (D, n, m)
    return weights.transpose(1, 2) @ X_masked


def clean_gradient(W, a, X, y) -> torch.Tensor:
    """grad L(W) of the clean sum loss (the notation page), shape (m, d)."""
    W = W.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(clean_loss(W, a, X, y), W)
    return grad


def masked_gradient_bias(W, a, X, y, kappa: float | None = None, *, mask=None) -> torch.Tensor:
    """Exact bias b(W) = grad E_c[L_masked](W) - grad L(W), shape (m, d) (chapters 2 and 5).

    Through the closed form of the expected loss, so any Gaussian-family mask works; zero at
    ``kappa = 0``.
    """
    W, a, X = check_network_args(W, a, X)
    y = check_targets(y, X)
    W_var = W.detach().requires_grad_(True)
    (expected,) = torch.autograd.grad(expected_masked_loss(W_var, a, X, y, kappa, mask=mask), W_var)
    return expected - clean_gradient(W, a, X, y)


@dataclass(frozen=True)
class MaskedGradientEstimate:
    """Monte Carlo over masks of the masked gradient g at one W.

    ``mean``/``mean_se``: E[g] and its standard error per entry, (m, d); ``bias``: mean - grad L;
    ``second_moment``/``second_moment_se``: E||g||^2 and its standard error; ``variance``: the
    mask variance tr Cov g = E||g - E g||^2 (unbiased); ``draws``.
    """

    mean: torch.Tensor
    mean_se: torch.Tensor
    bias: torch.Tensor
    second_moment: float
    second_moment_se: float
    variance: float
    draws: int


def masked_gradient_monte_carlo(
    W,
    a,
    X,
    y,
    kappa: float | None = None,
    *,
    mask=None,
    draws: int = 1000,
    seed: int = 0,
    batch: int = 64,
) -> MaskedGradientEstimate:
    """Average ``draws`` masked gradients at W, each with a fresh mask for every input.

    Draws come ``batch`` at a time from a torch.Generator seeded with ``seed`` on X's device.
    """
    W, a, X = check_network_args(W, a, X)
    y = check_targets(y, X)
    mask = resolve_mask(kappa, mask, closed_form=False)
    check_positive("draws", draws, integer=True)
    check_positive("batch", batch, integer=True)
    if draws < 2:
        raise ValueError(f"draws must be at least 2 for a standard error, got {draws}")
    generator = torch.Generator(device=X.device).manual_seed(seed)
    total = torch.zeros_like(W, dtype=torch.float64)
    total_sq = torch.zeros_like(total)
    norms = []
    with torch.no_grad():
        for start in range(0, draws, batch):
            masked = mask.sample(X, generator, draws=min(batch, draws - start))
            grads = masked_gradients(W, a, masked, y).double()
            total += grads.sum(0)
            total_sq += grads.square().sum(0)
            norms.append(grads.flatten(1).square().sum(1))
    mean = total / draws
    mean_se = ((total_sq / draws - mean.square()).clamp_min(0) * draws / (draws - 1) / draws).sqrt()
    norms = torch.cat(norms)
    return MaskedGradientEstimate(
        mean=mean.to(W.dtype),
        mean_se=mean_se.to(W.dtype),
        bias=mean.to(W.dtype) - clean_gradient(W, a, X, y),
        second_moment=float(norms.mean()),
        second_moment_se=float(norms.std() / math.sqrt(draws)),
        variance=float(mean_se.square().sum() * draws),
        draws=draws,
    )

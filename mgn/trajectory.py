"""Masked GD measured along its trajectory, and predicted without sampling (chapters 3-5).

:func:`probe_trajectory` runs masked GD (:func:`mgn.train.train_masked_gd`) and, every
``probe_every`` steps, measures what the biased-SGD theorem needs (:class:`mgn.biased_sgd.Probe`).
:func:`expected_loss_descent` predicts the clean-loss curve of full-batch masked GD by
deterministic GD on the closed-form expected loss E_c[L_masked] (:mod:`mgn.expected_loss`): the
mask noise averages over the n samples at every step, the bias does not.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from mgn.biased_sgd import Probe
from mgn.device import resolve_device
from mgn.expected_loss import clean_loss, expected_masked_loss
from mgn.masked_gradient import (
    clean_gradient,
    masked_gradient_bias,
    masked_gradient_monte_carlo,
    masked_gradients,
)
from mgn.masks import GaussianMask
from mgn.ntk import ntk_gram
from mgn.progress import progress
from mgn.seeds import derived_seed, stream
from mgn.train import train_masked_gd
from mgn.validation import check_kappas, check_positive


def _probe_at(W, a, X, y, kappa, lr, draws, seed) -> dict[str, float]:
    """Every quantity of :class:`Probe` at one W (one masked step gives the smoothness needed)."""
    loss = float(clean_loss(W, a, X, y))
    grad = clean_gradient(W, a, X, y)
    eigenvalues = torch.linalg.eigvalsh(ntk_gram(W, X, a))
    estimate = masked_gradient_monte_carlo(
        W, a, X, y, kappa, draws=draws, seed=derived_seed(seed, 0)
    )
    generator = stream(seed, 1, device=X.device)
    step = -lr * masked_gradients(W, a, GaussianMask(kappa).sample(X, generator, draws=1), y)[0]
    after = float(clean_loss(W + step, a, X, y))
    needed = 2.0 * (after - loss - float((grad * step).sum())) / float(step.square().sum())
    return {
        "loss": loss,
        "grad_norm2": float(grad.square().sum()),
        "lambda_min": float(eigenvalues[0]),
        "lambda_max": float(eigenvalues[-1]),
        "smoothness_needed": needed,
        "bias_norm2": float(masked_gradient_bias(W, a, X, y, kappa).square().sum()),
        "second_moment": estimate.second_moment,
        "second_moment_se": estimate.second_moment_se,
        "variance": estimate.variance,
    }


def probe_trajectory(
    X,
    y,
    W0,
    a,
    kappa: float,
    lr: float,
    steps: int,
    probe_every: int,
    draws: int = 256,
    seed: int = 0,
    device: str | torch.device = "auto",
) -> tuple[np.ndarray, Probe]:
    """Masked GD for ``steps`` steps, probed every ``probe_every`` steps (chapter 5).

    Training runs in segments of ``probe_every`` steps; segment j's probe and masks come from the
    seed ``mgn.seeds.derived_seed(seed, j)`` (module :mod:`mgn.seeds`); every mask is fresh, so this is one masked-GD trajectory. At each probed W_k the probe measures the
    clean loss and gradient, the extreme eigenvalues of H(W_k), the exact bias, ``E||g||^2`` from
    ``draws`` masks, and the smoothness the descent lemma needs on one masked step from W_k.

    Returns
    -------
    ``(clean_loss (steps + 1,), probe)`` as NumPy array and :class:`Probe`.
    """
    check_positive("probe_every", probe_every, integer=True)
    check_positive("steps", steps, integer=True)
    if steps % probe_every:
        raise ValueError(f"steps ({steps}) must be a multiple of probe_every ({probe_every})")
    device = resolve_device(device)
    X, y, W, a = (torch.as_tensor(t).to(device) for t in (X, y, W0, a))
    losses, rows = [], []
    for segment in progress(range(steps // probe_every), desc=f"probe kappa={kappa:g}"):
        segment_seed = derived_seed(seed, segment)
        rows.append(_probe_at(W, a, X, y, kappa, lr, draws, segment_seed))
        run = train_masked_gd(
            X, y, W, a, [kappa], lr, probe_every, seed=derived_seed(segment_seed, 2),
            device=device, show_progress=False,
        )  # fmt: skip
        losses.append(run.clean_loss[0, :-1])
        W = run.W[0].to(device)
    losses.append(run.clean_loss[0, -1:])
    fields = {name: np.array([row[name] for row in rows]) for name in rows[0]}
    probe = Probe(steps=np.arange(0, steps, probe_every), **fields)
    return torch.cat(losses).double().numpy(), probe


def expected_loss_descent(
    X,
    y,
    W0,
    a,
    kappas: Sequence[float],
    lr: float,
    steps: int,
    device: str | torch.device = "auto",
) -> np.ndarray:
    """Clean loss along deterministic GD on the expected masked loss, one curve per kappa.

    W_{k+1} = W_k - lr grad E_c[L_masked](W_k), the exact gradient of the closed form; the
    prediction of full-batch masked GD's clean-loss curve. Returns (len(kappas), steps + 1).
    """
    kappas = check_kappas(kappas)
    check_positive("lr", lr)
    check_positive("steps", steps, integer=True)
    device = resolve_device(device)
    X, y, W0, a = (torch.as_tensor(t).to(device) for t in (X, y, W0, a))
    curves = np.zeros((len(kappas), steps + 1))
    for row, kappa in enumerate(kappas):
        W = W0.clone().requires_grad_(True)
        for k in progress(range(steps), desc=f"expected-loss GD kappa={kappa:g}"):
            (grad,) = torch.autograd.grad(expected_masked_loss(W, a, X, y, kappa), W)
            curves[row, k] = float(clean_loss(W.detach(), a, X, y))
            with torch.no_grad():
                W -= lr * grad
        curves[row, steps] = float(clean_loss(W.detach(), a, X, y))
    return curves

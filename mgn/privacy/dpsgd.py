"""DP-SGD through Opacus: the baseline with an (epsilon, delta) guarantee that masking lacks.

Abadi et al. (2016): each example's gradient is clipped to norm ``max_grad_norm``, the clipped sum
gets Gaussian noise of standard deviation ``noise_multiplier * max_grad_norm``, batches are drawn by
Poisson sampling, and Opacus' RDP accountant turns (noise, sampling rate, steps) into epsilon at the
given delta. The optimizer is Adam on the privatised gradient (SPEC section 7's membership
settings use Adam). Opacus needs per-sample gradients, which BatchNorm does not have:
:func:`dp_compatible` swaps it for GroupNorm (``ModuleValidator.fix``), and a fair comparison
gives the masked arm the same normalisation.
"""

from __future__ import annotations

import copy
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from mgn._validation import check_positive, check_snapshot_epochs
from mgn.device import resolve_device
from mgn.progress import progress


def dp_compatible(model: nn.Module) -> nn.Module:
    """A copy of ``model`` that Opacus accepts: BatchNorm replaced by GroupNorm."""
    from opacus.validators import ModuleValidator

    fixed = ModuleValidator.fix(copy.deepcopy(model))
    ModuleValidator.validate(fixed, strict=True)
    return fixed


@dataclass(frozen=True)
class DPTraining:
    """A DP-SGD training: the trained ``model``, ``epsilon[e]`` spent after epoch e + 1 (at
    ``delta``), and ``snapshots`` (epoch -> state dict on the CPU)."""

    model: nn.Module
    epsilon: list[float]
    delta: float
    snapshots: dict[int, dict[str, torch.Tensor]]


def train_dpsgd(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    epochs: int,
    *,
    noise_multiplier: float,
    max_grad_norm: float = 1.0,
    delta: float = 1e-5,
    lr: float = 1e-3,
    weight_decay: float = 0.0,
    batch_size: int = 100,
    seed: int = 0,
    snapshots: Sequence[int] = (),
    device: str | torch.device = "auto",
) -> DPTraining:
    """Train a copy of ``model`` with DP-SGD (Opacus), clean inputs, cross-entropy loss.

    Parameters
    ----------
    model
        The architecture and initial weights (copied; BatchNorm must already be replaced, see
        :func:`dp_compatible`).
    images, labels
        The training set, (N, ...) and (N,).
    epochs
        Passes over the data (each of ``N / batch_size`` Poisson-sampled steps).
    noise_multiplier
        sigma: noise standard deviation relative to ``max_grad_norm`` (> 0).
    max_grad_norm, delta
        Per-example clipping norm C and the delta of the reported (epsilon, delta).
    lr, weight_decay, batch_size, seed
        Adam's settings, the expected batch size (sampling rate ``batch_size / N``), the seed of
        the sampling and of the noise.
    snapshots
        Epochs (1..epochs) at which to keep the weights.
    """
    from opacus import PrivacyEngine

    check_positive("epochs", epochs, integer=True)
    check_positive("noise_multiplier", noise_multiplier)
    check_positive("max_grad_norm", max_grad_norm)
    check_positive("batch_size", batch_size, integer=True)
    if not 0 < delta < 1:
        raise ValueError(f"delta must be in (0, 1), got {delta!r}")
    if images.shape[0] != labels.shape[0] or images.shape[0] == 0:
        raise ValueError(
            f"images and labels must be non-empty with one label per image, got "
            f"{tuple(images.shape)} and {tuple(labels.shape)}"
        )
    snapshots = check_snapshot_epochs(snapshots, epochs)
    device = resolve_device(device)
    torch.manual_seed(seed)
    model = copy.deepcopy(model).to(device).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    loader = DataLoader(
        TensorDataset(images.to(device), labels.to(device)),
        batch_size=batch_size,
        generator=torch.Generator().manual_seed(seed),
    )
    with warnings.catch_warnings():
        # Opacus warns that its RNG is not cryptographically secure: fine for measurement.
        warnings.filterwarnings("ignore", message=".*[Ss]ecure RNG.*")
        engine = PrivacyEngine(accountant="rdp")
        model, optimizer, loader = engine.make_private(
            module=model,
            optimizer=optimizer,
            data_loader=loader,
            noise_multiplier=float(noise_multiplier),
            max_grad_norm=float(max_grad_norm),
            noise_generator=torch.Generator(device=device).manual_seed(seed + 1),
        )
    loss_fn = nn.CrossEntropyLoss()
    epsilon, kept = [], {}
    for epoch in progress(range(1, epochs + 1), desc=f"DP-SGD sigma={noise_multiplier:g}"):
        for x, y in loader:
            optimizer.zero_grad(set_to_none=True)
            if len(y) == 0:
                continue
            with warnings.catch_warnings():
                # the inputs need no gradient; Opacus' per-sample hooks fire all the same
                warnings.filterwarnings("ignore", message="Full backward hook")
                loss_fn(model(x), y).backward()
            optimizer.step()
        epsilon.append(float(engine.get_epsilon(delta)))
        if epoch in snapshots:
            kept[epoch] = {
                k: v.detach().cpu().clone() for k, v in model._module.state_dict().items()
            }
    if not all(math.isfinite(e) for e in epsilon):
        raise RuntimeError(f"the accountant returned a non-finite epsilon: {epsilon}")
    return DPTraining(model._module.eval(), epsilon, delta, kept)

"""DP-SGD through Opacus: the baseline with an (epsilon, delta) guarantee that masking lacks.

Abadi et al. (2016): each example's gradient is clipped to norm ``max_grad_norm``, the clipped sum
gets Gaussian noise of standard deviation ``noise_multiplier * max_grad_norm``, batches are drawn by
Poisson sampling, and Opacus' RDP accountant turns (noise, sampling rate, steps) into epsilon at the
given delta. The optimizer is Adam on the privatised gradient (the paper's membership
settings use Adam, chapter 8). Opacus needs per-sample gradients, which BatchNorm does not have:
:func:`dp_compatible` swaps it for GroupNorm (``ModuleValidator.fix``), and a fair comparison
gives the masked arm the same normalisation.

The accountant's epsilon after each epoch is :func:`spent_epsilon`: Opacus' RDP conversion, with
the RDP of one step computed once per (noise, sampling rate) and scaled by the step count (RDP
composes additively), which is how Opacus computes it too; re-deriving it at every epoch took
about 80% of a small model's training time.
"""

from __future__ import annotations

import copy
import functools
import math
import os
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from mgn.device import resolve_device
from mgn.resumable import CHECKPOINT_EVERY, run_resumable
from mgn.seeds import global_generator_seeded, stream
from mgn.training import TrainingResult
from mgn.validation import check_positive, check_seed, check_snapshot_epochs


def dp_compatible(model: nn.Module) -> nn.Module:
    """A copy of ``model`` that Opacus accepts: BatchNorm replaced by GroupNorm."""
    from opacus.validators import ModuleValidator

    fixed = ModuleValidator.fix(copy.deepcopy(model))
    ModuleValidator.validate(fixed, strict=True)
    return fixed


@functools.lru_cache(maxsize=64)
def _rdp_of_one_step(noise_multiplier: float, sample_rate: float):
    """RDP of one step of the sampled Gaussian mechanism at the RDP accountant's default orders."""
    from opacus.accountants import RDPAccountant
    from opacus.accountants.analysis import rdp

    return rdp.compute_rdp(
        q=sample_rate,
        noise_multiplier=noise_multiplier,
        steps=1,
        orders=RDPAccountant.DEFAULT_ALPHAS,
    )


def spent_epsilon(history: Sequence[tuple[float, float, int]], delta: float) -> float:
    """The epsilon of Opacus' RDP accountant with ``history`` at ``delta``, bit for bit.

    ``history`` lists ``(noise_multiplier, sample_rate, steps)`` as ``RDPAccountant.history``
    does; the RDP of ``steps`` steps is ``steps`` times that of one (:func:`_rdp_of_one_step`,
    cached), exactly as Opacus' ``compute_rdp`` scales it.
    """
    from opacus.accountants import RDPAccountant
    from opacus.accountants.analysis import rdp

    if not history:
        raise ValueError("history must hold at least one (noise, sample rate, steps) entry")
    spent = sum([_rdp_of_one_step(noise, rate) * steps for noise, rate, steps in history])
    epsilon, _ = rdp.get_privacy_spent(orders=RDPAccountant.DEFAULT_ALPHAS, rdp=spent, delta=delta)
    return float(epsilon)


@dataclass(frozen=True, kw_only=True)
class DPSGDResult(TrainingResult):
    """A DP-SGD training, besides the settings of :class:`mgn.training.TrainingResult`.

    Attributes
    ----------
    noise_multiplier, max_grad_norm, delta, epochs : the settings.
    epsilon : epsilon spent after each epoch (at ``delta``), ``(epochs,)``.
    snapshots : ``{epoch: state_dict}`` (on the CPU) after each epoch listed in ``snapshots``.
    model : the trained model (eval mode).
    """

    noise_multiplier: float
    max_grad_norm: float
    delta: float
    epochs: int
    epsilon: tuple[float, ...]
    snapshots: dict[int, dict[str, torch.Tensor]]
    model: nn.Module


class _DPTraining:
    """Epochs of one DP-SGD training: the work of :func:`mgn.resumable.run_resumable`."""

    def __init__(self, model, optimizer, loader, engine, generators, delta, snapshots):
        self.model, self.optimizer, self.loader, self.engine = model, optimizer, loader, engine
        self.generators, self.delta, self.snapshots = generators, delta, snapshots
        self.loss = nn.CrossEntropyLoss()
        self.epsilon, self.kept = [], {}

    def advance(self, epoch: int) -> None:
        for x, y in self.loader:
            self.optimizer.zero_grad(set_to_none=True)
            if len(y) == 0:
                continue
            with warnings.catch_warnings():
                # the inputs need no gradient; Opacus' per-sample hooks fire all the same
                warnings.filterwarnings("ignore", message="Full backward hook")
                self.loss(self.model(x), y).backward()
            self.optimizer.step()
        self.epsilon.append(spent_epsilon(self.engine.accountant.history, self.delta))
        if epoch + 1 in self.snapshots:
            self.kept[epoch + 1] = {
                k: v.detach().cpu().clone() for k, v in self.model._module.state_dict().items()
            }

    def state(self) -> dict:
        return {
            "model": self.model._module.state_dict(),
            "optimizer": self.optimizer.original_optimizer.state_dict(),
            "accountant": list(self.engine.accountant.history),
            "generators": [g.get_state() for g in self.generators],
            "torch_rng": torch.get_rng_state(),
            "epsilon": self.epsilon,
            "snapshots": self.kept,
        }

    def restore(self, state: dict) -> None:
        self.model._module.load_state_dict(state["model"])
        self.optimizer.original_optimizer.load_state_dict(state["optimizer"])
        self.engine.accountant.history = [tuple(step) for step in state["accountant"]]
        for generator, saved in zip(self.generators, state["generators"], strict=True):
            generator.set_state(saved)
        torch.set_rng_state(state["torch_rng"])
        self.epsilon.extend(state["epsilon"])
        self.kept.update(state["snapshots"])


def train_dpsgd(
    model: nn.Module,
    train,
    noise_multiplier: float,
    epochs: int,
    *,
    max_grad_norm: float = 1.0,
    delta: float = 1e-5,
    lr: float = 1e-3,
    weight_decay: float = 0.0,
    batch_size: int = 100,
    snapshots: Sequence[int] = (),
    seed: int = 0,
    device: str | torch.device = "auto",
    checkpoint: str | os.PathLike | None = None,
    checkpoint_every: float = CHECKPOINT_EVERY,
    show_progress: bool = True,
) -> DPSGDResult:
    """Train a copy of ``model`` with DP-SGD (Opacus), clean inputs, cross-entropy loss, float32.

    Parameters
    ----------
    model : the architecture and initial weights (copied; BatchNorm must already be replaced, see
        :func:`dp_compatible`).
    train : the training set: ``.images`` (N, ...) and ``.labels`` (N,), e.g. a group of
        :func:`mgn.vision.membership_split`.
    noise_multiplier : sigma, the noise standard deviation relative to ``max_grad_norm`` (> 0).
    epochs : passes over the data (each of ``N / batch_size`` Poisson-sampled steps).
    max_grad_norm, delta : per-example clipping norm C and the delta of the reported epsilon.
    lr, weight_decay, batch_size : Adam's settings and the expected batch size (sampling rate
        ``batch_size / N``).
    snapshots : epochs (1..epochs) at which to keep the weights.
    seed : the Poisson sampling draws from ``torch.Generator().manual_seed(seed)``, the noise
        from the stream ``(seed, 1)`` of :mod:`mgn.seeds`, dropout from torch's global generator
        seeded with ``seed`` inside a forked RNG state (the caller's is restored).
    device : where the model and data live (``"auto"``: CUDA when available).
    checkpoint, checkpoint_every, show_progress : the resumable loop's
        (:func:`mgn.resumable.run_resumable`); the accountant's history is part of the state.
    """
    from opacus import PrivacyEngine

    started = time.perf_counter()
    check_positive("epochs", epochs, integer=True)
    check_positive("noise_multiplier", noise_multiplier)
    check_positive("max_grad_norm", max_grad_norm)
    check_positive("batch_size", batch_size, integer=True)
    seed = check_seed(seed)
    if not 0 < delta < 1:
        raise ValueError(f"delta must be in (0, 1), got {delta!r}")
    images, labels = getattr(train, "images", None), getattr(train, "labels", None)
    if not isinstance(images, torch.Tensor) or not isinstance(labels, torch.Tensor):
        raise ValueError("train must have tensors .images (N, ...) and .labels (N,)")
    if images.shape[0] != labels.shape[0] or images.shape[0] == 0:
        raise ValueError(
            f"train must be non-empty with one label per image, got images "
            f"{tuple(images.shape)} and labels {tuple(labels.shape)}"
        )
    snapshots = check_snapshot_epochs(snapshots, epochs)
    device = resolve_device(device)
    model = copy.deepcopy(model).to(device).train()
    settings = {
        "noise_multiplier": float(noise_multiplier),
        "max_grad_norm": float(max_grad_norm),
        "delta": delta,
        "lr": lr,
        "weight_decay": weight_decay,
        "batch_size": batch_size,
        "epochs": epochs,
        "snapshots": snapshots,
        "seed": seed,
        "device": device.type,
    }
    weights = {f"model.{k}": v.reshape(-1) for k, v in model.state_dict().items()}
    tensors = {**weights, "x": images, "y": labels}
    optimizer = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    sampling = torch.Generator().manual_seed(seed)
    noise = stream(seed, 1, device=device)
    loader = DataLoader(
        TensorDataset(images.to(device), labels.to(device)),
        batch_size=batch_size,
        generator=sampling,
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
            noise_generator=noise,
        )
    training = _DPTraining(model, optimizer, loader, engine, [sampling, noise], delta, snapshots)
    with global_generator_seeded(seed, device):
        run_resumable(
            training,
            epochs,
            settings=settings,
            tensors=tensors,
            checkpoint=checkpoint,
            checkpoint_every=checkpoint_every,
            show_progress=show_progress,
            desc=f"DP-SGD sigma={noise_multiplier:g}",
        )
    if not all(math.isfinite(e) for e in training.epsilon):
        raise RuntimeError(f"the accountant returned a non-finite epsilon: {training.epsilon}")
    return DPSGDResult(
        seed=seed,
        device=device.type,
        precision="float32",
        seconds=time.perf_counter() - started,
        noise_multiplier=float(noise_multiplier),
        max_grad_norm=float(max_grad_norm),
        delta=delta,
        epochs=epochs,
        epsilon=tuple(training.epsilon),
        snapshots=training.kept,
        model=model._module.eval(),
    )

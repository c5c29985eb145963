"""Masked training of an image classifier (chapter 7, Figure 4), with the data on the device.

Every training batch is multiplied by a fresh mask, ``x * (1 + kappa g)`` with ``g ~ N(0, 1)`` for
every pixel of every image; evaluation is on clean images. Shuffling, batching, augmentation
(random crop with zero padding, horizontal flip) and masking are batched tensor operations on data
that lives on the device: no DataLoader, no per-sample Python. One generator on the device, seeded
with ``seed``, draws every permutation, crop, flip and mask; dropout draws from torch's global generator,
seeded with ``seed`` inside :func:`mgn.seeds.global_generator_seeded` (the caller's state is restored
afterwards), so a run on the CPU is deterministic for a seed.
On the CPU a convolutional model is trained and evaluated in the channels-last memory format
(oneDNN's fast layout for convolution, pooling and batch norm); only the layout changes, not the
computation, and the returned model and snapshots are in the default layout again. The optimizer
runs its fused implementation on the CPU and CUDA: the same update, one kernel for all parameters.
Training is in float32 unless the caller opts into bfloat16 mixed precision (``precision=
"bfloat16"``, or ``"auto"``: bfloat16 where the device computes it natively,
:func:`mgn.device.resolve_precision`): convolutions and matrix products in bfloat16, weights,
optimizer state, masks, the loss and batch statistics in float32.
On the CPU the trainer also lets glibc reuse freed large buffers
(:func:`mgn.device.keep_freed_memory`).
"""

from __future__ import annotations

import copy
import math
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from mgn.device import autocast, keep_freed_memory, resolve_device, resolve_precision
from mgn.resumable import CHECKPOINT_EVERY, run_resumable
from mgn.seeds import global_generator_seeded
from mgn.training import TrainingResult
from mgn.validation import check_kappa, check_positive, check_seed, check_snapshot_epochs

OPTIMIZERS = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "sgd": torch.optim.SGD}
SCHEDULES = ("constant", "cosine")
RECORDS = ("train_accuracy", "train_loss", "test_accuracy", "test_loss")


@dataclass(frozen=True, kw_only=True)
class ClassifierResult(TrainingResult):
    """Records of one training: per-epoch clean metrics, snapshots and the trained model.

    Besides the settings of :class:`mgn.training.TrainingResult` (``precision``: ``"float32"``
    or ``"bfloat16"``, the precision it was trained and evaluated in):

    Attributes
    ----------
    kappa, epochs : the mask scale and the number of epochs.
    record_every : the metrics were measured after every ``record_every``-th epoch and after the
        last (:attr:`recorded_epochs`); 1 (every epoch) unless the caller asked otherwise.
    train_accuracy, train_loss, test_accuracy, test_loss : one entry per recorded epoch, measured
        on clean images (no mask, no augmentation, eval mode) after that epoch; accuracy in
        [0, 1], loss the mean cross-entropy without label smoothing.
    snapshots : ``{epoch: state_dict}`` (on the CPU) after each epoch listed in ``snapshots``.
    model : the trained model (on the training device, in eval mode).
    """

    kappa: float
    epochs: int
    train_accuracy: tuple[float, ...]
    train_loss: tuple[float, ...]
    test_accuracy: tuple[float, ...]
    test_loss: tuple[float, ...]
    snapshots: dict[int, dict[str, torch.Tensor]]
    model: nn.Module
    record_every: int = 1

    @property
    def recorded_epochs(self) -> list[int]:
        """The epochs (1-based) after which the metrics were measured, in order."""
        return _recorded(self.epochs, self.record_every)

    @property
    def gap(self) -> list[float]:
        """Generalisation gap per epoch: clean train accuracy minus test accuracy."""
        return [a - b for a, b in zip(self.train_accuracy, self.test_accuracy, strict=True)]


@torch.inference_mode()
def evaluate(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    batch_size: int = 256,
    precision: str = "float32",
) -> tuple[float, float]:
    """Clean accuracy and mean cross-entropy of ``model`` (eval mode) on ``images``, ``labels``.

    ``precision`` as in :func:`train_classifier`; the loss is summed in float32. Batches of 256:
    measured on the CPU, the CNN took 1.3-1.5 times as long per image in batches of 1,000.
    """
    precision = resolve_precision(precision, images.device)
    was_training = model.training
    model.eval()
    correct, loss = 0, 0.0
    for start in range(0, len(labels), batch_size):
        with autocast(images.device, precision):
            logits = model(images[start : start + batch_size]).float()
        target = labels[start : start + batch_size]
        correct += int((logits.argmax(1) == target).sum())
        loss += float(nn.functional.cross_entropy(logits, target, reduction="sum"))
    model.train(was_training)
    return correct / len(labels), loss / len(labels)


def _recorded(epochs: int, record_every: int) -> list[int]:
    """Every ``record_every``-th epoch of ``1..epochs``, and the last."""
    return sorted({*range(record_every, epochs + 1, record_every), epochs})


def augment_batch(x: torch.Tensor, generator: torch.Generator, padding: int = 4) -> torch.Tensor:
    """Random crop of each image from its zero-padded copy, then a horizontal flip with p = 1/2.

    ``x`` (B, C, H, W); one offset pair and one flip per image, drawn from ``generator``; the
    crop is one gather over index grids, the flip one ``where``.
    """
    B, C, H, W = x.shape
    padded = nn.functional.pad(x, (padding,) * 4)
    offsets = torch.randint(0, 2 * padding + 1, (2, B, 1), generator=generator, device=x.device)
    rows = (offsets[0] + torch.arange(H, device=x.device))[:, None, :, None]
    cols = (offsets[1] + torch.arange(W, device=x.device))[:, None, None, :]
    batch = torch.arange(B, device=x.device)[:, None, None, None]
    channel = torch.arange(C, device=x.device)[None, :, None, None]
    cropped = padded[batch, channel, rows, cols]
    flip = torch.rand(B, generator=generator, device=x.device) < 0.5
    return torch.where(flip[:, None, None, None], cropped.flip(3), cropped)


def mask_batch(x: torch.Tensor, kappa: float, generator: torch.Generator) -> torch.Tensor:
    """Figure 4's noise: ``x * (1 + kappa g)``, a fresh ``g ~ N(0, 1)`` per pixel."""
    if kappa == 0:
        return x
    noise = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
    return x * noise.mul_(kappa).add_(1.0)


def _check(kappa, epochs, optimizer, lr, weight_decay, schedule, label_smoothing, batch_size):
    check_kappa(kappa)
    check_positive("epochs", epochs, integer=True)
    check_positive("lr", lr)
    check_positive("batch_size", batch_size, integer=True)
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {sorted(OPTIMIZERS)}, got {optimizer!r}")
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule must be one of {SCHEDULES}, got {schedule!r}")
    if not (isinstance(weight_decay, (int, float)) and weight_decay >= 0):
        raise ValueError(f"weight_decay must be a number >= 0, got {weight_decay!r}")
    if not (isinstance(label_smoothing, (int, float)) and 0 <= label_smoothing < 1):
        raise ValueError(f"label_smoothing must be in [0, 1), got {label_smoothing!r}")


def _group(name: str, group) -> tuple[torch.Tensor, torch.Tensor]:
    images, labels = getattr(group, "images", None), getattr(group, "labels", None)
    if not isinstance(images, torch.Tensor) or images.ndim != 4 or not images.is_floating_point():
        raise ValueError(f"{name}.images must be a float tensor (n, C, H, W)")
    if not isinstance(labels, torch.Tensor) or labels.shape != (images.shape[0],):
        raise ValueError(f"{name}.labels must have shape ({images.shape[0]},) to match the images")
    return images, labels


class _Training:
    """Epochs of one classifier training: the work of :func:`mgn.resumable.run_resumable`."""

    def __init__(self, model, opt, data, options, generator, snapshots):
        self.model, self.opt, self.generator, self.snapshots = model, opt, generator, snapshots
        self.train_x, self.train_y, self.test_x, self.test_y = data
        self.options = options
        self.records = {name: [] for name in RECORDS}
        self.kept = {}

    def advance(self, epoch: int) -> None:
        o, model, opt = self.options, self.model, self.opt
        if o["schedule"] == "cosine":
            for group in opt.param_groups:
                group["lr"] = o["lr"] * 0.5 * (1 + math.cos(math.pi * epoch / o["epochs"]))
        model.train()
        n, batch_size = len(self.train_y), o["batch_size"]
        order = torch.randperm(n, generator=self.generator, device=self.train_x.device)
        for start in range(0, n, batch_size):
            index = order[start : start + batch_size]
            x = self.train_x[index]
            if o["augment"]:
                x = augment_batch(x, self.generator)
            with autocast(x.device, o["precision"]):
                logits = model(mask_batch(x, o["kappa"], self.generator))
            loss = nn.functional.cross_entropy(
                logits.float(), self.train_y[index], label_smoothing=o["label_smoothing"]
            )
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        if epoch + 1 in self.snapshots:
            self.kept[epoch + 1] = {
                k: v.detach().to("cpu").clone(memory_format=torch.contiguous_format)
                for k, v in model.state_dict().items()
            }
        if (epoch + 1) % o["record_every"] and epoch + 1 != o["epochs"]:
            return
        measured = (
            *evaluate(model, self.train_x, self.train_y, precision=o["precision"]),
            *evaluate(model, self.test_x, self.test_y, precision=o["precision"]),
        )
        for name, value in zip(RECORDS, measured, strict=True):
            self.records[name].append(value)

    def state(self) -> dict:
        return {
            "model": self.model.state_dict(),
            "optimizer": self.opt.state_dict(),
            "generator": self.generator.get_state(),
            "torch_rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state() if torch.cuda.is_available() else None,
            "records": self.records,
            "snapshots": self.kept,
        }

    def restore(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        self.opt.load_state_dict(state["optimizer"])
        self.generator.set_state(state["generator"])
        torch.set_rng_state(state["torch_rng"])
        if self.train_x.device.type == "cuda" and state["cuda_rng"] is not None:
            torch.cuda.set_rng_state(state["cuda_rng"], self.train_x.device)
        for name in RECORDS:
            self.records[name].extend(state["records"][name])
        self.kept.update(state["snapshots"])


def train_classifier(
    model: nn.Module,
    train,
    test,
    kappa: float,
    epochs: int,
    *,
    optimizer: str = "adam",
    lr: float = 1e-3,
    weight_decay: float = 1e-5,
    schedule: str = "constant",
    label_smoothing: float = 0.0,
    augment: bool = False,
    batch_size: int = 128,
    snapshots: Sequence[int] = (),
    record_every: int = 1,
    seed: int = 0,
    device: str | torch.device = "auto",
    precision: str = "float32",
    checkpoint: str | os.PathLike | None = None,
    checkpoint_every: float = CHECKPOINT_EVERY,
    show_progress: bool = True,
) -> ClassifierResult:
    """Train ``model`` on ``train`` under the Gaussian input mask; evaluate clean on ``train``/``test``.

    Parameters
    ----------
    model : a classifier taking (B, C, H, W); a copy is trained (the argument is left untouched).
    train, test : objects with ``.images`` (float, standardised) and ``.labels``, e.g. the groups
        of :func:`mgn.vision.membership_split`.
    kappa : mask scale (``>= 0``; 0 is clean training).
    epochs : passes over ``train``; each reshuffles it and drops nothing (the last batch is short).
    optimizer : ``"adam"`` (the paper's CNN), ``"adamw"`` (its MLP) or ``"sgd"`` (momentum 0.9).
    lr, weight_decay : of the optimizer.
    schedule : ``"constant"`` or ``"cosine"`` (per epoch, from ``lr`` to 0 over ``epochs``).
    label_smoothing : of the training cross-entropy.
    augment : random crop (padding 4) and horizontal flip before the mask (off by default; the
        caller decides per model, as the paper's recipes do: its MLP uses it, its CNN does not).
    batch_size : training batch size.
    snapshots : epochs (1-based) after which to keep a copy of the weights.
    record_every : measure the clean metrics after every ``record_every``-th epoch and after the
        last (each measurement evaluates ``train`` and ``test`` once; 1: every epoch).
    seed : seeds the device generator of every shuffle, crop, flip and mask, and (inside a forked
        global RNG state) dropout.
    device : where the data and the model live (``"auto"``: CUDA when available).
    precision : ``"float32"`` (the default), ``"bfloat16"`` (mixed precision, as above) or
        ``"auto"``: bfloat16 where the device computes it natively, float32 elsewhere. Training
        and evaluation use it; the result records which ran.
    checkpoint, checkpoint_every, show_progress : the resumable loop's
        (:func:`mgn.resumable.run_resumable`): save every ``checkpoint_every`` seconds and after
        the last epoch; resume from ``checkpoint``.
    """
    started = time.perf_counter()
    _check(kappa, epochs, optimizer, lr, weight_decay, schedule, label_smoothing, batch_size)
    seed = check_seed(seed)
    kappa, snapshots = float(kappa), check_snapshot_epochs(snapshots, epochs)
    check_positive("record_every", record_every, integer=True)
    train_x, train_y = _group("train", train)
    test_x, test_y = _group("test", test)
    if not isinstance(augment, bool):
        raise ValueError(f"augment must be True or False, got {augment!r}")
    device = resolve_device(device)
    precision = resolve_precision(precision, device)
    if device.type == "cpu":
        keep_freed_memory()
    model = _channels_last(copy.deepcopy(model).to(device), device)
    data = (train_x.to(device), train_y.to(device), test_x.to(device), test_y.to(device))
    options = {"lr": lr, "weight_decay": weight_decay}
    if optimizer == "sgd":
        options["momentum"] = 0.9
    if device.type in ("cpu", "cuda"):
        options["fused"] = True  # one kernel per step for all parameters: the same update rule
    opt = OPTIMIZERS[optimizer](model.parameters(), **options)
    settings = {
        "kappa": kappa,
        "epochs": epochs,
        "optimizer": optimizer,
        "lr": lr,
        "weight_decay": weight_decay,
        "schedule": schedule,
        "label_smoothing": label_smoothing,
        "augment": augment,
        "batch_size": batch_size,
        "seed": seed,
        "snapshots": snapshots,
        "record_every": record_every,
        "device": device.type,
        "precision": precision,
    }
    generator = torch.Generator(device=device).manual_seed(seed)
    training = _Training(model, opt, data, settings, generator, snapshots)
    weights = {f"model.{k}": v.reshape(-1) for k, v in model.state_dict().items()}
    with global_generator_seeded(seed, device):
        run_resumable(
            training,
            epochs,
            settings=settings,
            tensors={**weights, "x": data[0], "y": data[1], "tx": data[2]},
            checkpoint=checkpoint,
            checkpoint_every=checkpoint_every,
            show_progress=show_progress,
            desc=f"kappa={kappa:g}",
            postfix=lambda: (
                {"test_acc": f"{a[-1]:.3f}"} if (a := training.records["test_accuracy"]) else {}
            ),
        )
    model.eval()
    return ClassifierResult(
        seed=seed,
        device=device.type,
        precision=precision,
        seconds=time.perf_counter() - started,
        kappa=kappa,
        epochs=epochs,
        record_every=record_every,
        **{name: tuple(training.records[name]) for name in RECORDS},
        snapshots=training.kept,
        model=model.to(memory_format=torch.contiguous_format),
    )


def _channels_last(model: nn.Module, device: torch.device) -> nn.Module:
    """``model`` in the channels-last layout when it has 4-d (convolution) weights, on the CPU."""
    if device.type == "cpu" and any(p.ndim == 4 for p in model.parameters()):
        return model.to(memory_format=torch.channels_last)
    return model

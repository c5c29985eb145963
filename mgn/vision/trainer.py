"""Masked training of an image classifier (SPEC section 7, Figure 4), with the data on the device.

Every training batch is multiplied by a fresh mask, ``x * (1 + kappa g)`` with ``g ~ N(0, 1)`` for
every pixel of every image; evaluation is on clean images. Shuffling, batching, augmentation
(random crop with zero padding, horizontal flip) and masking are batched tensor operations on data
that lives on the device: no DataLoader, no per-sample Python. One generator on the device, seeded
with ``seed``, draws every permutation, crop, flip and mask; dropout draws from the global generator,
seeded with ``seed`` inside a forked RNG state, so a run on the CPU is deterministic for a seed.
On the CPU a convolutional model is trained and evaluated in the channels-last memory format
(oneDNN's fast layout for convolution, pooling and batch norm); only the layout changes, not the
computation, and the returned model and snapshots are in the default layout again. The optimizer
runs its fused implementation on the CPU and CUDA: the same update, one kernel for all parameters.
With ``precision="auto"`` the forward and backward passes run in bfloat16 mixed precision where the
device computes bfloat16 natively (:func:`mgn.device.resolve_precision`): convolutions and matrix
products in bfloat16, weights, optimizer state, masks, the loss and batch statistics in float32.
On the CPU the trainer also lets glibc reuse freed large buffers
(:func:`mgn.device.keep_freed_memory`).
"""

from __future__ import annotations

import copy
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from torch import nn

from mgn._validation import check_kappa, check_positive, check_snapshot_epochs
from mgn.checkpoint import fingerprint, load_state, save_state
from mgn.device import autocast, keep_freed_memory, resolve_device, resolve_precision
from mgn.progress import progress

OPTIMIZERS = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "sgd": torch.optim.SGD}
SCHEDULES = ("constant", "cosine")
RECORDS = ("train_accuracy", "train_loss", "test_accuracy", "test_loss")


@dataclass
class ClassifierResult:
    """Records of one training: per-epoch clean metrics, snapshots and the trained model.

    Attributes
    ----------
    train_accuracy, train_loss, test_accuracy, test_loss : one entry per epoch, measured on clean
        images (no mask, no augmentation, eval mode) after that epoch; accuracy in [0, 1], loss the
        mean cross-entropy without label smoothing.
    snapshots : ``{epoch: state_dict}`` (on the CPU) after each epoch listed in ``snapshots``.
    model : the trained model (on the training device, in eval mode).
    precision : ``"float32"`` or ``"bfloat16"``, the precision it was trained and evaluated in.
    """

    train_accuracy: list[float] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    test_accuracy: list[float] = field(default_factory=list)
    test_loss: list[float] = field(default_factory=list)
    snapshots: dict[int, dict[str, torch.Tensor]] = field(default_factory=dict)
    model: nn.Module | None = None
    precision: str = "float32"

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
    precision: str = "auto",
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
    """SPEC section 7's noise: ``x * (1 + kappa g)``, a fresh ``g ~ N(0, 1)`` per pixel."""
    if kappa == 0:
        return x
    noise = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
    return x * noise.mul_(kappa).add_(1.0)


def _check(kappa, epochs, optimizer, lr, weight_decay, schedule, label_smoothing, batch_size, seed):
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
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be an int >= 0, got {seed!r}")


def _group(name: str, group) -> tuple[torch.Tensor, torch.Tensor]:
    images, labels = getattr(group, "images", None), getattr(group, "labels", None)
    if not isinstance(images, torch.Tensor) or images.ndim != 4 or not images.is_floating_point():
        raise ValueError(f"{name}.images must be a float tensor (n, C, H, W)")
    if not isinstance(labels, torch.Tensor) or labels.shape != (images.shape[0],):
        raise ValueError(f"{name}.labels must have shape ({images.shape[0]},) to match the images")
    return images, labels


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
    augment: bool | None = None,
    batch_size: int = 128,
    seed: int = 0,
    snapshots: Sequence[int] = (),
    device: str | torch.device = "auto",
    precision: str = "auto",
    checkpoint: str | os.PathLike | None = None,
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
    optimizer : ``"adam"`` (SPEC's CNN), ``"adamw"`` (SPEC's MLP) or ``"sgd"`` (momentum 0.9).
    lr, weight_decay : of the optimizer.
    schedule : ``"constant"`` or ``"cosine"`` (per epoch, from ``lr`` to 0 over ``epochs``).
    label_smoothing : of the training cross-entropy.
    augment : random crop (padding 4) and horizontal flip before the mask. ``None`` means: on for
        three-channel images (CIFAR-10's standard augmentation), off otherwise (flipping a digit
        changes its meaning).
    batch_size : training batch size.
    seed : seeds the generator of every shuffle, crop, flip and mask, and dropout.
    snapshots : epochs (1-based) after which to keep a copy of the weights.
    device : where the data and the model live (``"auto"``: CUDA when available).
    precision : ``"float32"``, ``"bfloat16"`` (mixed precision, as above) or ``"auto"``: bfloat16
        where the device computes it natively, float32 elsewhere. Training and evaluation use it.
    checkpoint : file to save the state to after every epoch (atomically) and resume from.
    show_progress : show a progress bar over epochs (silent in CI and under the book's runner).
    """
    _check(kappa, epochs, optimizer, lr, weight_decay, schedule, label_smoothing, batch_size, seed)
    kappa, snapshots = float(kappa), check_snapshot_epochs(snapshots, epochs)
    train_x, train_y = _group("train", train)
    test_x, test_y = _group("test", test)
    augment = train_x.shape[1] == 3 if augment is None else bool(augment)
    device = resolve_device(device)
    precision = resolve_precision(precision, device)
    if device.type == "cpu":
        keep_freed_memory()
    model = _channels_last(copy.deepcopy(model).to(device), device)
    train_x, train_y = train_x.to(device), train_y.to(device)
    test_x, test_y = test_x.to(device), test_y.to(device)
    options = {"lr": lr, "weight_decay": weight_decay}
    if optimizer == "sgd":
        options["momentum"] = 0.9
    if device.type in ("cpu", "cuda"):
        options["fused"] = True  # one kernel per step for all parameters: the same update rule
    opt = OPTIMIZERS[optimizer](model.parameters(), **options)
    generator = torch.Generator(device=device).manual_seed(seed)
    result = ClassifierResult(precision=precision)
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
        "device": device.type,
        "precision": precision,
    }
    rng_devices = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=rng_devices, device_type=device.type):
        torch.manual_seed(seed)
        done, key = 0, None
        if checkpoint is not None:
            weights = {f"model.{k}": v.reshape(-1) for k, v in model.state_dict().items()}
            key = fingerprint(settings, {**weights, "x": train_x, "y": train_y, "tx": test_x})
            state = load_state(checkpoint, key)
            if state is not None:
                done = _restore(state, model, opt, generator, result, device)
        n = len(train_y)
        hide = {} if show_progress else {"disable": True}
        bar = progress(
            range(done, epochs), total=epochs, initial=done, desc=f"kappa={kappa:g}", **hide
        )
        for epoch in bar:
            if schedule == "cosine":
                for group in opt.param_groups:
                    group["lr"] = lr * 0.5 * (1 + math.cos(math.pi * epoch / epochs))
            model.train()
            order = torch.randperm(n, generator=generator, device=device)
            for start in range(0, n, batch_size):
                index = order[start : start + batch_size]
                x = train_x[index]
                if augment:
                    x = augment_batch(x, generator)
                with autocast(device, precision):
                    logits = model(mask_batch(x, kappa, generator))
                loss = nn.functional.cross_entropy(
                    logits.float(), train_y[index], label_smoothing=label_smoothing
                )
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
            for name, value in zip(
                RECORDS,
                (
                    *evaluate(model, train_x, train_y, precision=precision),
                    *evaluate(model, test_x, test_y, precision=precision),
                ),
                strict=True,
            ):
                getattr(result, name).append(value)
            if epoch + 1 in snapshots:
                result.snapshots[epoch + 1] = {
                    k: v.detach().to("cpu").clone(memory_format=torch.contiguous_format)
                    for k, v in model.state_dict().items()
                }
            bar.set_postfix(test_acc=f"{result.test_accuracy[-1]:.3f}")
            if checkpoint is not None:
                save_state(checkpoint, _state(key, epoch + 1, model, opt, generator, result))
    model.eval()
    result.model = model.to(memory_format=torch.contiguous_format)
    return result


def _channels_last(model: nn.Module, device: torch.device) -> nn.Module:
    """``model`` in the channels-last layout when it has 4-d (convolution) weights, on the CPU."""
    if device.type == "cpu" and any(p.ndim == 4 for p in model.parameters()):
        return model.to(memory_format=torch.channels_last)
    return model


def _state(key, done, model, opt, generator, result) -> dict:
    return {
        "fingerprint": key,
        "epoch": done,
        "model": model.state_dict(),
        "optimizer": opt.state_dict(),
        "generator": generator.get_state(),
        "torch_rng": torch.get_rng_state(),
        "cuda_rng": torch.cuda.get_rng_state() if torch.cuda.is_available() else None,
        "records": {name: list(getattr(result, name)) for name in RECORDS},
        "snapshots": result.snapshots,
    }


def _restore(state, model, opt, generator, result, device) -> int:
    model.load_state_dict(state["model"])
    opt.load_state_dict(state["optimizer"])
    generator.set_state(state["generator"])
    torch.set_rng_state(state["torch_rng"])
    if device.type == "cuda" and state["cuda_rng"] is not None:
        torch.cuda.set_rng_state(state["cuda_rng"], device)
    for name in RECORDS:
        getattr(result, name).extend(state["records"][name])
    result.snapshots.update(state["snapshots"])
    return int(state["epoch"])

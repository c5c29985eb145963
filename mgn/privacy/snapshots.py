"""Softmax outputs of every weight snapshot of one training, in one batched pass per model.

The attacks of SPEC section 7 are evaluated at epochs 20, 40, ..., 120 of one training per kappa
(the trainer keeps a snapshot at each). :func:`snapshot_probabilities` stacks the snapshots'
parameters and buffers (``torch.func.stack_module_state``) and maps the model over them with
``torch.func.vmap`` of ``functional_call``: one program computes the clean outputs of every
snapshot on every example, in eval mode (dropout off, BatchNorm with its running statistics).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence

import torch
from torch import nn
from torch.func import functional_call, stack_module_state, vmap

from mgn.device import resolve_device


def select_snapshots(
    snapshots: Mapping[int, Mapping[str, torch.Tensor]], epochs: Sequence[int], trained: int
) -> list[Mapping[str, torch.Tensor]]:
    """The state dicts of ``snapshots`` (epoch -> state dict) at ``epochs``, in that order.

    Raises ``ValueError`` naming the epoch when it is beyond ``trained`` (the epochs the training
    ran) or was not kept as a snapshot.
    """
    if not epochs:
        raise ValueError("epochs must list at least one snapshot epoch")
    chosen = []
    for epoch in epochs:
        if not isinstance(epoch, int) or epoch < 0:
            raise ValueError(f"snapshot epochs must be non-negative ints, got {epoch!r}")
        if epoch > trained:
            raise ValueError(
                f"snapshot epoch {epoch} is beyond the training, which ran {trained} epochs"
            )
        if epoch not in snapshots:
            raise ValueError(
                f"no snapshot was kept at epoch {epoch}; kept: {sorted(snapshots)} "
                "(pass it in the trainer's snapshots)"
            )
        chosen.append(snapshots[epoch])
    return chosen


def _stacked_module(model: nn.Module, states: Sequence[Mapping[str, torch.Tensor]], device):
    """Copies of ``model`` loaded with each state, stacked into (params, buffers) for vmap."""
    copies = []
    for state in states:
        copy_ = copy.deepcopy(model).to(device)
        copy_.load_state_dict(state)
        copies.append(copy_.eval())
    params, buffers = stack_module_state(copies)
    base = copy.deepcopy(model).to("meta").eval()
    return base, params, buffers


@torch.no_grad()
def snapshot_probabilities(
    model: nn.Module,
    states: Sequence[Mapping[str, torch.Tensor]],
    images: torch.Tensor,
    *,
    batch_size: int = 1024,
    device: str | torch.device = "auto",
) -> torch.Tensor:
    """Softmax outputs ``(len(states), N, classes)`` of ``model`` loaded with each state.

    Parameters
    ----------
    model
        An instance of the architecture (its own weights are not used).
    states
        State dicts of that architecture (for example :func:`select_snapshots`).
    images
        (N, ...) clean inputs.
    batch_size
        Examples per batched call (bounds the memory: every snapshot sees each chunk at once).
    device
        Where to compute; the result is returned on the CPU.
    """
    if len(states) == 0:
        raise ValueError("states must hold at least one state dict")
    if images.shape[0] == 0:
        raise ValueError("images must not be empty")
    device = resolve_device(device)
    base, params, buffers = _stacked_module(model, states, device)

    def one(p, b, x):
        return functional_call(base, (p, b), (x,)).softmax(dim=-1)

    batched = vmap(one, in_dims=(0, 0, None))
    chunks = [
        batched(params, buffers, images[i : i + batch_size].to(device)).cpu()
        for i in range(0, images.shape[0], batch_size)
    ]
    return torch.cat(chunks, dim=1)


def true_label_probability(probabilities: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """``probabilities[..., i, labels[i]]``: the probability of each example's true label."""
    index = labels.to(probabilities.device).expand(*probabilities.shape[:-1])
    return probabilities.gather(-1, index.unsqueeze(-1)).squeeze(-1)


def per_example_loss(probabilities: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Cross-entropy ``-log p(label)`` of each example, clamped away from log(0)."""
    return -true_label_probability(probabilities, labels).clamp_min(1e-12).log()

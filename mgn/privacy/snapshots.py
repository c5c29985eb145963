"""Logits of every weight snapshot of one training, with the examples batched.

The attacks of chapter 8 are evaluated at epochs 20, 40, ..., 120 of one training per kappa
(the trainer keeps a snapshot at each). :func:`snapshot_logits` evaluates one copy of the
architecture with each snapshot's parameters and buffers (``torch.func.functional_call``, no model
copies, no reloading) on batches of examples, in eval mode (dropout off, BatchNorm with its
running statistics). Mapping the model over the stacked snapshots with ``torch.func.vmap`` as well
was measured slower on the CPU (a batched convolution over stacked weights has no fast kernel
there; ``benchmarks/privacy.py`` prints both), so the snapshots are a short Python loop.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence

import torch
from torch import nn
from torch.func import functional_call

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


@torch.no_grad()
def snapshot_logits(
    model: nn.Module,
    states: Sequence[Mapping[str, torch.Tensor]],
    images: torch.Tensor,
    *,
    batch_size: int = 1024,
    device: str | torch.device = "auto",
) -> torch.Tensor:
    """Logits ``(len(states), N, classes)`` of ``model`` with each state's weights.

    Logits, not probabilities: a float32 softmax rounds a confident example's probability to 1,
    so the attacks take losses and probabilities from them in float64
    (:func:`mgn.privacy.cross_entropy_from_logits`).

    Parameters
    ----------
    model
        An instance of the architecture (its own weights are not used, nor changed).
    states
        State dicts of that architecture (for example :func:`select_snapshots`).
    images
        (N, ...) clean inputs.
    batch_size
        Examples per forward call.
    device
        Where to compute; the result is returned on the CPU.
    """
    if len(states) == 0:
        raise ValueError("states must hold at least one state dict")
    if images.shape[0] == 0:
        raise ValueError("images must not be empty")
    device = resolve_device(device)
    base = copy.deepcopy(model).to(device).eval()
    expected = set(base.state_dict())
    outputs = []
    for number, state in enumerate(states):
        if set(state) != expected:
            raise ValueError(
                f"states[{number}] does not fit the model: keys differ by "
                f"{sorted(set(state) ^ expected)[:3]}"
            )
        weights = {k: v.to(device) for k, v in state.items()}
        outputs.append(
            torch.cat(
                [
                    functional_call(base, weights, (images[i : i + batch_size].to(device),)).cpu()
                    for i in range(0, images.shape[0], batch_size)
                ]
            )
        )
    return torch.stack(outputs)

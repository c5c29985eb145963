"""Local SGD without sampling (chapter 6): chapter 5's prediction carried over.

:func:`expected_local_gd`: every worker takes deterministic GD steps on its shard's closed-form
expected loss ``E_c[L_k]`` (:func:`mgn.expected_masked_loss`), and the models are averaged each
round. The client-drift bound lives in :mod:`mgn.distributed.drift`.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from mgn.distributed.local_sgd import shard_indices
from mgn.expected_loss import clean_loss, expected_masked_loss
from mgn.progress import progress

__all__ = [
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

"""The two-layer ReLU network (notation page), functional: f(W; x) = m^{-1/2} sum_r a_r relu(w_r^T x)."""

from __future__ import annotations

import math

import torch

from mgn.validation import as_float_tensor, check_rows, check_weights_and_inputs


def check_network_args(W, a, X) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Validate ``W (m, d)``, ``a (m,)`` and ``X (n, d)``; return them as tensors of one dtype."""
    W, X = check_weights_and_inputs(W, X)
    a = as_float_tensor("a", a, ndim=1)
    check_rows("a", a, W.shape[0], "the rows of W (the width m)")
    return W, a.to(W.dtype), X


def network(W, a, X) -> torch.Tensor:
    """Clean outputs f(W; x_i) = m^{-1/2} sum_r a_r relu(w_r^T x_i) (the notation page).

    Parameters
    ----------
    W : (m, d) hidden weights, rows w_r.
    a : (m,) fixed output weights, usually in {-1, +1}.
    X : (n, d) inputs, one per row.

    Returns
    -------
    (n,) tensor of outputs, in the promoted dtype of ``W`` and ``X``.
    """
    W, a, X = check_network_args(W, a, X)
    return torch.relu(X @ W.T) @ a / math.sqrt(W.shape[0])

"""The two-layer ReLU network of SPEC section 1, functional: f(W; x) = m^{-1/2} sum_r a_r relu(w_r^T x)."""

from __future__ import annotations

import math

import torch

from mgn._validation import as_float_tensor, check_nonempty, check_rows


def check_network_args(W, a, X) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Validate ``W (m, d)``, ``a (m,)`` and ``X (n, d)``; return them as tensors of one dtype."""
    W = as_float_tensor("W", W, ndim=2)
    a = as_float_tensor("a", a, ndim=1)
    X = as_float_tensor("X", X, ndim=2)
    check_nonempty("W", W)
    check_nonempty("X", X)
    check_rows("a", a, W.shape[0], "the rows of W (the width m)")
    if X.shape[1] != W.shape[1]:
        raise ValueError(
            f"X must have d = {W.shape[1]} columns to match W, got shape {tuple(X.shape)}"
        )
    dtype = torch.promote_types(W.dtype, X.dtype)
    return W.to(dtype), a.to(dtype), X.to(dtype)


def network(W, a, X) -> torch.Tensor:
    """Clean outputs f(W; x_i) = m^{-1/2} sum_r a_r relu(w_r^T x_i) (SPEC eq. of section 1).

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

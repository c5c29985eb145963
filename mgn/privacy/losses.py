"""Per-example cross-entropy losses from logits, in float64 (chapter 8, the loss threshold).

A float32 softmax rounds the true-label probability of a confident example to exactly 1, so
``-log p`` is 0 for all of them and the loss-threshold attack cannot order its strongest
candidates. From the logits ``z`` the loss is ``logsumexp(z) - z[label]``; written as
``(max z - z[label]) + log1p(sum of exp(z_j - max z) over all j but one arg max)`` in float64, it
keeps its full relative accuracy and stays positive until the label's logit leads every other by
more than about 745 (where float64's ``exp`` underflows).
"""

from __future__ import annotations

import numpy as np
import torch


def _array(values) -> np.ndarray:
    """``values`` as a NumPy array; a floating tensor (bfloat16 included) becomes float64."""
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu()
        values = values.double() if values.is_floating_point() else values
    return np.asarray(values)


def cross_entropy_from_logits(logits, labels) -> np.ndarray:
    """The cross-entropy ``logsumexp(z) - z[label]`` of each example, computed in float64.

    Parameters
    ----------
    logits
        (..., N, classes) logits (NumPy or torch, any float precision), for example one row per
        weight snapshot of a model; finite.
    labels
        (N,) integer class labels in ``0..classes - 1``.

    Returns
    -------
    (..., N) float64 losses, ``>= 0``; ``exp(-loss)`` is the softmax probability of the label.
    """
    z = _array(logits)
    if z.ndim < 2 or z.shape[-2] == 0 or z.shape[-1] == 0:
        raise ValueError(f"logits must be a non-empty (..., N, classes) array, got {z.shape}")
    if not np.issubdtype(z.dtype, np.floating) and not np.issubdtype(z.dtype, np.integer):
        raise ValueError(f"logits must hold numbers, got dtype {z.dtype}")
    z = z.astype(np.float64)
    if not np.isfinite(z).all():
        raise ValueError("logits must be finite (no NaN or inf)")
    y = _array(labels)
    if y.ndim != 1 or len(y) != z.shape[-2]:
        raise ValueError(f"labels must be a (N,) array with N = {z.shape[-2]}, got {y.shape}")
    if not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"labels must be integer class indices, got dtype {y.dtype}")
    if (y < 0).any() or (y >= z.shape[-1]).any():
        raise ValueError(f"labels must be class indices in 0..{z.shape[-1] - 1}")
    index = np.broadcast_to(y[:, None], (*z.shape[:-1], 1))
    top = z.argmax(axis=-1)[..., None]
    largest = np.take_along_axis(z, top, axis=-1)
    rest = np.exp(z - largest)
    np.put_along_axis(rest, top, 0.0, axis=-1)
    label_logit = np.take_along_axis(z, index, axis=-1)
    return ((largest - label_logit) + np.log1p(rest.sum(axis=-1, keepdims=True)))[..., 0]

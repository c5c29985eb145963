"""Argument checks shared by the library: each error names the argument and what was expected."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch


def as_float_tensor(name: str, value, ndim: int | None = None) -> torch.Tensor:
    """Return ``value`` as a floating torch tensor, checking its rank and that it is finite."""
    if not isinstance(value, torch.Tensor):
        try:
            value = torch.as_tensor(value)
        except (TypeError, ValueError, RuntimeError) as err:
            raise TypeError(
                f"{name} must be array-like of numbers, got {type(value).__name__}"
            ) from err
    if not value.is_floating_point():
        value = value.to(torch.get_default_dtype())
    if ndim is not None and value.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimension(s), got shape {tuple(value.shape)}")
    if not bool(torch.isfinite(value).all()):
        raise ValueError(f"{name} must be finite (no NaN or inf)")
    return value


def check_rows(name: str, tensor: torch.Tensor, expected: int, other: str) -> None:
    """Raise unless ``tensor`` has ``expected`` entries along its first axis (matching ``other``)."""
    if tensor.shape[0] != expected:
        raise ValueError(
            f"{name} must have {expected} entries along its first axis to match {other}, "
            f"got shape {tuple(tensor.shape)}"
        )


def check_nonempty(name: str, tensor: torch.Tensor) -> None:
    """Raise if ``tensor`` has no elements."""
    if tensor.numel() == 0:
        raise ValueError(f"{name} must not be empty, got shape {tuple(tensor.shape)}")


def check_weights_and_inputs(W, X) -> tuple[torch.Tensor, torch.Tensor]:
    """``W (m, d)`` and ``X (n, d)`` as non-empty finite tensors of one dtype and device."""
    W = as_float_tensor("W", W, ndim=2)
    X = as_float_tensor("X", X, ndim=2)
    check_nonempty("W", W)
    check_nonempty("X", X)
    if X.shape[1] != W.shape[1]:
        raise ValueError(
            f"X must have d = {W.shape[1]} columns to match W, got shape {tuple(X.shape)}"
        )
    if X.device != W.device:
        raise ValueError(f"W and X must be on one device, got {W.device} and {X.device}")
    dtype = torch.promote_types(W.dtype, X.dtype)
    return W.to(dtype), X.to(dtype)


def check_kappa(kappa: float, name: str = "kappa") -> float:
    """Return ``kappa`` as a float after checking it is finite and non-negative."""
    try:
        kappa = float(kappa)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{name} must be a real number, got {type(kappa).__name__}") from err
    if not math.isfinite(kappa) or kappa < 0:
        raise ValueError(f"{name} must be finite and >= 0, got {kappa}")
    return kappa


def check_kappas(kappas: Sequence[float], name: str = "kappas") -> list[float]:
    """Return a non-empty list of valid mask scales."""
    if isinstance(kappas, (int, float)):
        raise TypeError(f"{name} must be a sequence of numbers, e.g. [0.0, 0.2], got a scalar")
    values = [check_kappa(k, name) for k in kappas]
    if not values:
        raise ValueError(f"{name} must not be empty")
    return values


def check_positive(name: str, value: float, integer: bool = False) -> float:
    """Raise unless ``value`` is a finite positive number (an int when ``integer``)."""
    if integer and (isinstance(value, bool) or not isinstance(value, int)):
        raise TypeError(f"{name} must be a positive integer, got {value!r}")
    if not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite positive number, got {value!r}")
    return value


def check_snapshot_epochs(snapshots: Sequence[int], epochs: int) -> list[int]:
    """The sorted, distinct epochs (1-based) after which a training keeps its weights."""
    chosen = sorted({int(e) for e in snapshots})
    beyond = [e for e in chosen if not 1 <= e <= epochs]
    if beyond:
        raise ValueError(f"snapshots {beyond} are outside the training's epochs 1..{epochs}")
    return chosen


def check_seed(seed, name: str = "seed") -> int:
    """Return ``seed`` after checking it is an int ``>= 0`` (NumPy's SeedSequence accepts those)."""
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"{name} must be an int >= 0, got {seed!r}")
    if seed < 0:
        raise ValueError(f"{name} must be an int >= 0, got {seed}")
    return seed


def check_training_inputs(X, y, W0, a) -> tuple:
    """``X (n, d)``, ``y (n,)``, ``W0`` ``(m, d)`` or ``(R, m, d)`` (a replicate axis), and ``a``.

    Returns ``X, y, W0 (R, m, d), a (R, m)`` as finite tensors of one promoted dtype (one
    initialisation becomes ``R = 1``) and whether ``W0`` had a replicate axis. ``a`` is ``(m,)``,
    shared by all replicates, or ``(R, m)``.
    """
    X = as_float_tensor("X", X, ndim=2)
    y = as_float_tensor("y", y, ndim=1)
    W0 = as_float_tensor("W0", W0)
    a = as_float_tensor("a", a)
    if W0.ndim not in (2, 3):
        raise ValueError(
            f"W0 must have shape (m, d) or (R, m, d) with a replicate axis, got {tuple(W0.shape)}"
        )
    replicated = W0.ndim == 3
    if not replicated:
        W0 = W0[None]
    check_nonempty("X", X)
    check_nonempty("W0", W0)
    check_rows("y", y, X.shape[0], "the rows of X (the sample size n)")
    if W0.shape[2] != X.shape[1]:
        raise ValueError(
            f"W0 must have d = {X.shape[1]} columns to match X, got shape {tuple(W0.shape)}"
        )
    if a.ndim == 1:
        a = a.expand(W0.shape[0], -1)
    if a.shape != W0.shape[:2]:
        raise ValueError(
            f"a must have shape (m,) or (R, m) = {tuple(W0.shape[:2])} to match W0, "
            f"got shape {tuple(a.shape)}"
        )
    dtype = torch.promote_types(X.dtype, W0.dtype)
    return X.to(dtype), y.to(dtype), W0.to(dtype), a.to(dtype), replicated


def check_checkpoint_every(seconds: float) -> float:
    """Seconds between checkpoint saves: a finite number ``>= 0`` (0 saves after every iteration)."""
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        raise TypeError(f"checkpoint_every must be a number of seconds >= 0, got {seconds!r}")
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"checkpoint_every must be a number of seconds >= 0, got {seconds!r}")
    return float(seconds)


def check_targets(y, X: torch.Tensor) -> torch.Tensor:
    """``y (n,)`` as a finite tensor of ``X``'s dtype, one target per row of ``X``, on its device."""
    y = as_float_tensor("y", y, ndim=1)
    check_rows("y", y, X.shape[0], "the rows of X")
    if y.device != X.device:
        raise ValueError(f"y must be on the device of X ({X.device}), got {y.device}")
    return y.to(X.dtype)


def as_scores(name: str, values) -> np.ndarray:
    """``values`` as a finite, non-empty 1-D float array (NumPy or a tensor in): attack scores."""
    array = np.asarray(values.detach().cpu() if hasattr(values, "detach") else values, float)
    if array.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {array.shape}")
    if array.size == 0:
        raise ValueError(f"{name} must not be empty: an attack needs members and non-members")
    if not np.isfinite(array).all():
        raise ValueError(f"{name} must be finite (no NaN or inf)")
    return array

"""Synthetic data and initialisation (chapter 4, Figure 3a): sphere inputs, teacher labels, NTK init.

* :func:`sphere_teacher_data` draws ``x_i`` uniformly on the unit sphere of R^d (the notation page
  asks for ``||x_i|| = 1``) and labels them with a fixed random two-layer ReLU *teacher*
  ``y_i = f(W*; x_i)`` of the same form as the student (Figure 3a, chapter 4; the teacher is
  the book's choice, the paper does not describe its data).
* :func:`init_network` draws the student's initialisation: ``w_r(0) ~ N(0, tau^2 I_d)`` and
  ``a_r`` uniform in ``{-1, +1}`` (the notation page).

Both are seeded and draw in float64 on the CPU before casting, so a seed gives the same numbers
(up to rounding) in every dtype.
"""

from __future__ import annotations

import math

import torch

from mgn.network import network
from mgn.validation import check_positive


def _generator(seed: int) -> torch.Generator:
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be an int, got {seed!r}")
    return torch.Generator().manual_seed(seed)


def _dtype(dtype: torch.dtype | None) -> torch.dtype:
    dtype = torch.get_default_dtype() if dtype is None else dtype
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise TypeError(f"dtype must be a floating torch.dtype, got {dtype!r}")
    return dtype


def _signs(count: int, generator: torch.Generator) -> torch.Tensor:
    """``count`` independent uniform draws from ``{-1, +1}`` (float64)."""
    return torch.randint(0, 2, (count,), generator=generator).double() * 2 - 1


def init_network(
    m: int, d: int, tau: float = 1.0, seed: int = 0, dtype: torch.dtype | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """The NTK initialisation (notation page): ``W0 (m, d)`` with N(0, tau^2) entries, ``a (m,)``.

    Parameters
    ----------
    m, d : width and input dimension.
    tau : init scale (standard deviation of each entry of ``W0``), > 0.
    seed : seed of the draw.
    dtype : floating dtype of the outputs (default: torch's default dtype).

    Returns
    -------
    ``(W0, a)`` on the CPU; ``a`` is uniform in ``{-1, +1}`` and is kept fixed in training.
    """
    check_positive("m", m, integer=True)
    check_positive("d", d, integer=True)
    check_positive("tau", tau)
    dtype = _dtype(dtype)
    generator = _generator(seed)
    W0 = tau * torch.randn(m, d, generator=generator, dtype=torch.float64)
    a = _signs(m, generator)
    return W0.to(dtype), a.to(dtype)


def sphere_teacher_data(
    n: int,
    d: int,
    seed: int = 0,
    teacher_width: int = 10,
    noise: float = 0.0,
    dtype: torch.dtype | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs uniform on the unit sphere with labels from a random teacher (Figure 3a, chapter 4).

    The teacher is a two-layer ReLU network of the student's form (the notation page),
    ``f*(x) = teacher_width^{-1/2} sum_j a*_j relu(w*_j^T x)`` with ``w*_j ~ N(0, I_d)`` and
    ``a*_j`` uniform in ``{-1, +1}``, drawn once from ``seed``. Labels are
    ``y_i = f*(x_i) + noise * eps_i`` with ``eps_i ~ N(0, 1)``.

    Parameters
    ----------
    n, d : number of samples and input dimension.
    seed : seed of the inputs, the teacher and the label noise.
    teacher_width : number of hidden units of the teacher.
    noise : standard deviation of the additive label noise (``>= 0``; 0 gives exact labels).
    dtype : floating dtype of the outputs (default: torch's default dtype).

    Returns
    -------
    ``X (n, d)`` with unit rows and ``y (n,)``, on the CPU.
    """
    check_positive("n", n, integer=True)
    check_positive("d", d, integer=True)
    check_positive("teacher_width", teacher_width, integer=True)
    if isinstance(noise, bool) or not isinstance(noise, (int, float)):
        raise TypeError(f"noise must be a real number, got {noise!r}")
    if not math.isfinite(noise) or noise < 0:
        raise ValueError(f"noise must be finite and >= 0, got {noise!r}")
    dtype = _dtype(dtype)
    generator = _generator(seed)
    X = torch.randn(n, d, generator=generator, dtype=torch.float64)
    X = X / X.norm(dim=1, keepdim=True)
    W_teacher = torch.randn(teacher_width, d, generator=generator, dtype=torch.float64)
    a_teacher = _signs(teacher_width, generator)
    y = network(W_teacher, a_teacher, X)
    if noise > 0:
        y = y + noise * torch.randn(n, generator=generator, dtype=torch.float64)
    return X.to(dtype), y.to(dtype)

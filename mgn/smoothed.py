"""The smoothed ReLU of chapter 1: closed forms of E_c[relu(w^T(x ⊙ c))], Gaussian mask.

For fixed ``w`` and ``x`` the masked pre-activation ``w^T(x ⊙ c)``, ``c ~ N(1, kappa^2 I)``, is
Gaussian with mean ``z = w^T x`` and standard deviation ``s = kappa ||w ⊙ x||``. Everything here is
a function of ``(z, s)``: the exact mean ``z Phi(z/s) + s phi(z/s)``, the paper's proxy
``z Phi(z/s)``, the second moment, and the gradient of one smoothed neuron (Stein's lemma). At
``s = 0`` every function returns its ReLU limit exactly.

Numerics: for ``t = z/s < 0`` the mean and the second moment are written as ``s psi_1(-t)`` and
``s^2 psi_2(-t)`` with ``psi_k(u) = E[relu(g - u)^k]``, ``g ~ N(0, 1)``, evaluated without
cancellation through Laplace's continued fraction of the Mills ratio; ``t = +-inf`` (``s`` tiny)
gives the limits, and gradients come from the closed-form partial derivatives (finite everywhere).
"""

from __future__ import annotations

import math
from numbers import Real

import numpy as np
import torch

from mgn.validation import as_float_tensor, check_kappa, check_weights_and_inputs

_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_INV_SQRT_2 = 1.0 / math.sqrt(2.0)
_SQRT_HALF_PI = math.sqrt(0.5 * math.pi)
# phi(t) is exactly 0 in float32 and float64 for |t| >= 40 (exp(-800) underflows): clamping t there
# changes no value and keeps t * phi(t), t^2 * phi(t) free of inf * 0.
_T_CLAMP = 40.0
# psi_k(u) above a switch point comes from the continued fraction, truncated after a fixed number
# of levels with its tail replaced by the fixed point of D = k/(u + D); below it, from the direct
# formula (which cancels as u grows). The pairs (switch, levels) keep the relative error of psi_k
# under ~1e-12 in float64 and ~1e-5 in float32 (checked against mpmath in tests/test_smoothed.py).
_CONTINUED_FRACTION = {torch.float64: (4.0, 20), torch.float32: (2.0, 12)}
_KINDS = ("exact", "proxy")


def _pdf(t: torch.Tensor) -> torch.Tensor:
    """Standard normal density phi(t); exact zero (not NaN) for |t| = inf."""
    t = t.clamp(-_T_CLAMP, _T_CLAMP)
    return torch.exp(-0.5 * t * t) * _INV_SQRT_2PI


def _cdf(t: torch.Tensor) -> torch.Tensor:
    """Standard normal cdf Phi(t) through erfcx (relative accuracy in both tails), differentiable.

    ``torch.special.ndtr`` loses the lower tail (2% relative error at t = -8 in float64).
    """
    negative = t < 0
    # |t| through where, not t.abs(): the autograd slope of abs at 0 is 0, which would zero the
    # second derivative of Phi there
    u = torch.where(negative, -t, t).clamp(max=_T_CLAMP)
    q = 0.5 * torch.special.erfcx(u * _INV_SQRT_2) * torch.exp(-0.5 * u * u)
    return torch.where(negative, q, 1.0 - q)


def _ratio(z: torch.Tensor, s: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(s > 0, t)`` with ``t = z/s`` where ``s > 0`` and ``t = z`` where ``s = 0`` (never 0/0)."""
    positive = s > 0
    return positive, z / torch.where(positive, s, torch.ones_like(s))


def _gaussian_parts(z: torch.Tensor, s: torch.Tensor):
    """Pieces of the forward pass at ``t = z/s`` (no autograd through them).

    Returns ``(s > 0, t < 0, u, phi(u), Q(u))`` with ``u = min(|t|, 40)``; ``Q(u) = 1 - Phi(u)`` comes
    through erfcx, which keeps its relative accuracy deep in the tail (``torch.special.ndtr(-u)``
    does not: 2% relative error at u = 8 in float64).
    """
    positive, t = _ratio(z, s)
    u = t.abs().clamp(max=_T_CLAMP)
    p = torch.exp(-0.5 * u * u) * _INV_SQRT_2PI
    q = torch.special.erfcx(u * _INV_SQRT_2) * p * _SQRT_HALF_PI
    return positive, t < 0, u, p, q


def _tail_moment(order: int, u, p, q, negative) -> torch.Tensor:
    """psi_order(u) = E[relu(g - u)^order], g ~ N(0, 1), u >= 0, order 1 or 2, where ``negative``.

    psi_1 = phi - u Q and psi_2 = (1 + u^2) Q - u phi cancel as u grows. Past the switch point
    they come from Laplace's continued fraction for the Mills ratio, Q/phi = 1/(u + c),
    c = 1/(u + d), d = 2/(u + 3/(u + ...)): psi_1 = phi c/(u + c), psi_2 = phi d/((u + d)(u + c)),
    with no cancellation. Only those entries (with phi(u) > 0) are computed that way.
    """
    value = p - u * q if order == 1 else (1.0 + u * u) * q - u * p
    switch, levels = _CONTINUED_FRACTION[u.dtype]
    far = (negative & (u >= switch) & (p > 0)).reshape(-1).nonzero().squeeze(1)
    uf, pf = u.reshape(-1)[far], p.reshape(-1)[far]
    d = 0.5 * (torch.sqrt(uf * uf + 4.0 * (levels + 1)) - uf)
    for k in range(levels, 1, -1):
        d.add_(uf).reciprocal_().mul_(float(k))  # d = k / (u + d), in place: no autograd here
    c = 1.0 / (uf + d)
    value.view(-1)[far] = pf * c / (uf + c) if order == 1 else pf * d / ((uf + d) * (uf + c))
    return value


def _exact_value(z: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
    """z Phi(t) + s phi(t) for t >= 0, s psi_1(-t) for t < 0, relu(z) where s = 0."""
    positive, negative, u, p, q = _gaussian_parts(z, s)
    upper = z * (1.0 - q) + s * p
    lower = s * _tail_moment(1, u, p, q, negative)
    return torch.where(positive, torch.where(negative, lower, upper), torch.relu(z))


def _proxy_value(z: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
    """z Phi(z/s), relu(z) where s = 0."""
    positive, negative, _, _, q = _gaussian_parts(z, s)
    return torch.where(positive, z * torch.where(negative, q, 1.0 - q), torch.relu(z))


def _second_moment_value(z: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
    """z E[relu] + s^2 Phi(t) for t >= 0, s^2 psi_2(-t) for t < 0, relu(z)^2 where s = 0."""
    positive, negative, u, p, q = _gaussian_parts(z, s)
    upper = z * (z * (1.0 - q) + s * p) + s * (s * (1.0 - q))
    lower = s * (s * _tail_moment(2, u, p, q, negative))
    return torch.where(positive, torch.where(negative, lower, upper), torch.relu(z) * torch.relu(z))


class _SmoothedReLU(torch.autograd.Function):
    """Value of the exact or proxy smoothed ReLU with the closed-form partials of chapter 1."""

    @staticmethod
    def forward(z: torch.Tensor, s: torch.Tensor, proxy: bool) -> torch.Tensor:
        return _proxy_value(z, s) if proxy else _exact_value(z, s)

    @staticmethod
    def setup_context(ctx, inputs, output) -> None:
        z, s, proxy = inputs
        ctx.save_for_backward(z, s)
        ctx.proxy = proxy

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        z, s = ctx.saved_tensors
        positive, t = _ratio(z, s)
        step = (z > 0).to(z.dtype)
        if ctx.proxy:
            tc = t.clamp(-_T_CLAMP, _T_CLAMP)
            p = _pdf(tc)
            dz = torch.where(positive, _cdf(t) + tc * p, step)
            ds = torch.where(positive, -tc * tc * p, torch.zeros_like(s))
        else:
            dz = torch.where(positive, _cdf(t), step)
            at_kink = (z == 0).to(z.dtype) * _INV_SQRT_2PI
            ds = torch.where(positive, _pdf(t), at_kink)
        return grad * dz, grad * ds, None


class _SmoothedReLUSecondMoment(torch.autograd.Function):
    """E[relu(z + s g)^2] with partials d/dz = 2 E[relu(z + s g)], d/ds = 2 s Phi(z/s)."""

    @staticmethod
    def forward(z: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        return _second_moment_value(z, s)

    @staticmethod
    def setup_context(ctx, inputs, output) -> None:
        ctx.save_for_backward(*inputs)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        z, s = ctx.saved_tensors
        _, t = _ratio(z, s)
        dz = 2.0 * _SmoothedReLU.apply(z, s, False)
        ds = 2.0 * s * _cdf(t)
        return grad * dz, grad * ds


class _VarianceExcess(torch.autograd.Function):
    """Var(relu g) - s^2 Phi(z/s)^2 for g ~ N(z, s^2), s > 0 (inputs of one shape): a kink-band
    neuron's own term in the split of :mod:`mgn.output_variance`.

    With u = |z| / s, Q = Phi(-u) and psi_k(u) = E[relu(g' - u)^k], g' ~ N(0, 1) (chapter 1), it
    is s^2 D with D = psi_2 - psi_1^2 - Q^2 for either sign of z (for z > 0 write
    relu g = g + relu(-g)): its terms are of the size of phi(u), so nothing of the size of s^2
    cancels. psi_1 = phi - u Q and psi_2 = (1 + u^2) Q - u phi cancel as u grows: past a switch
    point they come from Laplace's continued fraction of the Mills ratio, as in
    :func:`_tail_moment`. dD/dt = -sign(t) E with E = 2 (psi_1 (1 - Q) - Q phi), hence the partials
    s dD/dt in z and s (2 D + u E) in s.
    """

    @staticmethod
    def forward(ctx, z, s):
        u = (z.abs() / s).clamp(max=_T_CLAMP)
        density = torch.exp(-0.5 * u * u) * _INV_SQRT_2PI
        tail = 0.5 * torch.special.erfc(u * _INV_SQRT_2)
        switch, levels = _CONTINUED_FRACTION[u.dtype]
        d = 0.5 * (torch.sqrt(u * u + 4.0 * (levels + 1)) - u)
        for k in range(levels, 1, -1):
            d = k / (u + d)  # d = 2 / (u + 3 / (u + ...))
        c = 1.0 / (u + d)
        far = u >= switch
        first = torch.where(far, density * c / (u + c), density - u * tail)
        second = torch.where(
            far, density * d / ((u + d) * (u + c)), (1.0 + u * u) * tail - u * density
        )
        excess = second - first * first - tail * tail
        ctx.save_for_backward(z, s, u, excess, 2.0 * (first * (1.0 - tail) - tail * density))
        return s * s * excess

    @staticmethod
    def backward(ctx, grad):
        z, s, u, excess, slope = ctx.saved_tensors
        return -torch.sign(z) * s * slope * grad, s * (2.0 * excess + u * slope) * grad


def relu_variance_excess(z: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
    """Var(relu g) - s^2 Phi(z/s)^2 for g ~ N(z, s^2), s > 0, differentiable in z and s
    (:class:`_VarianceExcess`)."""
    return _VarianceExcess.apply(z, s)


def _numpy_operand(name: str, value) -> np.ndarray | Real:
    """A Python real stays as is (a weak type for promotion); anything else becomes an array."""
    if isinstance(value, bool) or isinstance(value, np.bool_):
        raise TypeError(f"{name} must be real numbers, got a boolean")
    if isinstance(value, Real) and not isinstance(value, np.generic):
        return value
    array = np.asarray(value)
    if array.dtype.kind not in "fiu":
        raise TypeError(f"{name} must be real numbers, got dtype {array.dtype}")
    return array


def _torch_operand(name: str, value, like: torch.Tensor) -> torch.Tensor | Real:
    """A tensor stays as is; an array becomes a tensor on ``like``'s device; a number stays."""
    if isinstance(value, torch.Tensor):
        if value.dtype == torch.bool or value.is_complex():
            raise TypeError(f"{name} must be real numbers, got dtype {value.dtype}")
        return value
    operand = _numpy_operand(name, value)
    if isinstance(operand, np.ndarray):
        return torch.as_tensor(operand, device=like.device)
    return operand


def _prepare(z, s):
    """Broadcast ``z`` and ``s`` to float torch tensors of one compute dtype.

    Returns ``(z, s, out_dtype, numpy_out)``: the caller casts the result back to ``out_dtype`` (a
    torch or NumPy dtype) and, when ``numpy_out``, to a NumPy array.
    """
    numpy_out = not (isinstance(z, torch.Tensor) or isinstance(s, torch.Tensor))
    if numpy_out:
        z_in, s_in = _numpy_operand("z", z), _numpy_operand("s", s)
        out_dtype = np.result_type(z_in, s_in)
        if out_dtype.kind != "f":
            out_dtype = np.dtype(np.float64)
        compute = np.float64 if out_dtype.itemsize >= 8 else np.float32
        z_t = torch.as_tensor(np.asarray(z_in, dtype=compute))
        s_t = torch.as_tensor(np.asarray(s_in, dtype=compute))
    else:
        like = z if isinstance(z, torch.Tensor) else s
        z_in, s_in = _torch_operand("z", z, like), _torch_operand("s", s, like)
        out_dtype = torch.result_type(z_in, s_in)
        if not out_dtype.is_floating_point:
            out_dtype = torch.get_default_dtype()
        compute = torch.float32 if torch.finfo(out_dtype).bits < 32 else out_dtype
        # a Python number must not pass through the default dtype (float32) on its way in
        z_t = torch.as_tensor(z_in, dtype=compute, device=like.device)
        s_t = torch.as_tensor(s_in, dtype=compute, device=like.device)
        if z_t.device != s_t.device:
            if s_t.ndim == 0 and s_t.device.type == "cpu":
                s_t = s_t.to(z_t.device)
            elif z_t.ndim == 0 and z_t.device.type == "cpu":
                z_t = z_t.to(s_t.device)
            else:
                raise ValueError(
                    f"z and s must be on one device, got {z_t.device} and {s_t.device}"
                )
    try:
        torch.broadcast_shapes(z_t.shape, s_t.shape)
    except RuntimeError as err:
        raise ValueError(
            f"z and s must broadcast together, got shapes {tuple(z_t.shape)} and {tuple(s_t.shape)}"
        ) from err
    if not bool(((s_t >= 0) & torch.isfinite(s_t)).all()):
        raise ValueError("s must be finite and >= 0 (a standard deviation), got a negative/NaN/inf")
    z_t, s_t = torch.broadcast_tensors(z_t, s_t)
    return z_t, s_t, out_dtype, numpy_out


def _finish(result: torch.Tensor, out_dtype, numpy_out: bool):
    if not numpy_out:
        return result.to(out_dtype)
    array = result.detach().cpu().numpy().astype(out_dtype, copy=False)
    return array[()] if array.ndim == 0 else array


def smoothed_relu(z, s, kind: str = "exact"):
    """Smoothed ReLU E[relu(z + s g)], g ~ N(0, 1), or the paper's proxy (chapter 1).

    ``kind="exact"``: ``z Phi(z/s) + s phi(z/s)`` ("sigma-tilde"), the mean of one masked neuron.
    ``kind="proxy"``: ``z Phi(z/s)`` ("sigma-hat"), the form the paper's theorems use; the gap
    exact - proxy is ``s phi(z/s)``. At ``s = 0`` both return ``relu(z)`` exactly.

    Parameters
    ----------
    z : pre-activation mean ``w^T x``: torch tensor (any float dtype, any device), NumPy array or
        number.
    s : standard deviation ``kappa ||w ⊙ x||`` (finite, >= 0), broadcastable with ``z``.
    kind : ``"exact"`` or ``"proxy"``.

    Returns
    -------
    The broadcast result, of the same kind as the input (torch in -> torch out, with autograd
    through the closed-form partials of chapter 1; NumPy or numbers in -> NumPy out), in the
    promoted dtype (float16 and bfloat16 are computed in float32).
    """
    if not isinstance(kind, str) or kind not in _KINDS:
        raise ValueError(f"kind must be one of {_KINDS}, got {kind!r}")
    z_t, s_t, out_dtype, numpy_out = _prepare(z, s)
    return _finish(_SmoothedReLU.apply(z_t, s_t, kind == "proxy"), out_dtype, numpy_out)


def smoothed_relu_second_moment(z, s):
    """Second moment E[relu(z + s g)^2] = (z^2 + s^2) Phi(z/s) + z s phi(z/s) (chapter 1).

    Same conventions as :func:`smoothed_relu`; ``s = 0`` gives ``relu(z)^2`` exactly. Gradients:
    d/dz = 2 E[relu(z + s g)], d/ds = 2 s Phi(z/s).
    """
    z_t, s_t, out_dtype, numpy_out = _prepare(z, s)
    return _finish(_SmoothedReLUSecondMoment.apply(z_t, s_t), out_dtype, numpy_out)


def _row_scale(A: torch.Tensor) -> torch.Tensor:
    """Largest |entry| of each row (1 for an all-zero row), detached: a constant rescaling."""
    scale = A.detach().abs().amax(dim=-1, keepdim=True)
    return torch.where(scale > 0, scale, torch.ones_like(scale))


def mask_moments(W, X, kappa: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and standard deviation of every masked pre-activation (chapter 1).

    Parameters
    ----------
    W : (m, d) hidden weights, rows ``w_r``.
    X : (n, d) inputs, rows ``x_i``.
    kappa : mask scale (finite, >= 0); the mask is ``c ~ N(1, kappa^2 I_d)``.

    Returns
    -------
    ``(z, s)``, both (n, m): ``z[i, r] = w_r^T x_i`` and ``s[i, r] = kappa ||w_r ⊙ x_i||``, torch,
    differentiable in ``W`` and ``X`` (the gradient of ``s`` is taken as 0 where ``w_r ⊙ x_i = 0``).
    Rows are rescaled internally so that ``s`` does not overflow before the result does.
    """
    kappa = check_kappa(kappa)
    W, X = check_weights_and_inputs(W, X)
    z = X @ W.T
    x_scale, w_scale = _row_scale(X), _row_scale(W)
    squares = (X / x_scale).square() @ (W / w_scale).square().T
    nonzero = squares > 0
    root = torch.sqrt(torch.where(nonzero, squares, torch.ones_like(squares)))
    s = torch.where(nonzero, kappa * x_scale * w_scale.T * root, torch.zeros_like(squares))
    return z, s


def smoothed_neuron(W, X, kappa: float, kind: str = "exact") -> torch.Tensor:
    """(n, m) matrix of smoothed neurons E_c[relu(w_r^T(x_i ⊙ c))] (``kind="exact"``) or the proxy.

    Composes :func:`mask_moments` and :func:`smoothed_relu`; differentiable in ``W`` and ``X``.
    """
    z, s = mask_moments(W, X, kappa)
    return smoothed_relu(z, s, kind)


def smoothed_neuron_grad(w, x, kappa: float) -> torch.Tensor:
    """Gradient in ``w`` of the exact smoothed neuron, by Stein's lemma (chapter 1).

    ``grad_w E_c[relu(w^T(x ⊙ c))] = E_c[1{w^T(x ⊙ c) > 0} (x ⊙ c)]
    = Phi(z/s) x + phi(z/s) kappa^2 (x ⊙ x ⊙ w) / s``, and ``1{z > 0} x`` where ``s = 0``.

    Parameters
    ----------
    w, x : arrays whose last axis is d, broadcastable (e.g. ``W[None]`` and ``X[:, None]`` give
        every (input, neuron) pair, shape (n, m, d)).
    kappa : mask scale (finite, >= 0).

    Returns
    -------
    Torch tensor of the broadcast shape of ``w`` and ``x``.
    """
    kappa = check_kappa(kappa)
    w = as_float_tensor("w", w)
    x = as_float_tensor("x", x)
    if w.ndim == 0 or x.ndim == 0:
        raise ValueError("w and x must have at least one dimension (the last one is d)")
    if w.device != x.device:
        raise ValueError(f"w and x must be on one device, got {w.device} and {x.device}")
    dtype = torch.promote_types(w.dtype, x.dtype)
    w, x = w.to(dtype), x.to(dtype)
    try:
        v = w * x
    except RuntimeError as err:
        raise ValueError(
            f"w and x must broadcast together, got shapes {tuple(w.shape)} and {tuple(x.shape)}"
        ) from err
    x = x.expand_as(v)
    z = v.sum(dim=-1, keepdim=True)
    scale = _row_scale(v)
    norm = scale * torch.linalg.vector_norm(v / scale, dim=-1, keepdim=True)
    s = kappa * norm
    positive, t = _ratio(z, s)
    unit = v / torch.where(norm > 0, norm, torch.ones_like(norm))
    smooth = _cdf(t) * x + _pdf(t) * kappa * x * unit
    return torch.where(positive, smooth, (z > 0).to(x.dtype) * x)

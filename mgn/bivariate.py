"""Bivariate normal cdf and the ReLU moments of a bivariate Gaussian (chapters 1 and 2).

``bvn_cdf(h, k, rho)`` is Phi2(h, k; rho) = P(X <= h, Y <= k) for standard normals with correlation
``rho``, in torch (vectorised, any device, autograd). It follows Genz's algorithm (Genz, "Numerical
computation of rectangular bivariate and trivariate normal and t probabilities", Statistics and
Computing 14, 2004): for |rho| < 0.925, 20-point Gauss-Legendre quadrature of Plackett's identity
Phi2 = Phi(h) Phi(k) + int_0^rho phi2(h, k; t) dt in the variable asin(t); for |rho| >= 0.925, Genz's
transformed form that stays accurate as |rho| -> 1; rho = +-1 and infinite limits use their exact
limits. Accuracy about 1e-15 in float64. Gradients come from the closed-form partials
d/dh = phi(h) Phi((k - rho h)/q), d/drho = phi2(h, k; rho), q = sqrt(1 - rho^2).

``relu_covariance`` and ``relu_variance`` give Cov(relu g1, relu g2) and Var(relu g) for jointly
Gaussian (g1, g2), written so that no large terms cancel (they are the variance pieces of the exact
expected loss); ``relu_product_moment`` is chapter 2's E[relu(g1) relu(g2)].
"""

from __future__ import annotations

import math

import numpy as np
import torch

from mgn.smoothed import smoothed_relu, smoothed_relu_second_moment

_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
# Gauss-Legendre rules on [-1, 1] as Genz (2004) uses them: (half-nodes x, weights w) of the 6-, 12-
# and 20-point rules (nodes +-x share a weight); 6 points suffice for |rho| < 0.3, 12 for < 0.75.
_GL6 = (
    (0.9324695142031522, 0.6612093864662647, 0.2386191860831970),
    (0.1713244923791705, 0.3607615730481384, 0.4679139345726904),
)
_GL12 = (
    (0.9815606342467191, 0.9041172563704750, 0.7699026741943050, 0.5873179542866171,
     0.3678314989981802, 0.1252334085114692),
    (0.04717533638651177, 0.1069393259953183, 0.1600783285433464, 0.2031674267230659,
     0.2334925365383547, 0.2491470458134029),
)  # fmt: skip
_GL20 = (
    (0.9931285991850949, 0.9639719272779138, 0.9122344282513259, 0.8391169718222188,
     0.7463319064601508, 0.6360536807265150, 0.5108670019508271, 0.3737060887154196,
     0.2277858511416451, 0.07652652113349733),
    (0.01761400713915212, 0.04060142980038694, 0.06267204833410906, 0.08327674157670475,
     0.1019301198172404, 0.1181945319615184, 0.1316886384491766, 0.1420961093183821,
     0.1491729864726037, 0.1527533871307259),
)  # fmt: skip


def _nodes(rule: tuple[tuple[float, ...], tuple[float, ...]]) -> tuple[tuple[float, float], ...]:
    """The rule moved to [0, 2]: (node, weight) pairs for 1 - x and 1 + x."""
    xs, ws = rule
    return tuple((1.0 + sign * x, w) for sign in (-1.0, 1.0) for x, w in zip(xs, ws, strict=True))


_HIGH_RHO = 0.925
# Genz's rules for |rho| < 0.925: (lower, upper, nodes) with the (node on [0, 2], weight) pairs of
# the Gauss-Legendre rule that integrates Plackett's integrand in asin(t) for lower <= |rho| < upper
# (a rule is as accurate for any smaller |rho|: the interval only shrinks). mgn.relu_pairs uses them.
LOW_CORRELATION_RULES = (
    (0.0, 0.3, _nodes(_GL6)),
    (0.3, 0.75, _nodes(_GL12)),
    (0.75, _HIGH_RHO, _nodes(_GL20)),
)
_HIGH_NODES = _nodes(_GL20)
# Phi(h) is 0 or 1 and phi(h) is 0 in float64 beyond |h| = 40: clamping there changes no value.
_H_CLAMP = 40.0
# Standardised means beyond this are clamped in the ReLU moments (every term they enter is 0 there).
_MEAN_CLAMP = 1e4
# Elementwise work is done in chunks of this many entries (cache-sized on the CPU).
_CHUNK_CPU = 2**17
_CHUNK_GPU = 2**24


def _exp_flushed(arg: torch.Tensor) -> torch.Tensor:
    """exp(arg), with results below e times the smallest normal number set to 0.

    Subnormal numbers (and exp near them) are ~30x slower on CPUs, and they are what small noise
    (large |h|) makes; the values flushed are below 1e-37 (float32) or 1e-307 (float64).
    """
    low = math.log(torch.finfo(arg.dtype).tiny) + 1.0
    return torch.exp(arg.clamp_min(low)).masked_fill(arg < low, 0.0)


def _pdf(t: torch.Tensor) -> torch.Tensor:
    t = t.clamp(-_H_CLAMP, _H_CLAMP)
    return _exp_flushed(-0.5 * t * t) * _INV_SQRT_2PI


def _cdf(t: torch.Tensor) -> torch.Tensor:
    return torch.special.ndtr(t)


def _excess_low(h: torch.Tensor, k: torch.Tensor, r: torch.Tensor, nodes) -> torch.Tensor:
    """Phi2 - Phi(h) Phi(k) for |r| < 0.925: Plackett's integral in theta = asin(t) by ``nodes``."""
    hk = h * k
    hs = 0.5 * (h * h + k * k)
    asr = 0.5 * torch.asin(r)
    total = torch.zeros_like(h)
    for x, w in nodes:
        sn = torch.sin(asr * x)
        term = (sn * hk).sub_(hs)
        total.add_(_exp_flushed(term.div_(sn.mul_(sn).neg_().add_(1.0))), alpha=w)
    return total.mul_(asr).div_(2.0 * math.pi)


def _upper_high(dh: torch.Tensor, dk: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    """P(X > dh, Y > dk) for 0.925 <= |r| < 1: Genz's (2004) transformed form, vectorised."""
    negative = r < 0
    k = torch.where(negative, -dk, dk)
    h = dh
    hk = h * k
    one_minus = (1.0 - r.abs()) * (1.0 + r.abs())
    a = torch.sqrt(one_minus)
    bs = (h - k) ** 2
    c = (4.0 - hk) / 8.0
    d = (12.0 - hk) / 80.0
    asr = -0.5 * (bs / one_minus + hk)
    keep = asr > -100.0
    series = 1.0 - c * (bs - one_minus) * (1.0 - d * bs) / 3.0 + c * d * one_minus**2
    bvn = torch.where(keep, a * _exp_flushed(asr) * series, torch.zeros_like(h))
    b = torch.sqrt(bs)
    sp = math.sqrt(2.0 * math.pi) * _cdf(-b / a)
    tail = torch.exp(-0.5 * hk.clamp_min(-100.0)) * sp * b * (1.0 - c * bs * (1.0 - d * bs) / 3.0)
    bvn = bvn - torch.where(hk > -100.0, tail, torch.zeros_like(h))
    a = 0.5 * a
    for x, w in _HIGH_NODES:
        xs = (a * x) ** 2
        rs = torch.sqrt(1.0 - xs)
        asr = -0.5 * (bs / xs + hk)
        sp = 1.0 + c * xs * (1.0 + 5.0 * d * xs)
        ep = torch.exp(-hk * (1.0 - rs) / (2.0 * (1.0 + rs))) / rs
        keep = asr > -100.0
        bvn = bvn + torch.where(keep, a * w * _exp_flushed(asr) * (ep - sp), torch.zeros_like(h))
    bvn = -bvn / (2.0 * math.pi)
    low = torch.where(h < 0, _cdf(k) - _cdf(h), _cdf(-h) - _cdf(-k))
    negative_value = torch.where(h >= k, -bvn, low - bvn)
    return torch.where(negative, negative_value, bvn + _cdf(-torch.maximum(h, k)))


def _excess(h: torch.Tensor, k: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    """Phi2(h, k; r) - Phi(h) Phi(k) for flat tensors of one length (forward only)."""
    h = h.clamp(-_H_CLAMP, _H_CLAMP)
    k = k.clamp(-_H_CLAMP, _H_CLAMP)
    product = _cdf(h) * _cdf(k)
    out = torch.zeros_like(h)
    size = r.abs()
    for lower, upper, nodes in LOW_CORRELATION_RULES:
        index = ((size >= lower) & (size < upper)).nonzero().squeeze(1)
        if index.numel():
            parts = (t.index_select(0, index) for t in (h, k, r))
            out.index_copy_(0, index, _excess_low(*parts, nodes))
    index = ((size >= _HIGH_RHO) & (size < 1.0)).nonzero().squeeze(1)
    if index.numel():
        h_high, k_high, r_high = (t.index_select(0, index) for t in (h, k, r))
        upper_tail = _upper_high(-h_high, -k_high, r_high).clamp(0.0, 1.0)
        out.index_copy_(0, index, upper_tail - product.index_select(0, index))
    plus, minus = r >= 1.0, r <= -1.0
    out = torch.where(plus, _cdf(torch.minimum(h, k)) - product, out)
    return torch.where(minus, (_cdf(h) + _cdf(k) - 1.0).clamp_min(0.0) - product, out)


class _BvnExcess(torch.autograd.Function):
    """Phi2(h, k; rho) - Phi(h) Phi(k) with the closed-form partials (inputs of one shape)."""

    @staticmethod
    def forward(h: torch.Tensor, k: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
        return _chunked(_excess, h, k, r)

    @staticmethod
    def setup_context(ctx, inputs, output) -> None:
        ctx.save_for_backward(*inputs)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        h, k, r = ctx.saved_tensors
        h = h.clamp(-_H_CLAMP, _H_CLAMP)
        k = k.clamp(-_H_CLAMP, _H_CLAMP)
        q = torch.sqrt(((1.0 - r.abs()) * (1.0 + r.abs())).clamp_min(0.0))
        q = q.clamp_min(torch.finfo(q.dtype).tiny)
        dh = _pdf(h) * (_cdf((k - r * h) / q) - _cdf(k))
        dk = _pdf(k) * (_cdf((h - r * k) / q) - _cdf(h))
        dr = _pdf(h) * _pdf((k - r * h) / q) / q
        return grad * dh, grad * dk, grad * dr


def _as_tensors(**named) -> list[torch.Tensor]:
    """Named array-likes as broadcast float tensors of one dtype and device; NaN is refused.

    Python numbers are weakly typed (they take the dtype of the tensors beside them); with no
    tensor or array among the arguments the dtype is float64, as in NumPy.
    """
    tensors, dtypes = [], []
    for name, value in named.items():
        if isinstance(value, torch.Tensor):
            tensor = value
            dtypes.append(tensor.dtype)
        else:
            array = np.asarray(value)
            if array.dtype.kind not in "fiu":
                raise TypeError(f"{name} must hold real numbers, got dtype {array.dtype}")
            tensor = torch.as_tensor(array)
            if not isinstance(value, (int, float)):
                dtypes.append(tensor.dtype)
        if tensor.dtype == torch.bool or tensor.is_complex():
            raise TypeError(f"{name} must hold real numbers, got dtype {tensor.dtype}")
        if bool(torch.isnan(tensor).any()):
            raise ValueError(f"{name} must not contain NaN")
        tensors.append(tensor)
    dtype = torch.float64
    if dtypes:
        dtype = dtypes[0]
        for other in dtypes[1:]:
            dtype = torch.promote_types(dtype, other)
    if not dtype.is_floating_point:
        dtype = torch.get_default_dtype()
    devices = {t.device for t in tensors if isinstance(t, torch.Tensor) and t.ndim > 0}
    devices = devices or {tensors[0].device}
    if len(devices) > 1:
        raise ValueError(
            f"{', '.join(named)} must be on one device, got {sorted(map(str, devices))}"
        )
    device = devices.pop()
    tensors = [t.to(device=device, dtype=dtype) for t in tensors]
    try:
        return list(torch.broadcast_tensors(*tensors))
    except RuntimeError as err:
        shapes = ", ".join(f"{n} {tuple(t.shape)}" for n, t in zip(named, tensors, strict=True))
        raise ValueError(f"{', '.join(named)} must broadcast together, got {shapes}") from err


def bvn_cdf(h, k, rho) -> torch.Tensor:
    """Bivariate standard normal cdf Phi2(h, k; rho) = P(X <= h, Y <= k), corr(X, Y) = rho.

    Parameters
    ----------
    h, k : upper limits (infinite values allowed), broadcastable torch tensors or array-likes.
    rho : correlation in [-1, 1], broadcastable with ``h`` and ``k``.

    Returns
    -------
    Torch tensor of the broadcast shape, in the promoted float dtype (Genz's algorithm, see the
    module docstring), differentiable in ``h``, ``k`` and ``rho`` (|rho| < 1 for the latter).
    """
    h, k, rho = _as_tensors(h=h, k=k, rho=rho)
    if bool((rho.abs() > 1.0).any()):
        raise ValueError("rho must lie in [-1, 1] (a correlation)")
    return _cdf(h) * _cdf(k) + _BvnExcess.apply(h, k, rho)


def _standardised(mu1, mu2, s1, s2, cov):
    """Safe ``(h1, h2, rho, q, k1, k2, both)``; rho = 0 and h = +-clamp where a std is 0.

    ``rho`` is clamped to |rho| <= 1 - 4 eps; that moves Cov(relu g1, relu g2), whose derivative
    in ``cov`` is a probability, by at most 4 eps s1 s2. ``k1 = (h1 - rho h2)/q`` and
    ``k2 = (h2 - rho h1)/q`` are formed from h1 -+ h2 and the exact 1 -+ rho, so that the rounding
    of ``rho h`` is not amplified by 1/q as |rho| -> 1.
    """
    both = (s1 > 0) & (s2 > 0)
    s1_safe = torch.where(s1 > 0, s1, torch.ones_like(s1))
    s2_safe = torch.where(s2 > 0, s2, torch.ones_like(s2))
    h1 = torch.where(s1 > 0, mu1 / s1_safe, torch.sign(mu1) * _MEAN_CLAMP)
    h2 = torch.where(s2 > 0, mu2 / s2_safe, torch.sign(mu2) * _MEAN_CLAMP)
    h1, h2 = h1.clamp(-_MEAN_CLAMP, _MEAN_CLAMP), h2.clamp(-_MEAN_CLAMP, _MEAN_CLAMP)
    limit = 1.0 - 4.0 * torch.finfo(mu1.dtype).eps
    rho = torch.where(both, cov / (s1_safe * s2_safe), torch.zeros_like(cov)).clamp(-limit, limit)
    q = torch.sqrt((1.0 - rho) * (1.0 + rho))
    positive = rho >= 0
    gap = torch.where(positive, 1.0 - rho, 1.0 + rho)
    k1 = torch.where(positive, (h1 - h2) + gap * h2, (h1 + h2) - gap * h2) / q
    k2 = torch.where(positive, (h2 - h1) + gap * h1, (h1 + h2) - gap * h1) / q
    return h1, h2, rho, q, k1, k2, both


def _covariance_value(mu1, mu2, s1, s2, cov) -> torch.Tensor:
    h1, h2, rho, q, k1, k2, both = _standardised(mu1, mu2, s1, s2, cov)
    excess = _excess(h1, h2, rho)
    p1, p2 = _pdf(h1), _pdf(h2)
    terms = (
        h1 * h2 * excess
        + rho * (_cdf(h1) * _cdf(h2) + excess)
        + h2 * p1 * (_cdf(k2) - _cdf(h2))
        + h1 * p2 * (_cdf(k1) - _cdf(h1))
        + p1 * (q * _pdf(k2) - p2)
    )
    return torch.where(both, s1 * s2 * terms, torch.zeros_like(terms))


def _covariance_partials(mu1, mu2, s1, s2, cov) -> tuple[torch.Tensor, ...]:
    h1, h2, rho, q, k1, k2, _ = _standardised(mu1, mu2, s1, s2, cov)
    p1, p2 = _pdf(h1), _pdf(h2)
    both_active = _cdf(h1) * _cdf(h2) + _BvnExcess.apply(h1, h2, rho)
    mean1, mean2 = smoothed_relu(mu1, s1), smoothed_relu(mu2, s2)
    d_mu1 = mu2 * both_active + s2 * (p2 * _cdf(k1) + rho * p1 * _cdf(k2)) - _cdf(h1) * mean2
    d_mu2 = mu1 * both_active + s1 * (p1 * _cdf(k2) + rho * p2 * _cdf(k1)) - _cdf(h2) * mean1
    d_s1 = p1 * (smoothed_relu(mu2 - rho * s2 * h1, s2 * q) - mean2)
    d_s2 = p2 * (smoothed_relu(mu1 - rho * s1 * h2, s1 * q) - mean1)
    return d_mu1, d_mu2, d_s1, d_s2, both_active


def _chunked(fn, *tensors: torch.Tensor):
    """``fn`` on flat slices of same-shape ``tensors``, in cache-sized chunks on the CPU.

    Returns what ``fn`` returns (a tensor or a tuple of tensors), reshaped to the input shape.
    """
    shape = tensors[0].shape
    flat = [t.reshape(-1) for t in tensors]
    total = flat[0].numel()
    chunk = _CHUNK_CPU if flat[0].device.type == "cpu" else _CHUNK_GPU
    starts = range(0, total, chunk) if total > chunk else (0,)
    parts = [fn(*(f[i : i + chunk] for f in flat)) for i in starts]
    single = isinstance(parts[0], torch.Tensor)
    columns = zip(*([p] if single else p for p in parts), strict=True)
    out = tuple(torch.cat(column).reshape(shape) for column in columns)
    return out[0] if single else out


class _ReluCovariance(torch.autograd.Function):
    """Cov(relu g1, relu g2) from (mu1, mu2, s1, s2, cov); partials by Price's theorem."""

    @staticmethod
    def forward(mu1, mu2, s1, s2, cov):
        return _chunked(_covariance_value, mu1, mu2, s1, s2, cov)

    @staticmethod
    def setup_context(ctx, inputs, output) -> None:
        ctx.save_for_backward(*inputs)

    @staticmethod
    def backward(ctx, grad):
        partials = _chunked(_covariance_partials, *ctx.saved_tensors)
        return tuple(grad * partial for partial in partials)


def _check_std(**named) -> None:
    for name, value in named.items():
        if bool((value < 0).any() | torch.isinf(value).any()):
            raise ValueError(f"{name} must be finite and >= 0 (a standard deviation)")


def relu_covariance(mu1, mu2, s1, s2, cov) -> torch.Tensor:
    """Cov(relu(g1), relu(g2)) for jointly Gaussian g1 ~ N(mu1, s1^2), g2 ~ N(mu2, s2^2).

    With h = mu/s, rho = cov/(s1 s2), q = sqrt(1 - rho^2), k1 = (h1 - rho h2)/q, k2 = (h2 - rho h1)/q
    and D = Phi2(h1, h2; rho) - Phi(h1) Phi(h2), chapter 2's product formula minus the product
    of the means is ``s1 s2 [h1 h2 D + rho Phi2 + h2 phi(h1) (Phi(k2) - Phi(h2))
    + h1 phi(h2) (Phi(k1) - Phi(h1)) + phi(h1) (q phi(k2) - phi(h2))]``: every bracket vanishes as
    rho -> 0, so nothing large cancels. It is 0 where s1 or s2 is 0; |rho| = 1 is allowed.
    Gradients (Price's theorem): d/dcov = P(g1 > 0, g2 > 0), d/dmu1 = E[1{g1 > 0} relu(g2)] -
    Phi(h1) E[relu(g2)], d/ds1 = phi(h1) (E[relu(g2) | g1 = 0] - E[relu(g2)]).

    Parameters
    ----------
    mu1, mu2 : means; s1, s2 : standard deviations (>= 0); cov : covariance of g1 and g2. All
        broadcastable torch tensors or array-likes.
    """
    tensors = _as_tensors(mu1=mu1, mu2=mu2, s1=s1, s2=s2, cov=cov)
    _check_std(s1=tensors[2], s2=tensors[3])
    return _ReluCovariance.apply(*tensors)


def relu_variance(mu, s) -> torch.Tensor:
    """Var(relu(g)), g ~ N(mu, s^2), without cancellation (chapter 1's moments).

    For mu <= 0 it is M2 - M1^2 with M1, M2 the first two moments of :mod:`mgn.smoothed` (both
    small, no cancellation); for mu > 0 it uses relu(g) = g + relu(-g):
    Var = s^2 (1 - 2 Phi(-mu/s)) + Var(relu(-g)). At s = 0 it is 0 exactly.
    """
    mu, s = _as_tensors(mu=mu, s=s)
    _check_std(s=s)
    negative = -mu.abs()
    tail = smoothed_relu_second_moment(negative, s) - smoothed_relu(negative, s) ** 2
    s_safe = torch.where(s > 0, s, torch.ones_like(s))
    upper = torch.where(s > 0, s * s * (1.0 - 2.0 * _cdf(negative / s_safe)), torch.zeros_like(s))
    return torch.where(mu > 0, upper + tail, tail)


def relu_product_moment(mu1, mu2, s1, s2, cov) -> torch.Tensor:
    """E[relu(g1) relu(g2)] for jointly Gaussian (g1, g2): chapter 2's product formula.

    Computed as Cov(relu g1, relu g2) + E[relu g1] E[relu g2] (see :func:`relu_covariance`).
    """
    mu1, mu2, s1, s2, cov = _as_tensors(mu1=mu1, mu2=mu2, s1=s1, s2=s2, cov=cov)
    return relu_covariance(mu1, mu2, s1, s2, cov) + smoothed_relu(mu1, s1) * smoothed_relu(mu2, s2)

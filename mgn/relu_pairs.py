"""Sums of Cov(relu g, relu g') over many pairs of jointly Gaussian variables, by Price's theorem.

For jointly Gaussian g1 ~ N(mu1, s1^2), g2 ~ N(mu2, s2^2) with covariance c, correlation rho and
h = mu / s, Price's theorem (d Cov(relu g1, relu g2) / dc = P(g1 > 0, g2 > 0) = Phi2(h1, h2; rho))
integrated from c = 0, then by parts, gives

    Cov(relu g1, relu g2) = c Phi(h1) Phi(h2) + s1 s2 J,   J = int_0^rho (rho - t) phi2(h1, h2; t) dt,

the closed form of :func:`mgn.relu_covariance` with a single integral of the bivariate normal
density phi2 (Plackett's integrand). Over the pairs of a family the first term is a quadratic form
(the caller sums it at once); :func:`pair_excess_sum` sums the second, the excess. J is integrated
in u = tan(asin(t) / 2), where the integrand is rational but for one exp, from 0 to
T = tan(asin(rho) / 2), by Genz's 12-point Gauss-Legendre rule (``mgn.bivariate.
LOW_CORRELATION_RULES``; below 1e-15 here, as in Genz's theta = asin(t)) for |rho| < 0.75, by the
same rule on both halves of [0, T] for 0.75 <= |rho| < 0.925 and on the four pieces [0, T/2],
[T/2, 3T/4], [3T/4, 7T/8], [7T/8, T] for 0.925 <= |rho| < 0.99: every piece lies at least 2.9 of
its half-widths from the integrand's singularity at u = 1, as the whole interval does for
|rho| < 0.75, so the rule keeps its accuracy (more than the closed form's, whose terms cancel for
large |h|). Pairs with |rho| >= 0.99 are returned to the caller, for the closed form.
The partial derivatives come from the same nodes: dJ/drho = int_0^rho phi2 dt, dJ/dh1 =
int_0^rho (rho - t) phi2 (t h2 - h1) / (1 - t^2) dt, and, as s1 s2 J is homogeneous of degree one
in (mu1, s1, c) (h1 and rho do not change when the three scale together), Euler's identity gives
d(s1 s2 J)/ds1 = s2 (J - h1 dJ/dh1 - rho dJ/drho) = -s2 (int_0^rho t phi2 dt + h1 dJ/dh1). A pair
costs a square root and, per node, a division and an exp; no normal cdf.

The pairs of all rows form one list, without padding: row i with c_i members (its variables, in
increasing order) holds its c_i (c_i - 1) / 2 pairs in lower-triangular order, member l with member
e < l at l (l - 1) / 2 + e, so that a pair's members follow from its place by a square root,
whatever c_i. The sums per row and per variable are scattered from the pairs' terms.

On the CPU, large batches run compiled: ``torch.compile`` fuses the arithmetic of the pairs into
one loop of vectorised C++ (built by the system C++ compiler: tens of seconds the first time on a
machine, then loaded from the disk cache). The eager code, the same functions, is the fallback
where compiling is off (environment variable ``MGN_COMPILE=0``), fails, or is not worth it, and
on GPUs.
"""

from __future__ import annotations

import math
import os
import warnings

import torch
from torch._dynamo import config as dynamo_config
from torch.fx.experimental import _config as shapes_config

from mgn.bivariate import LOW_CORRELATION_RULES

_INV_TWO_PI = 1.0 / (2.0 * math.pi)
_, _MAIN_UPPER, _NODES = LOW_CORRELATION_RULES[1]  # Genz's 12-point rule, |rho| < 0.75
_HALVES_UPPER = LOW_CORRELATION_RULES[-1][1]  # 0.925: the 12-point rule on halves below it
_CLOSED_FORM = 0.99  # the rule on four pieces below it, the closed form from it on
# The pieces of [0, T] (fractions of T) for 0.75 <= |rho| < 0.925 and 0.925 <= |rho| < 0.99.
_HALVES = ((0.0, 0.5), (0.5, 1.0))
_QUARTERS = ((0.0, 0.5), (0.5, 0.75), (0.75, 0.875), (0.875, 1.0))
# Batches of at least this many pairs run compiled by default.
FUSE_MIN_PAIRS = 2**17
# Consecutive pairs add into different copies of each sum (the pair's number modulo _COPIES):
# the scatter then never waits on its previous add (a row's consecutive pairs share a member).
_COPIES = 4
# Pairs per eager kernel call on the CPU: its temporaries stay in cache. A compiled call takes
# _COMPILED_SLICE pairs: outputs of a few MB, scattered while in cache.
_EAGER_SLICE = 2**14
_compiled: dict = {}
_compile_failed = False


def _integrals(h1, h2, rho, lo, hi, partials: bool) -> list[torch.Tensor]:
    """Integrals over t in [0, rho] (the piece from u = lo T to u = hi T) by the 12-point rule.

    The variable is u = tan(theta / 2), theta = asin(t), up to T = tan(asin(rho) / 2) =
    rho / (1 + sqrt(1 - rho^2)): t = 2u / (1 + u^2), 1 / (1 - t^2) = ((1 + u^2) / (1 - u^2))^2 and
    phi2 dt = exp(-(hs - t hk) / (1 - t^2)) / (2 pi) 2 du / (1 + u^2), rational in u but for the
    exp. (Gauss-Legendre in u is as accurate as in theta, whose nodes Genz places for Phi2: the
    integrand's singularity at t = 1 sits at u = 1, relatively no nearer.) Returns
    ``[int (rho - t) phi2 dt]`` and, with ``partials``, also ``int phi2 dt``, ``int t phi2 dt``,
    ``int (rho - t) phi2 / (1 - t^2) dt`` and ``int (rho - t) t phi2 / (1 - t^2) dt``, with
    phi2 = phi2(h1, h2; t).
    """
    top = rho / (1.0 + torch.sqrt((1.0 - rho) * (1.0 + rho)))
    half_width = 0.5 * (hi - lo) * top
    hk = h1 * h2
    hs = 0.5 * (h1 * h1 + h2 * h2)
    floor = math.log(torch.finfo(h1.dtype).tiny) + 1.0  # exp(floor) > 0 is normal: no subnormals
    sums = [torch.zeros_like(h1) for _ in range(5 if partials else 1)]
    for x, w in _NODES:
        u = lo * top + half_width * x
        square = u * u
        both = 1.0 / (1.0 - square * square)  # 1 / ((1 - u^2) (1 + u^2))
        reciprocal = (1.0 - square) * both  # 1 / (1 + u^2)
        t = 2.0 * u * reciprocal
        secant = (1.0 + square) * (1.0 + square) * both  # 1 / cos(theta)
        inverse = secant * secant
        density = (2.0 * w) * reciprocal * torch.exp(((t * hk - hs) * inverse).clamp_min(floor))
        weighted = (rho - t) * density
        sums[0] = sums[0] + weighted
        if partials:
            sums[1] = sums[1] + density
            sums[2] = sums[2] + t * density
            sums[3] = sums[3] + weighted * inverse
            sums[4] = sums[4] + t * weighted * inverse
    scale = half_width * _INV_TWO_PI
    return [scale * total for total in sums]


def _triangle_root(k: torch.Tensor) -> torch.Tensor:
    """The l with l (l - 1) / 2 <= k < l (l + 1) / 2 for integers 0 <= k < 2^50.

    floor((1 + sqrt(1 + 8k)) / 2) in float64: sqrt is correctly rounded, exact when 1 + 8k is a
    square (k = l (l - 1) / 2), and otherwise below 2l + 1 by more than 1/(2l + 1), far more
    than its rounding.
    """
    return torch.floor(0.5 + 0.5 * torch.sqrt(1.0 + 8.0 * k.to(torch.float64))).to(k.dtype)


def _pair_positions(q, row, start):
    """Row i and the positions l > e among its members of the pairs numbered ``q`` (module
    docstring); ``row`` (P,) and ``start`` (rows,) hold each pair's row and each row's first
    pair."""
    i = row[q].to(q.dtype)
    k = q - start[i]
    later = _triangle_root(k)
    return i, later, k - ((later * (later - 1)) >> 1)


def _pair_moments(q, row, start, members, h, s, cov, upper):
    """Indices and moments of the pairs number ``q`` (module docstring).

    ``members`` (rows, w) lists each row's variables, increasing; ``h, s`` (rows, m) are the
    variables' standardised means and standard deviations, ``cov`` their covariances, (rows,
    m (m - 1) / 2) or (rows, w, w) (see :func:`pair_excess_sum`). Returns the flat indices f, g of
    the two variables in ``h`` and ``s``, the pair's index in ``cov``, h1, h2, s1, s2, rho (0
    unless ``inside``), ``inside`` (|rho| < upper), and the two variables r > r'.
    """
    i, later, earlier = _pair_positions(q, row, start)
    width = members.shape[1]
    base = i * width
    members = members.reshape(-1)
    r1, r2 = members[base + later], members[base + earlier]
    if cov.ndim == 3:  # among the members
        index = (i * width + later) * width + earlier
    else:
        index = i * cov.shape[1] + ((r1 * (r1 - 1)) >> 1) + r2
    base = i * h.shape[1]
    f, g = base + r1, base + r2
    h, s = h.reshape(-1), s.reshape(-1)
    h1, h2, s1, s2 = h[f], h[g], s[f], s[g]
    rho = cov.reshape(-1)[index] / (s1 * s2)
    inside = rho.abs() < upper
    return f, g, index, h1, h2, s1, s2, torch.where(inside, rho, 0.0), inside, r1, r2


def _values(q, row, start, members, h, s, a, cov, lo, hi, upper):
    """a1 a2 s1 s2 J of the pairs ``q`` (0 unless |rho| < upper; J over the piece [lo, hi] of
    its interval), the mask of the others (see :func:`_pair_moments`), and the pairs' rows in
    ``_COPIES`` copies of the rows (copy q % _COPIES)."""
    _, _, _, h1, h2, s1, s2, rho, inside, r1, r2 = _pair_moments(
        q, row, start, members, h, s, cov, upper
    )
    (integral,) = _integrals(h1, h2, rho, lo, hi, partials=False)
    value = torch.where(inside, a[r1] * a[r2] * s1 * s2 * integral, 0.0)
    return value, ~inside, row[q] + (q % _COPIES) * h.shape[0]


def _pair_partials(q, row, start, members, h, s, a, cov, cov_sums, lo, hi, upper, weights):
    """:func:`_values`, but the flat indices f, g of the two variables in ``_COPIES`` copies of
    ``h`` (copy q % _COPIES) in place of the rows, and the partials of a1 a2 s1 s2 J in (mu1,
    mu2), in (s1, s2) and, with ``weights``, in (a1, a2); its partial in c is added to
    ``cov_sums`` (shaped as ``cov``) in place."""
    f, g, index, h1, h2, s1, s2, rho, inside, r1, r2 = _pair_moments(
        q, row, start, members, h, s, cov, upper
    )
    integral, mass, moment, slope, slope_moment = _integrals(h1, h2, rho, lo, hi, partials=True)
    a1, a2 = a[r1], a[r2]
    weight = torch.where(inside, a1 * a2, 0.0)
    d_h1 = h2 * slope_moment - h1 * slope
    d_h2 = h1 * slope_moment - h2 * slope
    excess = torch.where(inside, s1 * s2 * integral, 0.0)
    flat = cov_sums.view(-1)
    flat.index_put_((index,), flat[index] + weight * mass)  # no pair twice in one call
    partials = (
        weight * s2 * d_h1,
        weight * s1 * d_h2,
        -weight * s2 * (moment + h1 * d_h1),
        -weight * s1 * (moment + h2 * d_h2),
    )
    if weights:
        partials = (*partials, a2 * excess, a1 * excess)
    copy = (q % _COPIES) * h.numel()
    return (weight * excess, ~inside, f + copy, g + copy, *partials)


def _partials(q, row, start, members, h, s, a, cov, cov_sums, lo, hi, upper):
    """:func:`_pair_partials` without the partials in a."""
    args = (q, row, start, members, h, s, a, cov, cov_sums, lo, hi, upper)
    return _pair_partials(*args, weights=False)


def _weight_partials(q, row, start, members, h, s, a, cov, cov_sums, lo, hi, upper):
    """:func:`_pair_partials` with the partials in a."""
    args = (q, row, start, members, h, s, a, cov, cov_sums, lo, hi, upper)
    return _pair_partials(*args, weights=True)


_COMPILED_SLICE = {_values: 2**18, _partials: 2**17, _weight_partials: 2**17}


def _compiling(device: torch.device) -> bool:
    """Whether kernels run compiled here: on the CPU, unless MGN_COMPILE=0 or compiling failed."""
    return device.type == "cpu" and not _compile_failed and os.environ.get("MGN_COMPILE") != "0"


def _concatenate(parts):
    """The per-slice outputs of a kernel (tensors, or tuples of them) joined along the pairs."""
    if isinstance(parts[0], torch.Tensor):
        return torch.cat(parts) if len(parts) > 1 else parts[0]
    return tuple(_concatenate(column) for column in zip(*parts, strict=True))


def _run(kernel, pairs: torch.Tensor, *args, fused: bool):
    """``kernel(pairs, *args)``: compiled by ``torch.compile`` when ``fused`` and compiling works
    here (else, and from then on if compiling fails, eagerly, in cache-sized slices).

    Every argument of a compiled call is a tensor that is no view (its guards then hold for every
    call, and one kernel serves all sizes and numbers)."""
    global _compile_failed
    if fused and pairs.numel() > 1 and _compiling(pairs.device):  # sizes 0, 1 compile anew
        if kernel not in _compiled:
            _compiled[kernel] = torch.compile(kernel, dynamic=True)
        try:  # no shared size symbols for arguments of equal sizes: one kernel for all sizes;
            # the rule's nodes (Python floats) are constants of the kernel, not inputs
            with (
                shapes_config.patch(use_duck_shape=False),
                dynamo_config.patch(specialize_float=True),
            ):
                return _compiled[kernel](pairs, *args)
        except Exception as err:  # noqa: BLE001 - any compiler failure leaves the eager code
            _compile_failed = True
            warnings.warn(
                f"torch.compile failed ({type(err).__name__}: {err}); mgn.relu_pairs runs "
                "eagerly from now on",
                stacklevel=3,
            )
    size = _EAGER_SLICE if pairs.is_cpu else max(pairs.numel(), 1)  # a GPU takes them at once
    starts = range(0, max(pairs.numel(), 1), size)
    return _concatenate([kernel(pairs[i : i + size], *args) for i in starts])


class _ExcessSum(torch.autograd.Function):
    """Per row, sum of a1 a2 s1 s2 J over the pairs of its members with |rho| < 0.99.

    Inputs: z, s (rows, m), a (m,), cov and ``inside`` as in :func:`pair_excess_sum`, and
    ``fused``. Outputs the sums and the pairs left out, (row, r, r'). With gradients, the forward
    pass also sums each row's partials per variable and per pair; the backward pass scales them
    by the row's gradient.
    """

    @staticmethod
    def forward(ctx, z, s, a, cov, inside, fused):
        rows, m = z.shape
        grads = any(ctx.needs_input_grad[:4])
        counts = inside.sum(1)
        per_row = counts * (counts - 1) // 2
        total = int(per_row.sum())
        width = cov.shape[2] if cov.ndim == 3 else int(counts.max()) if rows else 0
        members = torch.argsort((~inside).to(torch.uint8), dim=1, stable=True)
        members = members[:, :width].contiguous()
        row = torch.repeat_interleave(per_row.to(torch.int32))  # each pair's row
        s = torch.where(inside, s, 1.0)
        args = (row, per_row.cumsum(0) - per_row, members, z / s, s, a.clone(), cov)
        kernel = _values
        totals = z.new_zeros(_COPIES * rows)  # the rows' sums, in copies
        if grads:  # the sums per variable: of the values, then of each partial
            kernel = _weight_partials if ctx.needs_input_grad[2] else _partials
            totals = z.new_zeros(4 if ctx.needs_input_grad[2] else 3, _COPIES * rows * m)
            cov_sums = torch.zeros_like(cov)
            args = (*args, cov_sums)
        if fused is None:
            fused = total >= FUSE_MIN_PAIRS
        fused = fused and rows > 1 and m > 2  # a size of 1 would compile anew

        numbers = {}  # the 0-dim tensors of the pieces and bounds

        def run(q, piece, upper):
            """Adds the values of the pairs ``q`` over the ``piece`` (lo, hi) of their interval
            (and their partials) to ``totals``; returns the mask of those outside |rho| < upper."""
            for v in (*piece, upper):
                numbers.setdefault(v, torch.tensor(v, dtype=z.dtype, device=z.device))
            bounds = (numbers[v] for v in (*piece, upper))
            value, outside, f, *rest = _run(kernel, q, *args, *bounds, fused=fused)
            if not grads:
                totals.scatter_add_(0, f, value)
            else:
                g, *partials = rest
                totals[0].scatter_add_(0, f, value)
                pairs = zip(totals[1:], partials[0::2], partials[1::2], strict=True)
                for total, first, second in pairs:
                    total.scatter_add_(0, f, first).scatter_add_(0, g, second)
            return outside

        block = _COMPILED_SLICE[kernel]
        starts = range(0, total, block)
        outside = [
            run(torch.arange(b, min(b + block, total), device=z.device), (0.0, 1.0), _MAIN_UPPER)
            for b in starts
        ]
        rare = torch.cat(outside).nonzero().squeeze(1) if outside else per_row[:0]
        left = rare
        if rare.numel():  # the first halves, then the second ones or three pieces of them
            left = rare[run(rare, _HALVES[0], _CLOSED_FORM)]
            high = rare[run(rare, _HALVES[1], _HALVES_UPPER)]
            for piece in _QUARTERS[1:] if high.numel() else ():
                left = high[run(high, piece, _CLOSED_FORM)]
        totals = totals.view(*totals.shape[:-1], _COPIES, rows, -1).sum(-3)
        sums = totals.view(-1) if not grads else totals[0].sum(1)
        if grads:
            ctx.save_for_backward(totals[1:], cov_sums)
        i, later, earlier = _pair_positions(left, *args[:2])
        left = torch.stack((i, members[i, later], members[i, earlier]), 1)
        ctx.mark_non_differentiable(left)
        return sums, left

    @staticmethod
    def backward(ctx, grad, _):
        variable_sums, cov_sums = ctx.saved_tensors
        z_grad, s_grad, *a_grad = (total * grad[:, None] for total in variable_sums)
        a_grad = a_grad[0].sum(0) if a_grad else None
        cov_grad = cov_sums * grad.view(-1, *(1,) * (cov_sums.ndim - 1))
        return z_grad, s_grad, a_grad, cov_grad, None, None


def pair_excess_sum(z, s, a, cov, inside, *, fused: bool | None = None):
    """Per row, the sum over its pairs r > r' of variables ``inside`` of a_r a_r' s_r s_r' J_rr'.

    s_r s_r' J_rr' = Cov(relu g_r, relu g_r') - c_rr' Phi(z_r/s_r) Phi(z_r'/s_r') (module
    docstring), for pairs with |rho| < 0.99; the others are left out and listed.

    Parameters
    ----------
    z, s : (rows, m) means and standard deviations of the jointly Gaussian g_r of each row.
    a : (m,) weights.
    cov : the covariances c_rr' = Cov(g_r, g_r') of each row: of all pairs, (rows, m (m - 1) / 2)
        with pair r > r' at r (r - 1) / 2 + r' (the order of ``torch.tril_indices(m, m, -1)``),
        or among the row's members (its variables ``inside``, increasing), (rows, w, w) with
        members l > e at [row, l, e] and w at least the most members of a row. Only the pairs of
        members are read.
    inside : (rows, m) boolean tensor: each row's variables; s > 0 there.
    fused : run the arithmetic compiled (True) or eagerly (False); None: compiled when the rows
        hold ``FUSE_MIN_PAIRS`` pairs or more.

    Returns
    -------
    ``(sums, left)``: (rows,) tensor, differentiable in ``z``, ``s``, ``a`` and ``cov``; and the
    pairs left out, a (k, 3) integer tensor of (row, r, r'), r > r'.
    """
    rows, m = z.shape
    width = int(inside.sum(1).max()) if rows else 0
    pairs = (rows, m * (m - 1) // 2)
    if cov.shape != pairs and not (cov.ndim == 3 and cov.shape[0] == rows and
                                    cov.shape[1] == cov.shape[2] >= width):  # fmt: skip
        raise ValueError(
            f"cov must have shape {pairs} or (rows, w, w) with w >= {width} (the most members "
            f"of a row), got {tuple(cov.shape)}"
        )
    return _ExcessSum.apply(z, s, a, cov, inside, fused)

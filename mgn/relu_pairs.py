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
# Pairs per eager kernel call on the CPU: its temporaries stay in cache. A compiled call takes
# whole rows and about _COMPILED_SLICE pairs: outputs of a few MB (larger ones cost page faults).
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


def _pair_moments(q, h, s, cov, counts, pairs_of_row, upper):
    """Indices and moments of the pairs number ``q`` of a chunk's (rows, T) grid.

    Pair k < T of row i joins the row's members earlier[k] < later[k], the columns of
    ``pairs_of_row = torch.triu_indices(width, width, 1)``, and exists when later[k] < counts[i].
    ``h, s`` are the members' (rows, width) and ``cov`` the pairs' (rows, T). The row comes from a
    float division, exact here: q < 2^52 and (q + 1/2) / T lies 1 / (2 T) or more from an integer.

    Returns the flat indices f, sc of the two members, h1, h2, s1, s2, rho (0 unless ``inside``),
    ``inside`` (exists and |rho| < upper) and ``outside`` (exists, not inside).
    """
    width, per_row = h.shape[1], pairs_of_row.shape[1]
    h, s, cov = h.reshape(-1), s.reshape(-1), cov.reshape(-1)
    i = torch.floor((q.to(h.dtype) + 0.5) / per_row).to(q.dtype)
    k = q - i * per_row
    j2 = pairs_of_row[1, k]
    f, sc = i * width + pairs_of_row[0, k], i * width + j2
    exists = j2 < counts[i]
    h1, h2, s1, s2 = h[f], h[sc], s[f], s[sc]
    rho = cov[q] / (s1 * s2)
    small = rho.abs() < upper
    inside = exists & small
    return f, sc, h1, h2, s1, s2, torch.where(inside, rho, 0.0), inside, exists & ~small


def _values(q, h, s, a, cov, counts, pairs_of_row, lo, hi, upper):
    """a1 a2 s1 s2 J of the pairs ``q`` (0 unless |rho| < upper; J over the piece [lo, hi] of
    its interval) and the mask of the existing others (see :func:`_pair_moments`)."""
    f, sc, h1, h2, s1, s2, rho, inside, outside = _pair_moments(
        q, h, s, cov, counts, pairs_of_row, upper
    )
    (integral,) = _integrals(h1, h2, rho, lo, hi, partials=False)
    a = a.reshape(-1)
    return torch.where(inside, a[f] * a[sc] * s1 * s2 * integral, 0.0), outside


def _partials(q, h, s, a, cov, counts, pairs_of_row, lo, hi, upper):
    """:func:`_values`, the members' flat indices (f, sc), and the partials of a1 a2 s1 s2 J: in
    (mu1, s1, a1) stacked (q, 3), in (mu2, s2, a2) stacked, and in the covariance."""
    f, sc, h1, h2, s1, s2, rho, inside, outside = _pair_moments(
        q, h, s, cov, counts, pairs_of_row, upper
    )
    integral, mass, moment, slope, slope_moment = _integrals(h1, h2, rho, lo, hi, partials=True)
    a = a.reshape(-1)
    a1, a2 = a[f], a[sc]
    weight = torch.where(inside, a1 * a2, 0.0)
    d_h1 = h2 * slope_moment - h1 * slope
    d_h2 = h1 * slope_moment - h2 * slope
    excess = torch.where(inside, s1 * s2 * integral, 0.0)
    first = (weight * s2 * d_h1, -weight * s2 * (moment + h1 * d_h1), a2 * excess)
    second = (weight * s1 * d_h2, -weight * s1 * (moment + h2 * d_h2), a1 * excess)
    return (
        weight * excess,
        outside,
        (f, sc),
        torch.stack(first, 1),
        torch.stack(second, 1),
        weight * mass,
    )


_COMPILED_SLICE = {_values: 2**20, _partials: 2**18}


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
        try:  # no shared size symbols for arguments of equal sizes: one kernel for all sizes
            with shapes_config.patch(use_duck_shape=False):
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

    Inputs: the members' z, s, a (rows, width), their pairs' covariances (rows, T) in the order
    of ``torch.triu_indices(width, width, 1)``, the counts and ``fused``. Outputs the sums and the
    pairs left out (grid numbers). With gradients, the forward pass also sums each row's partials
    per member and keeps them per pair; the backward pass scales them by the row's gradient.
    """

    @staticmethod
    def forward(ctx, z, s, a, cov, counts, fused):
        rows, width = z.shape
        grads = any(ctx.needs_input_grad[:4])
        pairs_of_row = torch.triu_indices(width, width, 1, device=z.device)
        per_row = pairs_of_row.shape[1]
        h = z / s
        args = (h, s, a, cov, counts, pairs_of_row)
        kernel = _partials if grads else _values
        fused = fused and rows > 1 and per_row > 1  # a size of 1 would compile anew
        partial_sums = (h.new_zeros(rows * width, 3), h.new_zeros(cov.numel())) if grads else ()

        def run(q, piece, upper, start=None):
            """The values of the pairs ``q`` (those from ``start`` on when a block) over the
            ``piece`` (lo, hi) of their interval, and the q of those outside |rho| < upper."""
            numbers = [torch.tensor(v, dtype=h.dtype, device=h.device) for v in (*piece, upper)]
            out = _run(kernel, q, *args, *numbers, fused=fused)
            if grads:
                member_sums, cov_sums = partial_sums
                (f, sc), first, second, d_cov = out[2:]
                member_sums.index_add_(0, f, first).index_add_(0, sc, second)
                if start is None:
                    cov_sums.index_add_(0, q, d_cov)
                else:
                    cov_sums[start : start + q.numel()] += d_cov
            return out[0], q[out[1].nonzero().squeeze(1)]

        block = max(1, _COMPILED_SLICE[kernel] // per_row) * per_row
        sums, rare = [], []
        for start in range(0, cov.numel(), block):
            q = torch.arange(start, min(start + block, cov.numel()), device=z.device)
            values, outside = run(q, (0.0, 1.0), _MAIN_UPPER, start)
            sums.append(values.view(-1, per_row).sum(1))
            rare.append(outside)
        sums, rare = torch.cat(sums), torch.cat(rare)
        left = rare
        if rare.numel():  # the first halves, then the second ones or three pieces of them
            values, left = run(rare, _HALVES[0], _CLOSED_FORM)
            sums.index_add_(0, rare // per_row, values)
            values, high = run(rare, _HALVES[1], _HALVES_UPPER)
            sums.index_add_(0, rare // per_row, values)
            for piece in _QUARTERS[1:] if high.numel() else ():
                values, left = run(high, piece, _CLOSED_FORM)
                sums.index_add_(0, high // per_row, values)
        ctx.save_for_backward(*partial_sums)
        ctx.mark_non_differentiable(left)
        return sums, left

    @staticmethod
    def backward(ctx, grad, _):
        member_sums, cov_sums = ctx.saved_tensors
        rows = grad.numel()
        members = member_sums.view(rows, -1, 3) * grad[:, None, None]
        cov = cov_sums.view(rows, -1) * grad[:, None]
        return members[..., 0], members[..., 1], members[..., 2], cov, None, None


def pair_excess_sum(z, s, a, cov, members, counts, *, fused: bool | None = None):
    """Per row, the sum over pairs r < r' of its members of a_r a_r' s_r s_r' J_rr'.

    s_r s_r' J_rr' = Cov(relu g_r, relu g_r') - c_rr' Phi(z_r/s_r) Phi(z_r'/s_r') (module
    docstring), for pairs with |rho| < 0.99; the others are left out and listed.

    Parameters
    ----------
    z, s : (rows, m) means and standard deviations of the jointly Gaussian g_r of each row.
    a : (m,) weights.
    cov : (rows, width (width - 1) / 2) covariances of the members' pairs, c_rr' = Cov(g_r, g_r')
        for r = members[i, j], r' = members[i, k], (j, k) in the order of
        ``torch.triu_indices(width, width, 1)``.
    members : (rows, width) integer tensor: each row's variables, increasing, in its first
        ``counts`` entries (then any variable numbers); s > 0 at members.
    counts : (rows,) integer tensor.
    fused : run the arithmetic compiled (True) or eagerly (False); None: compiled when the rows
        hold ``FUSE_MIN_PAIRS`` pairs or more (counted as rows x the pairs of ``width``).

    Returns
    -------
    ``(sums, left)``: (rows,) tensor, differentiable in ``z``, ``s``, ``a`` and ``cov``; and the
    pairs left out, a (k, 3) integer tensor of (row, r, r').
    """
    rows, width = members.shape
    if fused is None:
        fused = rows * width * (width - 1) // 2 >= FUSE_MIN_PAIRS
    earlier, later = torch.triu_indices(width, width, 1, device=z.device)
    valid = torch.arange(width, device=z.device) < counts[:, None]
    s_members = torch.where(valid, s.gather(1, members), 1.0)
    sums, left = _ExcessSum.apply(z.gather(1, members), s_members, a[members], cov, counts, fused)
    row, k = left // len(earlier), left % len(earlier)
    return sums, torch.stack((row, members[row, earlier[k]], members[row, later[k]]), 1)

"""Sums of Cov(relu g, relu g') over many pairs of jointly Gaussian variables, by Price's theorem.

For jointly Gaussian g1 ~ N(mu1, s1^2), g2 ~ N(mu2, s2^2) with covariance c, correlation rho and
h = mu / s, Price's theorem (d Cov(relu g1, relu g2) / dc = P(g1 > 0, g2 > 0) = Phi2(h1, h2; rho))
integrated from c = 0, then by parts, gives

    Cov(relu g1, relu g2) = c Phi(h1) Phi(h2) + s1 s2 J,   J = int_0^rho (rho - t) phi2(h1, h2; t) dt,

the closed form of :func:`mgn.relu_covariance` with a single integral of the bivariate normal
density phi2 (Plackett's integrand). Over the pairs of a family the first term is a quadratic form
(the caller sums it at once); :func:`pair_excess_sum` sums the second, the excess. J is integrated
in theta = asin(t) by Genz's 12-point Gauss-Legendre rule (``mgn.bivariate.LOW_CORRELATION_RULES``;
below 1e-16 here) for |rho| < 0.75 and by the same rule on both halves of [0, asin rho] for
0.75 <= |rho| < 0.925; pairs with |rho| >= 0.925 are returned to the caller, for the closed form.
The partial derivatives come from the same nodes: dJ/drho = int_0^rho phi2 dt, dJ/dh1 =
int_0^rho (rho - t) phi2 (t h2 - h1) / (1 - t^2) dt, and, s1 s2 J being homogeneous of degree 2 in
(mu1, s1, c) over s2, d(s1 s2 J)/ds1 = -s2 (int_0^rho t phi2 dt + h1 dJ/dh1). A pair costs one
asin and, per node, a sine, a division and an exp; no normal cdf.

Large batches run compiled: ``torch.compile`` fuses the arithmetic of the pairs into one loop of
vectorised C++ (built by the system C++ compiler: tens of seconds the first time on a machine,
then loaded from the disk cache). The eager code is the same functions, the fallback where
compiling is off (environment variable ``MGN_COMPILE=0``), fails, or is not worth it; the
compiled sine is a Taylor polynomial (one multiply-add per term), the eager one ``torch.sin``.
"""

from __future__ import annotations

import math
import os
import warnings

import torch

from mgn.bivariate import LOW_CORRELATION_RULES

_INV_TWO_PI = 1.0 / (2.0 * math.pi)
_, _MAIN_UPPER, _NODES = LOW_CORRELATION_RULES[1]  # Genz's 12-point rule, |rho| < 0.75
_CLOSED_FORM = LOW_CORRELATION_RULES[-1][1]  # 0.925: the 12-point rule on halves below it
# sin(x) = sum_k (-1)^k x^(2k+1) / (2k+1)! to degree 17: relative error below 2e-16 for
# |x| <= asin(0.925) = 1.18, the largest angle a node reaches.
_SINE = tuple((-1.0) ** k / math.factorial(2 * k + 1) for k in range(9))
# Batches of at least this many pairs run compiled by default.
FUSE_MIN_PAIRS = 2**17
# Pairs per eager kernel call: its temporaries stay in cache.
_EAGER_SLICE = 2**14
_compiled: dict = {}
_compile_failed = False


def _sine(x: torch.Tensor) -> torch.Tensor:
    """sin(x) by its Taylor polynomial (``_SINE``), evaluated by Horner's rule in x^2."""
    square = x * x
    total = torch.full_like(x, _SINE[-1])
    for coefficient in reversed(_SINE[:-1]):
        total = total * square + coefficient
    return total * x


def _integrals(h1, h2, rho, lo: float, hi: float, partials: bool) -> list[torch.Tensor]:
    """Integrals over t = sin(theta), theta from lo asin(rho) to hi asin(rho), by the 12-point rule.

    Returns ``[int (rho - t) phi2 dt]`` and, with ``partials``, also ``int phi2 dt``,
    ``int t phi2 dt``, ``int (rho - t) phi2 / (1 - t^2) dt`` and
    ``int (rho - t) t phi2 / (1 - t^2) dt``, with phi2 = phi2(h1, h2; t).
    """
    sine = _sine if torch.compiler.is_compiling() else torch.sin
    half_angle = 0.5 * torch.asin(rho)
    start, step = 2.0 * lo, hi - lo
    hk = h1 * h2
    hs = 0.5 * (h1 * h1 + h2 * h2)
    floor = math.log(torch.finfo(h1.dtype).tiny) + 1.0  # exp(floor) > 0 is normal: no subnormals
    sums = [torch.zeros_like(h1) for _ in range(5 if partials else 1)]
    for x, w in _NODES:
        t = sine(half_angle * (start + step * x))
        inverse = 1.0 / (1.0 - t * t)
        density = w * torch.exp(((t * hk - hs) * inverse).clamp_min(floor))
        weighted = (rho - t) * density
        sums[0] = sums[0] + weighted
        if partials:
            sums[1] = sums[1] + density
            sums[2] = sums[2] + t * density
            sums[3] = sums[3] + weighted * inverse
            sums[4] = sums[4] + t * weighted * inverse
    scale = step * half_angle * _INV_TWO_PI
    return [scale * total for total in sums]


def _pair_moments(q, h, s, cov, members, counts, earlier, later, offsets, upper: float):
    """Indices and moments of the pairs number ``q`` of a chunk's (rows, T) grid.

    Row i of the grid lists pairs k < T of row i's members, (earlier[k], later[k]) column by
    column of the upper triangle; pair k exists when later[k] < counts[i]. ``h, s`` are the
    members' (flat, rows * width) and ``cov`` the rows' (flat, rows * m (m - 1) / 2), variables
    r1 < r2 at column offsets[r1] + r2. The row comes from a float division, exact here: q < 2^52
    and (q + 1/2) / T lies at least 1 / (2 T) from an integer.

    Returns the flat indices f, sc of the two members and e of their covariance, h1, h2, s1, s2,
    rho (0 unless ``inside``), ``inside`` (exists, |rho| < upper) and ``outside`` (exists, else).
    """
    rows = counts.numel()
    width, pairs_per_row, per_row = h.numel() // rows, cov.numel() // rows, earlier.numel()
    i = torch.floor((q.to(h.dtype) + 0.5) / per_row).to(q.dtype)
    k = q - i * per_row
    j2 = later[k]
    f, sc = i * width + earlier[k], i * width + j2
    exists = j2 < counts[i]
    e = torch.where(exists, i * pairs_per_row + offsets[members[f]] + members[sc], 0)
    h1, h2, s1, s2 = h[f], h[sc], s[f], s[sc]
    rho = cov[e] / (s1 * s2)
    small = rho.abs() < upper
    inside = exists & small
    return f, sc, e, h1, h2, s1, s2, torch.where(inside, rho, 0.0), inside, exists & ~small


def _values(q, h, s, a, cov, members, counts, earlier, later, offsets, lo, hi, upper):
    """a1 a2 s1 s2 J of the pairs ``q`` (0 unless |rho| < upper; J over [lo, hi] asin rho) and
    the mask of the existing others (see :func:`_pair_moments`)."""
    tables = (earlier, later, offsets)
    f, sc, _, h1, h2, s1, s2, rho, inside, outside = _pair_moments(
        q, h, s, cov, members, counts, *tables, upper
    )
    (integral,) = _integrals(h1, h2, rho, lo, hi, partials=False)
    return torch.where(inside, a[f] * a[sc] * s1 * s2 * integral, 0.0), outside


def _partials(q, h, s, a, cov, members, counts, earlier, later, offsets, lo, hi, upper):
    """:func:`_values`, the indices (f, sc, e), and the partials of a1 a2 s1 s2 J: in
    (mu1, s1, a1) stacked (q, 3), in (mu2, s2, a2) stacked, and in c."""
    tables = (earlier, later, offsets)
    f, sc, e, h1, h2, s1, s2, rho, inside, outside = _pair_moments(
        q, h, s, cov, members, counts, *tables, upper
    )
    integral, mass, moment, slope, slope_moment = _integrals(h1, h2, rho, lo, hi, partials=True)
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
        (f, sc, e),
        torch.stack(first, 1),
        torch.stack(second, 1),
        weight * mass,
    )


# Pairs per compiled kernel call: outputs of a few MB (larger ones cost page faults).
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
    """``kernel(pairs, *args)`` in slices of ``pairs``, compiled by ``torch.compile`` when
    ``fused`` and compiling works here, else eagerly (and from then on if compiling fails)."""
    global _compile_failed
    compiled = fused and _compiling(pairs.device)
    if compiled and kernel not in _compiled:
        _compiled[kernel] = torch.compile(kernel, dynamic=True)
    size = _COMPILED_SLICE[kernel] if compiled else _EAGER_SLICE
    # a slice of one pair would be compiled again (sizes 0 and 1 are specialised): merge it
    starts = [i for i in range(0, pairs.numel(), size) if pairs.numel() - i > 1 or i == 0]
    bounds = list(zip(starts, [*starts[1:], pairs.numel()], strict=True))
    if compiled:
        try:
            return _concatenate([_compiled[kernel](pairs[i:j], *args) for i, j in bounds])
        except Exception as err:  # noqa: BLE001 - any compiler failure leaves the eager code
            _compile_failed = True
            warnings.warn(
                f"torch.compile failed ({type(err).__name__}: {err}); mgn.relu_pairs runs "
                "eagerly from now on",
                stacklevel=3,
            )
            bounds = [(i, i + _EAGER_SLICE) for i in range(0, max(pairs.numel(), 1), _EAGER_SLICE)]
    return _concatenate([kernel(pairs[i:j], *args) for i, j in bounds])


def _tables(width: int, m: int, device: torch.device):
    """``(earlier, later, offsets)`` of :func:`_pair_moments` for rows of ``width`` members
    among ``m`` variables."""
    columns = torch.arange(width, device=device)
    later = torch.repeat_interleave(columns, columns)
    earlier = torch.arange(later.numel(), device=device) - later * (later - 1) // 2
    r = torch.arange(m, device=device)
    return earlier, later, r * (2 * m - r - 1) // 2 - r - 1


def _scatter(partial_sums, indices, first, second, d_cov) -> None:
    """Add per-pair partials (of :func:`_partials`) into the per-member and per-entry sums."""
    member_sums, cov_sums = partial_sums
    f, sc, e = indices
    member_sums.index_add_(0, f, first).index_add_(0, sc, second)
    cov_sums.index_add_(0, e, d_cov)


class _ExcessSum(torch.autograd.Function):
    """Per row, sum of a1 a2 s1 s2 J over the pairs of its members with |rho| < 0.925.

    Inputs: the members' z, s, a (rows, width), the rows' covariances (rows, m (m - 1) / 2), the
    members' variable numbers, their counts, m and ``fused``. Outputs the sums and the pairs left
    out (grid numbers). With gradients, the forward pass also sums each row's partials per member
    and per covariance entry; the backward pass scales them by the row's incoming gradient.
    """

    @staticmethod
    def forward(ctx, z, s, a, cov, members, counts, m, fused):
        rows, width = z.shape
        grads = any(ctx.needs_input_grad[:4])
        tables = _tables(width, m, z.device)
        per_row = tables[0].numel()
        flat = [t.reshape(-1) for t in (z / s, s, a, cov, members)]
        flat += [counts, *tables]
        kernel = _partials if grads else _values
        partial_sums = (z.new_zeros(rows * width, 3), z.new_zeros(cov.numel())) if grads else ()

        def run(pairs, lo, hi, upper):
            """The pairs' values and those of them left outside |rho| < upper."""
            out = _run(kernel, pairs, *flat, lo, hi, upper, fused=fused)
            if grads:
                _scatter(partial_sums, *out[2:])
            return out[0], pairs[out[1].nonzero().squeeze(1)]

        values, rare = run(torch.arange(rows * per_row, device=z.device), 0.0, 1.0, _MAIN_UPPER)
        sums = values.view(rows, per_row).sum(1)
        left = rare
        for lo, hi in ((0.0, 0.5), (0.5, 1.0)) if rare.numel() else ():
            values, left = run(rare, lo, hi, _CLOSED_FORM)
            sums.index_add_(0, rare // per_row, values)
        ctx.save_for_backward(*partial_sums)
        ctx.shape = (rows, width)
        ctx.mark_non_differentiable(left)
        return sums, left

    @staticmethod
    def backward(ctx, grad, _):
        member_sums, cov_sums = ctx.saved_tensors
        members = member_sums.view(*ctx.shape, 3) * grad[:, None, None]
        cov = cov_sums.view(grad.numel(), -1) * grad[:, None]
        return members[..., 0], members[..., 1], members[..., 2], cov, None, None, None, None


def pair_excess_sum(z, s, a, cov, members, counts, *, fused: bool | None = None):
    """Per row, the sum over pairs r < r' of its members of a_r a_r' s_r s_r' J_rr'.

    s_r s_r' J_rr' = Cov(relu g_r, relu g_r') - c_rr' Phi(z_r/s_r) Phi(z_r'/s_r') (module
    docstring), for pairs with |rho| < 0.925; the others are left out and listed.

    Parameters
    ----------
    z, s : (rows, m) means and standard deviations of the jointly Gaussian g_r of each row.
    a : (m,) weights.
    cov : (rows, m (m - 1) / 2) covariances c_rr' = Cov(g_r, g_r'), r < r', in the order of
        ``torch.triu_indices(m, m, 1)``.
    members : (rows, width) integer tensor: each row's variables, increasing, in its first
        ``counts`` entries (then any variable numbers); s > 0 at members.
    counts : (rows,) integer tensor.
    fused : run the arithmetic compiled (True) or eagerly (False); None: compiled when the chunk
        holds at least ``FUSE_MIN_PAIRS`` pairs (rows x the pairs of the largest count).

    Returns
    -------
    ``(sums, left)``: (rows,) tensor, differentiable in ``z``, ``s``, ``a`` and ``cov``; and the
    pairs left out, a (k, 3) integer tensor of (row, r, r').
    """
    rows, width = members.shape
    if fused is None:
        fused = rows * width * (width - 1) // 2 >= FUSE_MIN_PAIRS
    valid = torch.arange(width, device=z.device) < counts[:, None]
    s_members = torch.where(valid, s.gather(1, members), 1.0)
    sums, left = _ExcessSum.apply(
        z.gather(1, members), s_members, a[members], cov, members, counts, z.shape[1], fused
    )
    per_row = width * (width - 1) // 2
    row, k = left // per_row, left % per_row
    earlier, later, _ = _tables(width, 1, z.device)
    pairs = torch.stack((row, members[row, earlier[k]], members[row, later[k]]), 1)
    return sums, pairs

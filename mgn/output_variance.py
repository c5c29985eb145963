"""The masked output variance Var_c f(W; x ⊙ c), split at the neurons' kinks (chapter 2).

For one input, Var_c f = m^{-1} sum_{r, r'} a_r a_r' Cov(relu g_r, relu g_r'), where the masked
pre-activations g_r ~ N(z_r, s_r^2) are jointly Gaussian with Cov(g_r, g_r') = c_rr' =
sum_k w_rk w_r'k Var(x~_k) (the mask's coordinates are independent). Only the neurons whose kink
the noise reaches need the bivariate normal: outside the kink band |z_r| < 8.5 s_r a neuron's
ReLU is its identity (z_r >= 8.5 s_r, "on") or 0 (z_r <= -8.5 s_r, or s_r = 0) but for events of
probability Phi(-8.5) = 9.5e-18. With Price's theorem (:mod:`mgn.relu_pairs`),
Cov(relu g_r, relu g_r') = c_rr' Phi(t_r) Phi(t_r') + s_r s_r' J_rr' (t = z / s), and the sum
splits into

    m Var_c f = sum_k Var(x~_k) u_k^2                                   (u = sum_r a_r p_r w_r)
              + sum_{r in band} a_r^2 (Var(relu g_r) - s_r^2 Phi(t_r)^2)
              + 2 sum_{r < r' in band} a_r a_r' s_r s_r' J_rr',

with p_r = Phi(t_r) in the band, 1 for "on" and 0 for "off" neurons: O(m d) per input besides the
pairs of the band. What the split drops is bounded by Price's theorem, Cov(relu g_r, relu g_r') =
int_0^c_rr' P_t(g_r > 0, g_r' > 0) dt: for a pair with a neuron outside the band (a neuron with
itself included) the split replaces the integrand by 1 (both on), P(g_r' > 0) (r on) or 0 (r off),
which changes it by at most Phi(-|t_r|) + Phi(-|t_r'|) <= 2 Phi(-8.5), so with |c_rr'| <= s_r s_r'

    |Var_c f - split| <= 2 Phi(-8.5) m^{-1} (sum_r |a_r| s_r)^2     (each input),

below the float64 resolution of Var_c f unless its terms cancel to 1e-4 of their size.
"""

from __future__ import annotations

import torch

from mgn.bivariate import relu_covariance
from mgn.masks import resolve_mask
from mgn.relu_pairs import FUSE_MIN_PAIRS, pair_excess_sum
from mgn.smoothed import relu_variance_excess
from mgn.validation import check_weights_and_inputs

# The kink band |z| < KINK_BAND s (see the module docstring).
KINK_BAND = 8.5
# Covariances formed at once (for a block of inputs): bounds memory.
_PAIRS_PER_CHUNK = 2**21


def _kink_bands(z: torch.Tensor, s: torch.Tensor, band: float = KINK_BAND):
    """``(t, inside, on)``: t = z / s (z where s = 0) and the masks |t| < band and t >= band, both
    with s > 0, all (n, m)."""
    positive = s > 0
    t = z / torch.where(positive, s, torch.ones_like(s))
    return t, positive & (t.abs() < band), positive & (t >= band)


def _band_covariances(W, variance, inside, width: int) -> torch.Tensor:
    """The covariances c_rr' = sum_k Var(x~_ik) w_rk w_r'k that :func:`pair_excess_sum` reads.

    Among each row's ``width`` first members (the neurons ``inside``, increasing; others after
    them), (rows, width, width), when that is fewer than the m (m - 1) / 2 pairs of all neurons;
    else those pairs', (rows, m (m - 1) / 2) in the order of ``torch.tril_indices(m, m, -1)``: one
    product either way.
    """
    m = W.shape[0]
    if width * width < m * (m - 1) // 2:
        members = torch.argsort((~inside).to(torch.uint8), dim=1, stable=True)[:, :width]
        weights = W[members]  # (rows, width, d)
        return (weights * variance[:, None, :]) @ weights.transpose(1, 2)
    later, earlier = torch.tril_indices(m, m, -1, device=W.device)
    products = W.T[:, later] * W.T[:, earlier]  # (d, pairs), contiguous: the fast backward product
    return variance @ products


def _band_excess(W, a, X, mask, z, s, inside) -> torch.Tensor:
    """sum_{r < r' in the band} a_r a_r' s_r s_r' J_rr' for every input, (n,).

    Blocks of inputs go to :func:`mgn.relu_pairs.pair_excess_sum` with their pairs' covariances
    (:func:`_band_covariances`); the pairs with |rho| >= 0.99 it leaves out take the closed form
    of :func:`mgn.relu_covariance`, all in one call.
    """
    counts = inside.sum(1)
    fused = int((counts * (counts - 1) // 2).sum()) >= FUSE_MIN_PAIRS
    width = int(counts.max()) if counts.numel() else 0
    m = W.shape[0]
    per_row = min(width * width, m * (m - 1) // 2)
    blocks = -(-X.shape[0] * per_row // _PAIRS_PER_CHUNK)
    rows = max(1, -(-X.shape[0] // max(blocks, 1)))  # blocks of equal size
    variance = mask.input_variance(X)
    sums, left = [], []
    for start in range(0, X.shape[0], rows):
        part = slice(start, start + rows)
        cov = _band_covariances(W, variance[part], inside[part], width)
        excess, high = pair_excess_sum(z[part], s[part], a, cov, inside[part], fused=fused)
        sums.append(excess)
        left.append(torch.cat((high[:, :1] + start, high[:, 1:]), 1))
    excess = torch.cat(sums)
    i, r1, r2 = torch.cat(left).unbind(1)
    if i.numel():
        cov = (variance[i] * W[r1] * W[r2]).sum(1)
        z1, z2, s1, s2 = z[i, r1], z[i, r2], s[i, r1], s[i, r2]
        product = torch.special.ndtr(z1 / s1) * torch.special.ndtr(z2 / s2)
        closed = relu_covariance(z1, z2, s1, s2, cov) - cov * product
        excess = excess.index_add(0, i, a[r1] * a[r2] * closed)
    return excess


def kink_band_variance(W, a, X, mask, z, s, band: float = KINK_BAND) -> torch.Tensor:
    """Var_c f(W; x_i ⊙ c) for every input by the split of the module docstring, (n,).

    Parameters
    ----------
    W (m, d), a (m,), X (n, d): checked network arguments; mask: a GaussianFamilyMask;
    z, s (n, m): its moments ``mask.moments(W, X)``; band: the kink band |z| < band s (``inf``
    sends every pair with s > 0 through the bivariate normal).
    """
    t, inside, on = _kink_bands(z, s, band)
    gate = torch.where(inside, torch.special.ndtr(t), on.to(z.dtype))
    linear = (mask.input_variance(X) * ((gate * a) @ W).square()).sum(1)
    diagonal = relu_variance_excess(z, torch.where(inside, s, 1.0))
    correction = torch.where(inside, diagonal, 0.0)
    excess = _band_excess(W, a, X, mask, z, s, inside)
    return (linear + correction @ (a * a) + 2.0 * excess) / W.shape[0]


def kink_pair_share(W, X, kappa: float | None = None, *, mask=None) -> float:
    """Share of the n m (m - 1) / 2 (input, neuron pair) terms of Var_c f that need Phi2.

    A pair needs the bivariate normal only when both neurons are in the input's kink band
    |z| < 8.5 s (:mod:`mgn.output_variance`); the others cost O(m d) per input in all.

    Parameters
    ----------
    W : (m, d) hidden weights; X : (n, d) inputs; kappa : the Gaussian mask's scale, or
    mask : a :class:`mgn.masks.GaussianFamilyMask` instead.

    Returns
    -------
    The share, in [0, 1] (0 when m = 1).
    """
    W, X = check_weights_and_inputs(W, X)
    z, s = resolve_mask(kappa, mask, closed_form=True).moments(W, X)
    counts = _kink_bands(z, s)[1].sum(1)
    m = W.shape[0]
    if m < 2:
        return 0.0
    return float((counts * (counts - 1)).sum()) / (X.shape[0] * m * (m - 1))

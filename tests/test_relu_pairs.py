import math

import mpmath
import pytest
import torch

import mgn.relu_pairs as relu_pairs_module
from mgn.bivariate import relu_covariance
from mgn.relu_pairs import pair_excess_sum


def closed_excess(z1, z2, s1, s2, c):
    """Cov(relu g1, relu g2) - c Phi(h1) Phi(h2) from the closed form of mgn.relu_covariance."""
    product = torch.special.ndtr(z1 / s1) * torch.special.ndtr(z2 / s2)
    return relu_covariance(z1, z2, s1, s2, c) - c * product


def single_pairs(rows, seed, rho_range, dtype=torch.float64):
    """Rows of two variables each (one pair per row) with |rho| drawn in ``rho_range``."""
    gen = torch.Generator().manual_seed(seed)
    s = 0.2 + 2 * torch.rand(rows, 2, generator=gen, dtype=dtype)
    h = 18 * torch.rand(rows, 2, generator=gen, dtype=dtype) - 9  # the kink band and a bit more
    lo, hi = rho_range
    rho = (lo + (hi - lo) * torch.rand(rows, generator=gen, dtype=dtype)) * torch.sign(
        torch.randn(rows, generator=gen, dtype=dtype)
    )
    cov = (rho * s[:, 0] * s[:, 1])[:, None]
    a = torch.tensor([0.7, -1.3], dtype=dtype)
    members = torch.tensor([[0, 1]]).expand(rows, 2)
    return h * s, s, a, cov, members, torch.full((rows,), 2)


def correlated_rows(gen, rows, m, rank, z_scale=1.0):
    """Rows of m jointly Gaussian variables of rank ``rank``: their (rows, m, m) covariances, z, s,
    the pairs' covariances in triu order, and weights a (m,)."""
    root = torch.randn(rows, m, rank, generator=gen, dtype=torch.float64)
    full = root @ root.transpose(1, 2)
    s = full.diagonal(dim1=1, dim2=2).sqrt()
    z = z_scale * torch.randn(rows, m, generator=gen, dtype=torch.float64)
    first, second = torch.triu_indices(m, m, 1)
    a = torch.randn(m, generator=gen, dtype=torch.float64)
    return full, z, s, full[:, first, second], a


def member_pairs(full, members):
    """The members' pairs' covariances (rows, width (width - 1) / 2) from (rows, m, m)."""
    earlier, later = torch.triu_indices(members.shape[1], members.shape[1], 1)
    rows = torch.arange(members.shape[0])[:, None]
    return full[rows, members[:, earlier], members[:, later]]


def mp_excess(h1, h2, rho):
    """J = int_0^rho (rho - t) phi2(h1, h2; t) dt to 30 digits (mpmath)."""
    h1, h2, rho = mpmath.mpf(h1), mpmath.mpf(h2), mpmath.mpf(rho)

    def integrand(t):
        exponent = -(h1 * h1 + h2 * h2 - 2 * t * h1 * h2) / (2 * (1 - t * t))
        return (rho - t) * mpmath.exp(exponent) / (2 * mpmath.pi * mpmath.sqrt(1 - t * t))

    with mpmath.workdps(30):
        return mpmath.quad(integrand, [0, rho / 2, 3 * rho / 4, 7 * rho / 8, rho])


@pytest.mark.parametrize("rho_range", [(0.0, 0.3), (0.3, 0.75), (0.75, 0.925)])
def test_excess_matches_the_closed_form(rho_range):
    z, s, a, cov, members, counts = single_pairs(3000, seed=1, rho_range=rho_range)
    sums, left = pair_excess_sum(z, s, a, cov, members, counts, fused=False)
    assert left.shape == (0, 3)
    closed = a[0] * a[1] * closed_excess(z[:, 0], z[:, 1], s[:, 0], s[:, 1], cov[:, 0])
    scale = s[:, 0] * s[:, 1]
    assert ((sums - closed).abs() / scale).max() < 2e-15


def test_excess_on_four_pieces_matches_mpmath():
    # 0.925 <= |rho| < 0.99: the rule on four pieces is accurate where the closed form, whose
    # terms cancel for large |h|, is not (1e-14 of s1 s2 there)
    z, s, _, cov, members, counts = single_pairs(40, seed=9, rho_range=(0.925, 0.99))
    z[:4] = 8.3 * s[:4]  # both deep in the upper tail
    a = torch.ones(2, dtype=z.dtype)
    sums, left = pair_excess_sum(z, s, a, cov, members, counts, fused=False)
    assert left.shape == (0, 3)
    for i in range(40):
        h1, h2 = float(z[i, 0] / s[i, 0]), float(z[i, 1] / s[i, 1])
        rho = float(cov[i, 0] / (s[i, 0] * s[i, 1]))
        exact = float(s[i, 0] * s[i, 1]) * float(mp_excess(h1, h2, rho))
        assert abs(float(sums[i]) - exact) < 1e-16 * float(s[i, 0] * s[i, 1])


def test_pairs_past_0_99_are_left_to_the_caller():
    z, s, a, cov, members, counts = single_pairs(200, seed=2, rho_range=(0.97, 1.0))
    sums, left = pair_excess_sum(z, s, a, cov, members, counts, fused=False)
    high = (cov[:, 0] / (s[:, 0] * s[:, 1])).abs() >= 0.99
    assert torch.equal(left[:, 0], torch.nonzero(high).squeeze(1))
    assert (left[:, 1] == 0).all() and (left[:, 2] == 1).all()
    assert (sums[high] == 0).all() and (sums[~high] != 0).all()


def test_partials_match_the_closed_form():
    z, s, a, cov, members, counts = single_pairs(400, seed=3, rho_range=(0.0, 0.99))
    inputs = [t.clone().requires_grad_(True) for t in (z, s, a, cov)]
    sums, _ = pair_excess_sum(*inputs, members, counts, fused=False)
    weights = torch.linspace(-1.0, 2.0, 400, dtype=torch.float64)
    ours = torch.autograd.grad((weights * sums).sum(), inputs)
    reference = [t.clone().requires_grad_(True) for t in (z, s, a, cov)]
    zr, sr, ar, cr = reference
    closed = ar[0] * ar[1] * closed_excess(zr[:, 0], zr[:, 1], sr[:, 0], sr[:, 1], cr[:, 0])
    theirs = torch.autograd.grad((weights * closed).sum(), reference)
    for got, want in zip(ours, theirs, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-11, atol=1e-13)


def test_gradcheck_with_padded_rows_and_members():
    gen = torch.Generator().manual_seed(4)
    m, rows = 5, 3
    z = torch.randn(rows, m, generator=gen, dtype=torch.float64)
    s = 0.5 + torch.rand(rows, m, generator=gen, dtype=torch.float64)
    root = torch.randn(rows, m, 3, generator=gen, dtype=torch.float64)
    full = root @ root.transpose(1, 2) + torch.eye(m, dtype=torch.float64)
    s = full.diagonal(dim1=1, dim2=2).sqrt()  # a consistent covariance: |rho| < 1
    a = torch.randn(m, generator=gen, dtype=torch.float64)
    members = torch.tensor([[0, 2, 3, 1], [1, 4, 0, 2], [0, 1, 2, 3]])
    cov = member_pairs(full, members)
    counts = torch.tensor([3, 2, 4])

    def total(z, s, a, cov):
        return pair_excess_sum(z, s, a, cov, members, counts, fused=False)[0]

    inputs = tuple(t.clone().requires_grad_(True) for t in (z, s, a, cov))
    assert torch.autograd.gradcheck(total, inputs, eps=1e-6, atol=1e-8)


def test_rows_are_sums_over_their_members_pairs():
    gen = torch.Generator().manual_seed(5)
    m, rows = 7, 4
    full, z, s, _, a = correlated_rows(gen, rows, m, rank=4)
    members = torch.stack([torch.randperm(m, generator=gen)[:5].sort().values for _ in range(rows)])
    cov = member_pairs(full, members)
    counts = torch.tensor([5, 0, 2, 4])
    sums, left = pair_excess_sum(z, s, a, cov, members, counts, fused=False)
    for i in range(rows):
        expected = 0.0
        chosen = members[i, : counts[i]].tolist()
        for p, r in enumerate(chosen):
            for q in chosen[p + 1 :]:
                c = full[i, r, q]
                if abs(float(c / (s[i, r] * s[i, q]))) < 0.99:
                    closed = closed_excess(z[i, r], z[i, q], s[i, r], s[i, q], c)
                    expected += float(a[r] * a[q] * closed)
        assert math.isclose(float(sums[i]), expected, rel_tol=1e-12, abs_tol=1e-14)
    assert sums[1] == 0 and (left[:, 0] != 1).all()


def test_float32_agrees_with_float64():
    args64 = single_pairs(2000, seed=6, rho_range=(0.0, 0.98))
    args32 = [t.float() if t.is_floating_point() else t for t in args64]
    sums64, _ = pair_excess_sum(*args64, fused=False)
    sums32, _ = pair_excess_sum(*args32, fused=False)
    assert sums32.dtype == torch.float32
    scale = args64[1][:, 0] * args64[1][:, 1]
    assert ((sums32.double() - sums64).abs() / scale).max() < 1e-6


def test_compiling_off_runs_the_eager_code(monkeypatch):
    args = single_pairs(500, seed=7, rho_range=(0.0, 0.98))
    eager, _ = pair_excess_sum(*args, fused=False)
    monkeypatch.setenv("MGN_COMPILE", "0")
    assert torch.equal(pair_excess_sum(*args, fused=True)[0], eager)


@pytest.mark.slow
def test_compiled_kernels_agree_with_the_eager_code():
    """torch.compile's kernels (tens of seconds to build the first time on a machine)."""
    gen = torch.Generator().manual_seed(8)
    m, rows = 40, 30
    _, z, s, cov, a = correlated_rows(gen, rows, m, rank=6, z_scale=2.0)
    members = torch.arange(m).expand(rows, m)
    counts = torch.full((rows,), m)
    results = {}
    for fused in (False, True):
        inputs = [t.clone().requires_grad_(True) for t in (z, s, a, cov)]
        sums, left = pair_excess_sum(*inputs, members, counts, fused=fused)
        grads = torch.autograd.grad(sums.sum(), inputs)
        with torch.no_grad():
            values, _ = pair_excess_sum(z, s, a, cov, members, counts, fused=fused)
        results[fused] = (sums, left, values, grads)
    if relu_pairs_module._compile_failed:
        pytest.skip("torch.compile is not available here")
    eager, compiled = results[False], results[True]
    assert torch.equal(eager[1], compiled[1])
    torch.testing.assert_close(compiled[0], eager[0], rtol=1e-13, atol=1e-14)
    torch.testing.assert_close(compiled[2], eager[2], rtol=1e-13, atol=1e-14)
    for got, want in zip(compiled[3], eager[3], strict=True):
        torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-13)

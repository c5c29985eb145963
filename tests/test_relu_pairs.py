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
    return h * s, s, a, cov, torch.ones(rows, 2, dtype=torch.bool)


def correlated_rows(gen, rows, m, rank, z_scale=1.0):
    """Rows of m jointly Gaussian variables of rank ``rank``: their (rows, m, m) covariances, z, s,
    the covariances of all pairs in the order of torch.tril_indices(m, m, -1), and weights a."""
    root = torch.randn(rows, m, rank, generator=gen, dtype=torch.float64)
    full = root @ root.transpose(1, 2)
    s = full.diagonal(dim1=1, dim2=2).sqrt()
    z = z_scale * torch.randn(rows, m, generator=gen, dtype=torch.float64)
    later, earlier = torch.tril_indices(m, m, -1)
    a = torch.randn(m, generator=gen, dtype=torch.float64)
    return full, z, s, full[:, later, earlier], a


def member_covariances(full, inside, width):
    """The covariances among each row's members (its variables inside, increasing), padded to
    (rows, width, width) with the other variables'."""
    members = torch.argsort((~inside).to(torch.uint8), dim=1, stable=True)[:, :width]
    rows = torch.arange(full.shape[0])[:, None, None]
    return full[rows, members[:, :, None], members[:, None, :]]


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
    z, s, a, cov, inside = single_pairs(3000, seed=1, rho_range=rho_range)
    sums, left = pair_excess_sum(z, s, a, cov, inside, fused=False)
    assert left.shape == (0, 3)
    closed = a[0] * a[1] * closed_excess(z[:, 0], z[:, 1], s[:, 0], s[:, 1], cov[:, 0])
    scale = s[:, 0] * s[:, 1]
    assert ((sums - closed).abs() / scale).max() < 2e-15


def test_excess_on_four_pieces_matches_mpmath():
    # 0.925 <= |rho| < 0.99: the rule on four pieces is accurate where the closed form, whose
    # terms cancel for large |h|, is not (1e-14 of s1 s2 there)
    z, s, a, cov, inside = single_pairs(40, seed=9, rho_range=(0.925, 0.99))
    z[:4] = 8.3 * s[:4]  # both deep in the upper tail
    sums, left = pair_excess_sum(z, s, torch.ones(2, dtype=z.dtype), cov, inside, fused=False)
    assert left.shape == (0, 3)
    for i in range(40):
        h1, h2 = float(z[i, 0] / s[i, 0]), float(z[i, 1] / s[i, 1])
        rho = float(cov[i, 0] / (s[i, 0] * s[i, 1]))
        exact = float(s[i, 0] * s[i, 1]) * float(mp_excess(h1, h2, rho))
        assert abs(float(sums[i]) - exact) < 1e-16 * float(s[i, 0] * s[i, 1])


def test_pairs_past_0_99_are_left_to_the_caller():
    z, s, a, cov, inside = single_pairs(200, seed=2, rho_range=(0.97, 1.0))
    sums, left = pair_excess_sum(z, s, a, cov, inside, fused=False)
    high = (cov[:, 0] / (s[:, 0] * s[:, 1])).abs() >= 0.99
    assert torch.equal(left[:, 0], torch.nonzero(high).squeeze(1))
    assert (left[:, 1] == 1).all() and (left[:, 2] == 0).all()
    assert (sums[high] == 0).all() and (sums[~high] != 0).all()


def test_partials_match_the_closed_form():
    z, s, a, cov, inside = single_pairs(400, seed=3, rho_range=(0.0, 0.99))
    inputs = [t.clone().requires_grad_(True) for t in (z, s, a, cov)]
    sums, _ = pair_excess_sum(*inputs, inside, fused=False)
    weights = torch.linspace(-1.0, 2.0, 400, dtype=torch.float64)
    ours = torch.autograd.grad((weights * sums).sum(), inputs)
    reference = [t.clone().requires_grad_(True) for t in (z, s, a, cov)]
    zr, sr, ar, cr = reference
    closed = ar[0] * ar[1] * closed_excess(zr[:, 0], zr[:, 1], sr[:, 0], sr[:, 1], cr[:, 0])
    theirs = torch.autograd.grad((weights * closed).sum(), reference)
    for got, want in zip(ours, theirs, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-11, atol=1e-13)


@pytest.mark.parametrize("among_members", [False, True])
def test_gradcheck_with_rows_of_different_members(among_members):
    gen = torch.Generator().manual_seed(4)
    m, rows = 5, 3
    root = torch.randn(rows, m, 3, generator=gen, dtype=torch.float64)
    full = root @ root.transpose(1, 2) + torch.eye(m, dtype=torch.float64)
    s = full.diagonal(dim1=1, dim2=2).sqrt()  # a consistent covariance: |rho| < 1
    z = torch.randn(rows, m, generator=gen, dtype=torch.float64)
    a = torch.randn(m, generator=gen, dtype=torch.float64)
    inside = torch.tensor(
        [[1, 0, 1, 1, 0], [0, 1, 0, 0, 1], [1, 1, 1, 1, 0]], dtype=torch.bool
    )  # 3, 2 and 4 members
    later, earlier = torch.tril_indices(m, m, -1)
    cov = member_covariances(full, inside, 4) if among_members else full[:, later, earlier]

    def total(z, s, a, cov):
        return pair_excess_sum(z, s, a, cov, inside, fused=False)[0]

    inputs = tuple(t.clone().requires_grad_(True) for t in (z, s, a, cov))
    assert torch.autograd.gradcheck(total, inputs, eps=1e-6, atol=1e-8)


def test_rows_are_sums_over_their_members_pairs():
    gen = torch.Generator().manual_seed(5)
    m, rows = 7, 4
    full, z, s, cov, a = correlated_rows(gen, rows, m, rank=4)
    inside = torch.zeros(rows, m, dtype=torch.bool)
    for i, count in enumerate((5, 0, 2, 4)):
        inside[i, torch.randperm(m, generator=gen)[:count]] = True
    sums, left = pair_excess_sum(z, s, a, cov, inside, fused=False)
    for i in range(rows):
        expected = 0.0
        chosen = torch.nonzero(inside[i]).squeeze(1).tolist()
        for p, r in enumerate(chosen):
            for q in chosen[p + 1 :]:
                c = full[i, r, q]
                if abs(float(c / (s[i, r] * s[i, q]))) < 0.99:
                    closed = closed_excess(z[i, r], z[i, q], s[i, r], s[i, q], c)
                    expected += float(a[r] * a[q] * closed)
        assert math.isclose(float(sums[i]), expected, rel_tol=1e-12, abs_tol=1e-14)
    assert sums[1] == 0 and (left[:, 0] != 1).all()


def test_both_forms_of_the_covariances_agree_and_wide_rows_find_their_pairs():
    # rows of up to 120 members: the pairs' places run to 7140 within a row
    gen = torch.Generator().manual_seed(10)
    m, rows = 120, 3
    full, z, s, cov, a = correlated_rows(gen, rows, m, rank=60, z_scale=3.0)
    inside = torch.rand(rows, m, generator=gen) < torch.tensor([[1.0], [0.5], [0.9]])
    width = int(inside.sum(1).max())
    results = []
    for form in (cov, member_covariances(full, inside, width + 2)):
        inputs = [t.clone().requires_grad_(True) for t in (z, s, a)]
        sums, left = pair_excess_sum(*inputs, form, inside, fused=False)
        results.append((sums, left, torch.autograd.grad(sums.sum(), inputs)))
    (sums, left, grads), (sums_members, left_members, grads_members) = results
    sums, sums_members = sums.detach(), sums_members.detach()
    assert torch.equal(left, left_members)
    torch.testing.assert_close(sums_members, sums, rtol=1e-14, atol=0)
    for got, want in zip(grads_members, grads, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-13, atol=1e-15)
    i = 1  # one row, pair by pair
    chosen = torch.nonzero(inside[i]).squeeze(1)
    first, second = torch.tril_indices(len(chosen), len(chosen), -1)
    r, q = chosen[first], chosen[second]
    c = full[i, r, q]
    kept = (c / (s[i, r] * s[i, q])).abs() < 0.99
    closed = a[r] * a[q] * closed_excess(z[i, r], z[i, q], s[i, r], s[i, q], c)
    assert math.isclose(float(sums[i]), float(closed[kept].sum()), rel_tol=1e-12)


def test_covariances_of_the_wrong_shape_are_refused():
    gen = torch.Generator().manual_seed(11)
    full, z, s, cov, a = correlated_rows(gen, 3, 5, rank=3)
    inside = torch.ones(3, 5, dtype=torch.bool)
    with pytest.raises(ValueError, match="cov must have shape"):
        pair_excess_sum(z, s, a, cov[:, :-1], inside)
    with pytest.raises(ValueError, match="cov must have shape"):
        pair_excess_sum(z, s, a, full[:, :4, :4], inside)  # rows of 5 members


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
@pytest.mark.parametrize("among_members", [False, True])
def test_compiled_kernels_agree_with_the_eager_code(among_members):
    """torch.compile's kernels (tens of seconds to build the first time on a machine)."""
    gen = torch.Generator().manual_seed(8)
    m, rows = 40, 30
    full, z, s, cov, a = correlated_rows(gen, rows, m, rank=6, z_scale=2.0)
    inside = torch.rand(rows, m, generator=gen) < 0.8
    if among_members:
        cov = member_covariances(full, inside, int(inside.sum(1).max()))
    results = {}
    for fused in (False, True):
        inputs = [t.clone().requires_grad_(True) for t in (z, s, a, cov)]
        sums, left = pair_excess_sum(*inputs, inside, fused=fused)
        grads = torch.autograd.grad(sums.sum(), inputs)
        with torch.no_grad():
            values, _ = pair_excess_sum(z, s, a, cov, inside, fused=fused)
        results[fused] = (sums, left, values, grads)
    if relu_pairs_module._compile_failed:
        pytest.skip("torch.compile is not available here")
    eager, compiled = results[False], results[True]
    assert torch.equal(eager[1], compiled[1])
    torch.testing.assert_close(compiled[0], eager[0], rtol=1e-13, atol=1e-14)
    torch.testing.assert_close(compiled[2], eager[2], rtol=1e-13, atol=1e-14)
    for got, want in zip(compiled[3], eager[3], strict=True):
        torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-13)

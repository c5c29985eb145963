"""Tests of mgn.smoothed (chapter 1): closed forms against scipy quadrature, mpmath and Monte
Carlo; the ReLU limit at s = 0; finiteness at the extremes; input kinds, dtypes and errors."""

from __future__ import annotations

import itertools
import math

import mpmath
import numpy as np
import pytest
import torch
from scipy import integrate, optimize, special

from mgn import (
    mask_moments,
    smoothed_neuron,
    smoothed_neuron_grad,
    smoothed_relu,
    smoothed_relu_second_moment,
)

Z_GRID = [-3.0, -1.0, -0.3, 0.0, 0.5, 2.0]
S_GRID = [0.01, 0.2, 1.0, 5.0]
PHI0 = 1.0 / math.sqrt(2.0 * math.pi)


def quad_moment(z: float, s: float, power: int) -> float:
    """E[relu(z + s g)^power] by adaptive quadrature over g > -z/s (independent of the closed form).

    With g = -z/s + x the integrand (s x)^power phi(x - z/s) peaks near x = z/s: split there.
    """
    lower = -z / s
    peak = max(0.0, -lower)

    def integrand(x: float) -> float:
        return (s * x) ** power * math.exp(-0.5 * (lower + x) ** 2) * PHI0

    options = {"epsabs": 0.0, "epsrel": 1e-13, "limit": 200}
    head, _ = integrate.quad(
        integrand, 0.0, peak + 40.0, points=[peak] if peak > 0 else None, **options
    )
    tail, _ = integrate.quad(integrand, peak + 40.0, np.inf, **options)
    return head + tail


def mp_moment(z: float, s: float, power: int) -> mpmath.mpf:
    """The same in 50-digit arithmetic (mpmath), for the far tails where quad has nothing to add."""
    with mpmath.workdps(50):
        z, s = mpmath.mpf(z), mpmath.mpf(s)
        t = z / s
        if power == 1:
            return z * mpmath.ncdf(t) + s * mpmath.npdf(t)
        return (z * z + s * s) * mpmath.ncdf(t) + z * s * mpmath.npdf(t)


# ---- closed forms against quadrature and mpmath -------------------------------------------------


@pytest.mark.parametrize("z, s", list(itertools.product(Z_GRID, S_GRID)))
def test_value_and_second_moment_match_quadrature(z, s):
    exact = smoothed_relu(z, s)
    second = smoothed_relu_second_moment(z, s)
    np.testing.assert_allclose(exact, quad_moment(z, s, 1), rtol=1e-8, atol=1e-300)
    np.testing.assert_allclose(second, quad_moment(z, s, 2), rtol=1e-8, atol=1e-300)


def assert_conditioned_close(got, want, t, eps: float, base: float) -> None:
    """|got - want| <= (base + 4 eps (1 + t^2)) |want| + 1e-300: rounding t = z/s alone moves a
    Gaussian tail by a relative ~t^2 eps, so no implementation can do better than that (the
    1e-300 spares subnormal results, which scipy flushes to 0 where we do not)."""
    bound = (base + 4.0 * eps * (1.0 + np.square(t))) * np.abs(want) + 1e-300
    assert np.all(np.abs(got - want) <= bound), np.max(np.abs(got - want) / bound)


@pytest.mark.parametrize(
    "dtype, t_min, base", [(torch.float64, -37.0, 1e-12), (torch.float32, -13.0, 1e-5)]
)
def test_far_tails_keep_relative_accuracy(dtype, t_min, base):
    """t = z/s down to the underflow of the result: no cancellation (continued fraction)."""
    switches = [-2.0001, -1.9999, -4.0001, -3.9999]  # both sides of the continued fraction's switch
    t = np.concatenate([np.linspace(t_min, 8.0, 181), switches])
    s = 2.5
    tiny = torch.finfo(dtype).tiny
    z = torch.tensor(t * s, dtype=dtype)
    for power, function in [(1, smoothed_relu), (2, smoothed_relu_second_moment)]:
        got = function(z, torch.tensor(s, dtype=dtype)).double().numpy()
        want = np.array([float(mp_moment(float(zi), s, power)) for zi in z.double()])
        normal = want > tiny * 1e3
        assert normal.sum() > 150
        eps = torch.finfo(dtype).eps
        assert_conditioned_close(got[normal], want[normal], t[normal], eps, base)


def test_proxy_matches_scipy_and_gap_is_s_phi():
    z = np.linspace(-6.0, 6.0, 241)
    for s in [0.05, 0.2, 1.0, 4.0]:
        proxy = smoothed_relu(z, s, kind="proxy")
        assert_conditioned_close(proxy, z * special.ndtr(z / s), z / s, 2.2e-16, 1e-14)
        gap = smoothed_relu(z, s) - proxy  # a difference: absolute error ~ eps |z|
        np.testing.assert_allclose(
            gap, s * np.exp(-0.5 * (z / s) ** 2) * PHI0, rtol=1e-12, atol=1e-14
        )
        assert np.all(gap <= s * PHI0 * (1 + 1e-15))
        np.testing.assert_allclose(gap.max(), s * PHI0, rtol=1e-15)
        assert z[np.argmax(gap)] == 0.0


def test_proxy_minimum_and_large_s_limit():
    for s in [0.2, 3.0]:
        best = optimize.minimize_scalar(
            lambda v, s=s: smoothed_relu(v, s, kind="proxy"),
            bracket=(-2 * s, -0.5 * s, 0.0),
            tol=1e-12,
        )
        assert best.x / s == pytest.approx(-0.75179, abs=1e-5)
        assert best.fun / s == pytest.approx(-0.16997, abs=1e-5)
    z = np.linspace(-3.0, 3.0, 61)
    for s in [1e2, 1e4, 1e6]:
        half = smoothed_relu(z, s, kind="proxy") - z / 2
        # z Phi(z/s) = z/2 + phi(0) z^2/s + O(z^4/s^3)
        assert np.max(np.abs(half)) <= PHI0 * 9.0 / s * 1.01
    exact_big = smoothed_relu(z, 1e6)
    assert np.max(np.abs(exact_big - z / 2 - 1e6 * PHI0)) <= 1e-5


# ---- Monte Carlo -----------------------------------------------------------------------------


def within_standard_errors(samples: torch.Tensor, closed: torch.Tensor, k: float = 5.0) -> None:
    n = samples.shape[0]
    mean = samples.mean(dim=0)
    se = samples.std(dim=0) / math.sqrt(n)
    assert torch.all(se > 0)
    assert torch.all((mean - closed).abs() <= k * se), (mean, closed, se)


def test_moments_match_monte_carlo():
    """10^6 draws (seed 0), every pair of a small grid, within 5 standard errors."""
    gen = torch.Generator().manual_seed(0)
    g = torch.randn(1_000_000, 1, dtype=torch.float64, generator=gen)
    z = torch.tensor([-0.5, 0.0, 0.3, 1.0], dtype=torch.float64)
    s = torch.tensor([0.2, 1.0, 0.5, 2.0], dtype=torch.float64)
    draws = torch.relu(z + s * g)
    within_standard_errors(draws, smoothed_relu(z, s))
    within_standard_errors(draws.square(), smoothed_relu_second_moment(z, s))


def test_smoothed_neuron_and_stein_gradient_match_monte_carlo():
    """E_c[relu(w^T(x ⊙ c))] and E_c[1{w^T(x ⊙ c) > 0}(x ⊙ c)], c ~ N(1, kappa^2 I): 10^6 masks."""
    gen = torch.Generator().manual_seed(1)
    d, kappa = 6, 0.5
    w = torch.randn(d, dtype=torch.float64, generator=gen)
    x = torch.randn(d, dtype=torch.float64, generator=gen)
    x = x / x.norm()
    c = 1.0 + kappa * torch.randn(1_000_000, d, dtype=torch.float64, generator=gen)
    masked = x * c
    pre = masked @ w
    within_standard_errors(torch.relu(pre)[:, None], smoothed_neuron(w[None], x[None], kappa)[0])
    within_standard_errors((pre > 0)[:, None] * masked, smoothed_neuron_grad(w, x, kappa))


# ---- gradients -------------------------------------------------------------------------------


def test_autograd_matches_the_partial_derivatives():
    z = torch.linspace(-4.0, 4.0, 33, dtype=torch.float64, requires_grad=True)
    s = torch.linspace(0.1, 3.0, 33, dtype=torch.float64, requires_grad=True)
    t = (z / s).detach().numpy()
    cdf, pdf = torch.from_numpy(special.ndtr(t)), torch.from_numpy(np.exp(-0.5 * t * t) * PHI0)
    gz, gs = torch.autograd.grad(smoothed_relu(z, s).sum(), (z, s))
    torch.testing.assert_close(gz, cdf, rtol=1e-13, atol=1e-15)
    torch.testing.assert_close(gs, pdf, rtol=1e-13, atol=1e-15)
    gz, gs = torch.autograd.grad(smoothed_relu(z, s, kind="proxy").sum(), (z, s))
    tt = torch.from_numpy(t)
    torch.testing.assert_close(gz, cdf + tt * pdf, rtol=1e-13, atol=1e-15)
    torch.testing.assert_close(gs, -tt * tt * pdf, rtol=1e-13, atol=1e-15)
    gz, gs = torch.autograd.grad(smoothed_relu_second_moment(z, s).sum(), (z, s))
    torch.testing.assert_close(gz, 2 * smoothed_relu(z, s).detach(), rtol=1e-13, atol=1e-15)
    torch.testing.assert_close(gs, 2 * s.detach() * cdf, rtol=1e-13, atol=1e-15)


def test_gradients_keep_relative_accuracy_in_the_tail():
    """d/dz exact = Phi(t) and d/ds exact = phi(t) for t down to -37 (scipy's ndtr as reference)."""
    t = np.linspace(-37.0, 6.0, 173)
    s = 0.5
    z = torch.tensor(t * s, dtype=torch.float64, requires_grad=True)
    s_t = torch.full_like(z, s, requires_grad=True)
    gz, gs = torch.autograd.grad(smoothed_relu(z, s_t).sum(), (z, s_t))
    assert_conditioned_close(gz.numpy(), special.ndtr(t), t, 2.2e-16, 1e-14)
    assert_conditioned_close(gs.numpy(), np.exp(-0.5 * t * t) * PHI0, t, 2.2e-16, 1e-14)


def test_gradcheck_and_gradgradcheck():
    z = torch.tensor([-1.3, -0.2, 0.0, 0.4, 2.5], dtype=torch.float64, requires_grad=True)
    s = torch.tensor([0.3, 1.1, 0.5, 0.05, 2.0], dtype=torch.float64, requires_grad=True)
    functions = [
        lambda a, b: smoothed_relu(a, b),
        lambda a, b: smoothed_relu(a, b, kind="proxy"),
        smoothed_relu_second_moment,
    ]
    for function in functions:
        assert torch.autograd.gradcheck(function, (z, s))
        assert torch.autograd.gradgradcheck(function, (z, s))


def test_broadcast_gradients_have_input_shapes():
    z = torch.randn(4, 1, dtype=torch.float64, requires_grad=True)
    s = torch.rand(3, dtype=torch.float64, requires_grad=True)
    smoothed_relu(z, s).sum().backward()
    assert z.grad.shape == (4, 1) and s.grad.shape == (3,)


# ---- s = 0 and the extremes -------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32, torch.float16, torch.bfloat16])
def test_zero_s_is_relu_exactly(dtype):
    z = torch.tensor([-2.0, -1e-30, -0.0, 0.0, 1e-30, 0.7, 3.0], dtype=dtype, requires_grad=True)
    s = torch.zeros_like(z, requires_grad=True)
    for kind in ["exact", "proxy"]:
        value = smoothed_relu(z, s, kind)
        assert torch.equal(value, torch.relu(z))
        gz, gs = torch.autograd.grad(value.sum(), (z, s))
        assert torch.equal(gz, (z > 0).to(dtype))
        kink = PHI0 if kind == "exact" else 0.0
        torch.testing.assert_close(gs, (z == 0).to(dtype) * kink)
    assert torch.equal(smoothed_relu_second_moment(z, s), torch.relu(z) ** 2)
    assert torch.equal(smoothed_relu(z.detach(), 0.0), torch.relu(z.detach()))


EXTREMES = {
    torch.float64: ([1e300, -1e300, 1e-300, -1e-300, 0.0, 1.0, -1.0, -5e-324], 1e300, 5e-324),
    torch.float32: ([3e38, -3e38, 1e-38, -1e-38, 0.0, 1.0, -1.0, -1e-45], 3e38, 1e-45),
}


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_values_and_gradients_finite_at_extremes(dtype):
    zs, big, smallest = EXTREMES[dtype]
    ss = [0.0, smallest, 1e-30, 1e-10, 1.0, big]
    pairs = list(itertools.product(zs, ss))
    z = torch.tensor([p[0] for p in pairs], dtype=dtype, requires_grad=True)
    s = torch.tensor([p[1] for p in pairs], dtype=dtype, requires_grad=True)
    for kind in ["exact", "proxy"]:
        value = smoothed_relu(z, s, kind)
        gz, gs = torch.autograd.grad(value.sum(), (z, s))
        for tensor in (value, gz, gs):
            assert torch.isfinite(tensor).all(), kind
        assert bool(((gz >= -0.1) & (gz <= 1.1) & (gs.abs() <= 0.5)).all())
    # where the second moment is representable its value and gradients are finite too
    moderate = (z.abs() < 1e15) & (s < 1e15)
    second = smoothed_relu_second_moment(z[moderate], s[moderate])
    gz, gs = torch.autograd.grad(second.sum(), (z, s))
    assert torch.isfinite(second).all() and torch.isfinite(gz).all() and torch.isfinite(gs).all()


def test_extreme_values_are_the_limits():
    f64 = torch.float64
    big = torch.tensor(1e300, dtype=f64)
    tiny = torch.tensor(1e-300, dtype=f64)
    assert smoothed_relu(big, tiny) == big
    assert smoothed_relu(-big, tiny) == 0.0
    assert smoothed_relu(-big, tiny, kind="proxy") == 0.0
    assert smoothed_relu(torch.tensor(0.0, dtype=f64), big) == pytest.approx(
        1e300 * PHI0, rel=1e-15
    )
    # z = -s = -1e300: s psi_1(1) with psi_1(1) = phi(1) - Q(1)
    psi1 = float(mpmath.npdf(1) - mpmath.ncdf(-1))
    assert float(smoothed_relu(-big, big)) == pytest.approx(1e300 * psi1, rel=1e-14)
    # float32 near its largest value: 3e38 (Phi(1) + phi(1)) = 3.25e38 is still finite
    f32 = torch.tensor(3e38, dtype=torch.float32)
    exact = float(3e38 * (mpmath.ncdf(1) + mpmath.npdf(1)))
    assert float(smoothed_relu(f32, f32)) == pytest.approx(exact, rel=1e-6)


def test_huge_ratio_gradients_are_the_limits():
    z = torch.tensor([1e300, -1e300, 1.0, -1.0], dtype=torch.float64, requires_grad=True)
    s = torch.full((4,), 1e-300, dtype=torch.float64, requires_grad=True)
    gz, gs = torch.autograd.grad(smoothed_relu(z, s).sum(), (z, s))
    assert torch.equal(gz, torch.tensor([1.0, 0.0, 1.0, 0.0], dtype=torch.float64))
    assert torch.equal(gs, torch.zeros(4, dtype=torch.float64))


# ---- input kinds, dtypes, devices ---------------------------------------------------------------


def test_numpy_and_python_numbers_give_numpy():
    out = smoothed_relu(np.array([-1.0, 0.0, 2.0]), 0.5)
    assert isinstance(out, np.ndarray) and out.dtype == np.float64
    scalar = smoothed_relu(0.3, 0.2)
    assert isinstance(scalar, np.floating) and scalar.dtype == np.float64
    assert smoothed_relu(np.float32(0.3), 0.2).dtype == np.float32
    assert smoothed_relu(np.zeros(3, dtype=np.float32), np.float32(1.0)).dtype == np.float32
    assert smoothed_relu(np.zeros(3, dtype=np.float16), 1.0).dtype == np.float16
    assert smoothed_relu([1, 2], 1).dtype == np.float64
    assert isinstance(smoothed_relu_second_moment([0.5], [0.1]), np.ndarray)
    np.testing.assert_allclose(smoothed_relu([0.5], [0.1]), smoothed_relu(0.5, 0.1), rtol=0)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32, torch.float16, torch.bfloat16])
def test_torch_dtype_is_preserved(dtype):
    z = torch.linspace(-2.0, 2.0, 9).to(dtype)
    for kind in ["exact", "proxy"]:
        out = smoothed_relu(z, 0.3, kind)
        assert out.dtype == dtype
        reference = smoothed_relu(z.double(), 0.3, kind)
        torch.testing.assert_close(out.double(), reference, rtol=1e-2, atol=1e-2)
    assert smoothed_relu_second_moment(z, torch.tensor(0.3, dtype=dtype)).dtype == dtype
    assert smoothed_relu(torch.arange(3), 1.0).dtype == torch.get_default_dtype()
    assert smoothed_relu(z, np.float64(0.3)).dtype == dtype


def test_device_is_preserved_on_cpu():
    assert smoothed_relu(torch.zeros(2), torch.ones(2)).device.type == "cpu"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_matches_cpu():
    z = torch.linspace(-40.0, 5.0, 301, dtype=torch.float64)
    s = torch.tensor(0.7, dtype=torch.float64)
    for function in [smoothed_relu, smoothed_relu_second_moment]:
        gpu = function(z.cuda(), s.cuda())
        assert gpu.device.type == "cuda"
        torch.testing.assert_close(gpu.cpu(), function(z, s), rtol=1e-13, atol=0)
    assert smoothed_relu(z.cuda(), s).device.type == "cuda"


# ---- bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize("bad_s", [-0.1, float("nan"), float("inf"), [0.1, -1e-30]])
def test_bad_s_raises(bad_s):
    for function in [smoothed_relu, smoothed_relu_second_moment]:
        with pytest.raises(ValueError, match=r"\bs\b"):
            function(np.array([0.0, 1.0]), bad_s)
        with pytest.raises(ValueError, match=r"\bs\b"):
            function(torch.zeros(2), torch.as_tensor(bad_s))


def test_other_bad_input_raises():
    with pytest.raises(ValueError, match="kind"):
        smoothed_relu(1.0, 1.0, kind="gelu")
    with pytest.raises(ValueError, match="kind"):
        smoothed_relu(1.0, 1.0, kind=None)
    with pytest.raises(ValueError, match="broadcast"):
        smoothed_relu(torch.zeros(3), torch.ones(4))
    with pytest.raises(ValueError, match="broadcast"):
        smoothed_relu_second_moment(np.zeros(3), np.ones(2))
    with pytest.raises(TypeError, match="z"):
        smoothed_relu(np.array([True]), 1.0)
    with pytest.raises(TypeError, match="s"):
        smoothed_relu(torch.zeros(2), torch.ones(2, dtype=torch.complex64))
    with pytest.raises(TypeError, match="z"):
        smoothed_relu("abc", 1.0)


# ---- mask moments and the smoothed neuron -------------------------------------------------------


def test_mask_moments_match_the_definition():
    gen = torch.Generator().manual_seed(2)
    W = torch.randn(7, 5, dtype=torch.float64, generator=gen)
    X = torch.randn(4, 5, dtype=torch.float64, generator=gen)
    W[3] = 0.0
    z, s = mask_moments(W, X, 0.3)
    assert z.shape == s.shape == (4, 7)
    torch.testing.assert_close(z, X @ W.T)
    direct = 0.3 * torch.linalg.vector_norm(X[:, None, :] * W[None, :, :], dim=-1)
    torch.testing.assert_close(s, direct, rtol=1e-14, atol=0)
    assert torch.equal(mask_moments(W, X, 0.0)[1], torch.zeros(4, 7, dtype=torch.float64))
    # rows scaled by 1e200 would overflow a plain sum of squares; the result scales exactly
    big_z, big_s = mask_moments(W * 1e200, X, 0.3)
    torch.testing.assert_close(big_s, direct * 1e200, rtol=1e-14, atol=0)
    torch.testing.assert_close(big_z, z * 1e200, rtol=1e-14, atol=0)


def test_mask_moments_gradient_is_finite_at_a_zero_row():
    W = torch.tensor([[0.0, 0.0], [1.0, -2.0]], dtype=torch.float64, requires_grad=True)
    X = torch.tensor([[0.6, 0.8]], dtype=torch.float64)
    (grad,) = torch.autograd.grad(smoothed_neuron(W, X, 0.4).sum(), W)
    assert torch.isfinite(grad).all()


def test_autograd_of_smoothed_neuron_equals_stein_gradient():
    gen = torch.Generator().manual_seed(3)
    W = torch.randn(5, 4, dtype=torch.float64, generator=gen, requires_grad=True)
    X = torch.randn(6, 4, dtype=torch.float64, generator=gen)
    for kappa in [0.0, 0.05, 0.7, 3.0]:
        (autograd,) = torch.autograd.grad(smoothed_neuron(W, X, kappa).sum(), W)
        stein = smoothed_neuron_grad(W.detach()[None], X[:, None], kappa).sum(dim=0)
        torch.testing.assert_close(autograd, stein, rtol=1e-12, atol=1e-14)


def test_stein_gradient_at_zero_s_is_the_relu_gradient():
    w = torch.tensor([[1.0, -2.0], [0.0, 0.0], [-1.0, 0.5]], dtype=torch.float64)
    x = torch.tensor([0.6, 0.8], dtype=torch.float64)
    want = ((w @ x) > 0)[:, None] * x
    assert torch.equal(smoothed_neuron_grad(w, x, 0.0), want)
    # w = 0 gives s = 0 at any kappa
    assert torch.equal(smoothed_neuron_grad(w[1], x, 0.5), torch.zeros(2, dtype=torch.float64))


def test_mask_helpers_reject_bad_input():
    W, X = torch.zeros(3, 2), torch.zeros(4, 2)
    with pytest.raises(ValueError, match="X"):
        mask_moments(W, torch.zeros(4, 3), 0.1)
    with pytest.raises(ValueError, match="W"):
        mask_moments(torch.zeros(3), X, 0.1)
    with pytest.raises(ValueError, match="kappa"):
        mask_moments(W, X, -0.1)
    with pytest.raises(ValueError, match="kappa"):
        smoothed_neuron(W, X, float("nan"))
    with pytest.raises(ValueError, match="kind"):
        smoothed_neuron(W, X, 0.1, kind="other")
    with pytest.raises(ValueError, match="broadcast"):
        smoothed_neuron_grad(torch.zeros(3, 2), torch.zeros(4, 2), 0.1)
    with pytest.raises(ValueError, match="w and x"):
        smoothed_neuron_grad(torch.tensor(1.0), torch.zeros(2), 0.1)

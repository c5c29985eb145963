import math

import numpy as np
import pytest
import torch
from scipy import integrate, special, stats

from mgn.bivariate import bvn_cdf, relu_covariance, relu_product_moment, relu_variance
from mgn.smoothed import smoothed_relu, smoothed_relu_second_moment


def owens_t_cdf(h, k, rho):
    """Phi2 through Owen's T function (an independent formula, scipy.special.owens_t)."""
    h, k, rho = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (h, k, rho)))
    q = np.sqrt(1.0 - rho * rho)
    with np.errstate(divide="ignore", invalid="ignore"):
        a_h = np.where(h == 0, np.inf, (k - rho * h) / (h * q))
        a_k = np.where(k == 0, np.inf, (h - rho * k) / (k * q))
    a_h = np.where((h == 0) & (k - rho * h < 0), -np.inf, a_h)
    a_k = np.where((k == 0) & (h - rho * k < 0), -np.inf, a_k)
    fix = np.where((h * k < 0) | ((h * k == 0) & (h + k < 0)), 0.5, 0.0)
    return (
        0.5 * (special.ndtr(h) + special.ndtr(k))
        - special.owens_t(h, a_h)
        - special.owens_t(k, a_k)
        - fix
    )


def random_arguments(size, seed):
    rng = np.random.default_rng(seed)
    h = rng.uniform(-6, 6, size)
    k = rng.uniform(-6, 6, size)
    rho = rng.uniform(-1, 1, size)
    near = size // 4
    rho[:near] = rng.choice([-1, 1], near) * (1 - 10.0 ** rng.uniform(-15, -1, near))
    return h, k, rho


def test_bvn_cdf_matches_owens_t_to_1e_13():
    h, k, rho = random_arguments(4000, seed=0)
    got = bvn_cdf(torch.tensor(h), torch.tensor(k), torch.tensor(rho)).numpy()
    np.testing.assert_allclose(got, owens_t_cdf(h, k, rho), rtol=0, atol=1e-13)


def plackett_density(t, h, k):
    """phi2(h, k; t), the integrand of Plackett's identity."""
    exponent = -(h * h - 2 * t * h * k + k * k) / (2 * (1 - t * t))
    return math.exp(exponent) / (2 * math.pi * math.sqrt(1 - t * t))


def test_bvn_cdf_matches_scipy_multivariate_normal_and_plackett_quadrature():
    h, k, rho = random_arguments(40, seed=1)
    got = bvn_cdf(torch.tensor(h), torch.tensor(k), torch.tensor(rho)).numpy()
    for i in range(40):
        if abs(rho[i]) > 1 - 1e-9:  # scipy refuses a numerically singular covariance
            continue
        cov = [[1.0, rho[i]], [rho[i], 1.0]]
        mvn = stats.multivariate_normal(cov=cov).cdf([h[i], k[i]])
        assert abs(got[i] - mvn) < 1e-8
        if abs(rho[i]) < 0.99:  # Plackett: Phi(h) Phi(k) + int_0^rho phi2(h, k; t) dt
            excess, _ = integrate.quad(
                plackett_density, 0.0, rho[i], args=(h[i], k[i]), epsabs=1e-14, epsrel=1e-12
            )
            assert abs(got[i] - special.ndtr(h[i]) * special.ndtr(k[i]) - excess) < 1e-12


def test_bvn_cdf_limits():
    inf = math.inf
    h = torch.tensor([0.3, -0.4, 0.3, -0.2, 0.7, inf, -inf, 1.0, 0.5], dtype=torch.float64)
    k = torch.tensor([0.5, 0.1, 0.5, 0.9, -0.1, 0.4, 0.4, inf, -inf], dtype=torch.float64)
    r = torch.tensor([1.0, 1.0, -1.0, -1.0, 0.0, 0.5, 0.5, -0.3, 0.9], dtype=torch.float64)
    cdf = stats.norm.cdf
    expected = [
        cdf(0.3),
        cdf(-0.4),
        max(0.0, cdf(0.3) + cdf(0.5) - 1),
        max(0.0, cdf(-0.2) + cdf(0.9) - 1),
        cdf(0.7) * cdf(-0.1),
        cdf(0.4),
        0.0,
        cdf(1.0),
        0.0,
    ]
    np.testing.assert_allclose(bvn_cdf(h, k, r).numpy(), expected, rtol=0, atol=1e-15)


def test_bvn_cdf_is_continuous_at_rho_one():
    h, k = torch.tensor([0.2, -1.0], dtype=torch.float64), torch.tensor([0.2, 0.5])
    at_one = bvn_cdf(h, k, 1.0)
    near_one = bvn_cdf(h, k, 1.0 - 1e-14)
    assert (at_one - near_one).abs().max() < 1e-7


def test_bvn_cdf_gradients_match_finite_differences():
    h, k, rho = (torch.tensor(v).requires_grad_() for v in random_arguments(32, seed=2))
    rho = rho.detach().clamp(-0.999, 0.999).requires_grad_()
    assert torch.autograd.gradcheck(bvn_cdf, (h, k, rho), eps=1e-6, atol=1e-7)


def test_bvn_cdf_float32_agrees_with_float64():
    h, k, rho = random_arguments(2000, seed=3)
    f64 = bvn_cdf(torch.tensor(h), torch.tensor(k), torch.tensor(rho))
    f32 = bvn_cdf(*(torch.tensor(v, dtype=torch.float32) for v in (h, k, rho)))
    assert f32.dtype == torch.float32
    assert (f32.double() - f64).abs().max() < 2e-6


@pytest.mark.parametrize(
    ("args", "error", "message"),
    [
        ((0.0, 0.0, 1.5), ValueError, "rho must lie in"),
        ((float("nan"), 0.0, 0.5), ValueError, "h must not contain NaN"),
        ((torch.zeros(3), torch.zeros(2), 0.5), ValueError, "must broadcast"),
        ((0.0, torch.tensor([True]), 0.5), TypeError, "k must hold real numbers"),
    ],
)
def test_bvn_cdf_bad_input(args, error, message):
    with pytest.raises(error, match=message):
        bvn_cdf(*args)


def spec_product_moment(mu1, mu2, s1, s2, cov):
    """Chapter 2's formula for E[relu(g1) relu(g2)], in NumPy with the Owen's T cdf."""
    rho = cov / (s1 * s2)
    a, b, q = -mu1 / s1, -mu2 / s2, np.sqrt(1 - rho * rho)
    tail = stats.norm.sf
    pdf = stats.norm.pdf
    both = owens_t_cdf(-a, -b, rho)
    ez1 = pdf(a) * tail((b - rho * a) / q) + rho * pdf(b) * tail((a - rho * b) / q)
    ez2 = pdf(b) * tail((a - rho * b) / q) + rho * pdf(a) * tail((b - rho * a) / q)
    phi2 = np.exp(-(a * a - 2 * rho * a * b + b * b) / (2 * q * q)) / (2 * np.pi * q)
    ezz = (
        rho * both
        + rho * a * pdf(a) * tail((b - rho * a) / q)
        + rho * b * pdf(b) * tail((a - rho * b) / q)
        + q * q * phi2
    )
    return mu1 * mu2 * both + mu1 * s2 * ez2 + mu2 * s1 * ez1 + s1 * s2 * ezz


def random_pairs(size, seed):
    rng = np.random.default_rng(seed)
    mu1, mu2 = rng.normal(0, 1.5, size), rng.normal(0, 1.5, size)
    s1, s2 = rng.uniform(0.05, 2, size), rng.uniform(0.05, 2, size)
    rho = rng.uniform(-0.999, 0.999, size)
    return mu1, mu2, s1, s2, rho * s1 * s2


def test_product_moment_matches_the_spec_formula():
    args = random_pairs(2000, seed=4)
    got = relu_product_moment(*(torch.tensor(v) for v in args)).numpy()
    np.testing.assert_allclose(got, spec_product_moment(*args), rtol=1e-11, atol=1e-12)


def test_covariance_matches_monte_carlo_within_4_standard_errors():
    draws = 1_000_000
    gen = torch.Generator().manual_seed(5)
    for mu1, mu2, s1, s2, rho in [(0.3, -0.2, 0.5, 1.2, 0.6), (1.0, 0.4, 0.3, 0.2, -0.8)]:
        z1, z2 = torch.randn(2, draws, generator=gen, dtype=torch.float64)
        g2 = mu2 + s2 * (rho * z1 + math.sqrt(1 - rho * rho) * z2)
        product = torch.relu(mu1 + s1 * z1) * torch.relu(g2)
        closed = float(relu_product_moment(mu1, mu2, s1, s2, rho * s1 * s2))
        stderr = float(product.std()) / math.sqrt(draws)
        assert abs(float(product.mean()) - closed) < 4 * stderr


def test_covariance_matches_two_dimensional_quadrature():
    mu1, mu2, s1, s2, rho = 0.4, -0.3, 0.7, 1.1, 0.35
    cov = np.array([[s1 * s1, rho * s1 * s2], [rho * s1 * s2, s2 * s2]])
    density = stats.multivariate_normal(mean=[mu1, mu2], cov=cov).pdf
    second, _ = integrate.dblquad(
        lambda g2, g1: g1 * g2 * density([g1, g2]), 0, 12, 0, 12, epsabs=1e-12, epsrel=1e-11
    )
    means = smoothed_relu(np.array([mu1, mu2]), np.array([s1, s2]))
    closed = float(relu_covariance(mu1, mu2, s1, s2, rho * s1 * s2))
    assert abs(closed - (second - means[0] * means[1])) < 1e-9


def test_variance_matches_the_moments_and_the_diagonal_of_the_covariance():
    mu, _, s, _, _ = (torch.tensor(v) for v in random_pairs(500, seed=6))
    variance = relu_variance(mu, s)
    direct = smoothed_relu_second_moment(mu, s) - smoothed_relu(mu, s) ** 2
    torch.testing.assert_close(variance, direct, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(relu_covariance(mu, mu, s, s, s * s), variance, rtol=0, atol=1e-13)


def test_covariance_at_rho_minus_one_matches_one_dimensional_quadrature():
    mu1, mu2, s1, s2 = 0.5, 0.2, 0.8, 1.3
    moment, _ = integrate.quad(
        lambda t: max(mu1 + s1 * t, 0) * max(mu2 - s2 * t, 0) * stats.norm.pdf(t),
        -mu1 / s1,
        mu2 / s2,
        epsabs=1e-14,
    )
    means = smoothed_relu(np.array([mu1, mu2]), np.array([s1, s2]))
    closed = float(relu_covariance(mu1, mu2, s1, s2, -s1 * s2))
    assert abs(closed - (moment - means[0] * means[1])) < 1e-12


def test_zero_standard_deviation_gives_zero_covariance_and_relu_products():
    mu1 = torch.tensor([1.5, -0.5, 0.0, 0.7], dtype=torch.float64)
    s1 = torch.zeros(4, dtype=torch.float64)
    mu2, s2 = torch.tensor([0.3, 0.3, 0.3, -0.2]), torch.tensor([0.5, 0.5, 0.5, 0.0])
    assert torch.equal(relu_covariance(mu1, mu2, s1, s2, 0.0), torch.zeros(4, dtype=torch.float64))
    expected = torch.relu(mu1) * smoothed_relu(mu2.double(), s2.double())
    torch.testing.assert_close(relu_product_moment(mu1, mu2, s1, s2, 0.0), expected)
    assert torch.equal(relu_variance(mu1, s1), torch.zeros(4, dtype=torch.float64))


def test_covariance_has_no_cancellation_at_small_noise_in_float32():
    # Both neurons surely active: Cov(relu g1, relu g2) = cov to ~exp(-h^2/2) with h = 1000.
    got = relu_covariance(
        *(torch.tensor(v, dtype=torch.float32) for v in (1.0, 2.0, 1e-3, 2e-3, 1.5e-6))
    )
    assert abs(float(got) - 1.5e-6) < 1e-5 * 1.5e-6


def test_covariance_gradients_match_finite_differences():
    args = [torch.tensor(v) for v in random_pairs(24, seed=7)]
    args[4][:6] = 0.9999 * args[2][:6] * args[3][:6]  # near rho = 1
    inputs = tuple(v.requires_grad_() for v in args)
    assert torch.autograd.gradcheck(relu_covariance, inputs, eps=1e-7, atol=1e-6)


def test_covariance_gradient_is_finite_at_the_edges():
    mu1 = torch.tensor([0.5, 0.5, -0.3, 0.0], dtype=torch.float64, requires_grad=True)
    s1 = torch.tensor([0.4, 0.4, 0.0, 0.0], dtype=torch.float64, requires_grad=True)
    cov = torch.tensor([0.4 * 0.6, -0.4 * 0.6, 0.0, 0.0], dtype=torch.float64, requires_grad=True)
    relu_covariance(mu1, 0.2, s1, 0.6, cov).sum().backward()
    for tensor in (mu1, s1, cov):
        assert torch.isfinite(tensor.grad).all()
    # d Cov / d cov = P(g1 > 0, g2 > 0) (Price's theorem), also at rho = 1
    assert abs(float(cov.grad[0]) - float(bvn_cdf(0.5 / 0.4, 0.2 / 0.6, 1.0))) < 1e-6


def test_covariance_float32_agrees_with_float64():
    args = random_pairs(3000, seed=8)
    f64 = relu_covariance(*(torch.tensor(v) for v in args))
    f32 = relu_covariance(*(torch.tensor(v, dtype=torch.float32) for v in args))
    scale = torch.tensor(args[2] * args[3])
    assert ((f32.double() - f64).abs() / scale).max() < 1e-5


def test_covariance_rejects_negative_standard_deviations():
    with pytest.raises(ValueError, match="s2 must be finite and >= 0"):
        relu_covariance(0.0, 0.0, 1.0, -1.0, 0.0)
    with pytest.raises(ValueError, match="s must be finite and >= 0"):
        relu_variance(0.0, math.inf)


def test_second_derivatives_match_finite_differences():
    args = [torch.tensor(v) for v in random_pairs(6, seed=9)]
    assert torch.autograd.gradgradcheck(
        relu_covariance, tuple(v.requires_grad_() for v in args), eps=1e-6, atol=1e-5
    )
    h, k = (torch.tensor(v).requires_grad_() for v in random_arguments(6, seed=10)[:2])
    rho = torch.full((6,), 0.6, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradgradcheck(bvn_cdf, (h, k, rho), eps=1e-6, atol=1e-5)

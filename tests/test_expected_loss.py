import itertools
import math

import numpy as np
import pytest
import torch

import mgn.expected_loss as expected_loss_module
from mgn.bivariate import relu_product_moment
from mgn.expected_loss import (
    clean_loss,
    decomposition_sweep,
    expected_masked_loss,
    input_gradient,
    loss_decomposition,
    masked_loss_monte_carlo,
    masked_output_variance,
    quadratic_regularizer,
    smoothed_network,
)
from mgn.masks import AdditiveGaussian, BernoulliDropout, GaussianMask, LogNormalMask
from mgn.network import network
from mgn.smoothed import smoothed_relu, smoothed_relu_second_moment


def problem(n=12, d=4, m=6, seed=0, dtype=torch.float64):
    gen = torch.Generator().manual_seed(seed)
    X = torch.randn(n, d, generator=gen, dtype=dtype)
    X = X / X.norm(dim=1, keepdim=True)
    W = torch.randn(m, d, generator=gen, dtype=dtype)
    a = torch.randint(0, 2, (m,), generator=gen).to(dtype) * 2 - 1
    y = 0.5 * torch.randn(n, generator=gen, dtype=dtype)
    return W, a, X, y


def assert_matches_monte_carlo(W, a, X, y, draws=200_000, **mask):
    closed = float(expected_masked_loss(W, a, X, y, **mask))
    estimate = masked_loss_monte_carlo(W, a, X, y, draws=draws, seed=11, **mask)
    assert abs(closed - estimate.mean) <= 4 * estimate.stderr, (closed, estimate)


@pytest.mark.parametrize("kappa", [0.1, 0.5, 1.5])
def test_closed_form_matches_monte_carlo(kappa):
    assert_matches_monte_carlo(*problem(), kappa=kappa)


def test_closed_form_matches_monte_carlo_for_additive_noise():
    assert_matches_monte_carlo(*problem(seed=1), mask=AdditiveGaussian(0.4))


def test_zero_neuron_and_vanishing_masked_direction_match_monte_carlo():
    W, a, X, y = problem(n=6, d=3, m=4, seed=2)
    W[0] = 0.0  # s = 0 and z = 0 for every input
    X[0] = torch.tensor([1.0, 0.0, 0.0], dtype=torch.float64)
    W[1] = torch.tensor([0.0, 0.8, -0.6], dtype=torch.float64)  # w_1 ⊙ x_0 = 0: s = 0 there
    assert_matches_monte_carlo(W, a, X, y, kappa=0.6)
    W.requires_grad_(True)
    expected_masked_loss(W, a, X, y, 0.6).backward()
    assert torch.isfinite(W.grad).all()


def test_parallel_neurons_match_monte_carlo():
    W, a, X, y = problem(n=5, d=3, m=4, seed=3)
    W[1] = W[0]  # rho = 1 between neurons 0 and 1 on every input
    W[3] = -2.0 * W[2]  # rho = -1
    assert_matches_monte_carlo(W, a, X, y, kappa=0.5)
    assert_matches_monte_carlo(*problem(n=6, d=1, m=5, seed=4), kappa=0.8)  # every |rho| = 1


def reference_variance(W, a, X, kappa):
    """Var_c f from chapter 2's product formula, one input at a time on the full (m, m) matrix."""
    rows = []
    for x in X:
        z = W @ x
        s = kappa * (W * x).norm(dim=1)
        cov = kappa**2 * (W * x) @ (W * x).T
        second = relu_product_moment(z[:, None], z[None, :], s[:, None], s[None, :], cov)
        second = second.clone()
        second.diagonal().copy_(smoothed_relu_second_moment(z, s))
        mean = smoothed_relu(z, s)
        rows.append(a @ (second - torch.outer(mean, mean)) @ a / W.shape[0])
    return torch.stack(rows)


def test_variance_matches_the_product_formula_and_chunking_changes_nothing(monkeypatch):
    W, a, X, _ = problem(n=9, m=7, seed=5)
    variance = masked_output_variance(W, a, X, 0.7)
    torch.testing.assert_close(variance, reference_variance(W, a, X, 0.7), rtol=1e-10, atol=1e-12)
    monkeypatch.setattr(expected_loss_module, "_PAIRS_PER_CHUNK", 30)
    torch.testing.assert_close(masked_output_variance(W, a, X, 0.7), variance, rtol=1e-14, atol=0)


def test_kappa_zero_is_the_clean_loss_exactly():
    W, a, X, y = problem(seed=6)
    assert torch.equal(expected_masked_loss(W, a, X, y, 0.0), clean_loss(W, a, X, y))
    assert torch.equal(smoothed_network(W, a, X, 0.0), network(W, a, X))
    parts = loss_decomposition(W, a, X, y, 0.0)
    assert float(parts.regularizer) == 0.0 and float(parts.error) == 0.0
    assert torch.equal(parts.expected, parts.clean) and torch.equal(parts.proxy, parts.clean)
    assert float(quadratic_regularizer(W, a, X, 0.0)) == 0.0


def test_single_neuron_single_input_by_hand():
    # f = relu(w^T (x ⊙ c)) with m = 1: E(f - y)^2 = M2 - 2 y M1 + y^2 (chapter 1's moments).
    w, x, kappa, y = torch.tensor([[0.6, -0.3]]), torch.tensor([[0.8, 0.5]]), 0.9, 0.2
    w, x = w.double(), x.double()
    z, s = float(w @ x.T), kappa * float((w * x).norm())
    m1, m2 = float(smoothed_relu(z, s)), float(smoothed_relu_second_moment(z, s))
    by_hand = 0.5 * (m2 - 2 * y * m1 + y * y)
    got = float(expected_masked_loss(w, [1.0], x, torch.tensor([y], dtype=torch.float64), kappa))
    assert math.isclose(got, by_hand, rel_tol=1e-13)


def test_gradient_matches_central_differences():
    W, a, X, y = problem(seed=7)
    W.requires_grad_(True)
    expected_masked_loss(W, a, X, y, 0.4).backward()
    gen = torch.Generator().manual_seed(8)
    for _ in range(3):
        direction = torch.randn(W.shape, generator=gen, dtype=torch.float64)
        step = 1e-5
        with torch.no_grad():
            plus = expected_masked_loss(W + step * direction, a, X, y, 0.4)
            minus = expected_masked_loss(W - step * direction, a, X, y, 0.4)
        numeric = float(plus - minus) / (2 * step)
        assert math.isclose(float((W.grad * direction).sum()), numeric, rel_tol=1e-7, abs_tol=1e-9)


def test_gradient_matches_the_monte_carlo_gradient():
    # d/dt E_c[L_masked(W + t D)] = E_c[d/dt L_masked]: average autograd over 100,000 masks.
    W, a, X, y = problem(n=8, m=5, seed=9)
    kappa, draws = 0.5, 100_000
    direction = torch.randn(W.shape, generator=torch.Generator().manual_seed(10), dtype=W.dtype)
    Wg = W.clone().requires_grad_(True)
    expected_masked_loss(Wg, a, X, y, kappa).backward()
    closed = float((Wg.grad * direction).sum())
    masked = GaussianMask(kappa).sample(X, torch.Generator().manual_seed(12), draws=draws)
    pre = masked @ W.T  # (draws, n, m)
    residual = torch.relu(pre) @ a / math.sqrt(5) - y
    slope = ((pre > 0) * a * (masked @ direction.T)).sum(-1) / math.sqrt(5)
    per_draw = (residual * slope).sum(-1)
    stderr = float(per_draw.std()) / math.sqrt(draws)
    assert abs(float(per_draw.mean()) - closed) <= 4 * stderr


@pytest.mark.parametrize("kappa", [0.05, 0.5])
def test_float32_agrees_with_float64(kappa):
    W, a, X, y = problem(n=30, m=20, seed=13)
    f64 = float(expected_masked_loss(W, a, X, y, kappa))
    f32 = expected_masked_loss(W.float(), a.float(), X.float(), y.float(), kappa)
    assert f32.dtype == torch.float32
    assert math.isclose(float(f32), f64, rel_tol=2e-6)
    r64 = float(masked_output_variance(W, a, X, kappa).sum())
    r32 = float(masked_output_variance(W.float(), a.float(), X.float(), kappa).sum())
    assert math.isclose(r32, r64, rel_tol=2e-5)


def test_decomposition_identities():
    W, a, X, y = problem(n=20, m=10, seed=14)
    parts = loss_decomposition(W, a, X, y, 0.3)
    torch.testing.assert_close(parts.expected, expected_masked_loss(W, a, X, y, 0.3))
    torch.testing.assert_close(parts.proxy + parts.regularizer + parts.error, parts.expected)
    torch.testing.assert_close(parts.smoothed - parts.proxy, parts.error)
    exact, proxy = (smoothed_network(W, a, X, 0.3, kind=k) for k in ("exact", "proxy"))
    torch.testing.assert_close(parts.gap, exact - proxy)
    assert (parts.gap.abs() <= parts.gap_bound).all()
    assert float(parts.regularizer) > 0


def test_decomposition_sweep_is_the_decomposition_at_every_kappa():
    W, a, X, y = problem(n=20, m=10, seed=16)
    kappas = np.geomspace(0.01, 1.0, 4)
    sweep = decomposition_sweep(W, a, X, y, kappas)
    np.testing.assert_array_equal(sweep.kappas, kappas)
    for j, kappa in enumerate(kappas):
        parts = loss_decomposition(W, a, X, y, kappa)
        assert sweep.expected[j] == parts.expected.item()
        assert sweep.regularizer[j] == parts.regularizer.item()
        assert sweep.error[j] == parts.error.item()
        assert sweep.proxy[j] == parts.proxy.item()
        assert sweep.quadratic[j] == quadratic_regularizer(W, a, X, kappa).item()
        residual = (smoothed_network(W, a, X, kappa, kind="proxy") - y).abs()
        bound = parts.gap_bound * (residual + parts.gap_bound / 2)
        assert math.isclose(sweep.error_bound[j], bound.sum().item(), rel_tol=1e-14)
    assert (np.abs(sweep.error) <= sweep.error_bound).all()
    assert 0.0 <= sweep.identity_gap < 1e-13 and sweep.gap_excess <= 0.0
    with pytest.raises(ValueError, match="kappas must not be empty"):
        decomposition_sweep(W, a, X, y, [])
    with pytest.raises(ValueError, match="kappas must be finite and >= 0"):
        decomposition_sweep(W, a, X, y, [0.1, -0.1])


def test_regularizer_scales_like_kappa_squared_and_approaches_r2():
    W, a, X, y = problem(n=40, d=6, m=12, seed=15)
    small = [float(loss_decomposition(W, a, X, y, k).regularizer) for k in (1e-3, 2e-3)]
    assert math.isclose(small[1] / small[0], 4.0, rel_tol=0.01)
    r2 = float(quadratic_regularizer(W, a, X, 1e-3))
    assert math.isclose(small[0], r2, rel_tol=0.01)
    # at kappa = 1 the kinks matter: R and R_2 differ
    assert abs(
        float(masked_output_variance(W, a, X, 1.0).sum()) / 2
        - float(quadratic_regularizer(W, a, X, 1.0))
    ) > 0.01 * float(quadratic_regularizer(W, a, X, 1.0))


def test_quadratic_regularizer_matches_its_definition_and_autograd():
    W, a, X, _ = problem(n=7, m=5, seed=16)
    Xg = X.clone().requires_grad_(True)
    grads = torch.autograd.grad(network(W, a, Xg).sum(), Xg)[0]
    torch.testing.assert_close(input_gradient(W, a, X), grads)
    expected = 0.5 * 0.3**2 * ((X * grads) ** 2).sum()
    torch.testing.assert_close(quadratic_regularizer(W, a, X, 0.3), expected)
    dropout = quadratic_regularizer(W, a, X, mask=BernoulliDropout(0.2))
    torch.testing.assert_close(dropout, 0.5 * 0.25 * ((X * grads) ** 2).sum())


def test_monte_carlo_is_unbiased_for_dropout_by_exact_enumeration():
    W, a, X, y = problem(n=5, d=3, m=4, seed=17)
    p = 0.3
    exact = 0.0
    for bits in itertools.product([0.0, 1.0], repeat=3):
        keep = torch.tensor(bits, dtype=torch.float64)
        weight = math.prod((1 - p) if b else p for b in bits)
        exact += weight * float(clean_loss(W, a, X * keep / (1 - p), y))
    estimate = masked_loss_monte_carlo(W, a, X, y, mask=BernoulliDropout(p), draws=100_000)
    assert abs(estimate.mean - exact) <= 4 * estimate.stderr


def test_monte_carlo_is_reproducible_and_its_error_shrinks():
    W, a, X, y = problem(seed=18)
    mask = LogNormalMask(0.5)
    first = masked_loss_monte_carlo(W, a, X, y, mask=mask, draws=4000, seed=3, batch=500)
    assert first == masked_loss_monte_carlo(W, a, X, y, mask=mask, draws=4000, seed=3, batch=500)
    assert first != masked_loss_monte_carlo(W, a, X, y, mask=mask, draws=4000, seed=4, batch=500)
    more = masked_loss_monte_carlo(W, a, X, y, mask=mask, draws=16_000, seed=3)
    assert math.isclose(more.stderr / first.stderr, 0.5, rel_tol=0.1)


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda W, a, X, y: expected_masked_loss(W, a, X, y[:-1], 0.1), ValueError, "y must have"),
        (lambda W, a, X, y: expected_masked_loss(W, a, X, y, -0.1), ValueError, "kappa must be"),
        (lambda W, a, X, y: expected_masked_loss(W, a, X * math.nan, y, 0.1), ValueError, "X must"),
        (lambda W, a, X, y: expected_masked_loss(W, a[:-1], X, y, 0.1), ValueError, "a must have"),
        (lambda W, a, X, y: expected_masked_loss(W, a, X, y), TypeError, "kappa or a mask"),
        (
            lambda W, a, X, y: expected_masked_loss(W, a, X, y, 0.1, mask=GaussianMask(0.1)),
            ValueError,
            "not both",
        ),
        (
            lambda W, a, X, y: expected_masked_loss(W, a, X, y, mask=LogNormalMask(0.1)),
            TypeError,
            "mask must be a GaussianFamilyMask",
        ),
        (lambda W, a, X, y: loss_decomposition(W, a, X, y, mask="gauss"), TypeError, "mask must"),
        (
            lambda W, a, X, y: masked_loss_monte_carlo(W, a, X, y, 0.1, draws=0),
            ValueError,
            "draws",
        ),
        (lambda W, a, X, y: quadratic_regularizer(W, a, X[:, :2], 0.1), ValueError, "X must have"),
    ],
)
def test_bad_input_names_the_argument(call, error, message):
    with pytest.raises(error, match=message):
        call(*problem())

import math

import numpy as np
import pytest
import torch
from torch.func import jacrev, vmap

from mgn.data import init_network
from mgn.expected_loss import clean_loss, smoothed_network
from mgn.network import network
from mgn.ntk import (
    lambda_0,
    linearised_ntk_loss,
    ntk_concentration,
    ntk_gram,
    ntk_gram_infinite,
    ntk_gram_monte_carlo,
    ntk_gram_smoothed,
)
from mgn.seeds import derived_seed


def sphere(n, d, seed):
    gen = torch.Generator().manual_seed(seed)
    X = torch.randn(n, d, generator=gen, dtype=torch.float64)
    return X / X.norm(dim=1, keepdim=True)


def weights(m, d, seed, signs=True):
    gen = torch.Generator().manual_seed(seed)
    W = torch.randn(m, d, generator=gen, dtype=torch.float64)
    a = torch.randint(0, 2, (m,), generator=gen).double() * 2 - 1
    return W, (a if signs else a * torch.rand(m, generator=gen, dtype=torch.float64))


def jacobian_gram(rows):
    """J J^T from the stacked per-sample Jacobians ``rows`` (n, m, d), the slow way."""
    J = rows.reshape(rows.shape[0], -1)
    return J @ J.T


@pytest.mark.parametrize("signs", [True, False])
def test_gram_matches_per_sample_jacobians(signs):
    X = sphere(9, 4, seed=0)
    W, a = weights(7, 4, seed=1, signs=signs)

    def output(W, x):
        return torch.relu(W @ x) @ a / math.sqrt(W.shape[0])

    reference = jacobian_gram(vmap(jacrev(output), in_dims=(None, 0))(W, X))
    torch.testing.assert_close(ntk_gram(W, X, a), reference, rtol=1e-12, atol=1e-14)
    if signs:
        torch.testing.assert_close(ntk_gram(W, X), reference, rtol=1e-12, atol=1e-14)


def test_smoothed_gram_matches_the_jacobian_of_the_smoothed_network():
    X = sphere(8, 3, seed=2)
    W, a = weights(6, 3, seed=3, signs=False)

    def output(W, x):
        return smoothed_network(W, a, x[None], 0.4)[0]

    rows = [torch.autograd.functional.jacobian(lambda W, x=x: output(W, x), W) for x in X]
    reference = jacobian_gram(torch.stack(rows))
    torch.testing.assert_close(ntk_gram_smoothed(W, X, 0.4, a), reference, rtol=1e-10, atol=1e-12)


def test_smoothed_gram_at_kappa_zero_is_the_gram():
    X, (W, _) = sphere(10, 5, seed=4), weights(8, 5, seed=5)
    torch.testing.assert_close(ntk_gram_smoothed(W, X, 0.0), ntk_gram(W, X), rtol=1e-13, atol=1e-15)


def test_infinite_gram_is_the_monte_carlo_average_over_random_weights():
    # H_inf[i, j] = E_w[x_i^T x_j 1{w^T x_i > 0} 1{w^T x_j > 0}], w ~ N(0, I): 400,000 draws.
    X = sphere(6, 3, seed=6)
    draws = 400_000
    w = torch.randn(draws, 3, generator=torch.Generator().manual_seed(7), dtype=torch.float64)
    active = (X @ w.T > 0).double()  # (n, draws)
    terms = (X @ X.T)[:, :, None] * active[:, None, :] * active[None, :, :]
    stderr = terms.std(-1) / math.sqrt(draws)
    error = (terms.mean(-1) - ntk_gram_infinite(X)).abs()
    assert (error <= 4 * stderr + 1e-15).all()
    torch.testing.assert_close(ntk_gram(w, X), terms.mean(-1))  # the same average, via S S^T


def test_monte_carlo_gram_estimates_the_infinite_gram_with_its_own_error():
    X = sphere(8, 3, seed=8)
    estimate = ntk_gram_monte_carlo(X, 120_000, seed=9, chunk=50_000)  # three blocks, one partial
    assert estimate.mean.shape == estimate.stderr.shape == (8, 8) and estimate.neurons == 120_000
    upper = torch.triu_indices(8, 8, offset=1)
    z = ((estimate.mean - ntk_gram_infinite(X)) / estimate.stderr)[upper[0], upper[1]]
    assert z.abs().max() < 4.5  # 28 entries: P(max |z| > 4.5) < 28 * 7e-6
    again = ntk_gram_monte_carlo(X, 120_000, seed=9, chunk=50_000)
    assert torch.equal(again.mean, estimate.mean)
    # the diagonal is ||x_i||^2 / 2 up to its own error; the off-diagonal moves with the seed
    assert (estimate.mean.diagonal() - 0.5).abs().max() < 5 * estimate.stderr.diagonal().max()
    other = ntk_gram_monte_carlo(X, 120_000, seed=10)
    assert not torch.equal(other.mean, estimate.mean)


def test_concentration_shrinks_with_the_width_and_uses_the_stated_seeds():
    X = sphere(30, 5, seed=11)
    found = ntk_concentration(X, [10, 100, 1000], 6, tau=1.0, seed=3)
    assert found.spectral.shape == found.entrywise.shape == found.lambda_min.shape == (3, 6)
    np.testing.assert_array_equal(found.widths, [10, 100, 1000])
    rate = np.polyfit(np.log(found.widths), np.log(found.spectral.mean(axis=1)), 1)[0]
    assert -0.7 < rate < -0.3  # m^(-1/2); a distance that did not shrink would give about 0
    W0, _ = init_network(100, 5, tau=1.0, seed=derived_seed(3, 1, 100), dtype=torch.float64)
    H = ntk_gram(W0, X)
    assert found.lambda_min[1, 1] == torch.linalg.eigvalsh(H)[0].item()
    assert found.entrywise[1, 1] == (H - ntk_gram_infinite(X)).abs().max().item()


def test_linearised_loss_is_gradient_descent_on_the_linearised_network():
    X = sphere(10, 4, seed=12)
    W0, a = weights(30, 4, seed=13)
    y = torch.randn(10, generator=torch.Generator().manual_seed(14), dtype=torch.float64)
    lr, steps = 0.05, 25
    curve = linearised_ntk_loss(W0, a, X, y, lr, steps)
    assert curve.shape == (steps + 1,)
    assert math.isclose(curve[0], float(clean_loss(W0, a, X, y)), rel_tol=1e-12)
    # r_{k+1} = (I - lr H) r_k is GD on the linearised sum loss 1/2 ||r||^2
    H, residual = ntk_gram(W0, X, a), network(W0, a, X) - y
    expected = []
    for _ in range(steps + 1):
        expected.append(0.5 * float(residual.square().sum()))
        residual = residual - lr * H @ residual
    np.testing.assert_allclose(curve, expected, rtol=1e-10)


def test_infinite_gram_properties():
    X = sphere(20, 5, seed=8)
    H = ntk_gram_infinite(X)
    torch.testing.assert_close(H, H.T)
    torch.testing.assert_close(H.diagonal(), torch.full((20,), 0.5, dtype=torch.float64))
    assert float(lambda_0(X)) > 0
    scaled = 3.0 * X  # x^T x' scales by 9, the angle is unchanged
    torch.testing.assert_close(ntk_gram_infinite(scaled), 9.0 * H)


def test_infinite_gram_with_repeated_and_opposite_inputs():
    x = sphere(1, 4, seed=9)
    X = torch.cat([x, x, -x, torch.zeros_like(x)])
    H = ntk_gram_infinite(X)
    assert torch.isfinite(H).all()
    torch.testing.assert_close(H[0, 1], torch.tensor(0.5, dtype=torch.float64))
    assert float(H[0, 2]) == 0.0 and float(H[3].abs().max()) == 0.0
    assert abs(float(lambda_0(X))) < 1e-12


def test_gradient_norm_is_the_gram_quadratic_form():
    # ||grad L(W)||^2 = r^T H(W) r >= 2 lambda_min(H(W)) L(W) (chapter 3).
    X = sphere(12, 6, seed=10)
    W, a = weights(30, 6, seed=11)
    y = torch.randn(12, generator=torch.Generator().manual_seed(12), dtype=torch.float64)
    W.requires_grad_(True)
    loss = clean_loss(W, a, X, y)
    (grad,) = torch.autograd.grad(loss, W)
    loss = loss.detach()
    residual = network(W, a, X).detach() - y
    H = ntk_gram(W.detach(), X)
    torch.testing.assert_close(grad.square().sum(), residual @ H @ residual)
    assert float(grad.square().sum()) >= 2 * float(torch.linalg.eigvalsh(H)[0]) * float(loss)


def test_float32_gram_agrees_with_float64():
    X, (W, _) = sphere(15, 5, seed=13), weights(40, 5, seed=14)
    for gram in (lambda W, X: ntk_gram(W, X), lambda W, X: ntk_gram_smoothed(W, X, 0.3)):
        f32 = gram(W.float(), X.float())
        assert f32.dtype == torch.float32
        torch.testing.assert_close(f32.double(), gram(W, X), rtol=0, atol=1e-5)
    torch.testing.assert_close(
        ntk_gram_infinite(X.float()).double(), ntk_gram_infinite(X), atol=1e-6, rtol=0
    )


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: ntk_gram_infinite(torch.ones(3)), ValueError, "X must have 2 dimension"),
        (lambda: ntk_gram_infinite(torch.full((2, 2), math.nan)), ValueError, "X must be finite"),
        (lambda: ntk_gram(torch.ones(3, 2), torch.ones(4, 3)), ValueError, "X must have d = 2"),
        (lambda: ntk_gram(torch.ones(3, 2), torch.ones(4, 2), torch.ones(2)), ValueError, "a must"),
        (lambda: ntk_gram(torch.ones(0, 2), torch.ones(4, 2)), ValueError, "W must not be empty"),
        (lambda: ntk_gram_smoothed(torch.ones(3, 2), torch.ones(4, 2), -1.0), ValueError, "kappa"),
        (lambda: lambda_0("data"), TypeError, "X must be array-like"),
        (lambda: ntk_gram_monte_carlo(torch.ones(3, 2), 0), ValueError, "neurons"),
        (lambda: ntk_gram_monte_carlo(torch.ones(3, 2), 10, chunk=1.5), TypeError, "chunk"),
        (lambda: ntk_concentration(torch.ones(3, 2), [], 2), ValueError, "widths must name"),
        (lambda: ntk_concentration(torch.ones(3, 2), [10, 2.5], 2), TypeError, "widths"),
        (lambda: ntk_concentration(torch.ones(3, 2), [10], 0), ValueError, "repeats"),
        (
            lambda: linearised_ntk_loss(
                torch.ones(3, 2), torch.ones(3), torch.ones(4, 2), torch.ones(5), 0.1, 3
            ),
            ValueError,
            "y must have 4 entries",
        ),
        (
            lambda: linearised_ntk_loss(
                torch.ones(3, 2), torch.ones(3), torch.ones(4, 2), torch.ones(4), 0.1, -1
            ),
            ValueError,
            "steps must be an integer >= 0",
        ),
    ],
)
def test_bad_input_names_the_argument(call, error, message):
    with pytest.raises(error, match=message):
        call()

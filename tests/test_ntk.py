import math

import pytest
import torch
from torch.func import jacrev, vmap

from mgn.expected_loss import clean_loss, smoothed_network
from mgn.network import network
from mgn.ntk import lambda_0, ntk_gram, ntk_gram_infinite, ntk_gram_smoothed


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
    # ||grad L(W)||^2 = r^T H(W) r >= 2 lambda_min(H(W)) L(W) (SPEC section 4).
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
    ],
)
def test_bad_input_names_the_argument(call, error, message):
    with pytest.raises(error, match=message):
        call()

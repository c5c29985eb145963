import math

import pytest
import torch

from mgn import GaussianMask, clean_loss, init_network, network, sphere_teacher_data
from mgn.masked_gradient import (
    clean_gradient,
    masked_gradient_bias,
    masked_gradient_monte_carlo,
    masked_gradients,
)

DTYPE = torch.float64


@pytest.fixture(scope="module")
def problem():
    X, y = sphere_teacher_data(40, 6, seed=1, dtype=DTYPE)
    W, a = init_network(12, 6, seed=2, dtype=DTYPE)
    return W, a, X, y


def test_batched_gradients_match_autograd_per_draw(problem):
    W, a, X, y = problem
    masked = GaussianMask(0.3).sample(X, torch.Generator().manual_seed(0), draws=3)
    batched = masked_gradients(W, a, masked, y)
    for draw in range(3):
        W_var = W.clone().requires_grad_(True)
        loss = 0.5 * (network(W_var, a, masked[draw]) - y).square().sum()
        (expected,) = torch.autograd.grad(loss, W_var)
        torch.testing.assert_close(batched[draw], expected, rtol=1e-12, atol=1e-12)


def test_no_bias_without_a_mask(problem):
    W, a, X, y = problem
    assert torch.equal(masked_gradient_bias(W, a, X, y, 0.0), torch.zeros_like(W))
    W_var = W.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(clean_loss(W_var, a, X, y), W_var)
    torch.testing.assert_close(clean_gradient(W, a, X, y), grad)


def test_exact_bias_matches_monte_carlo(problem):
    """20,000 masks; every entry within 4.5 standard errors and mean z^2 within 5 s.e. of 1."""
    W, a, X, y = problem
    exact = masked_gradient_bias(W, a, X, y, 0.4)
    estimate = masked_gradient_monte_carlo(W, a, X, y, 0.4, draws=20_000, seed=5, batch=500)
    z = ((estimate.bias - exact) / estimate.mean_se).flatten()
    assert exact.norm() > 10 * estimate.mean_se.norm() / math.sqrt(z.numel())  # a real signal
    assert z.abs().max() < 4.5
    assert abs(float(z.square().mean()) - 1.0) < 5 * math.sqrt(2.0 / z.numel())


def test_second_moment_is_mean_norm_plus_variance(problem):
    W, a, X, y = problem
    estimate = masked_gradient_monte_carlo(W, a, X, y, 0.4, draws=4000, seed=6)
    variance = (
        estimate.mean_se.square() * estimate.draws * (estimate.draws - 1) / estimate.draws
    ).sum()
    expected = float(estimate.mean.square().sum() + variance)
    assert estimate.second_moment == pytest.approx(expected, rel=1e-6)


def test_bad_arguments_are_named(problem):
    W, a, X, y = problem
    with pytest.raises(ValueError, match="draws"):
        masked_gradient_monte_carlo(W, a, X, y, 0.4, draws=1)
    with pytest.raises(ValueError, match="kappa"):
        masked_gradient_bias(W, a, X, y, -0.1)
    with pytest.raises(ValueError, match="y must have 40"):
        masked_gradient_bias(W, a, X, y[:5], 0.1)

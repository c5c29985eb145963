import numpy as np
import pytest
import torch

from mgn import init_network, sphere_teacher_data, train_masked_gd
from mgn.trajectory import expected_loss_descent, probe_trajectory

DTYPE = torch.float64


@pytest.fixture(scope="module")
def problem():
    X, y = sphere_teacher_data(30, 5, seed=3, dtype=DTYPE)
    W, a = init_network(10, 5, seed=4, dtype=DTYPE)
    return X, y, W, a


def test_prediction_without_mask_is_plain_gradient_descent(problem):
    X, y, W, a = problem
    predicted = expected_loss_descent(X, y, W, a, [0.0], 0.01, 30, device="cpu")
    trained = train_masked_gd(X, y, W, a, [0.0], 0.01, 30, device="cpu", show_progress=False)
    np.testing.assert_allclose(predicted[0], trained.clean_loss[0].numpy(), rtol=1e-10)


def test_prediction_follows_the_mean_of_masked_runs(problem):
    """Mean of 64 masked-GD runs vs expected-loss GD: within 3% at every step (kappa 0.3)."""
    X, y, W, a = problem
    predicted = expected_loss_descent(X, y, W, a, [0.3], 0.01, 60, device="cpu")[0]
    runs = train_masked_gd(
        X, y, W, a, [0.3] * 64, 0.01, 60, seed=1, device="cpu", show_progress=False
    ).clean_loss.mean(0)
    assert np.max(np.abs(predicted / runs.numpy() - 1)) < 0.03
    clean = expected_loss_descent(X, y, W, a, [0.0], 0.01, 60, device="cpu")[0]
    assert np.max(np.abs(clean / runs.numpy() - 1)) > 0.05  # the mask really moves the curve


def test_probe_records_every_quantity(problem):
    X, y, W, a = problem
    loss, probe = probe_trajectory(X, y, W, a, 0.3, 0.01, 40, 10, draws=32, device="cpu")
    assert loss.shape == (41,) and list(probe.steps) == [0, 10, 20, 30]
    assert probe.loss[0] == pytest.approx(loss[0]) and probe.loss[2] == pytest.approx(loss[20])
    assert np.all(probe.lambda_min <= probe.lambda_max) and np.all(probe.bias_norm2 > 0)
    # PL through the Gram matrix: ||grad L||^2 = r^T H r >= 2 lambda_min L
    assert np.all(probe.grad_norm2 >= 2 * probe.lambda_min * probe.loss * (1 - 1e-12))
    assert np.all(probe.second_moment > probe.grad_norm2 * 0.5)


def test_probe_arguments_are_checked(problem):
    X, y, W, a = problem
    with pytest.raises(ValueError, match="multiple of probe_every"):
        probe_trajectory(X, y, W, a, 0.3, 0.01, 45, 10, device="cpu")
    with pytest.raises(ValueError, match="kappas"):
        expected_loss_descent(X, y, W, a, [-1.0], 0.01, 5, device="cpu")

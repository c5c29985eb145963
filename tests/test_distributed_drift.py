"""The client-drift bound of chapter 6 (mgn.distributed.drift): rounds, probes and checks."""

import math
from dataclasses import replace

import numpy as np
import pytest
import torch

from mgn import init_network, sphere_teacher_data
from mgn.distributed import train_local_sgd
from mgn.distributed.drift import (
    DriftProbe,
    check_drift,
    drift_growth,
    drift_term,
    fit_drift_constants,
    probe_drift,
    round_paths,
)
from mgn.distributed.local_sgd import shard_indices
from mgn.distributed.theory import expected_local_gd
from mgn.masked_gradient import clean_gradient
from mgn.seeds import derived_seed

F64 = torch.float64


def problem(n=24, d=4, m=6, seed=0):
    X, y = sphere_teacher_data(n, d, seed=seed, dtype=F64)
    W0, a = init_network(m, d, seed=seed + 1, dtype=F64)
    return X, y, W0, a


def test_round_paths_are_the_first_round_of_the_replicated_run():
    X, y, W0, a = problem()
    paths = round_paths(X, y, W0, a, 0.5, 0.05, 4, 3, draws=5, seed=3, split="by_output")
    assert paths.local.shape == (5, 5, 3, 6, 4) and paths.at_start.shape == (5, 4, 3, 6, 4)
    run = train_local_sgd(X, y, W0.expand(5, -1, -1), a, [0.5], 0.05, 1, 4, 3, seed=3,
                          split="by_output", device="cpu")  # fmt: skip
    torch.testing.assert_close(paths.local[:, -1].mean(1), run.W[0], rtol=0, atol=1e-14)
    assert torch.equal(paths.local[:, 0], W0.expand(5, 3, -1, -1))
    # the first step is taken at W itself: the gradient at the start is that step's gradient
    torch.testing.assert_close(paths.at_start[:, 0], paths.gradients[:, 0], rtol=0, atol=1e-13)
    assert (paths.at_start[:, 1] - paths.gradients[:, 1]).abs().max() > 1e-6
    W1 = W0 - 0.05 * 4 / 3 * paths.direction  # one round: W - (eta Q / K) g_hat
    torch.testing.assert_close(W1, paths.local[:, -1].mean(1), rtol=0, atol=1e-14)


def test_probe_at_kappa_zero_is_the_deterministic_drift_of_local_gd():
    X, y, W0, a = problem()
    lr, Q, K = 0.05, 5, 3
    probe = probe_drift(X, y, W0, a, 0.0, lr, Q, K, draws=3)
    _, history = expected_local_gd(X, y, W0, a, 0.0, lr, 1, Q, K)
    direction = K * (W0 - history[1]) / (lr * Q)
    drift = (direction - clean_gradient(W0, a, X, y)).norm()
    assert math.isclose(probe.drift, float(drift), rel_tol=1e-9)
    assert probe.drift > 1e-3 and probe.drift_se == 0.0 and probe.bias_norm < 1e-12
    shards = shard_indices(24, K)
    start = [float(clean_gradient(W0, a, X[s], y[s]).norm()) for s in shards]
    np.testing.assert_allclose(probe.mean_step[0], start, rtol=1e-12)
    assert probe.mean_step.shape == (Q, K) and probe.secant[0].tolist() == [0.0] * K
    np.testing.assert_allclose(probe.path_variance, 0.0, atol=1e-20)
    assert probe.lambda_min <= probe.lambda_max and probe.curvature.shape == (K,)


def test_probe_at_one_local_step_has_no_drift_and_its_variances_agree():
    X, y, W0, a = problem()
    one = probe_drift(X, y, W0, a, 0.6, 0.05, 1, 3, draws=40, seed=1)
    assert one.drift == 0.0 and one.drift_se == 0.0
    assert one.bias_norm > 0
    many = probe_drift(X, y, W0, a, 0.6, 0.05, 3, 3, draws=40, seed=1)
    # after one step the displacement is -eta g^(0): its variance is the first step's
    np.testing.assert_allclose(many.path_variance[1], many.step_variance[0], rtol=1e-10)
    assert np.all(many.path_variance_se[1:] > 0) and many.drift_se > 0
    with pytest.raises(ValueError, match="draws"):
        probe_drift(X, y, W0, a, 0.6, 0.05, 3, 3, draws=1)
    for bad, name in [
        ({"kappa": -0.1}, "kappa"),
        ({"lr": 0.0}, "lr"),
        ({"local_steps": 0}, "local_steps"),
    ]:
        settings = {"kappa": 0.6, "lr": 0.05, "local_steps": 3, **bad}
        with pytest.raises(ValueError, match=name):
            round_paths(
                X, y, W0, a, settings["kappa"], settings["lr"], settings["local_steps"], 3, 4
            )


def test_drift_growth_is_the_drift_of_each_model_and_Q():
    X, y, W0, a = problem()
    models = torch.stack([W0, 0.9 * W0])
    norms = drift_growth(X, y, models, a, 0.5, 0.05, [1, 2, 4], 3, 6, seed=2, split="by_output")
    assert norms.shape == (2, 3) and np.all(norms[:, 0] == 0.0)  # no drift at Q = 1
    paths = round_paths(X, y, models[1], a, 0.5, 0.05, 4, 3, 6, derived_seed(2, 1), "by_output")
    assert norms[1, 2] == float(paths.drift()[0].norm())
    assert norms[0, 2] > norms[0, 1] > 0


def test_drift_term_vanishes_at_one_local_step_and_grows_with_Q():
    beta_k, G_k, V_k = [2.0, 3.0], [1.0, 0.5], [0.3, 0.1]
    assert drift_term(0.01, 1, beta_k, G_k, V_k) == 0.0
    values = [drift_term(0.01, Q, beta_k, G_k, V_k) for Q in (2, 5, 20)]
    assert values == sorted(values) and values[0] > 0
    # Q = 2: only j = 1 contributes, (eta / 2) sum_k beta_k sqrt(G_k^2 + V_k)
    expected = 0.01 / 2 * (2 * math.sqrt(1.3) + 3 * math.sqrt(0.35))
    assert math.isclose(values[0], expected, rel_tol=1e-12)


def synthetic_probe(**changes) -> DriftProbe:
    """A probe of Q = 3 local steps and K = 2 workers whose numbers are easy to follow."""
    fields = dict(
        drift=0.05,
        drift_se=0.001,
        bias_norm=0.2,
        direction_variance=1.0,
        mean_step=np.array([[2.0, 1.0], [1.9, 0.9], [1.8, 0.8]]),
        mean_step_se=np.full((3, 2), 0.01),
        secant=np.array([[0.0, 0.0], [0.9, 1.2], [0.8, 1.1]]),
        secant_se=np.full((3, 2), 0.01),
        step_variance=np.array([[0.5, 0.4], [0.5, 0.4], [0.5, 0.4]]),
        path_variance=np.array([[0.0, 0.0], [0.5, 0.4], [0.95, 0.75]]),
        path_variance_se=np.full((3, 2), 0.01),
        curvature=np.array([1.0, 1.0]),
        lambda_min=0.1,
        lambda_max=3.0,
    )
    return DriftProbe(**{**fields, **changes})


def test_fit_takes_the_largest_constants_and_the_rounds_theorem():
    probes = [synthetic_probe(), synthetic_probe(bias_norm=0.3, direction_variance=2.0)]
    constants = fit_drift_constants(probes, lr=0.1, local_steps=3)
    np.testing.assert_allclose(constants.beta_k, [1.0, 1.2])  # curvature, or the path's need
    np.testing.assert_allclose(constants.G_k, [2.0, 1.0])
    np.testing.assert_allclose(constants.V_k, [0.5, 0.4])
    assert constants.zeta == 0.3
    assert constants.drift == drift_term(0.1, 3, constants.beta_k, constants.G_k, constants.V_k)
    zeta2 = (0.3 + constants.drift) ** 2
    assert constants.theorem.zeta2 == zeta2 and constants.theorem.sigma2 == 2 * zeta2 + 2.0
    assert constants.theorem.mu == 0.1 and constants.theorem.beta == 3.0
    with pytest.raises(ValueError, match="probes"):
        fit_drift_constants([], 0.1, 3)


def test_check_drift_passes_on_its_own_constants_and_names_every_premise():
    probe = synthetic_probe()
    constants = fit_drift_constants([probe], lr=0.1, local_steps=3)
    checks = check_drift(constants, [probe])
    assert [c.name for c in checks] == [
        "P1 smoothness along the path",
        "P2 gradient over the round",
        "P3 variance over the round",
        "drift within D",
    ]
    assert all(c.passed for c in checks) and all(c.tolerance == 1.0 for c in checks)
    drift = next(c for c in checks if c.name == "drift within D")
    assert math.isclose(drift.measured, (0.05 - 3 * 0.001) / constants.drift, rel_tol=1e-12)
    zero = check_drift(replace(constants, drift=0.0), [probe])[-1]
    assert not zero.passed and zero.measured == math.inf
    within_noise = check_drift(replace(constants, drift=0.0), [synthetic_probe(drift=0.002)])[-1]
    assert within_noise.passed  # a drift the Monte Carlo cannot tell from 0 needs no bound
    with pytest.raises(ValueError, match="verify"):
        check_drift(constants, [])

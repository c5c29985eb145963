"""The check helpers of ``mgn.checks`` and the converged-ball solver of ``mgn.converged_ball``."""

import numpy as np
import pytest
import torch
from scipy import stats

from mgn import clean_loss, expected_masked_loss, init_network, network, sphere_teacher_data
from mgn.checks import (
    bitwise_equal_check,
    central_difference,
    least_squares_slope,
    local_slopes,
    loglog_slope,
    paired_increase_check,
    pooled_loglog_slope,
    replicated_loglog_slope,
    z_score_check,
)
from mgn.converged_ball import converged_balls, minimise_expected_loss


def test_loglog_slope_recovers_a_power_and_its_interval_shrinks_with_the_noise():
    x = np.geomspace(0.01, 1.0, 8)
    noise = np.random.default_rng(0).normal(0.0, 0.1, x.size)
    noisy = loglog_slope(x, 3 * x**2.5 * np.exp(noise))
    exact = loglog_slope(x, 3 * x**2.5)
    assert noisy.low < 2.5 < noisy.high
    assert abs(exact.slope - 2.5) < 1e-12 and exact.high - exact.low < 1e-9
    np.testing.assert_allclose(local_slopes(x, x**2.5), 2.5)


def test_least_squares_slope_is_numpys_line_fit_bit_for_bit():
    rng = np.random.default_rng(3)
    for size in (2, 3, 5, 21):
        x, y = np.sort(rng.uniform(-4.0, 1.0, size)), rng.normal(size=size)
        assert least_squares_slope(x, y) == np.polyfit(x, y, 1)[0]
    assert abs(least_squares_slope([0, 1, 2, 3], [1.0, -1.0, -3.0, -5.0]) + 2.0) < 1e-14


def test_loglog_slope_uses_the_one_slope_routine_and_scipys_interval():
    x = np.geomspace(0.01, 1.0, 6)
    values = x**1.5 * np.exp(np.random.default_rng(4).normal(0.0, 0.2, x.size))
    fit = loglog_slope(x, values)
    assert fit.slope == least_squares_slope(np.log(x), np.log(values))
    reference = stats.linregress(np.log(x), np.log(values))
    half = stats.t.ppf(0.975, x.size - 2) * reference.stderr
    np.testing.assert_allclose(
        [fit.low, fit.high], [fit.slope - half, fit.slope + half], rtol=1e-12
    )


def test_pooled_slope_ignores_the_intercepts_and_widens_with_the_scatter():
    x = np.geomspace(0.05, 0.8, 5)
    groups = np.array([x**3, 10 * x**3, 0.1 * x**3])
    fit = pooled_loglog_slope(x, groups)
    assert abs(fit.slope - 3) < 1e-12 and fit.points == 15
    scattered = groups * np.exp(np.random.default_rng(1).normal(0, 0.2, groups.shape))
    wide = pooled_loglog_slope(x, scattered)
    assert wide.low < 3 < wide.high and wide.high - wide.low > 0.1


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: loglog_slope([1.0, 2.0], [1.0, 2.0]), "at least 3"),
        (lambda: least_squares_slope([1.0, 2.0], [1.0, 2.0, 3.0]), "1-d of one length"),
        (lambda: least_squares_slope([2.0, 2.0, 2.0], [1.0, 2.0, 3.0]), "2 distinct x"),
        (lambda: loglog_slope([1.0, 2.0, 3.0], [1.0, -2.0, 3.0]), "> 0"),
        (lambda: pooled_loglog_slope([1.0, 2.0], [[1.0, 2.0, 3.0]]), "groups must be"),
        (lambda: z_score_check("c", "x", [1.0], [0.0], [1.0]), "standard_error"),
    ],
)
def test_bad_input_names_the_argument(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_central_difference_of_a_quadratic_is_exact():
    x = torch.tensor([0.3, -1.2, 2.0], dtype=torch.float64)
    grad = central_difference(lambda v: (v**2).sum(), x, 1e-3)
    torch.testing.assert_close(grad, 2 * x)


@pytest.fixture(scope="module")
def problem():
    X, y = sphere_teacher_data(16, 4, seed=0, dtype=torch.float64)
    W0, a = init_network(6, 4, seed=1, dtype=torch.float64)
    return W0, a, X, y


def test_the_minimum_lowers_the_objective_and_reports_how_far_it_got(problem):
    W0, a, X, y = problem
    found = minimise_expected_loss(W0, a, X, y, 0.2, tolerance=1e-5, max_evaluations=2000)
    assert found.converged and found.grad_norm <= 1e-5 * found.initial_grad_norm
    assert found.objective < expected_masked_loss(W0, a, X, y, 0.2).item()
    assert 0 <= found.clean <= found.objective
    assert found.W.dtype == torch.float64 and found.W.shape == W0.shape


def test_the_clean_loss_splits_into_smoothing_gap_and_smoothed_residual(problem):
    """The parts at the minimum against a Monte Carlo smoothed network (200,000 masks, 2%)."""
    W0, a, X, y = problem
    found = minimise_expected_loss(W0, a, X, y, 0.4, max_evaluations=200)
    gen = torch.Generator().manual_seed(3)
    masks = 1.0 + 0.4 * torch.randn(200_000, *X.shape, generator=gen, dtype=X.dtype)
    draws = network(found.W, a, (X * masks).reshape(-1, X.shape[1]))
    smoothed = draws.reshape(masks.shape[0], -1).mean(0)
    clean = network(found.W, a, X)
    assert found.smoothing_gap == pytest.approx(
        0.5 * float((clean - smoothed).square().sum()), rel=2e-2
    )
    assert found.smoothed_residual == pytest.approx(
        0.5 * float((smoothed - y).square().sum()), rel=2e-2
    )
    z, s = X @ found.W.T, 0.4 * torch.sqrt(X.square() @ found.W.square().T)
    assert found.band_share == float((z.abs() < s).double().mean())
    assert 0 < found.band_share < 1


def test_clean_halfway_is_read_along_the_run(problem):
    W0, a, X, y = problem
    first = minimise_expected_loss(W0, a, X, y, 0.2, max_evaluations=1)
    assert first.clean_halfway == float(clean_loss(W0, a, X, y))
    longer = minimise_expected_loss(W0, a, X, y, 0.2, max_evaluations=400)
    assert longer.clean_halfway > longer.clean  # the run still lowers L after its middle


def test_at_kappa_zero_the_clean_loss_is_all_smoothed_residual(problem):
    W0, a, X, y = problem
    found = minimise_expected_loss(W0, a, X, y, 0.0, max_evaluations=50)
    assert found.smoothing_gap == 0.0 and found.band_share == 0.0
    assert found.smoothed_residual == pytest.approx(found.clean, rel=1e-12)


@pytest.mark.slow
def test_every_kappa_starts_from_W0(problem):
    W0, a, X, y = problem
    (sweep,) = converged_balls([(W0, a, X, y)], [0.1, 0.3], max_evaluations=300)
    alone = minimise_expected_loss(W0, a, X, y, 0.3, max_evaluations=300)
    assert [m.kappa for m in sweep] == [0.1, 0.3]
    torch.testing.assert_close(sweep[1].W, alone.W)


def test_several_problems_come_back_in_their_order(problem):
    W0, a, X, y = problem
    narrow, a_narrow = init_network(3, 4, seed=2, dtype=torch.float64)
    problems = [(narrow, a_narrow, X, y), (W0, a, X, y)]  # the wider one runs first
    together = converged_balls(problems, [0.1, 0.3], max_evaluations=40)
    for (W, signs, inputs, targets), found in zip(problems, together, strict=True):
        assert [mn.kappa for mn in found] == [0.1, 0.3]
        for mn in found:
            alone = minimise_expected_loss(W, signs, inputs, targets, mn.kappa, max_evaluations=40)
            torch.testing.assert_close(mn.W, alone.W, rtol=0, atol=0)


def test_bad_arguments_are_named(problem):
    W0, a, X, y = problem
    with pytest.raises(ValueError, match="kappa"):
        minimise_expected_loss(W0, a, X, y, -0.1)
    with pytest.raises(ValueError, match="max_evaluations"):
        minimise_expected_loss(W0, a, X, y, 0.1, max_evaluations=0)
    with pytest.raises(ValueError, match="workers"):
        converged_balls([(W0, a, X, y)], [0.1], workers=0)


def test_paired_increase_check_uses_the_t_interval_of_paired_differences():
    before = np.array([[1.0, 2.0, 3.0], [5.0, 5.0, 5.0]])  # (cases, seeds)
    after = before + np.array([[0.5, 0.6, 0.7], [1.0, 1.0, 1.0]])
    check = paired_increase_check("up", "grows", before, after, margin=0.0)
    low = 0.6 - stats.t.ppf(0.975, 2) * 0.1 / np.sqrt(3)
    assert check.passed and np.isclose(check.measured, low, rtol=1e-12)
    assert "95% t interval" in check.claim
    # the seeds' own spread (1 to 3) does not enter: only the paired differences do
    noisy = after.copy()
    noisy[0] = before[0] + np.array([0.9, -0.1, 0.4])  # mean 0.4 > 0, but t interval holds 0
    assert not paired_increase_check("up", "grows", before, noisy, margin=0.0).passed
    assert not paired_increase_check("up", "grows", before, before, margin=1e-12).passed


def test_paired_increase_check_names_bad_input():
    with pytest.raises(ValueError, match="shape"):
        paired_increase_check("up", "x", np.ones((2, 3)), np.ones((3, 2)), margin=0.0)
    with pytest.raises(ValueError, match="replicates"):
        paired_increase_check("up", "x", np.ones((2, 1)), np.ones((2, 1)), margin=0.0)


def test_bitwise_equal_check_fails_one_ulp_off():
    W = torch.linspace(-1.0, 1.0, 12, dtype=torch.float64).reshape(3, 4)
    assert bitwise_equal_check("eq", "same", W, W.clone()).passed
    off = W.clone()
    off[1, 2] = torch.nextafter(off[1, 2], torch.tensor(2.0, dtype=torch.float64))
    check = bitwise_equal_check("eq", "same", off, W)
    assert not check.passed and 0 < check.measured < 1e-15
    assert not bitwise_equal_check("eq", "same", W.float(), W).passed  # another dtype
    assert not bitwise_equal_check("eq", "same", W[:2], W).passed  # another shape


def test_replicated_loglog_slope_counts_identical_replicates_once():
    x = np.array([1.0, 4.0, 9.0, 19.0])
    curve = 0.3 * x**1.5 * np.exp(np.array([0.02, -0.01, 0.03, -0.02]))
    same = replicated_loglog_slope(x, np.stack([curve] * 3))
    one = loglog_slope(x, curve)
    assert (same.slope, same.low, same.high, same.points) == (one.slope, one.low, one.high, 4)
    seeds = np.stack([curve, 1.1 * curve * np.exp(0.01 * np.arange(4)), 0.9 * curve])
    pooled = replicated_loglog_slope(x, seeds)
    expected = pooled_loglog_slope(x, seeds)
    assert (pooled.slope, pooled.low, pooled.high) == (expected.slope, expected.low, expected.high)
    assert pooled.points == 12

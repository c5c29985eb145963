"""What mgn.curves reads off loss curves: initial rate, plateau, first step below a target."""

import numpy as np
import pytest

from mgn.checks import least_squares_slope
from mgn.curves import first_below, initial_log_slope, plateau, plateau_test, relative_gap


def test_initial_log_slope_recovers_each_curves_contraction():
    rho = np.array([[0.9, 0.95, 0.99], [0.5, 0.8, 0.999]])  # (kappa, seed)
    k = np.arange(31)
    loss = 3.0 * rho[..., None] ** k
    slopes = initial_log_slope(loss, 10)
    assert slopes.shape == (2, 3)
    np.testing.assert_allclose(np.exp(slopes), rho, rtol=1e-12)
    assert slopes[1, 2] == least_squares_slope(np.arange(11), np.log(loss[1, 2, :11]))
    one = initial_log_slope(loss[0, 0], 30)
    assert isinstance(one, np.floating) and f"{np.exp(one):.2f}" == "0.90"


def test_initial_log_slope_fits_only_the_window():
    loss = np.concatenate([np.exp(-0.1 * np.arange(6)), np.full(20, 1e3)])
    assert abs(initial_log_slope(loss, 5) + 0.1) < 1e-12
    assert initial_log_slope(loss, 10) > 0


def test_plateau_averages_the_last_tenth_of_the_steps():
    loss = np.stack([np.arange(101.0), 2 * np.arange(101.0)])  # 100 steps: the last 10 values
    np.testing.assert_allclose(plateau(loss), [95.5, 191.0])
    assert plateau(np.array([5.0, 4.0, 3.0])) == 3.0  # fewer than 10 steps: the last value
    assert plateau(np.arange(11.0), fraction=1.0) == np.arange(1.0, 11.0).mean()


def test_first_below():
    curve = np.array([4.0, 3.0, 2.0, 1.0, 2.0])
    assert first_below(curve, 2.0) == 2
    assert first_below(curve, 0.5) is None
    assert first_below(curve, 10.0) == 0


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: initial_log_slope(np.ones(5), 5), "window must be < the curve's length 5"),
        (lambda: initial_log_slope(np.ones(5), 0), "window must be an integer >= 1"),
        (lambda: initial_log_slope(np.array([1.0, 0.0, 1.0]), 2), "loss must be > 0"),
        (lambda: initial_log_slope(np.float64(1.0), 1), "loss must have a last axis"),
        (lambda: plateau(np.ones(5), fraction=0.0), "fraction must be in"),
        (lambda: first_below(np.ones((2, 2)), 1.0), "curve must be 1-d"),
    ],
)
def test_bad_input_names_the_argument(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_plateau_test_tells_a_falling_curve_from_a_flat_one():
    k = np.arange(201.0)
    falling = 1.0 + np.exp(-0.01 * k)  # still falls 9% of its value over the last 40 steps
    flat = 1.0 + np.exp(-0.2 * k)  # flat to 1e-17 long before the end
    seeds = np.array([1.0, 1.01, 0.99])[:, None]
    curves = np.stack([falling * seeds, flat * seeds])  # (2 curves, 3 seeds, 201)
    test = plateau_test(curves, window=0.2, tolerance=0.01)
    assert test.window == 40 and test.decrease.shape == (2, 3) and test.low.shape == (2,)
    expected = (falling[-41] - falling[-1]) / falling[-1]
    np.testing.assert_allclose(test.decrease[0], expected, rtol=1e-12)
    assert expected > 0.05
    assert test.plateaued.tolist() == [False, True]


def test_plateau_test_needs_the_interval_inside_the_tolerance():
    k = np.arange(101.0)
    # a mean change near 0 over the window, but one seed rises by 3% and one falls by 3.5%
    drifting = np.stack([1.0 + 0.03 * k / 20, 2.0 - 0.06 * k / 20, np.ones(101)])
    assert not plateau_test(drifting[None], tolerance=0.01).plateaued[0]
    rising = np.stack([1.0 + 0.1 * k, 1.0 + 0.1 * k])  # no seed spread, rising 60%
    assert not plateau_test(rising).plateaued


@pytest.mark.parametrize(
    ("loss", "options", "name"),
    [
        (np.ones((1, 5)), {}, "R >= 2"),
        (np.ones((2, 5)), {"window": 0.0}, "window"),
        (np.ones((2, 5)), {"tolerance": 0.0}, "tolerance"),
        (np.zeros((2, 5)), {}, "> 0"),
    ],
)
def test_plateau_test_names_bad_input(loss, options, name):
    with pytest.raises(ValueError, match=name):
        plateau_test(loss, **options)


def test_relative_gap():
    measured = np.array([[2.0, 4.0], [1.0, 8.0]])
    predicted = np.array([[2.2, 4.0], [1.0, 7.0]])
    assert np.isclose(relative_gap(predicted, measured), 0.125)
    assert relative_gap(measured, measured) == 0.0
    with pytest.raises(ValueError, match="shape"):
        relative_gap(predicted[0], measured)
    with pytest.raises(ValueError, match="nonzero"):
        relative_gap(predicted, np.zeros((2, 2)))

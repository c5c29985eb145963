"""Seeds pooled, the flat range, the decline and the verdict of Figure 4 (mgn.vision.accuracy)."""

import numpy as np
import pytest

from mgn.report import mean_interval
from mgn.vision import (
    FIGURE4,
    decline,
    departures,
    figure4_verdict,
    learns_check,
    summarise_sweep,
)


def sweep(final_test: np.ndarray, final_train: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(kappas, seeds, 3 epochs) records whose last epoch is the given one; earlier ones are noise."""
    test = np.random.default_rng(0).uniform(size=(*final_test.shape, 3))
    train = test.copy()
    test[:, :, -1], train[:, :, -1] = final_test, final_train
    return test, train


def test_summarise_sweep_reads_the_last_epoch_over_seeds():
    final_test = np.array([[0.80, 0.84], [0.70, 0.74], [0.50, 0.60]])
    test, train = sweep(final_test, final_test + 0.1)
    summary = summarise_sweep(test, train)
    np.testing.assert_allclose(summary.test, [0.82, 0.72, 0.55])
    half = 12.706204736174707 * np.array([0.02, 0.02, 0.05])  # t(0.975, 1 dof) x SE
    np.testing.assert_allclose(summary.test_low, summary.test - half)
    np.testing.assert_allclose(summary.test_high, summary.test + half)
    np.testing.assert_allclose(summary.train, [0.92, 0.82, 0.65])
    np.testing.assert_allclose(summary.gap, [0.1, 0.1, 0.1])
    np.testing.assert_array_equal(summary.final_test, final_test)


def test_summarise_sweep_errors():
    test = np.zeros((3, 2, 4))
    with pytest.raises(ValueError, match="at least 2 seeds"):
        summarise_sweep(test[:, :1], test[:, :1])
    with pytest.raises(ValueError, match="train must have the shape of test"):
        summarise_sweep(test, test[:2])
    with pytest.raises(ValueError, match="test must have shape"):
        summarise_sweep(test[0], test[0])


def summary_of(means, spread=(-0.01, 0.0, 0.01)):
    """Three seeds per kappa, the same offsets at every kappa (paired: differences agree)."""
    final = np.asarray(means)[:, None] + np.asarray(spread)
    return summarise_sweep(*sweep(final, final))


def test_decline_flat_then_falling():
    kappas = [0.0, 0.2, 0.5, 1.0]
    shape = decline(kappas, summary_of([0.80, 0.795, 0.75, 0.60]), n_test=100_000)
    assert shape.flat == 0.2  # 0.795 is within one point of 0.80, 0.75 is not
    slope = 100 * np.polyfit([0.2, 0.5, 1.0], [0.795, 0.75, 0.60], 1)[0]
    assert shape.slope == pytest.approx(slope) and shape.slope < -20
    assert shape.drop == pytest.approx(0.20)
    assert shape.drop_low == pytest.approx(0.20) == shape.drop_high  # paired seeds agree
    assert shape.declines and shape.monotone
    np.testing.assert_allclose(shape.flat_tolerance, 0.01)  # 100,000 images resolve one point


def test_decline_interval_is_the_paired_t_interval():
    final = np.array([[0.80, 0.83, 0.78], [0.76, 0.75, 0.77], [0.70, 0.74, 0.69]])
    shape = decline([0.0, 0.5, 1.0], summarise_sweep(*sweep(final, final)), n_test=1000)
    low, high = mean_interval(final[0] - final[-1])
    assert (shape.drop_low, shape.drop_high) == pytest.approx((low, high))


def test_flat_range_is_judged_against_the_binomial_error_of_the_test_set():
    kappas = [0.0, 0.2, 0.5, 1.0]
    summary = summary_of([0.80, 0.78, 0.75, 0.60])
    assert decline(kappas, summary, n_test=100_000).flat == 0.0  # 2 points lost: resolved
    small = decline(kappas, summary, n_test=1000)  # 1.96 sqrt(2 x 0.16 / 1000) = 3.5 points
    assert small.flat == 0.2
    p = np.array([0.80, 0.78, 0.75, 0.60])
    expected = 1.959963984540054 * np.sqrt((p[0] * (1 - p[0]) + p * (1 - p)) / 1000)
    np.testing.assert_allclose(small.flat_tolerance, expected)


def test_decline_flat_everywhere_and_not_monotone():
    kappas = [0.0, 0.2, 0.5, 1.0]
    assert decline(kappas, summary_of([0.80, 0.80, 0.799, 0.795]), 100_000).flat == 1.0
    bumpy = decline(kappas, summary_of([0.80, 0.70, 0.78, 0.60]), 100_000)
    assert bumpy.flat == 0.0 and not bumpy.monotone
    assert decline(
        kappas, summary_of([0.80, 0.75, 0.70, 0.60]), 100_000, start=0.5
    ).slope == pytest.approx(100 * np.polyfit([0.5, 1.0], [0.70, 0.60], 1)[0])


def test_a_decline_the_seeds_do_not_resolve_is_no_decline():
    final = np.array([[0.80, 0.60], [0.75, 0.70], [0.70, 0.69]])  # seeds disagree on the sign
    shape = decline([0.0, 0.5, 1.0], summarise_sweep(*sweep(final, final)), n_test=1000)
    assert shape.drop > 0 and not shape.declines


def test_decline_errors():
    summary = summary_of([0.8, 0.7, 0.6])
    with pytest.raises(ValueError, match="kappas must increase from 0"):
        decline([0.1, 0.5, 1.0], summary, 100)
    with pytest.raises(ValueError, match="kappas must increase from 0"):
        decline([0.0, 1.0, 0.5], summary, 100)
    with pytest.raises(ValueError, match="one kappa per summary entry"):
        decline([0.0, 1.0], summary, 100)
    with pytest.raises(ValueError, match="at least two values >= start"):
        decline([0.0, 0.1, 0.5], summary, 100)
    with pytest.raises(ValueError, match="n_test"):
        decline([0.0, 0.5, 1.0], summary, 0)


def test_figure4_verdict():
    kappas = [0.0, 0.2, 0.5, 1.0]
    shape = decline(kappas, summary_of([0.80, 0.795, 0.75, 0.60]), 100_000)
    assert figure4_verdict(shape, plateaued=True, at_paper_scale=True) == "confirmed"
    assert figure4_verdict(shape, plateaued=True, at_paper_scale=False) == "refined"
    assert figure4_verdict(shape, plateaued=False, at_paper_scale=True) == "not tested"
    flat_everywhere = decline(kappas, summary_of([0.80, 0.80, 0.80, 0.80]), 100_000)
    assert figure4_verdict(flat_everywhere, True, True) == "contradicted"
    early = decline(kappas, summary_of([0.80, 0.70, 0.65, 0.60]), 100_000)  # no flat range
    assert figure4_verdict(early, True, True) == "refined"


def test_departures_name_each_setting_off_the_paper():
    assert departures(FIGURE4) == []
    ours = {**FIGURE4, "mlp_hidden": 512, "cnn_channels": [8, 16]}
    assert departures(ours) == [
        "mlp hidden 512 instead of 4096",
        "cnn channels (8, 16) instead of (32, 64)",
    ]
    assert departures({**FIGURE4, "cnn_channels": [32, 64]}) == []
    with pytest.raises(ValueError, match="missing \\['mlp_epochs'\\]"):
        departures({k: v for k, v in FIGURE4.items() if k != "mlp_epochs"})


def test_learns_check_reads_the_lowest_seed():
    assert learns_check("learns", "MLP", [0.45, 0.9]).passed
    check = learns_check("learns", "MLP", [0.29, 0.9])
    assert not check.passed and check.measured == pytest.approx(0.29)
    with pytest.raises(ValueError, match="accuracies"):
        learns_check("learns", "MLP", [])

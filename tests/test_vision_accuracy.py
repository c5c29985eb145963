"""Seeds pooled, the flat range and the decline of accuracy against kappa (mgn.vision.accuracy)."""

import numpy as np
import pytest

from mgn.vision import decline, summarise_sweep


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
    np.testing.assert_allclose(summary.test_se, [0.02, 0.02, 0.05])
    np.testing.assert_allclose(summary.train, [0.92, 0.82, 0.65])
    np.testing.assert_allclose(summary.gap, [0.1, 0.1, 0.1])
    np.testing.assert_allclose(summary.low, [0.80, 0.70, 0.50])
    np.testing.assert_allclose(summary.high, [0.84, 0.74, 0.60])


def test_summarise_sweep_errors():
    test = np.zeros((3, 2, 4))
    with pytest.raises(ValueError, match="at least 2 seeds"):
        summarise_sweep(test[:, :1], test[:, :1])
    with pytest.raises(ValueError, match="train must have the shape of test"):
        summarise_sweep(test, test[:2])
    with pytest.raises(ValueError, match="test must have shape"):
        summarise_sweep(test[0], test[0])


def summary_of(means, se=0.01):
    means = np.asarray(means)
    return summarise_sweep(*sweep(np.stack([means - se, means + se], 1), means[:, None] + [0, 0]))


def test_decline_flat_then_falling():
    kappas = [0.0, 0.2, 0.5, 1.0]
    shape = decline(kappas, summary_of([0.80, 0.795, 0.75, 0.60]))
    assert shape.flat == 0.2  # 0.795 is within one point of 0.80, 0.75 is not
    slope = 100 * np.polyfit([0.2, 0.5, 1.0], [0.795, 0.75, 0.60], 1)[0]
    assert shape.slope == pytest.approx(slope) and shape.slope < -20
    assert shape.drop == pytest.approx(0.20)
    assert shape.interval == pytest.approx(2 * np.hypot(0.01, 0.01))
    assert shape.monotone


def test_decline_flat_everywhere_and_not_monotone():
    kappas = [0.0, 0.2, 0.5, 1.0]
    assert decline(kappas, summary_of([0.80, 0.80, 0.799, 0.795])).flat == 1.0
    bumpy = decline(kappas, summary_of([0.80, 0.70, 0.78, 0.60]))
    assert bumpy.flat == 0.0 and not bumpy.monotone
    assert decline(kappas, summary_of([0.80, 0.75, 0.70, 0.60]), start=0.5).slope == pytest.approx(
        100 * np.polyfit([0.5, 1.0], [0.70, 0.60], 1)[0]
    )


def test_decline_errors():
    summary = summary_of([0.8, 0.7, 0.6])
    with pytest.raises(ValueError, match="kappas must increase from 0"):
        decline([0.1, 0.5, 1.0], summary)
    with pytest.raises(ValueError, match="kappas must increase from 0"):
        decline([0.0, 1.0, 0.5], summary)
    with pytest.raises(ValueError, match="one kappa per summary entry"):
        decline([0.0, 1.0], summary)
    with pytest.raises(ValueError, match="at least two values >= start"):
        decline([0.0, 0.1, 0.5], summary)

"""TPR at FPR = k/n read off exactly (chapter 8, the tail of the attacks)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_curve

from mgn.privacy import evaluate_attack, tpr_at_fpr
from mgn.privacy.binomial import clopper_pearson
from mgn.privacy.low_fpr import (
    MIN_FALSE_POSITIVES,
    false_positives_at,
    reportable,
    tpr_at_false_positives,
    tpr_at_level,
)


def brute_force_tpr(members: np.ndarray, nonmembers: np.ndarray, allowed: int) -> float:
    """The best TPR over every threshold (members: scores strictly above) with <= allowed FPs."""
    best = 0.0
    for threshold in np.concatenate([members, nonmembers]):
        if (nonmembers > threshold).sum() <= allowed:
            best = max(best, float((members > threshold).mean()))
    return best


def test_ties_at_the_threshold_count_as_nonmembers():
    members = np.array([5.0, 4.0, 6.0, 3.0])
    nonmembers = np.array([5.0, 5.0, 3.0, 1.0])
    strict = tpr_at_false_positives(members, nonmembers, 1)
    assert strict.threshold == 5.0  # the second largest non-member, tied with the first
    assert (strict.fpr, strict.true_positives, strict.tpr) == (0.0, 1, 0.25)  # FPR 0 < 1/4
    two = tpr_at_false_positives(members, nonmembers, 2)
    assert two.threshold == 3.0 and two.fpr == 0.5  # the member at 3 is tied: not counted
    assert (two.true_positives, two.members, two.nonmembers) == (3, 4, 4)
    assert two.tpr_interval == clopper_pearson(3, 4)
    none = tpr_at_false_positives(members, nonmembers, 0)
    assert (none.threshold, none.fpr, none.tpr) == (5.0, 0.0, 0.25)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_every_threshold_and_the_full_roc_curve(seed):
    rng = np.random.default_rng(seed)
    members = np.round(rng.normal(1.0, 1.0, 300), 1)  # rounded: many ties, within and across
    nonmembers = np.round(rng.normal(0.0, 1.0, 400), 1)
    labels = np.r_[np.ones(300), np.zeros(400)]
    fpr, tpr, _ = roc_curve(labels, np.r_[members, nonmembers], drop_intermediate=False)
    for allowed in (0, 1, 3, 4, 10, 40, 399):
        found = tpr_at_false_positives(members, nonmembers, allowed)
        assert found.fpr <= allowed / 400
        assert found.fpr == (nonmembers > found.threshold).mean()
        assert found.tpr == brute_force_tpr(members, nonmembers, allowed)
        assert found.tpr == tpr_at_fpr(fpr, tpr, allowed / 400)
        low, high = found.tpr_interval
        assert low <= found.tpr <= high


def test_at_fpr_of_an_attack_agrees_with_its_roc_reading():
    rng = np.random.default_rng(3)
    members, nonmembers = np.round(rng.normal(1, 1, 500), 1), np.round(rng.normal(0, 1, 1000), 1)
    result = evaluate_attack(members, nonmembers, n_bootstrap=0)
    for level in (0.01, 0.001):
        exact = result.at_fpr(level)
        assert exact.tpr == result.tpr_at[level]
        assert exact.false_positives == round(level * 1000) and exact.fpr <= level
        assert exact == tpr_at_level(members, nonmembers, level)
    assert result.at_fpr(0.01, confidence=0.5).tpr_interval == clopper_pearson(
        result.at_fpr(0.01).true_positives, 500, 0.5
    )


def test_full_roc_curve_keeps_a_tie_run_the_default_drops():
    # Three member/non-member ties (scores 3, 2, 1) make a straight diagonal run of the ROC curve:
    # scikit-learn's default drop_intermediate=True drops its middle point (FPR 1%, TPR 20%).
    members = np.r_[3.0, 2.0, 1.0, np.full(7, -1.0)]
    nonmembers = np.r_[3.0, 2.0, 1.0, np.zeros(197)]
    labels = np.r_[np.ones(10), np.zeros(200)]
    dropped = roc_curve(labels, np.r_[members, nonmembers])[:2]
    assert tpr_at_fpr(*dropped, 0.01) == 0.1
    full = evaluate_attack(members, nonmembers, n_bootstrap=0)
    assert full.tpr_at[0.01] == 0.2
    assert tpr_at_fpr(full.fpr, full.tpr, 0.01) == 0.2
    assert tpr_at_false_positives(members, nonmembers, 2).tpr == 0.2
    assert len(full.fpr) == 6  # the start and one point per distinct score


def test_false_positives_at_a_level():
    assert false_positives_at(0.01, 10_520) == 105
    assert false_positives_at(0.001, 10_000) == 10  # 0.001 * 10_000 rounds below 10 in floats
    assert false_positives_at(0.29, 100) == 29
    assert false_positives_at(0.01, 100) == 1
    assert false_positives_at(0.01, 250) == 2
    with pytest.raises(ValueError, match="level 0.001 is below 1/n = 0.004 with n = 250"):
        false_positives_at(0.001, 250)
    with pytest.raises(ValueError, match="level must be an FPR in"):
        false_positives_at(0.0, 100)
    with pytest.raises(ValueError, match="nonmembers must be a positive int"):
        false_positives_at(0.01, 0)
    with pytest.raises(ValueError, match="level 0.001 is below"):
        tpr_at_level([1.0], np.zeros(999), 0.001)


def test_a_level_is_reportable_from_ten_false_positives():
    assert MIN_FALSE_POSITIVES == 10
    assert reportable(0.001, 10_000) and not reportable(0.001, 9_999)
    assert reportable(0.01, 1_000) and not reportable(0.01, 999)
    assert reportable(0.01, 10_520) and reportable(0.001, 10_520)
    assert not reportable(0.01, 250) and not reportable(0.001, 250)
    assert reportable(0.01, 250, min_false_positives=2)
    assert not reportable(0.001, 100)  # below 1/n: not an error, just not reportable
    with pytest.raises(ValueError, match="min_false_positives must be a positive int"):
        reportable(0.01, 1000, min_false_positives=0)
    with pytest.raises(ValueError, match="level must be an FPR"):
        reportable(1.5, 1000)


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match=r"false_positives must be an int in 0\.\.2 .*got 3"):
        tpr_at_false_positives([1.0], [0.0, 1.0, 2.0], 3)
    with pytest.raises(ValueError, match="false_positives must be an int"):
        tpr_at_false_positives([1.0], [0.0, 1.0], -1)
    with pytest.raises(ValueError, match="false_positives must be an int"):
        tpr_at_false_positives([1.0], [0.0, 1.0], 1.0)
    with pytest.raises(ValueError, match="member_scores must not be empty"):
        tpr_at_false_positives([], [0.0], 0)
    with pytest.raises(ValueError, match="nonmember_scores must be finite"):
        tpr_at_false_positives([1.0], [np.nan], 0)

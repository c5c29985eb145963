"""RMIA scored by its likelihood ratio instead of the count of population samples it beats."""

from __future__ import annotations

import numpy as np
import pytest

from mgn.privacy import attack_snapshots, rmia, train_target_shadow
from tests.test_privacy import TINY, make_tiny_mlp, tiny_split


def synthetic_rmia_inputs(seed: int, n: int = 500, population: int = 40):
    """True-label probabilities of a target that fits its members better than two references do.

    Each example has a difficulty ``q`` (its probability under models that did not train on it);
    the target raises a member's probability by a random share of the way to 1.
    """
    rng = np.random.default_rng(seed)

    def reference(q):
        return np.clip(q + rng.normal(0, 0.02, (2, len(q))), 0.01, 1.0)

    q_in, q_out, q_pop = (rng.uniform(0.2, 0.9, size) for size in (n, n, population))
    boost = rng.uniform(0.0, 0.8, n)
    target_in = q_in + boost * (1 - q_in)
    target_out = np.clip(q_out + rng.normal(0, 0.02, n), 0.01, 1.0)
    target_pop = np.clip(q_pop + rng.normal(0, 0.02, population), 0.01, 1.0)
    return target_in, target_out, reference(q_in), reference(q_out), target_pop, reference(q_pop)


def log_ratio(target, reference, offline_a):
    return np.log(target / (0.5 * ((1 + offline_a) * np.mean(reference, axis=0) + 1 - offline_a)))


@pytest.mark.parametrize(("offline_a", "gamma"), [(0.3, 1.0), (1.0, 2.0)])
def test_ratio_score_is_the_mean_log_likelihood_ratio_over_the_population(offline_a, gamma):
    t_in, t_out, r_in, r_out, t_pop, r_pop = synthetic_rmia_inputs(0)
    options = dict(offline_a=offline_a, gamma=gamma, n_bootstrap=0)
    ratio = rmia(t_in, t_out, r_in, r_out, t_pop, r_pop, score="ratio", **options)
    x = np.concatenate([log_ratio(t_in, r_in, offline_a), log_ratio(t_out, r_out, offline_a)])
    z = log_ratio(t_pop, r_pop, offline_a)
    pairwise = np.log(np.exp(x[:, None] - z[None, :]) / gamma).mean(axis=1)  # log LR(x, z)/gamma
    np.testing.assert_allclose(ratio.scores, pairwise, rtol=0, atol=1e-12)
    count = rmia(t_in, t_out, r_in, r_out, t_pop, r_pop, score="count", **options)
    np.testing.assert_array_equal(count.scores, (x[:, None] - z[None, :] > np.log(gamma)).mean(1))


def test_ratio_breaks_the_ties_of_the_count_and_keeps_its_order():
    inputs = synthetic_rmia_inputs(1)
    count = rmia(*inputs, score="count", n_bootstrap=0)
    ratio = rmia(*inputs, n_bootstrap=0)  # the ratio by default
    assert len(np.unique(count.scores)) <= 41  # a population of 40: 41 levels for 1000 examples
    assert len(np.unique(ratio.scores)) == 1000
    top = count.scores == 1.0
    assert top.sum() > 50  # many examples beat every population sample and tie at the count's top
    assert len(np.unique(ratio.scores[top])) == top.sum()
    more = count.scores[:, None] > count.scores[None, :]
    assert (ratio.scores[:, None] > ratio.scores[None, :])[more].all()  # the count's order kept


def test_ratio_orders_members_above_nonmembers_and_reads_the_tail():
    count = rmia(*synthetic_rmia_inputs(2), score="count", n_bootstrap=0)
    ratio = rmia(*synthetic_rmia_inputs(2), score="ratio", n_bootstrap=0)
    members, nonmembers = ratio.scores[ratio.labels == 1], ratio.scores[ratio.labels == 0]
    assert ratio.auc > 0.85
    assert np.median(members) > np.quantile(nonmembers, 0.9)
    assert ratio.auc >= count.auc
    assert ratio.tpr_at[0.01] > count.tpr_at[0.01] + 0.1


def test_bad_score_is_named():
    with pytest.raises(ValueError, match=r"score must be one of \('count', 'ratio'\), got 'mean'"):
        rmia([0.5], [0.5], [0.5], [0.5], [0.5], [0.5], score="mean")


def test_attack_snapshots_passes_the_rmia_score_through():
    split = tiny_split()
    pair = train_target_shadow(make_tiny_mlp, split, 0.0, 2, snapshots=(2,), **TINY)
    count = attack_snapshots(split, pair, [2], rmia_score="count")[2]
    ratio = attack_snapshots(split, pair, [2])[2]  # the ratio by default
    assert ratio["loss threshold"].auc == count["loss threshold"].auc
    assert not np.array_equal(ratio["RMIA"].scores, count["RMIA"].scores)
    more = count["RMIA"].scores[:, None] > count["RMIA"].scores[None, :]
    assert (ratio["RMIA"].scores[:, None] > ratio["RMIA"].scores[None, :])[more].all()

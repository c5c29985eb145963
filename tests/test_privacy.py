"""Membership attacks, their metrics, batched snapshot scoring, DP-SGD and chapter 8's pipeline."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from scipy.stats import norm
from torch import nn

from mgn.privacy import (
    ATTACKS,
    NULL,
    SeedInterval,
    attack_snapshots,
    chance_band,
    cross_entropy_from_logits,
    dominated,
    dp_compatible,
    dpsgd_target,
    evaluate_attack,
    loss_threshold,
    ml_leaks,
    over_seeds,
    paired_change,
    rmia,
    select_snapshots,
    snapshot_logits,
    train_dpsgd,
    train_target_shadow,
)
from mgn.seeds import derived_seed
from mgn.vision import MLP, as_seen_by, membership_split, train_classifier


def softmax_rows(n: int, confidence: float, seed: int, classes: int = 10) -> np.ndarray:
    """Softmax outputs whose top logit is ``confidence`` above Gaussian noise."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(n, classes))
    logits[np.arange(n), rng.integers(0, classes, n)] += confidence
    exp = np.exp(logits - logits.max(1, keepdims=True))
    return exp / exp.sum(1, keepdims=True)


def test_ml_leaks_separates_confident_members():
    result = ml_leaks(
        softmax_rows(400, 6.0, 0),
        softmax_rows(300, 1.0, 1),
        softmax_rows(400, 6.0, 2),
        softmax_rows(400, 1.0, 3),
        n_bootstrap=50,
    )
    assert result.auc > 0.95
    assert result.auc_interval[0] <= result.auc <= result.auc_interval[1]
    assert result.precision > 0.8 and result.recall > 0.8
    assert result.scores.shape == (800,) and result.fpr[0] == 0 and result.tpr[-1] == 1


def test_ml_leaks_at_chance_when_members_look_like_nonmembers():
    result = ml_leaks(*(softmax_rows(500, 3.0, s) for s in range(4)), n_bootstrap=100)
    assert abs(result.auc - 0.5) < 0.06
    assert result.auc_interval[0] < 0.5 < result.auc_interval[1]


@pytest.mark.parametrize("shift", [0.5, 1.0, 2.0])
def test_loss_threshold_auc_matches_gaussian_closed_form(shift):
    rng = np.random.default_rng(7)
    members = rng.normal(0.0, 1.0, 20000)
    nonmembers = rng.normal(shift, 1.0, 20000)
    result = loss_threshold(members, nonmembers, n_bootstrap=0)
    assert result.auc == pytest.approx(norm.cdf(shift / math.sqrt(2)), abs=0.006)


def test_tpr_at_low_fpr_counts_only_allowed_false_positives():
    members = np.array([10.0, 9.0, 1.0, 0.5])
    nonmembers = np.concatenate([[9.5, 5.0, 0.7], np.zeros(197)])
    result = evaluate_attack(members, nonmembers, n_bootstrap=0)
    assert result.tpr_at[0.001] == 0.25  # below one false positive in 200: only the top member
    assert result.tpr_at[0.01] == 0.75  # two false positives allowed (9.5, 5): 10, 9 and 1


def tiny_training(images, labels, epochs=150, seed=0):
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(2, 64), nn.ReLU(), nn.Linear(64, 2))
    optimizer = torch.optim.Adam(model.parameters(), lr=0.02)
    for _ in range(epochs):
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(images), labels).backward()
        optimizer.step()
    return model.eval()


def test_rmia_ranks_a_memorised_example_first():
    generator = torch.Generator().manual_seed(0)
    labels = torch.randint(0, 2, (200,), generator=generator)
    points = torch.randn(200, 2, generator=generator) * 0.7 + (2 * labels[:, None] - 1) * 1.5
    members, candidates, population = slice(0, 40), slice(40, 80), slice(80, 200)
    target_labels = labels.clone()
    target_labels[0] = 1 - labels[0]  # one mislabelled member: only memorisation fits it
    target = tiny_training(points[members], target_labels[members], seed=1)
    reference = tiny_training(points[candidates], labels[candidates], seed=2)

    def p(model, part, lab):
        with torch.no_grad():
            return model(points[part]).softmax(-1).gather(1, lab[part][:, None])[:, 0]

    result = rmia(
        p(target, members, target_labels),
        p(target, candidates, labels),
        p(reference, members, target_labels),
        p(reference, candidates, labels),
        p(target, population, labels),
        p(reference, population, labels),
        n_bootstrap=0,
    )
    member_scores = result.scores[:40]
    assert member_scores[0] == result.scores.max()
    assert member_scores[0] > np.sort(member_scores)[-2]


def test_snapshot_logits_match_the_plain_forward():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 3))
    images, labels = torch.randn(30, 5), torch.randint(0, 3, (30,))
    states = []
    for _ in range(3):
        model.train()
        model(torch.randn(16, 5))  # move the running statistics
        with torch.no_grad():
            model[0].weight.add_(0.1)
        states.append({k: v.clone() for k, v in model.state_dict().items()})
    batched = snapshot_logits(model, states, images, batch_size=7, device="cpu")
    for s, state in enumerate(states):
        model.load_state_dict(state)
        with torch.no_grad():
            plain = model.eval()(images)
        torch.testing.assert_close(batched[s], plain, rtol=1e-5, atol=1e-6)
    loss = cross_entropy_from_logits(batched, labels)
    assert loss.shape == (3, 30) and loss.dtype == np.float64
    expected = nn.functional.cross_entropy(model(images).double(), labels, reduction="none")
    np.testing.assert_allclose(loss[-1], expected.detach().numpy(), rtol=1e-6)


def test_dpsgd_epsilon_is_finite_and_grows_with_steps():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(12, 6), nn.ReLU(), nn.Linear(6, 3))
    images, labels = torch.randn(64, 1, 3, 4), torch.randint(0, 3, (64,))
    train = SimpleNamespace(images=images, labels=labels)
    state = torch.get_rng_state()
    run = train_dpsgd(model, train, 1.1, 3, batch_size=16, snapshots=(2,), device="cpu")
    assert torch.equal(torch.get_rng_state(), state)  # the caller's global generator is untouched
    assert all(math.isfinite(e) and e > 0 for e in run.epsilon)
    assert run.epsilon[0] < run.epsilon[1] < run.epsilon[2]
    assert list(run.snapshots) == [2] and (run.seed, run.precision) == (0, "float32")
    noisier = train_dpsgd(model, train, 3.0, 3, batch_size=16)
    assert noisier.epsilon[-1] < run.epsilon[-1]


def test_dpsgd_resume_after_an_interruption_is_bit_identical(
    tmp_path, monkeypatch, interrupt_after_first_save
):
    torch.manual_seed(1)
    model = nn.Sequential(nn.Flatten(), nn.Linear(12, 6), nn.Dropout(0.3), nn.Linear(6, 3))
    train = SimpleNamespace(images=torch.randn(48, 1, 3, 4), labels=torch.randint(0, 3, (48,)))
    options = dict(batch_size=12, snapshots=(1, 3), seed=5, device="cpu")
    full = train_dpsgd(model, train, 1.0, 3, **options)
    path = tmp_path / "dp.pt"
    saves = interrupt_after_first_save
    with pytest.raises(KeyboardInterrupt):
        train_dpsgd(model, train, 1.0, 3, **options, checkpoint=path, checkpoint_every=0)
    monkeypatch.undo()
    resumed = train_dpsgd(model, train, 1.0, 3, **options, checkpoint=path)
    assert saves == [1] and resumed.epsilon == full.epsilon
    for epoch in (1, 3):
        for name, tensor in full.snapshots[epoch].items():
            assert torch.equal(resumed.snapshots[epoch][name], tensor), (epoch, name)


def test_dp_compatible_swaps_batchnorm_for_groupnorm():
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU())
    fixed = dp_compatible(model)
    assert any(isinstance(m, nn.GroupNorm) for m in fixed.modules())
    assert not any(isinstance(m, nn.BatchNorm2d) for m in fixed.modules())
    assert isinstance(model[1], nn.BatchNorm2d)  # the original is untouched


def test_bad_inputs_are_named():
    good = softmax_rows(20, 2.0, 0)
    with pytest.raises(ValueError, match="shadow_in must not be empty"):
        ml_leaks(good[:0], good, good, good)
    with pytest.raises(ValueError, match="target_out has 5 classes, expected 10"):
        ml_leaks(good, good, good, good[:, :5])
    not_probabilities = good.copy()
    not_probabilities[0] *= 2
    with pytest.raises(ValueError, match="shadow_out must hold probabilities whose rows sum"):
        ml_leaks(good, not_probabilities, good, good)
    with pytest.raises(ValueError, match="target_in must hold probabilities"):
        ml_leaks(good, good, -good, good)
    with pytest.raises(ValueError, match="top_k"):
        ml_leaks(good, good, good, good, top_k=11)
    with pytest.raises(ValueError, match="member_loss must not be empty"):
        loss_threshold([], [1.0])
    with pytest.raises(ValueError, match="reference_out must have 2 rows"):
        rmia([0.5], [0.5], [[0.5], [0.4]], [0.5], [0.5, 0.2], [[0.5, 0.2], [0.1, 0.3]])
    with pytest.raises(ValueError, match="population_target must hold probabilities"):
        rmia([0.5], [0.5], [0.5], [0.5], [0.0], [0.5])
    snapshots = {20: {}, 40: {}}
    with pytest.raises(ValueError, match="epoch 60 is beyond the training, which ran 40"):
        select_snapshots(snapshots, [20, 60], trained=40)
    with pytest.raises(ValueError, match="no snapshot was kept at epoch 30"):
        select_snapshots(snapshots, [30], trained=40)
    with pytest.raises(ValueError, match="outside the training"):
        train_dpsgd(
            nn.Linear(2, 2),
            SimpleNamespace(images=torch.randn(4, 2), labels=torch.zeros(4).long()),
            1.0,
            2,
            snapshots=(3,),
        )
    with pytest.raises(ValueError, match="train must be non-empty with one label per image"):
        train_dpsgd(
            nn.Linear(2, 2),
            SimpleNamespace(images=torch.randn(4, 2), labels=torch.zeros(3).long()),
            1.0,
            2,
        )


def tiny_split():
    """A membership split of 80 random 1x4x4 images labelled by brightness: 4 groups of 20."""
    generator = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (80, 1, 4, 4), generator=generator, dtype=torch.uint8)
    images[40:] //= 2  # the two pairs get different statistics
    labels = (images.float().mean((1, 2, 3)) // 40).long().clamp_max(3)  # 4 brightness classes
    return membership_split(images, labels, group_size=20)


def make_tiny_mlp():
    return MLP((1, 4, 4), hidden=16, n_classes=4, dropout=0.0)


TINY = dict(lr=1e-2, batch_size=10, device="cpu")


def test_train_target_shadow_trains_each_model_on_its_pair_with_its_seed():
    split = tiny_split()
    before = torch.get_rng_state()
    pair = train_target_shadow(make_tiny_mlp, split, 0.5, 3, seed=2, snapshots=(1, 3), **TINY)
    assert torch.equal(torch.get_rng_state(), before)  # the global generator is left as it was
    for run, seed, train, test in (
        (pair.target, 2, split.target_train, split.target_test),
        (pair.shadow, derived_seed(2, 1), split.shadow_train, split.shadow_test),
    ):
        torch.manual_seed(seed)
        direct = train_classifier(
            make_tiny_mlp(), train, test, 0.5, 3, **TINY, weight_decay=1e-7, augment=False,
            seed=seed, snapshots=(1, 3), precision="float32",
        )  # fmt: skip
        assert run.test_accuracy == direct.test_accuracy
        for key, value in direct.snapshots[3].items():
            assert torch.equal(run.snapshots[3][key], value)
    assert not torch.equal(
        pair.target.snapshots[3]["out.weight"], pair.shadow.snapshots[3]["out.weight"]
    )


def test_attack_snapshots_gives_one_record_per_snapshot_with_each_pair_s_statistics():
    split = tiny_split()
    pair = train_target_shadow(make_tiny_mlp, split, 0.0, 3, snapshots=(1, 3), **TINY)
    records = attack_snapshots(split, pair, [1, 3], n_bootstrap=5, seed=1)
    assert list(records) == [1, 3]
    assert all(list(record) == [*ATTACKS, NULL] for record in records.values())
    assert all(r.scores.shape == (40,) for record in records.values() for r in record.values())
    assert not np.array_equal(records[1]["RMIA"].scores, records[3]["RMIA"].scores)

    def loss(run, images, group):
        logits = snapshot_logits(run.model, [run.snapshots[3]], images)[0]
        return cross_entropy_from_logits(logits, group.labels)

    def p(run, images, group):
        return np.exp(-loss(run, images, group))

    def rmia_with(view):
        tt, ts, st = split.target_train, split.target_test, split.shadow_test
        return rmia(
            p(pair.target, tt.images, tt),
            p(pair.target, ts.images, ts),
            p(pair.shadow, view("target_train", "shadow"), tt),
            p(pair.shadow, view("target_test", "shadow"), ts),
            p(pair.target, view("shadow_test", "target"), st),
            p(pair.shadow, st.images, st),
            n_bootstrap=5,
            seed=1,
        )

    np.testing.assert_allclose(
        records[3]["RMIA"].scores,
        rmia_with(lambda g, to: as_seen_by(split, g, to)).scores,
        rtol=1e-12,
    )
    unconverted = rmia_with(lambda g, to: getattr(split, g).images)  # each pair's own statistics
    assert not np.allclose(records[3]["RMIA"].scores, unconverted.scores)
    tt, ts, st = split.target_train, split.target_test, split.shadow_test
    threshold = loss_threshold(
        loss(pair.target, tt.images, tt), loss(pair.target, ts.images, ts), n_bootstrap=5, seed=1
    )
    assert records[3]["loss threshold"].auc == threshold.auc
    assert records[3]["loss threshold"].auc_interval == threshold.auc_interval
    null = loss_threshold(
        loss(pair.target, ts.images, ts),
        loss(pair.target, as_seen_by(split, "shadow_test", "target"), st),
        n_bootstrap=5,
        seed=1,
    )
    assert records[3][NULL].auc == null.auc
    wrong = loss_threshold(  # shadow-test as stored, with the shadow pair's statistics
        loss(pair.target, ts.images, ts), loss(pair.target, st.images, st), n_bootstrap=0
    )
    assert wrong.auc != null.auc
    with pytest.raises(ValueError, match="no snapshot was kept at epoch 2"):
        attack_snapshots(split, pair, [2])


def test_dpsgd_target_is_a_seeded_attack_on_a_dp_training():
    split = tiny_split()
    before = torch.get_rng_state()
    options = dict(seed=3, batch_size=10, n_bootstrap=5)
    run = dpsgd_target(make_tiny_mlp, split, 1.0, 2, **options)
    assert torch.equal(torch.get_rng_state(), before)
    assert math.isfinite(run.epsilon) and run.epsilon > 0
    for accuracy in (run.accuracy, run.train_accuracy):
        assert 0 <= accuracy <= 1 and abs(accuracy * 20 - round(accuracy * 20)) < 1e-9
    assert run.attack.scores.shape == (40,) and run.attack.labels.sum() == 20
    again = dpsgd_target(make_tiny_mlp, split, 1.0, 2, **options)
    assert (again.epsilon, again.accuracy, again.attack.auc) == (
        run.epsilon,
        run.accuracy,
        run.attack.auc,
    )
    assert dpsgd_target(make_tiny_mlp, split, 4.0, 2, **options).epsilon < run.epsilon


def synthetic_attack(shift: float, seed: int, n: int = 200):
    rng = np.random.default_rng(seed)
    return evaluate_attack(rng.normal(shift, 1, n), rng.normal(0, 1, n), n_bootstrap=50, seed=seed)


def test_over_seeds_is_the_student_t_interval():
    values = [0.61, 0.65, 0.63, 0.60, 0.66]
    found = over_seeds(values)
    half = 2.7764451051977987 * np.std(values, ddof=1) / math.sqrt(5)  # t(0.975, 4)
    assert found == pytest.approx((0.63, 0.63 - half, 0.63 + half), abs=1e-12)
    assert SeedInterval(0.3, 0.2, 0.4).formatted(1) == "0.3 [0.2, 0.4]"
    for bad in ([0.5], [[0.5, 0.6]], [0.5, math.nan]):
        with pytest.raises(ValueError, match="values"):
            over_seeds(bad)


def test_paired_change_reads_the_per_seed_differences():
    reference = np.array([0.70, 0.74, 0.68, 0.72, 0.71])
    fall = paired_change(reference, reference - [0.05, 0.06, 0.04, 0.05, 0.05])
    assert fall.direction == "falls" and fall.difference.mean == pytest.approx(-0.05)
    assert paired_change(reference, reference + 0.03 + [0, 0.001, 0, 0.002, 0]).direction == "rises"
    noisy = paired_change(reference, reference + [0.02, -0.03, 0.01, -0.01, 0.0])
    assert noisy.direction == "no change"
    # the seeds' own spread cancels: a shift shared by both arms leaves the change resolved
    assert (
        paired_change(reference + 10 * np.arange(5), reference + 10 * np.arange(5) - 0.05).direction
        == "falls"
    )
    with pytest.raises(ValueError, match="pair the same seeds"):
        paired_change(reference, reference[:4])
    with pytest.raises(ValueError, match="power"):
        paired_change(reference, reference, power=0.3)


def test_resolvable_change_is_detected_with_the_stated_power():
    rng = np.random.default_rng(0)
    sigma, seeds, trials = 0.01, 5, 4000
    # the resolvable change of the true spread: (t_0.975 + t_0.8) sigma / sqrt(R), R - 1 dof
    delta = (2.7764451051977987 + 0.9409645034011223) * sigma / math.sqrt(seeds)
    detected = 0
    for _ in range(trials):
        differences = rng.normal(-delta, sigma, seeds)
        detected += paired_change(np.zeros(seeds), differences).direction == "falls"
    assert 0.70 <= detected / trials <= 0.86  # about 80%; the t-quantile rule is an approximation


def test_chance_band_is_the_spread_of_a_null_auc():
    rng = np.random.default_rng(1)
    aucs = [
        evaluate_attack(rng.normal(size=120), rng.normal(size=80), n_bootstrap=0).auc
        for _ in range(3000)
    ]
    assert np.std(aucs) == pytest.approx(chance_band(120, 80, z=1.0), rel=0.05)
    assert np.mean(np.abs(np.subtract(aucs, 0.5)) > chance_band(120, 80)) < 0.02  # a 99% band
    with pytest.raises(ValueError, match="members"):
        chance_band(0, 10)


def test_dominated_needs_a_resolved_difference():
    def point(attack, accuracy, half=0.01):
        return SeedInterval(attack, attack - half, attack + half), SeedInterval(
            accuracy, accuracy - half, accuracy + half
        )

    assert dominated(point(0.7, 0.8), [point(0.6, 0.8)])  # weaker attack, same accuracy
    assert dominated(point(0.7, 0.8), [point(0.7, 0.9)])  # same attack, more accurate
    assert not dominated(point(0.7, 0.8), [point(0.695, 0.805)])  # nothing resolved
    assert not dominated(point(0.7, 0.8), [point(0.6, 0.7)])  # weaker attack, less accurate
    assert not dominated(point(0.7, 0.8), [])


def test_spent_epsilon_is_opacus_accountant_bit_for_bit():
    from opacus.accountants import RDPAccountant

    from mgn.privacy.dpsgd import spent_epsilon

    accountant = RDPAccountant()
    for noise, rate, steps in ((1.0, 0.4, 30), (0.5, 0.4, 3), (2.0, 0.01, 50)):
        for _ in range(steps):
            accountant.step(noise_multiplier=noise, sample_rate=rate)
        assert spent_epsilon(accountant.history, 1e-5) == accountant.get_epsilon(1e-5)
    assert len(accountant.history) == 3  # a change of noise or rate starts a new entry
    with pytest.raises(ValueError, match="history"):
        spent_epsilon([], 1e-5)

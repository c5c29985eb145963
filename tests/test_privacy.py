"""Membership attacks, their metrics, batched snapshot scoring and DP-SGD (mgn.privacy)."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from scipy.stats import norm
from torch import nn

from mgn.privacy import (
    dp_compatible,
    evaluate_attack,
    loss_threshold,
    ml_leaks,
    per_example_loss,
    rmia,
    select_snapshots,
    snapshot_probabilities,
    train_dpsgd,
    true_label_probability,
)


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
            return true_label_probability(model(points[part]).softmax(-1), lab[part])

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


def test_snapshot_probabilities_match_the_plain_forward():
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
    batched = snapshot_probabilities(model, states, images, batch_size=7, device="cpu")
    for s, state in enumerate(states):
        model.load_state_dict(state)
        with torch.no_grad():
            plain = model.eval()(images).softmax(-1)
        torch.testing.assert_close(batched[s], plain, rtol=1e-5, atol=1e-6)
    loss = per_example_loss(batched, labels)
    assert loss.shape == (3, 30)
    torch.testing.assert_close(
        loss[-1], nn.functional.cross_entropy(model(images), labels, reduction="none")
    )


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

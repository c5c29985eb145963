"""Chapter 8's membership experiment: train a target and its shadow, attack every snapshot.

The protocol of Kolomvaki et al. (2026) for Figures 5-7, on a :class:`~mgn.vision.MembershipSplit`:

* :func:`train_target_shadow`: the target model trains on target-train (its members; target-test
  are its non-members) and a shadow model of the same architecture, under the same masked
  training, on shadow-train; seed ``s`` gives the target, the seed ``derived_seed(s, 1)`` (:mod:`mgn.seeds`) its shadow.
* :func:`attack_snapshots`: at each kept snapshot, the three attacks of chapter 8 on the target's
  members and non-members: ML-Leaks (its attacker fitted on the shadow's outputs at the same
  epoch), the loss threshold, and offline RMIA with the shadow as reference model and shadow-test
  as population. Every model sees an image standardised with its own pair's statistics
  (:func:`mgn.vision.as_seen_by`).
* :func:`dpsgd_target`: the DP-SGD baseline, a target trained with DP-SGD on target-train and
  attacked by the loss threshold (no shadow model of a DP training is needed).

No function here changes the global random state: every model is initialised inside a forked one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import nn

from mgn.privacy.attacks import loss_threshold, ml_leaks, rmia
from mgn.privacy.dpsgd import train_dpsgd
from mgn.privacy.metrics import AttackResult
from mgn.privacy.snapshots import (
    per_example_loss,
    select_snapshots,
    snapshot_probabilities,
    true_label_probability,
)
from mgn.seeds import derived_seed
from mgn.vision.models import initialised
from mgn.vision.split import MembershipSplit, as_seen_by
from mgn.vision.trainer import ClassifierResult, train_classifier

ATTACKS = ("ML-Leaks", "loss threshold", "RMIA")


class TargetShadow(NamedTuple):
    """A target model and its shadow, each a :class:`~mgn.vision.ClassifierResult`."""

    target: ClassifierResult
    shadow: ClassifierResult


def train_target_shadow(
    make_model: Callable[[], nn.Module],
    split: MembershipSplit,
    kappa: float,
    epochs: int,
    *,
    seed: int = 0,
    snapshots: Sequence[int] = (),
    lr: float = 1e-3,
    weight_decay: float = 1e-7,
    batch_size: int = 100,
    augment: bool = False,
    precision: str = "float32",
    device: str | torch.device = "auto",
) -> TargetShadow:
    """Train a target and a shadow model under the same masked training (chapter 8).

    Parameters
    ----------
    make_model
        Builds the architecture on the CPU; called with torch's generator seeded by ``seed`` for
        the target and ``mgn.seeds.derived_seed(seed, 1)`` for the shadow, which fixes their
        initial weights.
    split
        The membership split: the target trains on ``target_train`` and is evaluated on
        ``target_test``, the shadow on ``shadow_train`` and ``shadow_test``.
    kappa, epochs
        Mask scale and passes over the training group.
    seed
        Seed of the target's initial weights and every draw of its training; the shadow's is
        ``mgn.seeds.derived_seed(seed, 1)``.
    snapshots
        Epochs after which each training keeps its weights (for :func:`attack_snapshots`).
    lr, weight_decay, batch_size, augment, precision, device
        Adam's settings and the rest of the training, as in :func:`mgn.vision.train_classifier`
        (chapter 8: Adam, 1e-3, 1e-7, batches of 100, no augmentation, float32).
    """
    runs = []
    for run_seed, (train, test) in zip(
        (seed, derived_seed(seed, 1)),
        [(split.target_train, split.target_test), (split.shadow_train, split.shadow_test)],
        strict=True,
    ):
        runs.append(
            train_classifier(
                initialised(make_model, run_seed),
                train,
                test,
                kappa,
                epochs,
                lr=lr,
                weight_decay=weight_decay,
                batch_size=batch_size,
                augment=augment,
                seed=run_seed,
                snapshots=snapshots,
                device=device,
                precision=precision,
            )
        )
    return TargetShadow(*runs)


def _probabilities(run: ClassifierResult, images: torch.Tensor, epochs: Sequence[int]):
    """Softmax outputs (len(epochs), n, classes) of ``run``'s snapshots at ``epochs``."""
    states = select_snapshots(run.snapshots, epochs, trained=len(run.test_accuracy))
    return snapshot_probabilities(run.model, states, images)


def attack_snapshots(
    split: MembershipSplit,
    pair: TargetShadow,
    epochs: Sequence[int],
    *,
    offline_a: float = 0.3,
    rmia_score: str = "count",
    n_bootstrap: int = 200,
    seed: int = 0,
) -> dict[int, dict[str, AttackResult]]:
    """ML-Leaks, the loss threshold and RMIA on the target at each snapshot epoch.

    Parameters
    ----------
    split
        The membership split ``pair`` was trained on.
    pair
        The target and its shadow (:func:`train_target_shadow`), both with snapshots at ``epochs``.
    epochs
        Snapshot epochs to attack.
    offline_a, rmia_score
        RMIA's offline correction and its score (:func:`mgn.privacy.rmia`'s ``score``: the count
        of population samples beaten, or the likelihood ratio itself).
    n_bootstrap, seed
        Bootstrap resamples and seed of every attack's intervals (and of ML-Leaks' class
        balancing).

    Returns
    -------
    One record per snapshot, ``{epoch: {attack: AttackResult}}`` with ``attack`` in
    :data:`ATTACKS`; each attack scores the target's members (target-train) against its
    non-members (target-test).
    """
    target, shadow = pair
    t_in = _probabilities(target, split.target_train.images, epochs)
    t_out = _probabilities(target, split.target_test.images, epochs)
    s_in = _probabilities(shadow, split.shadow_train.images, epochs)
    s_out = _probabilities(shadow, split.shadow_test.images, epochs)
    r_in = _probabilities(shadow, as_seen_by(split, "target_train", "shadow"), epochs)
    r_out = _probabilities(shadow, as_seen_by(split, "target_test", "shadow"), epochs)
    t_pop = _probabilities(target, as_seen_by(split, "shadow_test", "target"), epochs)
    y_in, y_out, y_pop = (
        g.labels for g in (split.target_train, split.target_test, split.shadow_test)
    )
    options = {"n_bootstrap": n_bootstrap, "seed": seed}
    found = {}
    for i, epoch in enumerate(epochs):
        found[epoch] = {
            "ML-Leaks": ml_leaks(s_in[i], s_out[i], t_in[i], t_out[i], **options),
            "loss threshold": loss_threshold(
                per_example_loss(t_in[i], y_in), per_example_loss(t_out[i], y_out), **options
            ),
            "RMIA": rmia(
                true_label_probability(t_in[i], y_in),
                true_label_probability(t_out[i], y_out),
                true_label_probability(r_in[i], y_in),
                true_label_probability(r_out[i], y_out),
                true_label_probability(t_pop[i], y_pop),
                true_label_probability(s_out[i], y_pop),
                offline_a=offline_a,
                score=rmia_score,
                **options,
            ),
        }
    return found


@dataclass(frozen=True)
class DPTarget:
    """A DP-SGD target: the loss-threshold ``attack`` on it, its clean test ``accuracy`` on
    target-test, and the ``epsilon`` it spent (at the training's delta)."""

    attack: AttackResult
    accuracy: float
    epsilon: float


def dpsgd_target(
    make_model: Callable[[], nn.Module],
    split: MembershipSplit,
    noise_multiplier: float,
    epochs: int,
    *,
    seed: int = 0,
    max_grad_norm: float = 1.0,
    delta: float = 1e-5,
    lr: float = 1e-3,
    weight_decay: float = 1e-7,
    batch_size: int = 100,
    n_bootstrap: int = 200,
) -> DPTarget:
    """Train a target with DP-SGD on target-train and attack it with the loss threshold.

    Parameters
    ----------
    make_model
        Builds the architecture on the CPU (no BatchNorm: see :func:`mgn.privacy.dp_compatible`);
        called with torch's generator seeded by ``seed``.
    split
        The membership split: members are target-train, non-members target-test.
    noise_multiplier, epochs
        sigma and the passes over target-train, as in :func:`mgn.privacy.train_dpsgd`.
    seed
        Seed of the initial weights, the Poisson sampling, the noise and the attack's bootstrap.
    max_grad_norm, delta, lr, weight_decay, batch_size
        As in :func:`mgn.privacy.train_dpsgd` (``batch_size`` is the expected batch size).
    n_bootstrap
        Bootstrap resamples of the attack's intervals.
    """
    run = train_dpsgd(
        initialised(make_model, seed),
        split.target_train,
        noise_multiplier,
        epochs,
        max_grad_norm=max_grad_norm,
        delta=delta,
        lr=lr,
        weight_decay=weight_decay,
        batch_size=batch_size,
        seed=seed,
        snapshots=(epochs,),
    )
    states = [run.snapshots[epochs]]
    probs_in = snapshot_probabilities(run.model, states, split.target_train.images)[0]
    probs_out = snapshot_probabilities(run.model, states, split.target_test.images)[0]
    attack = loss_threshold(
        per_example_loss(probs_in, split.target_train.labels),
        per_example_loss(probs_out, split.target_test.labels),
        n_bootstrap=n_bootstrap,
        seed=seed,
    )
    accuracy = (probs_out.argmax(1) == split.target_test.labels).float().mean().item()
    return DPTarget(attack, accuracy, run.epsilon[-1])

"""Chapter 8's membership experiment: train a target and its shadow, attack every snapshot.

The protocol of Kolomvaki et al. (2026) for Figures 5-7, on a :class:`~mgn.vision.MembershipSplit`:

* :func:`train_target_shadow`: the target model trains on target-train (its members; target-test
  are its non-members) and a shadow model of the same architecture, under the same masked
  training, on shadow-train; seed ``s`` gives the target, the seed ``derived_seed(s, 1)`` (:mod:`mgn.seeds`) its shadow.
* :func:`attack_snapshots`: at each kept snapshot, the three attacks of chapter 8 on the target's
  members and non-members: ML-Leaks (its attacker fitted on the shadow's outputs at the same
  epoch), the loss threshold, and offline RMIA with the shadow as reference model and shadow-test
  as population; and the null check :data:`NULL`, the loss threshold on two non-member groups that
  reach the target through different paths. Every model sees an image standardised with its own
  pair's statistics (:func:`mgn.vision.as_seen_by`). Losses and probabilities are computed in
  float64 from the logits (:func:`mgn.privacy.cross_entropy_from_logits`).
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
from mgn.privacy.losses import cross_entropy_from_logits
from mgn.privacy.metrics import AttackResult
from mgn.privacy.snapshots import select_snapshots, snapshot_logits
from mgn.seeds import derived_seed
from mgn.vision.models import initialised
from mgn.vision.split import MembershipSplit, as_seen_by
from mgn.vision.trainer import ClassifierResult, train_classifier

ATTACKS = ("ML-Leaks", "loss threshold", "RMIA")
NULL = "null: target-test against shadow-test"


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
    record_every: int = 1,
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
    lr, weight_decay, batch_size, augment, precision, record_every, device
        Adam's settings and the rest of the training, as in :func:`mgn.vision.train_classifier`
        (chapter 8: Adam, 1e-3, 1e-7, batches of 100, no augmentation, float32, the clean
        metrics recorded after the last epoch only).
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
                record_every=record_every,
            )
        )
    return TargetShadow(*runs)


class _Outputs(NamedTuple):
    """A model's outputs on one group at each snapshot, in float64: (snapshots, n, classes)
    softmax ``probabilities`` and (snapshots, n) cross-entropy ``losses``."""

    probabilities: torch.Tensor
    losses: torch.Tensor


def _outputs(run: ClassifierResult, images: torch.Tensor, labels, epochs: Sequence[int]):
    """:class:`_Outputs` of ``run``'s snapshots at ``epochs`` on ``images`` with ``labels``."""
    states = select_snapshots(run.snapshots, epochs, trained=run.epochs)
    logits = snapshot_logits(run.model, states, images).double()
    return _Outputs(logits.softmax(-1), torch.from_numpy(cross_entropy_from_logits(logits, labels)))


def attack_snapshots(
    split: MembershipSplit,
    pair: TargetShadow,
    epochs: Sequence[int],
    *,
    offline_a: float = 0.3,
    rmia_score: str = "ratio",
    n_bootstrap: int = 0,
    seed: int = 0,
) -> dict[int, dict[str, AttackResult]]:
    """ML-Leaks, the loss threshold, RMIA and the null check on the target at each snapshot.

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
        Bootstrap resamples over the examples of every attack's own intervals (none by default:
        chapter 8's intervals are over seeds) and the seed of ML-Leaks' class balancing.

    Returns
    -------
    One record per snapshot, ``{epoch: {attack: AttackResult}}`` with ``attack`` in
    :data:`ATTACKS`, each scoring the target's members (target-train) against its non-members
    (target-test), and :data:`NULL`: the loss threshold with target-test posing as members and
    shadow-test, rescaled to the target's statistics, as non-members. Both are non-members, so
    its AUC sits at chance unless one path treats its images differently (a wrong rescaling).
    """
    target, shadow = pair
    groups = {
        "t_in": (target, split.target_train.images, split.target_train.labels),
        "t_out": (target, split.target_test.images, split.target_test.labels),
        "t_pop": (target, as_seen_by(split, "shadow_test", "target"), split.shadow_test.labels),
        "s_in": (shadow, split.shadow_train.images, split.shadow_train.labels),
        "s_out": (shadow, split.shadow_test.images, split.shadow_test.labels),
        "r_in": (shadow, as_seen_by(split, "target_train", "shadow"), split.target_train.labels),
        "r_out": (shadow, as_seen_by(split, "target_test", "shadow"), split.target_test.labels),
    }
    out = {
        name: _outputs(run, images, labels, epochs)
        for name, (run, images, labels) in groups.items()
    }
    p = {name: o.probabilities for name, o in out.items()}
    loss = {name: o.losses for name, o in out.items()}
    options = {"n_bootstrap": n_bootstrap, "seed": seed}
    found = {}
    for i, epoch in enumerate(epochs):
        label_p = {name: (-value[i]).exp() for name, value in loss.items()}
        found[epoch] = {
            "ML-Leaks": ml_leaks(
                p["s_in"][i], p["s_out"][i], p["t_in"][i], p["t_out"][i], **options
            ),
            "loss threshold": loss_threshold(loss["t_in"][i], loss["t_out"][i], **options),
            "RMIA": rmia(
                *(label_p[name] for name in ("t_in", "t_out", "r_in", "r_out", "t_pop", "s_out")),
                offline_a=offline_a,
                score=rmia_score,
                **options,
            ),
            NULL: loss_threshold(loss["t_out"][i], loss["t_pop"][i], **options),
        }
    return found


@dataclass(frozen=True)
class DPTarget:
    """A DP-SGD target: the loss-threshold ``attack`` on it, its clean ``accuracy`` on
    target-test and ``train_accuracy`` on target-train, and the ``epsilon`` it spent (at the
    training's delta)."""

    attack: AttackResult
    accuracy: float
    train_accuracy: float
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
    n_bootstrap: int = 0,
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
    logits = {
        name: snapshot_logits(run.model, states, group.images)[0]
        for name, group in (("in", split.target_train), ("out", split.target_test))
    }
    attack = loss_threshold(
        cross_entropy_from_logits(logits["in"], split.target_train.labels),
        cross_entropy_from_logits(logits["out"], split.target_test.labels),
        n_bootstrap=n_bootstrap,
        seed=seed,
    )
    accuracy = {
        name: (logits[name].argmax(1) == group.labels).double().mean().item()
        for name, group in (("in", split.target_train), ("out", split.target_test))
    }
    return DPTarget(attack, accuracy["out"], accuracy["in"], run.epsilon[-1])

"""Membership inference under the mask (chapter 8, Figures 5-7): attacks, metrics, DP-SGD."""

from mgn.privacy.attacks import loss_threshold, ml_leaks, null_attack, rmia, top_k_features
from mgn.privacy.binomial import clopper_pearson
from mgn.privacy.dpsgd import DPSGDResult, dp_compatible, train_dpsgd
from mgn.privacy.low_fpr import (
    MIN_FALSE_POSITIVES,
    LowFprEstimate,
    false_positives_at,
    tpr_at_false_positives,
    tpr_at_level,
)
from mgn.privacy.metrics import FPR_LEVELS, AttackResult, evaluate_attack, tpr_at_fpr
from mgn.privacy.pipeline import (
    ATTACKS,
    DPTarget,
    TargetShadow,
    attack_snapshots,
    dpsgd_target,
    train_target_shadow,
)
from mgn.privacy.snapshots import (
    per_example_loss,
    select_snapshots,
    snapshot_probabilities,
    true_label_probability,
)
from mgn.privacy.summary import (
    SeedRange,
    attack_range,
    auc_fall,
    distance_from_chance,
    dominated,
    has_proper_interval,
    seed_range,
)

__all__ = [
    "ATTACKS",
    "FPR_LEVELS",
    "MIN_FALSE_POSITIVES",
    "AttackResult",
    "DPSGDResult",
    "DPTarget",
    "LowFprEstimate",
    "SeedRange",
    "TargetShadow",
    "attack_range",
    "attack_snapshots",
    "auc_fall",
    "clopper_pearson",
    "distance_from_chance",
    "dominated",
    "dp_compatible",
    "dpsgd_target",
    "evaluate_attack",
    "false_positives_at",
    "has_proper_interval",
    "loss_threshold",
    "ml_leaks",
    "null_attack",
    "per_example_loss",
    "rmia",
    "seed_range",
    "select_snapshots",
    "snapshot_probabilities",
    "top_k_features",
    "tpr_at_false_positives",
    "tpr_at_fpr",
    "tpr_at_level",
    "train_dpsgd",
    "train_target_shadow",
    "true_label_probability",
]

"""Membership inference under the mask (chapter 8, Figures 5-7): attacks, metrics, DP-SGD."""

from mgn.privacy.attacks import loss_threshold, ml_leaks, rmia, top_k_features
from mgn.privacy.binomial import clopper_pearson
from mgn.privacy.checks import (
    leak_check,
    learns_under_mask_check,
    null_paths_check,
    resolution_check,
    tie_check,
)
from mgn.privacy.dpsgd import DPSGDResult, dp_compatible, train_dpsgd
from mgn.privacy.losses import cross_entropy_from_logits
from mgn.privacy.low_fpr import (
    MIN_FALSE_POSITIVES,
    LowFprEstimate,
    false_positives_at,
    reportable,
    tpr_at_false_positives,
    tpr_at_level,
)
from mgn.privacy.metrics import FPR_LEVELS, AttackResult, evaluate_attack, tpr_at_fpr
from mgn.privacy.pipeline import (
    ATTACKS,
    NULL,
    DPTarget,
    TargetShadow,
    attack_snapshots,
    dpsgd_target,
    train_target_shadow,
)
from mgn.privacy.snapshots import select_snapshots, snapshot_logits
from mgn.privacy.summary import (
    Change,
    SeedInterval,
    chance_band,
    dominated,
    over_seeds,
    paired_change,
)

__all__ = [
    "ATTACKS",
    "FPR_LEVELS",
    "MIN_FALSE_POSITIVES",
    "NULL",
    "AttackResult",
    "Change",
    "DPSGDResult",
    "DPTarget",
    "LowFprEstimate",
    "SeedInterval",
    "TargetShadow",
    "attack_snapshots",
    "chance_band",
    "clopper_pearson",
    "cross_entropy_from_logits",
    "dominated",
    "dp_compatible",
    "dpsgd_target",
    "evaluate_attack",
    "false_positives_at",
    "leak_check",
    "learns_under_mask_check",
    "loss_threshold",
    "ml_leaks",
    "null_paths_check",
    "over_seeds",
    "paired_change",
    "reportable",
    "resolution_check",
    "rmia",
    "select_snapshots",
    "snapshot_logits",
    "tie_check",
    "top_k_features",
    "tpr_at_false_positives",
    "tpr_at_fpr",
    "tpr_at_level",
    "train_dpsgd",
    "train_target_shadow",
]

"""Membership inference under the mask (SPEC section 7, Figures 5-7): attacks, metrics, DP-SGD."""

from mgn.privacy.attacks import loss_threshold, ml_leaks, rmia, top_k_features
from mgn.privacy.dpsgd import DPSGDResult, dp_compatible, train_dpsgd
from mgn.privacy.metrics import FPR_LEVELS, AttackResult, evaluate_attack, tpr_at_fpr
from mgn.privacy.snapshots import (
    per_example_loss,
    select_snapshots,
    snapshot_probabilities,
    true_label_probability,
)

__all__ = [
    "FPR_LEVELS",
    "AttackResult",
    "DPSGDResult",
    "dp_compatible",
    "evaluate_attack",
    "loss_threshold",
    "ml_leaks",
    "per_example_loss",
    "rmia",
    "select_snapshots",
    "snapshot_probabilities",
    "top_k_features",
    "tpr_at_fpr",
    "train_dpsgd",
    "true_label_probability",
]

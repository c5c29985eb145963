"""Real images under the Gaussian mask (chapters 7 and 8): loaders, the split, models, training."""

from mgn.vision.accuracy import (
    FIGURE4,
    Decline,
    SweepSummary,
    decline,
    departures,
    figure4_verdict,
    learns_check,
    summarise_sweep,
)
from mgn.vision.images import (
    ImageData,
    load_cifar10,
    load_mnist5k,
    resolve_images,
)
from mgn.vision.models import CNN, MLP, initialised
from mgn.vision.smoothed_mlp import SmoothedMLP, expected_hidden, masked_hidden_mean
from mgn.vision.split import (
    GROUPS,
    PAIRS,
    ImageGroup,
    MembershipSplit,
    as_seen_by,
    membership_split,
    standardise,
)
from mgn.vision.trainer import ClassifierResult, evaluate, train_classifier

__all__ = [
    "CNN",
    "FIGURE4",
    "GROUPS",
    "PAIRS",
    "ClassifierResult",
    "Decline",
    "MLP",
    "ImageData",
    "ImageGroup",
    "MembershipSplit",
    "SmoothedMLP",
    "SweepSummary",
    "as_seen_by",
    "decline",
    "departures",
    "figure4_verdict",
    "learns_check",
    "load_cifar10",
    "load_mnist5k",
    "evaluate",
    "expected_hidden",
    "initialised",
    "masked_hidden_mean",
    "membership_split",
    "resolve_images",
    "standardise",
    "summarise_sweep",
    "train_classifier",
]

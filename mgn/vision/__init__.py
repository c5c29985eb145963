"""Real images under the Gaussian mask (SPEC section 7): loaders, the split, models and training."""

from mgn.vision.images import (
    ImageData,
    load_cifar10,
    load_mnist5k,
    resolve_images,
)
from mgn.vision.models import CNN, MLP
from mgn.vision.smoothed_mlp import SmoothedMLP, expected_hidden
from mgn.vision.split import ImageGroup, MembershipSplit, membership_split
from mgn.vision.trainer import ClassifierResult, evaluate, train_classifier

__all__ = [
    "CNN",
    "ClassifierResult",
    "MLP",
    "ImageData",
    "ImageGroup",
    "MembershipSplit",
    "SmoothedMLP",
    "load_cifar10",
    "load_mnist5k",
    "evaluate",
    "expected_hidden",
    "membership_split",
    "resolve_images",
    "train_classifier",
]

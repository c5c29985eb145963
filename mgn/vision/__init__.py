"""Real images under the Gaussian mask (SPEC section 7): loaders, the split, models and training."""

from mgn.vision.images import (
    ImageData,
    load_cifar10,
    load_mnist5k,
    resolve_images,
)
from mgn.vision.models import CNN, MLP
from mgn.vision.split import ImageGroup, MembershipSplit, membership_split

__all__ = [
    "CNN",
    "MLP",
    "ImageData",
    "ImageGroup",
    "MembershipSplit",
    "load_cifar10",
    "load_mnist5k",
    "membership_split",
    "resolve_images",
]

"""SPEC section 7's split of a pooled image set into four disjoint groups, standardised per pair.

The authors pool CIFAR-10's training and test images (60,000), shuffle the pooled indices with
``random.Random(42).shuffle``, and cut four consecutive groups of equal size: target-train,
shadow-train, target-test, shadow-test. Pixels are scaled to [0, 1] and standardised per channel,
the target pair with the target-train mean and standard deviation and the shadow pair with the
shadow-train ones (as the authors' code does), so neither model sees statistics of the other's data.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import torch

GROUPS = ("target_train", "shadow_train", "target_test", "shadow_test")


@dataclass(frozen=True)
class ImageGroup:
    """One group: standardised float32 ``images`` (n, C, H, W), int64 ``labels`` (n,), and
    ``indices`` (n,) of its images in the pooled set."""

    images: torch.Tensor
    labels: torch.Tensor
    indices: torch.Tensor

    def __len__(self) -> int:
        return len(self.labels)


@dataclass(frozen=True)
class MembershipSplit:
    """The four groups of SPEC section 7 and the per-channel statistics each pair was scaled with.

    ``target_mean``/``target_std`` (C,) come from target-train (pixels in [0, 1]) and standardise
    the target pair; ``shadow_mean``/``shadow_std`` from shadow-train, for the shadow pair.
    """

    target_train: ImageGroup
    shadow_train: ImageGroup
    target_test: ImageGroup
    shadow_test: ImageGroup
    target_mean: torch.Tensor
    target_std: torch.Tensor
    shadow_mean: torch.Tensor
    shadow_std: torch.Tensor


def shuffled_indices(n: int, seed: int = 42) -> list[int]:
    """The authors' shuffle: ``random.Random(seed).shuffle(list(range(n)))``."""
    order = list(range(n))
    random.Random(seed).shuffle(order)
    return order


def _scaled(images: torch.Tensor) -> torch.Tensor:
    """Float32 pixels: uint8 images divided by 255, float images as they are."""
    if images.dtype == torch.uint8:
        return images.to(torch.float32) / 255.0
    return images.to(torch.float32)


def membership_split(
    images: torch.Tensor, labels: torch.Tensor, group_size: int, seed: int = 42
) -> MembershipSplit:
    """Split ``images`` (N, C, H, W) and ``labels`` (N,) into SPEC section 7's four groups.

    Parameters
    ----------
    images : uint8 (scaled by 1/255) or float images; labels : (N,) class labels.
    group_size : images per group; at most ``N // 4``.
    seed : seed of the authors' shuffle (:func:`shuffled_indices`); 42 in the paper.

    Returns
    -------
    :class:`MembershipSplit`; group ``g`` holds pooled indices
    ``order[g * group_size:(g + 1) * group_size]`` in the order of :data:`GROUPS`.
    """
    if not isinstance(images, torch.Tensor) or images.ndim != 4:
        raise ValueError(
            f"images must be a tensor of shape (N, C, H, W), got {getattr(images, 'shape', images)}"
        )
    if not isinstance(labels, torch.Tensor) or labels.shape != (images.shape[0],):
        raise ValueError(
            f"labels must be a tensor of shape ({images.shape[0]},) to match images, "
            f"got {getattr(labels, 'shape', labels)}"
        )
    largest = images.shape[0] // 4
    if isinstance(group_size, bool) or not isinstance(group_size, int) or group_size < 1:
        raise ValueError(f"group_size must be a positive int, got {group_size!r}")
    if group_size > largest:
        raise ValueError(
            f"group_size must be at most a quarter of the {images.shape[0]} pooled images "
            f"(the largest possible is {largest}), got {group_size}"
        )
    order = torch.tensor(shuffled_indices(images.shape[0], seed), dtype=torch.int64)
    parts = {name: order[g * group_size : (g + 1) * group_size] for g, name in enumerate(GROUPS)}
    pixels = {name: _scaled(images[index]) for name, index in parts.items()}
    stats = {}
    for pair in ("target", "shadow"):
        train = pixels[f"{pair}_train"]
        stats[pair] = (train.mean(dim=(0, 2, 3)), train.std(dim=(0, 2, 3)).clamp_min(1e-6))
    groups = {}
    for name, index in parts.items():
        mean, std = stats[name.split("_")[0]]
        standardised = (pixels[name] - mean[:, None, None]) / std[:, None, None]
        groups[name] = ImageGroup(standardised.contiguous(), labels[index].to(torch.int64), index)
    return MembershipSplit(
        **groups,
        target_mean=stats["target"][0],
        target_std=stats["target"][1],
        shadow_mean=stats["shadow"][0],
        shadow_std=stats["shadow"][1],
    )

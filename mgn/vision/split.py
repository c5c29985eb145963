"""The membership split of a pooled image set into four disjoint groups, standardised per pair.

The authors pool CIFAR-10's training and test images (60,000), shuffle the pooled indices with
``random.Random(42).shuffle``, and cut four consecutive groups of equal size: target-train,
shadow-train, target-test, shadow-test. Pixels are scaled to [0, 1] and standardised per channel,
the target pair with the target-train mean and standard deviation and the shadow pair with the
shadow-train ones (as the authors' code does), so neither model sees statistics of the other's data.
:func:`standardise` scales further images as a pair's models see them, and :func:`as_seen_by` gives
a group as the models of the other pair see it (chapter 8: the shadow model scores target images as
a reference for RMIA).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import torch

GROUPS = ("target_train", "shadow_train", "target_test", "shadow_test")
PAIRS = ("target", "shadow")


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
    """The four groups of chapter 8 and the per-channel statistics each pair was scaled with.

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


def _standardised(pixels: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """``(pixels - mean) / std`` per channel: pixels (n, C, H, W), mean and std (C,)."""
    return (pixels - mean[:, None, None]) / std[:, None, None]


def _pair_of(group: str) -> str:
    """The pair (``"target"`` or ``"shadow"``) a group of :data:`GROUPS` belongs to."""
    return group.split("_")[0]


def membership_split(
    images: torch.Tensor, labels: torch.Tensor, group_size: int, seed: int = 42
) -> MembershipSplit:
    """Split ``images`` (N, C, H, W) and ``labels`` (N,) into the four groups of chapter 8.

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
    for pair in PAIRS:
        train = pixels[f"{pair}_train"]
        stats[pair] = (train.mean(dim=(0, 2, 3)), train.std(dim=(0, 2, 3)).clamp_min(1e-6))
    groups = {}
    for name, index in parts.items():
        standardised = _standardised(pixels[name], *stats[_pair_of(name)])
        groups[name] = ImageGroup(standardised.contiguous(), labels[index].to(torch.int64), index)
    return MembershipSplit(
        **groups,
        target_mean=stats["target"][0],
        target_std=stats["target"][1],
        shadow_mean=stats["shadow"][0],
        shadow_std=stats["shadow"][1],
    )


def _statistics(split: MembershipSplit, pair: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and standard deviation (C,) that standardise the images of ``pair``."""
    if pair not in PAIRS:
        raise ValueError(f"pair must be one of {PAIRS}, got {pair!r}")
    return getattr(split, f"{pair}_mean"), getattr(split, f"{pair}_std")


def standardise(images: torch.Tensor, split: MembershipSplit, pair: str) -> torch.Tensor:
    """Images as the models of ``pair`` see them: standardised with that pair's statistics.

    Parameters
    ----------
    images : (n, C, H, W) pixels, uint8 (scaled by 1/255) or float in [0, 1], like the pooled
        images given to :func:`membership_split` (for example held-out images outside the split).
    split : the split whose statistics to use.
    pair : ``"target"`` (target-train's mean and standard deviation) or ``"shadow"``.

    Returns
    -------
    float32 (n, C, H, W); on a group's own pixels and pair, exactly that group's images.
    """
    if not isinstance(images, torch.Tensor) or images.ndim != 4:
        raise ValueError(
            f"images must be a tensor of shape (n, C, H, W), got {getattr(images, 'shape', images)}"
        )
    mean, std = _statistics(split, pair)
    if images.shape[1] != mean.shape[0]:
        raise ValueError(
            f"images must have {mean.shape[0]} channels like the split, got {images.shape[1]}"
        )
    return _standardised(_scaled(images), mean, std)


def as_seen_by(split: MembershipSplit, group: str, pair: str) -> torch.Tensor:
    """The images of ``group`` as the models of ``pair`` see them, (n, C, H, W) float32.

    A group is stored standardised with its own pair's statistics; for the other pair the images
    are scaled back to pixels and standardised with that pair's statistics, so that a model of
    ``pair`` scores them as it scores its own data (chapter 8: the shadow model is RMIA's reference
    for the target's members and non-members, and the target scores the shadow's population).

    Parameters
    ----------
    split : the membership split.
    group : one of :data:`GROUPS`, e.g. ``"target_train"``.
    pair : ``"target"`` or ``"shadow"``, the pair whose models look at the images.

    Returns
    -------
    The group's own images (not a copy) when ``pair`` is the group's, a new tensor otherwise.
    """
    if group not in GROUPS:
        raise ValueError(f"group must be one of {GROUPS}, got {group!r}")
    images = getattr(split, group).images
    source = _pair_of(group)
    to_mean, to_std = _statistics(split, pair)
    if pair == source:
        return images
    mean, std = _statistics(split, source)
    pixels = images * std.view(1, -1, 1, 1) + mean.view(1, -1, 1, 1)
    return (pixels - to_mean.view(1, -1, 1, 1)) / to_std.view(1, -1, 1, 1)

"""Standardisation of a membership split as each pair's models see it (mgn.vision.split)."""

import pytest
import torch

from mgn.vision import as_seen_by, membership_split, standardise


@pytest.fixture(scope="module")
def pooled():
    generator = torch.Generator().manual_seed(3)
    images = torch.randint(0, 256, (48, 3, 4, 4), generator=generator, dtype=torch.uint8)
    images[images.shape[0] // 2 :] //= 3  # the second half is darker: the pairs' statistics differ
    images[:, 2] //= 2
    return images, membership_split(images, torch.arange(48) % 10, group_size=12)


def test_standardise_reproduces_each_group_with_its_own_pair(pooled):
    images, split = pooled
    for group, pair in (
        ("target_train", "target"),
        ("target_test", "target"),
        ("shadow_test", "shadow"),
    ):
        ours = getattr(split, group)
        assert torch.equal(standardise(images[ours.indices], split, pair), ours.images)


def test_the_other_pair_s_statistics_give_another_view(pooled):
    images, split = pooled
    assert not torch.allclose(split.target_mean, split.shadow_mean, atol=0.05)
    for group, other in (
        ("target_train", "shadow"),
        ("target_test", "shadow"),
        ("shadow_test", "target"),
    ):
        pixels = images[getattr(split, group).indices]
        seen = as_seen_by(split, group, other)
        torch.testing.assert_close(seen, standardise(pixels, split, other), atol=1e-5, rtol=1e-5)
        mean, std = getattr(split, f"{other}_mean"), getattr(split, f"{other}_std")
        expected = (pixels.float() / 255 - mean[:, None, None]) / std[:, None, None]
        torch.testing.assert_close(seen, expected, atol=1e-5, rtol=1e-5)
        assert (seen - getattr(split, group).images).abs().max() > 0.1  # swapping them matters
    assert as_seen_by(split, "shadow_train", "shadow") is split.shadow_train.images


def test_standardise_accepts_float_pixels(pooled):
    images, split = pooled
    pixels = images[split.target_test.indices]
    assert torch.equal(
        standardise(pixels.float() / 255, split, "target"), standardise(pixels, split, "target")
    )


def test_errors_name_the_argument(pooled):
    images, split = pooled
    with pytest.raises(ValueError, match="group must be one of"):
        as_seen_by(split, "train", "target")
    with pytest.raises(ValueError, match="pair must be one of"):
        as_seen_by(split, "target_train", "both")
    with pytest.raises(ValueError, match="pair must be one of"):
        standardise(images, split, "targets")
    with pytest.raises(ValueError, match="images must have 3 channels"):
        standardise(images[:, :1], split, "target")
    with pytest.raises(ValueError, match="images must be a tensor of shape"):
        standardise(images[0], split, "target")

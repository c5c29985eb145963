import pickle
import random

import numpy as np
import pytest
import torch

from mgn.vision import load_cifar10, load_mnist5k, membership_split, resolve_images
from mgn.vision.images import CIFAR10_TEST_BATCH
from tests.cifar_folder import write_batch, write_cifar10


@pytest.fixture
def cifar_root(tmp_path):
    return tmp_path, write_cifar10(tmp_path, per_batch=3, test_size=4)


def test_loader_reads_every_batch_in_order(cifar_root):
    root, batches = cifar_root
    images, labels = load_cifar10(root, "all")
    assert images.dtype == torch.uint8 and images.shape == (19, 3, 32, 32)
    assert labels.dtype == torch.int64
    np.testing.assert_array_equal(labels.numpy(), np.concatenate([b[b"labels"] for b in batches]))
    # row-major channel planes: pixel (c, i, j) is data[c * 1024 + i * 32 + j]
    np.testing.assert_array_equal(images[3, 2, 5, 7].item(), batches[1][b"data"][0, 2048 + 167])
    assert load_cifar10(root, "train")[0].shape[0] == 15
    np.testing.assert_array_equal(load_cifar10(root, "test")[0].numpy(), images[15:].numpy())


def test_resolve_images_uses_cifar_when_a_root_is_named(cifar_root, monkeypatch):
    root, _ = cifar_root
    data = resolve_images(cifar_root=root)
    assert data.source == "cifar10" and data.official_test_start == 15
    monkeypatch.setenv("MGN_CIFAR10", str(root))
    assert resolve_images().source == "cifar10"
    assert resolve_images("mnist5k").source == "mnist5k"
    monkeypatch.delenv("MGN_CIFAR10")
    assert resolve_images().source == "mnist5k"
    with pytest.raises(ValueError, match="cifar_root"):
        resolve_images("cifar10")
    with pytest.raises(ValueError, match="source"):
        resolve_images("svhn")


def test_loader_errors_name_the_file(cifar_root):
    root, _ = cifar_root
    folder = root / "cifar-10-batches-py"
    with pytest.raises(FileNotFoundError, match="cifar-10-batches-py"):
        load_cifar10(root / "nowhere")
    with pytest.raises(ValueError, match="split"):
        load_cifar10(root, "valid")
    cases = {
        "truncated": lambda p: p.write_bytes(p.read_bytes()[:50]),
        "foreign": lambda p: p.write_text("not a pickle"),
        "not a dict": lambda p: p.write_bytes(pickle.dumps([1, 2])),
        "keys": lambda p: p.write_bytes(pickle.dumps({b"data": 1})),
        "shape": lambda p: write_batch(p, 2, 0, data=np.zeros((2, 100), np.uint8)),
        "dtype": lambda p: write_batch(p, 2, 0, data=np.zeros((2, 3072), np.float32)),
        "count": lambda p: write_batch(p, 2, 0, labels=[1, 2, 3]),
        "range": lambda p: write_batch(p, 2, 0, labels=[1, 10]),
    }
    for case, spoil in cases.items():
        path = folder / "data_batch_3"
        good = path.read_bytes()
        spoil(path)
        with pytest.raises(ValueError, match="data_batch_3") as info:
            load_cifar10(root, "all")
        assert "data_batch_3" in str(info.value), case
        path.write_bytes(good)
    (folder / CIFAR10_TEST_BATCH).unlink()
    with pytest.raises(FileNotFoundError, match="test_batch"):
        load_cifar10(root, "all")
    assert load_cifar10(root, "train")[0].shape[0] == 15


def test_mnist5k_is_500_real_digits_per_class():
    images, labels = load_mnist5k()
    assert images.shape == (5000, 1, 28, 28) and images.dtype == torch.uint8
    assert torch.bincount(labels).tolist() == [500] * 10
    assert images.float().mean() > 20 and images.max() == 255


def test_mnist5k_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing"):
        load_mnist5k(tmp_path / "none.csv.gz")
    bad = tmp_path / "bad.csv.gz"
    bad.write_text("plain text")
    with pytest.raises(ValueError, match="bad.csv.gz"):
        load_mnist5k(bad)


def test_membership_split_follows_the_authors_shuffle_and_standardises_per_pair():
    generator = torch.Generator().manual_seed(0)
    n = 41
    images = torch.randint(0, 256, (n, 3, 4, 4), generator=generator, dtype=torch.uint8)
    images[:, 1] //= 4  # channels with different statistics
    labels = torch.arange(n) % 10
    split = membership_split(images, labels, group_size=10)
    order = list(range(n))
    random.Random(42).shuffle(order)
    assert split.target_train.indices.tolist() == order[:10]
    assert split.shadow_test.indices.tolist() == order[30:40]
    groups = [split.target_train, split.shadow_train, split.target_test, split.shadow_test]
    assert len({i for g in groups for i in g.indices.tolist()}) == 40
    for g in groups:
        assert g.images.dtype == torch.float32 and g.images.shape == (10, 3, 4, 4)
        assert torch.equal(g.labels, labels[g.indices])
    for train, test, mean, std in [
        (split.target_train, split.target_test, split.target_mean, split.target_std),
        (split.shadow_train, split.shadow_test, split.shadow_mean, split.shadow_std),
    ]:
        torch.testing.assert_close(train.images.mean((0, 2, 3)), torch.zeros(3), atol=1e-5, rtol=0)
        torch.testing.assert_close(train.images.std((0, 2, 3)), torch.ones(3), atol=1e-5, rtol=0)
        raw = images[test.indices].float() / 255
        torch.testing.assert_close(test.images, (raw - mean[:, None, None]) / std[:, None, None])
    assert not torch.allclose(split.target_mean, split.shadow_mean)


def test_membership_split_errors():
    images, labels = torch.zeros(41, 1, 2, 2, dtype=torch.uint8), torch.zeros(41)
    with pytest.raises(ValueError, match="largest possible is 10"):
        membership_split(images, labels, 11)
    with pytest.raises(ValueError, match="group_size"):
        membership_split(images, labels, 0)
    with pytest.raises(ValueError, match="labels"):
        membership_split(images, labels[:5], 5)
    with pytest.raises(ValueError, match="images"):
        membership_split(images[0], labels, 5)

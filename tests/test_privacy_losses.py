"""Per-example cross-entropy from logits in float64 (chapter 8, the loss threshold)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from mgn.privacy.losses import cross_entropy_from_logits


def exact_loss(row: list[float], label: int) -> float:
    """logsumexp(row) - row[label] in Python floats, summed exactly with math.fsum."""
    top = max(row)
    others = list(row)
    others.remove(top)
    return (top - row[label]) + math.log1p(math.fsum(math.exp(v - top) for v in others))


def test_confident_float32_examples_keep_positive_ordered_losses():
    logits = torch.zeros(3, 10, dtype=torch.float32)
    logits[:, 4] = torch.tensor([20.0, 30.0, 40.0])  # ever more confident in the true label 4
    labels = torch.full((3,), 4)
    probabilities = logits.softmax(-1)
    assert (probabilities[:, 4] == 1.0).all()  # float32 rounds every one to certainty
    assert (-probabilities[:, 4].log() == 0).all()  # -log p from a float32 softmax ties them at 0
    loss = cross_entropy_from_logits(logits, labels)
    assert loss.dtype == np.float64
    assert (loss > 0).all() and loss[0] > loss[1] > loss[2]
    for i in range(3):
        expected = exact_loss(logits[i].tolist(), 4)
        assert loss[i] == pytest.approx(expected, rel=1e-14)
    assert loss[2] == pytest.approx(9 * math.exp(-40), rel=1e-12)


def test_matches_torch_cross_entropy_in_float64_with_leading_snapshot_axis():
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(4, 50, 7, generator=generator, dtype=torch.float64) * 3
    labels = torch.randint(0, 7, (50,), generator=generator)
    loss = cross_entropy_from_logits(logits, labels)
    assert loss.shape == (4, 50)
    for s in range(4):
        expected = torch.nn.functional.cross_entropy(logits[s], labels, reduction="none")
        np.testing.assert_allclose(loss[s], expected.numpy(), rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(
        loss[1, :5], [exact_loss(logits[1, i].tolist(), int(labels[i])) for i in range(5)],
        rtol=1e-13,
    )  # fmt: skip


def test_a_wrong_label_and_tied_maxima():
    loss = cross_entropy_from_logits(np.array([[50.0, 0.0], [3.0, 3.0], [1.0, 2.0]]), [1, 0, 0])
    assert loss[0] == pytest.approx(50.0 + math.log1p(math.exp(-50.0)), rel=1e-15)
    assert loss[1] == pytest.approx(math.log(2.0), rel=1e-15)
    assert loss[2] == pytest.approx(1.0 + math.log1p(math.exp(-1.0)), rel=1e-15)
    bfloat = torch.tensor([[2.0, 0.0]], dtype=torch.bfloat16)
    assert cross_entropy_from_logits(bfloat, torch.tensor([0]))[0] == pytest.approx(
        math.log1p(math.exp(-2.0)), rel=1e-15
    )


def test_bad_inputs_are_named():
    logits = np.zeros((3, 4))
    with pytest.raises(ValueError, match=r"logits must be a non-empty \(\.\.\., N, classes\)"):
        cross_entropy_from_logits(np.zeros(4), [0])
    with pytest.raises(ValueError, match="logits must be a non-empty"):
        cross_entropy_from_logits(np.zeros((0, 4)), np.zeros(0, int))
    with pytest.raises(ValueError, match="logits must hold numbers"):
        cross_entropy_from_logits(np.array([["a", "b"]]), [0])
    with pytest.raises(ValueError, match="logits must be finite"):
        cross_entropy_from_logits(np.array([[0.0, np.inf]]), [0])
    with pytest.raises(ValueError, match=r"labels must be a \(N,\) array with N = 3"):
        cross_entropy_from_logits(logits, [0, 1])
    with pytest.raises(ValueError, match="labels must be integer class indices"):
        cross_entropy_from_logits(logits, [0.0, 1.0, 2.0])
    with pytest.raises(ValueError, match=r"labels must be class indices in 0\.\.3"):
        cross_entropy_from_logits(logits, [0, 1, 4])
    with pytest.raises(ValueError, match=r"labels must be class indices in 0\.\.3"):
        cross_entropy_from_logits(logits, [0, -1, 2])

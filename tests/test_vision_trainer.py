from types import SimpleNamespace

import pytest
import torch

from mgn.vision.models import CNN, MLP
from mgn.vision.trainer import augment_batch, evaluate, mask_batch, train_classifier


def toy_groups(n=96, shape=(1, 8, 8), seed=0):
    """Two classes told apart by the mean brightness of the left half of the image."""
    generator = torch.Generator().manual_seed(seed)
    labels = torch.arange(2 * n) % 2
    images = torch.randn(2 * n, *shape, generator=generator)
    images[:, :, :, : shape[2] // 2] += (2.0 * labels - 1.0)[:, None, None, None]
    group = lambda s: SimpleNamespace(images=images[s], labels=labels[s])  # noqa: E731
    return group(slice(0, n)), group(slice(n, 2 * n))


def run(model, train, test, **kwargs):
    options = dict(kappa=0.5, epochs=3, batch_size=32, seed=3, device="cpu", show_progress=False)
    return train_classifier(model, train, test, **{**options, **kwargs})


def test_training_learns_and_records_every_epoch():
    torch.manual_seed(0)
    train, test = toy_groups()
    model = MLP((1, 8, 8), hidden=32)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    result = run(model, train, test, epochs=6, snapshots=(2, 6))
    assert len(result.test_accuracy) == len(result.train_loss) == 6
    assert result.test_accuracy[-1] > 0.85 and result.train_loss[-1] < result.train_loss[0]
    assert sorted(result.snapshots) == [2, 6]
    final = result.model.state_dict()
    assert all(torch.equal(final[k], result.snapshots[6][k]) for k in final)
    assert not torch.equal(result.snapshots[2]["hidden.weight"], final["hidden.weight"])
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    acc, _ = evaluate(result.model, test.images, test.labels)
    assert acc == result.test_accuracy[-1]
    assert result.gap[-1] == pytest.approx(result.train_accuracy[-1] - result.test_accuracy[-1])


def test_recording_every_few_epochs_changes_no_weight_and_no_record():
    torch.manual_seed(0)
    train, test = toy_groups()
    model = CNN((1, 8, 8), channels=(4, 8), fc=16)
    every = run(model, train, test, epochs=7, snapshots=(2, 7))
    sparse = run(model, train, test, epochs=7, snapshots=(2, 7), record_every=3)
    assert sparse.recorded_epochs == [3, 6, 7] and every.recorded_epochs == list(range(1, 8))
    for name in ("train_accuracy", "train_loss", "test_accuracy", "test_loss"):
        assert getattr(sparse, name) == tuple(getattr(every, name)[e - 1] for e in (3, 6, 7))
    for epoch in (2, 7):
        assert all(
            torch.equal(every.snapshots[epoch][k], v) for k, v in sparse.snapshots[epoch].items()
        )


def test_deterministic_for_a_seed_and_resumable(tmp_path):
    torch.manual_seed(1)
    train, test = toy_groups(shape=(3, 8, 8))
    model = CNN((3, 8, 8))
    a = run(model, train, test, epochs=2, augment=True)
    b = run(model, train, test, epochs=2, augment=True)
    assert a.test_loss == b.test_loss
    c = run(model, train, test, epochs=2, augment=True, seed=4)
    assert a.test_loss != c.test_loss
    path = tmp_path / "ckpt.pt"
    first = run(model, train, test, epochs=2, augment=True, checkpoint=path)
    assert first.test_loss == a.test_loss and path.exists()
    # a checkpoint of a finished run resumes with nothing left to do and the same records
    resumed = run(model, train, test, epochs=2, augment=True, checkpoint=path)
    assert resumed.test_loss == a.test_loss
    assert torch.load(path, weights_only=True)["done"] == 2
    with pytest.raises(ValueError, match="different sweep"):
        run(model, train, test, epochs=2, augment=True, seed=9, checkpoint=path)


@pytest.mark.parametrize("kind", ["mlp", "cnn"])
def test_resume_after_an_interruption_is_bit_identical(
    tmp_path, monkeypatch, interrupt_after_first_save, kind
):
    torch.manual_seed(2)
    train, test = toy_groups()
    model = MLP((1, 8, 8), hidden=16) if kind == "mlp" else CNN((1, 8, 8), channels=(4, 8))
    full = run(model, train, test, epochs=3)
    path = tmp_path / "ckpt.pt"
    saves = interrupt_after_first_save
    with pytest.raises(KeyboardInterrupt):
        run(model, train, test, epochs=3, checkpoint=path, checkpoint_every=0)
    monkeypatch.undo()
    resumed = run(model, train, test, epochs=3, checkpoint=path)
    assert saves == [1] and resumed.test_loss == full.test_loss
    assert resumed.train_accuracy == full.train_accuracy
    # the returned weights are in the default (contiguous) layout, whatever the training used
    assert all(p.is_contiguous() for p in resumed.model.parameters())


def test_bfloat16_training_learns_as_float32_does_and_is_deterministic():
    # the same seed in both precisions: the same draws, different rounding
    torch.manual_seed(4)
    train, test = toy_groups(shape=(1, 8, 8))
    model = CNN((1, 8, 8), channels=(8, 16))
    single = run(model, train, test, epochs=8, precision="float32")
    mixed = run(model, train, test, epochs=8, precision="bfloat16")
    assert (single.precision, mixed.precision) == ("float32", "bfloat16")
    assert mixed.test_loss != single.test_loss  # bfloat16 really ran
    assert min(single.test_accuracy[-1], mixed.test_accuracy[-1]) > 0.9
    assert abs(mixed.test_accuracy[-1] - single.test_accuracy[-1]) <= 0.05
    assert abs(mixed.test_loss[-1] - single.test_loss[-1]) <= 0.05
    assert run(model, train, test, epochs=8, precision="bfloat16").test_loss == mixed.test_loss
    assert all(p.dtype == torch.float32 for p in mixed.model.parameters())


def test_mask_has_the_papers_law():
    generator = torch.Generator().manual_seed(0)
    x = torch.full((200, 1, 10, 10), 2.0)
    masked = mask_batch(x, 0.7, generator)
    factor = masked / x
    assert abs(factor.mean().item() - 1) < 4 * 0.7 / 100
    assert abs(factor.std().item() - 0.7) < 0.02
    assert mask_batch(x, 0.0, generator) is x


def test_augmentation_is_a_shifted_crop_or_its_mirror():
    generator = torch.Generator().manual_seed(5)
    x = torch.arange(2 * 2 * 6 * 6, dtype=torch.float32).reshape(2, 2, 6, 6) + 1
    out = augment_batch(x.repeat(50, 1, 1, 1), generator, padding=2)
    padded = torch.nn.functional.pad(x.repeat(50, 1, 1, 1), (2,) * 4)
    flips = 0
    for i in range(100):
        windows = [padded[i, :, r : r + 6, c : c + 6] for r in range(5) for c in range(5)]
        plain = any(torch.equal(out[i], w) for w in windows)
        mirrored = any(torch.equal(out[i].flip(2), w) for w in windows)
        assert plain or mirrored
        flips += mirrored and not plain
    assert 25 < flips < 75


def test_augmentation_is_off_unless_asked_even_for_three_channels():
    train, test = toy_groups(n=32, shape=(3, 8, 8))
    model = MLP((3, 8, 8), hidden=8)
    default = run(model, train, test, epochs=1)
    assert default.test_loss == run(model, train, test, epochs=1, augment=False).test_loss
    assert default.test_loss != run(model, train, test, epochs=1, augment=True).test_loss


def test_errors_name_the_argument():
    train, test = toy_groups(n=8)
    model = MLP((1, 8, 8), hidden=4)
    for kwargs, name in [
        ({"kappa": -1}, "kappa"),
        ({"epochs": 0}, "epochs"),
        ({"optimizer": "lbfgs"}, "optimizer"),
        ({"schedule": "step"}, "schedule"),
        ({"label_smoothing": 1.0}, "label_smoothing"),
        ({"snapshots": (4,)}, "snapshots"),
        ({"seed": -1}, "seed"),
        ({"precision": "float16"}, "precision"),
        ({"augment": None}, "augment"),
        ({"record_every": 0}, "record_every"),
    ]:
        with pytest.raises((ValueError, TypeError), match=name):
            run(model, train, test, **kwargs)
    bad = SimpleNamespace(images=train.images, labels=train.labels[:3])
    with pytest.raises(ValueError, match="train.labels"):
        run(model, bad, test)

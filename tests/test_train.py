import math

import numpy as np
import pytest
import torch

from mgn import init_network, network, sphere_teacher_data, train_masked_gd
from mgn.train import _BatchedRuns

F64 = torch.float64


def small_problem(n=12, d=4, m=8, seed=0):
    X, y = sphere_teacher_data(n, d, seed=seed, dtype=F64)
    W0, a = init_network(m, d, seed=seed + 1, dtype=F64)
    return X, y, W0, a


def clean_loss(W, a, X, y):
    return 0.5 * (network(W, a, X) - y).square().sum()


def autograd_masked_gd(X, y, W0, a, lr, masks):
    """Reference: GD with autograd on the masked sum loss, one given mask (n, d) per step."""
    W = W0.clone().requires_grad_(True)
    losses = []
    for mask in masks:
        losses.append(clean_loss(W, a, X, y).item())
        loss = clean_loss(W, a, X * mask, y)
        (grad,) = torch.autograd.grad(loss, W)
        with torch.no_grad():
            W -= lr * grad
    losses.append(clean_loss(W, a, X, y).item())
    return W.detach(), np.array(losses)


def test_kappa_zero_is_plain_gradient_descent():
    X, y, W0, a = small_problem()
    lr, steps = 0.05, 40
    result = train_masked_gd(X, y, W0, a, [0.0, 0.7], lr, steps, device="cpu")
    W_ref, losses_ref = autograd_masked_gd(X, y, W0, a, lr, [torch.ones_like(X)] * steps)
    np.testing.assert_allclose(result.clean_loss[0].numpy(), losses_ref, rtol=1e-12)
    np.testing.assert_allclose(result.W[0].numpy(), W_ref.numpy(), rtol=1e-12, atol=1e-14)
    assert losses_ref[-1] < 0.5 * losses_ref[0]


def test_each_step_uses_a_fresh_mask_per_sample_and_coordinate():
    """Replays the documented mask stream: step k uses the k-th randn((B', d, n)) draw.

    B' = 3 runs with kappa > 0, in run order; the kappa = 0 run draws nothing.
    """
    X, y, W0, a = small_problem()
    kappas, lr, steps, seed = [0.3, 0.0, 0.3, 1.1], 0.05, 3, 7
    result = train_masked_gd(X, y, W0, a, kappas, lr, steps, seed=seed, device="cpu")
    generator = torch.Generator().manual_seed(seed)
    draws = [torch.randn((3, 4, 12), generator=generator, dtype=F64) for _ in range(steps)]
    rows = {0: 0, 2: 1, 3: 2}
    for b, kappa in enumerate(kappas):
        masks = [1 + kappa * xi[rows[b]].T if kappa else torch.ones_like(X) for xi in draws]
        W_ref, losses_ref = autograd_masked_gd(X, y, W0, a, lr, masks)
        np.testing.assert_allclose(result.W[b].numpy(), W_ref.numpy(), rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(result.clean_loss[b].numpy(), losses_ref, rtol=1e-12)
    assert not torch.equal(result.W[0], result.W[2])


def test_expected_masked_gradient_matches_closed_form():
    """One neuron: E_c[grad] = (z Phi + s phi) x + kappa^2 Phi (x⊙x⊙w) - a y (Phi x + phi kappa^2 x⊙x⊙w / s).

    Summed over samples, from chapter 1 (Stein's lemma). 40,000 one-step runs, tolerance
    4 standard errors per coordinate.
    """
    gen = torch.Generator().manual_seed(3)
    n, d, R, kappa = 3, 3, 40_000, 0.6
    X = torch.randn(n, d, generator=gen, dtype=F64)
    X = X / X.norm(dim=1, keepdim=True)
    y = torch.tensor([0.4, -0.2, 0.9], dtype=F64)
    w = torch.tensor([0.8, 0.5, -0.3], dtype=F64)
    a = torch.ones(1, dtype=F64)
    result = train_masked_gd(X, y, w.expand(R, 1, d), a, [kappa], 1.0, 1, device="cpu")
    grads = (w - result.W[0, :, 0]).numpy()
    z = X @ w
    s = kappa * (X * w).norm(dim=1)
    cdf, pdf = torch.special.ndtr(z / s), torch.exp(-0.5 * (z / s) ** 2) / math.sqrt(2 * math.pi)
    curvature = kappa**2 * X * X * w
    expected = (
        (z * cdf + s * pdf)[:, None] * X
        + cdf[:, None] * curvature
        - (a * y)[:, None] * (cdf[:, None] * X + (pdf / s)[:, None] * curvature)
    ).sum(0)
    stderr = grads.std(0, ddof=1) / math.sqrt(R)
    assert np.all(np.abs(grads.mean(0) - expected.numpy()) <= 4 * stderr)
    plain_grad = ((z.clamp(min=0) - y) * (z > 0))[:, None] * X
    assert np.any(np.abs(grads.mean(0) - plain_grad.sum(0).numpy()) > 10 * stderr)


def test_minibatch_of_all_samples_is_full_batch_gd():
    X, y, W0, a = small_problem()
    full = train_masked_gd(X, y, W0, a, [0.0], 0.05, 20, device="cpu")
    batch = train_masked_gd(X, y, W0, a, [0.0], 0.05, 20, device="cpu", batch_size=X.shape[0])
    np.testing.assert_allclose(batch.clean_loss.numpy(), full.clean_loss.numpy(), rtol=1e-12)


def test_minibatch_gradient_is_unbiased():
    """Mean of 20,000 one-step SGD gradients (batch 2 of 6, n/b scaling) vs autograd, 4 SE."""
    X, y, W0, a = small_problem(n=6, d=3, m=2)
    R = 20_000
    result = train_masked_gd(X, y, W0.expand(R, -1, -1), a, [0.0], 1.0, 1, batch_size=2)
    grads = (W0 - result.W[0]).reshape(R, -1).numpy()
    W = W0.clone().requires_grad_(True)
    (exact,) = torch.autograd.grad(clean_loss(W, a, X, y), W)
    stderr = grads.std(0, ddof=1) / math.sqrt(R)
    assert np.all(np.abs(grads.mean(0) - exact.flatten().numpy()) <= 4 * stderr)
    assert np.all(stderr > 0)


def test_deterministic_for_a_seed_and_different_across_seeds():
    X, y, W0, a = small_problem()
    runs = [train_masked_gd(X, y, W0, a, [0.5], 0.05, 10, seed=s) for s in (4, 4, 5)]
    assert torch.equal(runs[0].clean_loss, runs[1].clean_loss)
    assert torch.equal(runs[0].W, runs[1].W)
    assert not torch.equal(runs[0].W, runs[2].W)


def test_shapes_and_optional_records():
    X, y, W0, a = small_problem(m=5)
    result = train_masked_gd(X, y, W0, a, [0.0, 0.2, 1.0], 0.05, 7)
    assert result.clean_loss.shape == (3, 8) and result.W.shape == (3, 5, 4)
    assert result.masked_loss is None and result.distance is None
    assert result.kappas == (0.0, 0.2, 1.0) and result.steps == 7
    W0s = torch.stack([W0, 2 * W0])
    sweep = train_masked_gd(
        X, y, W0s, a, [0.0, 0.2, 1.0], 0.05, 7, record_masked_loss=True, record_distance=True
    )
    assert sweep.clean_loss.shape == (3, 2, 8) and sweep.W.shape == (3, 2, 5, 4)
    assert sweep.masked_loss.shape == (3, 2, 7) and sweep.distance.shape == (3, 2, 8)
    torch.testing.assert_close(sweep.masked_loss[0], sweep.clean_loss[0, :, :-1])
    assert torch.all(sweep.distance[..., 0] == 0)
    final_distance = (sweep.W - W0s).flatten(2).norm(dim=2)
    torch.testing.assert_close(sweep.distance[..., -1], final_distance)
    assert sweep.clean_loss[0, 0, 0] == clean_loss(W0, a, X, y)


def test_float32_inputs_run_in_float32():
    X, y, W0, a = (t.float() for t in small_problem())
    result = train_masked_gd(X, y, W0, a, [0.0, 0.4], 0.05, 5)
    assert result.clean_loss.dtype == torch.float32 and result.W.dtype == torch.float32


def test_resume_from_checkpoint_equals_uninterrupted_run(tmp_path, monkeypatch):
    X, y, W0, a = small_problem()
    settings = dict(kappas=[0.0, 0.5], lr=0.05, steps=30, seed=2)
    options = dict(record_masked_loss=True, record_distance=True, batch_size=5)
    reference = train_masked_gd(X, y, W0, a, **settings, **options)
    path = tmp_path / "sweep.pt"
    original_step = _BatchedRuns.advance
    taken = []

    def counted(self, k, stop_at=None):
        if k == stop_at:
            raise KeyboardInterrupt
        taken.append(k)
        original_step(self, k)

    monkeypatch.setattr(_BatchedRuns, "advance", lambda self, k: counted(self, k, stop_at=17))
    with pytest.raises(KeyboardInterrupt):
        train_masked_gd(X, y, W0, a, **settings, **options, checkpoint=path, checkpoint_every=0)
    monkeypatch.setattr(_BatchedRuns, "advance", counted)
    resumed = train_masked_gd(X, y, W0, a, **settings, **options, checkpoint=path)
    assert taken == list(range(17)) + list(range(17, 30))
    for name in ("clean_loss", "W", "masked_loss", "distance"):
        assert torch.equal(getattr(resumed, name), getattr(reference, name)), name
    again = train_masked_gd(X, y, W0, a, **settings, **options, checkpoint=path)
    assert torch.equal(again.W, reference.W) and len(taken) == 30
    with pytest.raises(ValueError, match="checkpoint"):
        train_masked_gd(X, y, 2 * W0, a, **settings, **options, checkpoint=path)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_cpu_with_cpu_generator():
    X, y, W0, a = small_problem()
    args = (X, y, W0, a, [0.0, 0.3, 1.0], 0.05, 50)
    cpu = train_masked_gd(*args, device="cpu")
    cuda = train_masked_gd(*args, device="cuda", rng_device="cpu")
    torch.testing.assert_close(cuda.clean_loss, cpu.clean_loss, rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(cuda.W, cpu.W, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        ({"kappas": [0.1, -0.2]}, ValueError, "kappas must be finite and >= 0"),
        ({"kappas": 0.3}, TypeError, "kappas must be a sequence"),
        ({"lr": 0.0}, ValueError, "lr must be a finite positive"),
        ({"steps": 0}, ValueError, "steps must be a finite positive"),
        ({"steps": 2.5}, TypeError, "steps must be a positive integer"),
        ({"y": torch.zeros(11, dtype=F64)}, ValueError, "y must have 12 entries"),
        ({"W0": torch.zeros(8, 3, dtype=F64)}, ValueError, "W0 must have d = 4"),
        ({"a": torch.ones(7, dtype=F64)}, ValueError, "a must have shape"),
        ({"X": torch.full((12, 4), math.nan, dtype=F64)}, ValueError, "X must be finite"),
        ({"seed": -1}, ValueError, "seed must be an int >= 0"),
        ({"seed": 1.5}, TypeError, "seed must be an int >= 0"),
        ({"seed": True}, TypeError, "seed must be an int >= 0"),
        ({"batch_size": 13}, ValueError, "batch_size must be at most n = 12"),
        ({"checkpoint_every": -1}, ValueError, "checkpoint_every must be a number of seconds"),
        ({"device": "tpu"}, ValueError, "device must be"),
    ],
)
def test_bad_input_names_the_argument(change, error, message):
    X, y, W0, a = small_problem()
    args = dict(X=X, y=y, W0=W0, a=a, kappas=[0.0, 0.2], lr=0.1, steps=3)
    with pytest.raises(error, match=message):
        train_masked_gd(**{**args, **change})


def test_replicate_axis_is_optional_and_shapes_follow_it():
    X, y, W0, a = small_problem()
    one = train_masked_gd(X, y, W0, a, [0.0, 0.5], 0.1, 3)
    axis = train_masked_gd(X, y, W0[None], a, [0.0, 0.5], 0.1, 3)
    assert one.W.shape == (2, *W0.shape) and axis.W.shape == (2, 1, *W0.shape)
    assert torch.equal(axis.W[:, 0], one.W)
    assert (one.seed, one.device, one.precision) == (0, "cpu", "float64")
    assert one.seconds > 0
    with pytest.raises(ValueError, match=r"W0 must have shape \(m, d\) or \(R, m, d\)"):
        train_masked_gd(X, y, W0[None, None], a, [0.0], 0.1, 3)

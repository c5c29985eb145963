import math

import pytest
import torch

import mgn.expected_loss as expected_loss_module
import mgn.output_variance as output_variance_module
from mgn.data import init_network, sphere_teacher_data
from mgn.expected_loss import (
    all_pairs_variance,
    expected_masked_loss,
    masked_output_variance,
    smoothed_network,
)
from mgn.masks import AdditiveGaussian, GaussianMask
from mgn.output_variance import kink_band_variance, kink_pair_share


def problem(n=60, d=8, m=16, seed=0, dtype=torch.float64):
    """Figure 3a's kind of problem (sphere inputs, teacher labels, NTK weights), small, with
    output weights of both signs and unequal sizes."""
    X, y = sphere_teacher_data(n, d, seed=seed, dtype=dtype)
    W, a = init_network(m, d, seed=seed + 1, dtype=dtype)
    gen = torch.Generator().manual_seed(seed + 2)
    a = a * (0.5 + torch.rand(m, generator=gen, dtype=dtype))
    return W, a, X, y


def both(W, a, X, mask, band=8.5):
    """The split and the all-pairs closed form of Var_c f, (n,) each."""
    z, s = mask.moments(W, X)
    return kink_band_variance(W, a, X, mask, z, s, band), all_pairs_variance(W, a, X, mask, z, s)


@pytest.mark.parametrize("kappa", [0.01, 0.05, 0.2, 1.0, 2.0])
def test_split_equals_all_pairs_to_1e_12(kappa):
    W, a, X, _ = problem()
    split, reference = both(W, a, X, GaussianMask(kappa))
    assert ((split - reference).abs() / reference.abs()).max() < 1e-12


def test_split_equals_all_pairs_for_additive_noise():
    W, a, X, _ = problem(seed=1)
    split, reference = both(W, a, X, AdditiveGaussian(0.3))
    assert ((split - reference).abs() / reference.abs()).max() < 1e-12


def test_gradients_equal_the_all_pairs_gradients():
    W, a, X, _ = problem(n=30, seed=2)
    mask = GaussianMask(0.1)
    grads = []
    for variance in (kink_band_variance, all_pairs_variance):
        inputs = [t.clone().requires_grad_(True) for t in (W, a, X)]
        z, s = mask.moments(inputs[0], inputs[2])
        weights = torch.linspace(0.5, 1.5, X.shape[0], dtype=X.dtype)
        total = (weights * variance(*inputs, mask, z, s)).sum()
        grads.append(torch.autograd.grad(total, inputs))
    for got, want in zip(*grads, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-11, atol=1e-13)


def test_gradient_matches_central_differences():
    W, a, X, _ = problem(n=20, m=10, seed=3)
    mask = GaussianMask(0.3)

    def total(W):
        return kink_band_variance(W, a, X, mask, *mask.moments(W, X)).sum()

    Wg = W.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(total(Wg), Wg)
    gen = torch.Generator().manual_seed(4)
    for _ in range(3):
        direction = torch.randn(W.shape, generator=gen, dtype=W.dtype)
        step = 1e-5
        numeric = (total(W + step * direction) - total(W - step * direction)) / (2 * step)
        assert math.isclose(float((grad * direction).sum()), float(numeric), rel_tol=1e-7)


@pytest.mark.parametrize("band", [1.0, 2.0, 3.0])
def test_what_the_split_drops_is_within_its_bound(band):
    # the bound 2 Phi(-band) m^-1 (sum_r |a_r| s_r)^2 of mgn.output_variance, at bands where
    # it is large enough to test: it holds, and it is not loose by orders of magnitude
    W, a, X, _ = problem(n=80, seed=5)
    mask = GaussianMask(0.3)
    _, s = mask.moments(W, X)
    split, reference = both(W, a, X, mask, band)
    bound = 2 * 0.5 * math.erfc(band / math.sqrt(2)) * (s @ a.abs()).square() / a.numel()
    dropped = (split - reference).abs()
    assert (dropped <= bound).all()
    assert dropped.max() > 1e-3 * bound.max()


def test_neurons_without_noise_and_zero_kappa():
    W, a, X, _ = problem(n=12, d=3, m=6, seed=6)
    W[0] = 0.0  # s = 0 (and z = 0) for every input
    X[0] = torch.tensor([1.0, 0.0, 0.0], dtype=X.dtype)
    W[1] = torch.tensor([0.0, 0.8, -0.6], dtype=W.dtype)  # w_1 ⊙ x_0 = 0: s = 0 there
    split, reference = both(W, a, X, GaussianMask(0.6))
    torch.testing.assert_close(split, reference, rtol=1e-12, atol=0)
    zero, _ = both(W, a, X, GaussianMask(0.0))
    assert torch.equal(zero, torch.zeros_like(zero))


def test_all_neurons_in_the_band_and_none():
    W, a, X, _ = problem(seed=7)
    assert kink_pair_share(W, X, 2.0) == 1.0
    assert kink_pair_share(W, X, 1e-4) == 0.0
    for kappa in (2.0, 1e-4):
        split, reference = both(W, a, X, GaussianMask(kappa))
        assert ((split - reference).abs() / reference.abs()).max() < 1e-12


def test_pairs_near_rho_one_take_the_closed_form():
    W, a, X, _ = problem(n=30, m=8, seed=8)
    W[1] = 1.1 * W[0]  # rho = 1 on every input
    W[3] = -0.7 * W[2]  # rho = -1
    W[5] = W[4] + 0.05 * W[6]  # |rho| just under 1
    split, reference = both(W, a, X, GaussianMask(0.5))
    assert ((split - reference).abs() / reference.abs()).max() < 1e-12


def test_blocks_of_inputs_and_pairs_near_rho_one_in_each():
    W, a, X, _ = problem(n=40, m=8, seed=12)
    W[1] = 1.1 * W[0]  # rho = 1 on every input, hence in every block
    mask = GaussianMask(0.5)
    z, s = mask.moments(W, X)
    whole = kink_band_variance(W, a, X, mask, z, s)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(output_variance_module, "_PAIRS_PER_CHUNK", 200)  # blocks of 8 inputs
        blocks = kink_band_variance(W, a, X, mask, z, s)
    torch.testing.assert_close(blocks, whole, rtol=1e-14, atol=0)
    reference = all_pairs_variance(W, a, X, mask, z, s)
    assert ((blocks - reference).abs() / reference).max() < 1e-12


def test_one_neuron_across_the_band_and_its_gradient():
    # no pairs: Var_c f is the linear term and the neuron's own term Var(relu g) - s^2 Phi(t)^2,
    # here for t = z / s from deep in the lower tail (where the term is all of Var_c f) to deep
    # in the upper one
    X = torch.stack((torch.ones(41), torch.linspace(-8.4, 8.4, 41)), 1).double()
    W = torch.tensor([[0.0, 1.0]], dtype=torch.float64, requires_grad=True)
    a = torch.tensor([1.7], dtype=torch.float64)
    mask = AdditiveGaussian(1.0)  # s = 1 and z = x_2 for every input
    results = []
    for variance in (kink_band_variance, all_pairs_variance):
        values = variance(W, a, X, mask, *mask.moments(W, X))
        results.append((values.detach(), torch.autograd.grad(values.sum(), W)[0]))
    (split, grad), (reference, reference_grad) = results
    assert ((split - reference).abs() / reference).max() < 1e-12
    torch.testing.assert_close(grad, reference_grad, rtol=1e-11, atol=1e-13)


def test_float32_agrees_with_float64_to_its_round_off():
    W, a, X, _ = problem(seed=9)
    for kappa in (0.05, 1.0):
        split64, _ = both(W, a, X, GaussianMask(kappa))
        split32, _ = both(W.float(), a.float(), X.float(), GaussianMask(kappa))
        assert split32.dtype == torch.float32
        assert ((split32.double() - split64).abs() / split64.abs()).max() < 1e-5


def test_kink_pair_share_counts_the_pairs_inside_both_bands():
    W, a, X, _ = problem(n=25, seed=10)
    z, s = GaussianMask(0.1).moments(W, X)
    inside = (s > 0) & (z.abs() < 8.5 * s)
    m = W.shape[0]
    pairs = sum(
        int(inside[i, r] and inside[i, q]) for i in range(25) for r in range(m) for q in range(r)
    )
    assert kink_pair_share(W, X, 0.1) == pairs / (25 * m * (m - 1) / 2)
    assert kink_pair_share(W, X, mask=GaussianMask(0.1)) == kink_pair_share(W, X, 0.1)
    assert kink_pair_share(W[:1], X, 0.1) == 0.0
    with pytest.raises(ValueError, match="X must have d"):
        kink_pair_share(W, X[:, :2], 0.1)
    with pytest.raises(TypeError, match="kappa or a mask"):
        kink_pair_share(W, X)


def test_large_problems_take_the_split_and_small_ones_all_pairs(monkeypatch):
    W, a, X, y = problem(n=70, m=32, seed=11)  # 34,720 (input, pair) terms: past 2^15
    calls = []
    for name in ("kink_band_variance", "all_pairs_variance"):
        function = getattr(expected_loss_module, name)
        monkeypatch.setattr(
            expected_loss_module,
            name,
            lambda *args, f=function, n=name: calls.append(n) or f(*args),
        )
    large = masked_output_variance(W, a, X, 0.2)
    masked_output_variance(W[:8], a[:8], X, 0.2)
    assert calls == ["kink_band_variance", "all_pairs_variance"]
    reference = all_pairs_variance(W, a, X, GaussianMask(0.2), *GaussianMask(0.2).moments(W, X))
    assert ((large - reference).abs() / reference).max() < 1e-12
    smoothed = smoothed_network(W, a, X, 0.2)
    expected = 0.5 * (smoothed - y).square().sum() + 0.5 * reference.sum()
    assert math.isclose(
        float(expected_masked_loss(W, a, X, y, 0.2)), float(expected), rel_tol=1e-12
    )

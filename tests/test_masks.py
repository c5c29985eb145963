import math

import pytest
import torch

from mgn.masks import (
    AdditiveGaussian,
    BernoulliDropout,
    GaussianFamilyMask,
    GaussianMask,
    LogNormalMask,
    Mask,
    TruncatedGaussianMask,
)
from mgn.smoothed import mask_moments

ALL_MASKS = [GaussianMask(0.4), AdditiveGaussian(0.3), LogNormalMask(0.5), BernoulliDropout(0.2)]


def inputs(n=4, d=3, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=gen, dtype=torch.float64)


@pytest.mark.parametrize("mask", ALL_MASKS, ids=lambda m: type(m).__name__)
def test_mean_is_the_clean_input_and_variance_is_input_variance(mask):
    X = inputs()
    draws = 200_000
    samples = mask.sample(X, torch.Generator().manual_seed(1), draws=draws)
    assert samples.shape == (draws, *X.shape)
    mean_err = samples.mean(0) - X
    std = samples.std(0)
    assert (mean_err.abs() <= 4 * std / math.sqrt(draws)).all()
    centred = (samples - X).square()
    var_se = centred.std(0) / math.sqrt(draws)
    assert ((centred.mean(0) - mask.input_variance(X)).abs() <= 4 * var_se).all()


@pytest.mark.parametrize("mask", ALL_MASKS, ids=lambda m: type(m).__name__)
def test_draws_are_reproducible_and_fresh_per_row(mask):
    X = torch.ones(3, 16, dtype=torch.float64)
    first = mask.sample(X, torch.Generator().manual_seed(7))
    again = mask.sample(X, torch.Generator().manual_seed(7))
    assert first.shape == X.shape and torch.equal(first, again)
    assert not torch.equal(first[0], first[1])


@pytest.mark.parametrize("mask", [GaussianMask(0.0), AdditiveGaussian(0.0), LogNormalMask(0.0)])
def test_zero_scale_leaves_the_input_unchanged(mask):
    X = inputs()
    assert torch.equal(mask.sample(X, torch.Generator().manual_seed(0)), X)
    assert torch.equal(BernoulliDropout(0.0).sample(X), X)


def test_dropout_zeroes_a_fraction_p_and_rescales_the_rest():
    X = torch.ones(50, 40, dtype=torch.float64)
    out = BernoulliDropout(0.25).sample(X, torch.Generator().manual_seed(3), draws=100)
    dropped = (out == 0).double().mean()
    assert abs(float(dropped) - 0.25) < 4 * math.sqrt(0.25 * 0.75 / out.numel())
    assert torch.equal(torch.unique(out), torch.tensor([0.0, 1 / 0.75], dtype=torch.float64))


def test_gaussian_family_moments():
    gen = torch.Generator().manual_seed(4)
    W = torch.randn(5, 3, generator=gen, dtype=torch.float64)
    X = inputs()
    z, s = GaussianMask(0.3).moments(W, X)
    z_ref, s_ref = mask_moments(W, X, 0.3)
    assert torch.equal(z, z_ref) and torch.equal(s, s_ref)
    z, s = AdditiveGaussian(0.3).moments(W, X)
    torch.testing.assert_close(z, X @ W.T)
    torch.testing.assert_close(s, (0.3 * W.norm(dim=1)).expand(4, 5))


@pytest.mark.parametrize("mask", [GaussianMask(0.5), AdditiveGaussian(0.4)], ids=str)
def test_pair_covariance_and_moments_match_monte_carlo(mask):
    gen = torch.Generator().manual_seed(5)
    W = torch.randn(4, 3, generator=gen, dtype=torch.float64)
    X = inputs(n=2)
    draws = 200_000
    pre = mask.sample(X, torch.Generator().manual_seed(6), draws=draws) @ W.T  # (draws, n, m)
    z, s = mask.moments(W, X)
    se_mean = s / math.sqrt(draws)
    assert ((pre.mean(0) - z).abs() <= 4 * se_mean).all()
    first, second = torch.triu_indices(4, 4, offset=1)
    closed = mask.pair_covariance(W[first], W[second], X)
    centred = (pre[:, :, first] - z[:, first]) * (pre[:, :, second] - z[:, second])
    se_cov = centred.std(0) / math.sqrt(draws)
    assert ((centred.mean(0) - closed).abs() <= 4 * se_cov).all()
    variance = (pre - z).square().mean(0)
    assert ((variance - s * s).abs() <= 4 * (pre - z).square().std(0) / math.sqrt(draws)).all()


def test_lognormal_mask_has_mean_one_and_variance_kappa_squared_exactly():
    # E c = exp(-sigma^2/2 + sigma^2/2) = 1, Var c = exp(sigma^2) - 1 = kappa^2.
    kappa = 0.7
    sigma2 = math.log1p(kappa**2)
    assert math.isclose(math.exp(sigma2) - 1, kappa**2, rel_tol=1e-14)
    assert isinstance(LogNormalMask(kappa), Mask) and not isinstance(
        LogNormalMask(kappa), GaussianFamilyMask
    )


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (lambda: GaussianMask(-0.1), ValueError, "kappa must be finite and >= 0"),
        (lambda: AdditiveGaussian(float("nan")), ValueError, "kappa must be finite"),
        (lambda: LogNormalMask("big"), TypeError, "kappa must be a real number"),
        (lambda: BernoulliDropout(1.0), ValueError, "p must lie in"),
        (lambda: BernoulliDropout(None), TypeError, "p must be a real number"),
        (lambda: GaussianMask(0.1).sample(torch.ones(2, 2), draws=0), ValueError, "draws"),
        (lambda: GaussianMask(0.1).sample(torch.ones(2, 2), generator=3), TypeError, "generator"),
        (lambda: GaussianMask(0.1).sample(torch.tensor([[math.inf]])), ValueError, "X must be"),
        (
            lambda: AdditiveGaussian(0.1).moments(torch.ones(2, 3), torch.ones(4, 2)),
            ValueError,
            "X",
        ),
    ],
)
def test_bad_arguments_name_the_argument(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_truncated_mask_is_bounded_with_mean_one_and_its_variance():
    """10^6 draws: c within 1 +- T kappa; mean and variance within 5 standard errors."""
    mask = TruncatedGaussianMask(0.5, 2.0)
    c = mask.sample(
        torch.ones(1, 1, dtype=torch.float64), torch.Generator().manual_seed(0), draws=10**6
    )
    assert float(c.min()) >= 1 - 2.0 * 0.5 and float(c.max()) <= 1 + 2.0 * 0.5
    variance = 0.25 * mask.variance_factor()
    assert abs(float(c.mean()) - 1.0) < 5 * (variance / 10**6) ** 0.5
    assert abs(float(c.var()) - variance) < 5 * variance * (2 / 10**6) ** 0.5
    assert mask.variance_factor() == pytest.approx(0.7737413, abs=1e-7)  # Var of N(0,1) on [-2, 2]
    torch.testing.assert_close(
        mask.input_variance(torch.full((1, 1), 2.0)), torch.full((1, 1), variance * 4)
    )


@pytest.mark.parametrize("truncation", [0.0, -1.0, float("inf"), "3"])
def test_truncated_mask_needs_a_finite_positive_truncation(truncation):
    with pytest.raises(ValueError, match="truncation"):
        TruncatedGaussianMask(0.5, truncation)

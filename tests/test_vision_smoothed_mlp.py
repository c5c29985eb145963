import pytest
import torch

from mgn.vision.models import MLP
from mgn.vision.smoothed_mlp import SmoothedMLP, expected_hidden, masked_hidden_mean


def test_expected_hidden_is_the_monte_carlo_mean_of_the_masked_layer():
    torch.manual_seed(0)
    layer = torch.nn.Linear(12, 6).double()
    x = torch.randn(4, 1, 3, 4, dtype=torch.float64)
    kappa, draws = 0.8, 200_000
    masks = 1 + kappa * torch.randn(draws, *x.shape, dtype=torch.float64)
    samples = torch.relu(layer((x * masks).flatten(2)))
    mean, se = samples.mean(0), samples.std(0) / draws**0.5
    exact = expected_hidden(layer, x, kappa)
    assert ((exact - mean).abs() / se).max() < 5
    assert ((exact - torch.relu(layer(x.flatten(1)))).abs().max()) > 10 * se.max()


def test_smoothed_mlp_is_the_relu_mlp_in_eval_mode_and_at_kappa_zero():
    torch.manual_seed(1)
    x = torch.randn(5, 1, 4, 4)
    model = SmoothedMLP((1, 4, 4), kappa=1.0, hidden=8, dropout=0.0)
    plain = MLP((1, 4, 4), hidden=8, dropout=0.0, activation="relu")
    plain.load_state_dict(model.state_dict())
    torch.testing.assert_close(model.eval()(x), plain(x))
    assert not torch.allclose(model.train()(x), plain(x))
    model.kappa = 0.0
    torch.testing.assert_close(model(x), plain(x))


def test_masked_hidden_mean_estimates_the_closed_form():
    torch.manual_seed(2)
    layer = torch.nn.Linear(12, 6).double()
    x = torch.randn(3, 1, 3, 4, dtype=torch.float64)
    mean, se = masked_hidden_mean(layer, x, 1.2, 20_000, seed=5, chunk=500)
    assert mean.shape == se.shape == (3, 6) and (se > 0).all()
    assert ((expected_hidden(layer, x, 1.2) - mean).abs() / se).max() < 5
    again, _ = masked_hidden_mean(layer, x, 1.2, 20_000, seed=5, chunk=500)
    assert torch.equal(mean, again)
    other, _ = masked_hidden_mean(layer, x, 1.2, 20_000, seed=6, chunk=500)
    assert not torch.equal(mean, other)
    clean, clean_se = masked_hidden_mean(layer, x, 0.0, 200, seed=5)
    torch.testing.assert_close(clean, torch.relu(layer(x.flatten(1))))
    assert clean_se.max() < 1e-6


def test_masked_hidden_mean_errors():
    layer, x = torch.nn.Linear(4, 2), torch.zeros(1, 1, 2, 2)
    with pytest.raises(ValueError, match="draws must be an int >= 2 and a multiple of chunk = 100"):
        masked_hidden_mean(layer, x, 1.0, 150)
    with pytest.raises(ValueError, match="chunk"):
        masked_hidden_mean(layer, x, 1.0, 100, chunk=0)
    with pytest.raises(ValueError, match="kappa"):
        masked_hidden_mean(layer, x, -1.0, 100)

import torch

from mgn.vision.models import MLP
from mgn.vision.smoothed_mlp import SmoothedMLP, expected_hidden


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

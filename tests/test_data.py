import math

import numpy as np
import pytest
import torch

from mgn import init_network, network, sphere_teacher_data


def test_inputs_are_uniform_on_the_sphere():
    """Unit rows; mean 0 and second moment I/d within 4 standard errors (n = 20,000, d = 5)."""
    n, d = 20_000, 5
    X, _ = sphere_teacher_data(n, d, seed=1, dtype=torch.float64)
    np.testing.assert_allclose(X.norm(dim=1).numpy(), 1.0, rtol=1e-14)
    X = X.numpy()
    assert np.all(np.abs(X.mean(0)) <= 4 * math.sqrt(1 / d / n))
    second = (X[:, :, None] * X[:, None, :]).reshape(n, -1)
    stderr = second.std(0, ddof=1) / math.sqrt(n)
    assert np.all(np.abs(second.mean(0) - np.eye(d).ravel() / d) <= 4 * stderr + 1e-15)


def test_labels_come_from_the_documented_teacher():
    n, d, width = 50, 6, 4
    X, y = sphere_teacher_data(n, d, seed=9, teacher_width=width, dtype=torch.float64)
    generator = torch.Generator().manual_seed(9)
    torch.randn(n, d, generator=generator, dtype=torch.float64)
    W_teacher = torch.randn(width, d, generator=generator, dtype=torch.float64)
    a_teacher = torch.randint(0, 2, (width,), generator=generator).double() * 2 - 1
    np.testing.assert_allclose(y.numpy(), network(W_teacher, a_teacher, X).numpy(), rtol=1e-14)


def test_label_noise_has_the_requested_scale():
    n = 20_000
    X, clean = sphere_teacher_data(n, 3, seed=2, dtype=torch.float64)
    X_noisy, noisy = sphere_teacher_data(n, 3, seed=2, noise=0.3, dtype=torch.float64)
    assert torch.equal(X, X_noisy)
    eps = (noisy - clean).numpy()
    assert abs(eps.mean()) <= 4 * 0.3 / math.sqrt(n)
    assert abs(eps.var(ddof=1) - 0.09) <= 4 * 0.09 * math.sqrt(2 / n)


def test_data_is_seeded_and_dtype_follows_the_request():
    X1, y1 = sphere_teacher_data(20, 3, seed=5)
    X2, y2 = sphere_teacher_data(20, 3, seed=5)
    X3, _ = sphere_teacher_data(20, 3, seed=6)
    assert torch.equal(X1, X2) and torch.equal(y1, y2) and not torch.equal(X1, X3)
    assert X1.dtype == torch.get_default_dtype() and y1.shape == (20,)
    X64, y64 = sphere_teacher_data(20, 3, seed=5, dtype=torch.float64)
    torch.testing.assert_close(X64.float(), X1)
    torch.testing.assert_close(y64.float(), y1)


def test_init_network_is_the_ntk_initialisation():
    """W0 entries N(0, tau^2) (mean and variance within 4 SE); a uniform in {-1, +1}."""
    m, d, tau = 4000, 5, 0.7
    W0, a = init_network(m, d, tau=tau, seed=3, dtype=torch.float64)
    assert W0.shape == (m, d) and a.shape == (m,)
    entries = W0.flatten().numpy()
    count = entries.size
    assert abs(entries.mean()) <= 4 * tau / math.sqrt(count)
    assert abs(entries.var(ddof=1) - tau**2) <= 4 * tau**2 * math.sqrt(2 / count)
    assert set(a.unique().tolist()) == {-1.0, 1.0}
    assert abs(a.mean().item()) <= 4 / math.sqrt(m)
    W0_again, a_again = init_network(m, d, tau=tau, seed=3, dtype=torch.float64)
    assert torch.equal(W0, W0_again) and torch.equal(a, a_again)
    assert not torch.equal(W0, init_network(m, d, tau=tau, seed=4, dtype=torch.float64)[0])


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: sphere_teacher_data(0, 3), ValueError, "n must be"),
        (lambda: sphere_teacher_data(10, 2.5), TypeError, "d must be a positive integer"),
        (lambda: sphere_teacher_data(10, 3, teacher_width=0), ValueError, "teacher_width"),
        (lambda: sphere_teacher_data(10, 3, noise=-0.1), ValueError, "noise must be finite"),
        (lambda: sphere_teacher_data(10, 3, noise=math.nan), ValueError, "noise must be"),
        (lambda: sphere_teacher_data(10, 3, seed="1"), TypeError, "seed must be an int"),
        (lambda: sphere_teacher_data(10, 3, dtype=torch.int64), TypeError, "dtype must be"),
        (lambda: init_network(0, 3), ValueError, "m must be"),
        (lambda: init_network(5, 3, tau=0.0), ValueError, "tau must be"),
        (lambda: init_network(5, 3, seed=None), TypeError, "seed must be an int"),
    ],
)
def test_bad_input_names_the_argument(call, error, message):
    with pytest.raises(error, match=message):
        call()

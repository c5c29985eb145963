import math

import numpy as np
import pytest
import torch

from mgn import network


def test_matches_a_loop_over_neurons():
    gen = torch.Generator().manual_seed(0)
    W = torch.randn(7, 3, generator=gen, dtype=torch.float64)
    a = torch.randint(0, 2, (7,), generator=gen).double() * 2 - 1
    X = torch.randn(5, 3, generator=gen, dtype=torch.float64)
    expected = [
        sum(a[r] * max(float(W[r] @ X[i]), 0.0) for r in range(7)) / math.sqrt(7) for i in range(5)
    ]
    np.testing.assert_allclose(network(W, a, X).numpy(), expected, rtol=1e-14)


def test_accepts_numpy_and_keeps_float32():
    W = np.ones((2, 3), dtype=np.float32)
    out = network(torch.from_numpy(W), np.array([1.0, -1.0], dtype=np.float32), W[:1])
    assert out.dtype == torch.float32 and out.shape == (1,)


@pytest.mark.parametrize(
    ("W", "a", "X", "message"),
    [
        (torch.ones(2, 3), torch.ones(3), torch.ones(4, 3), "a must have 2 entries"),
        (torch.ones(2, 3), torch.ones(2), torch.ones(4, 2), "X must have d = 3"),
        (torch.ones(2, 3), torch.ones(2), torch.ones(3), "X must have 2 dimension"),
        (torch.ones(0, 3), torch.ones(0), torch.ones(4, 3), "W must not be empty"),
        (torch.ones(2, 3), torch.ones(2), torch.full((4, 3), float("nan")), "X must be finite"),
    ],
)
def test_bad_input_names_the_argument(W, a, X, message):
    with pytest.raises(ValueError, match=message):
        network(W, a, X)

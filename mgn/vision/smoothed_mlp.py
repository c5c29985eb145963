"""The smoothed view of masked training (the book's, not the paper's): train on the expected layer.

For a ReLU MLP the first layer under the mask sees ``relu(w_r^T (x ⊙ c) + b_r)``, and with
``c ~ N(1, kappa^2 I)`` its mean over the mask is chapter 1's smoothed ReLU (SPEC section 2),

    E_c[relu(w_r^T (x ⊙ c) + b_r)] = sigma_tilde(z, s),  z = w_r^T x + b_r,  s = kappa ||w_r ⊙ x||,

since the bias is not masked. :class:`SmoothedMLP` trains on that expectation in closed form (no
sampling); in eval mode it is the plain ReLU MLP on clean images, as a masked model is evaluated.
Comparing it with masked training separates what masking does by smoothing the first layer from
what the sampling noise does.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from mgn.smoothed import mask_moments, smoothed_relu
from mgn.validation import check_kappa
from mgn.vision.models import MLP


def expected_hidden(layer: torch.nn.Linear, x: torch.Tensor, kappa: float) -> torch.Tensor:
    """``E_c[relu(layer(x ⊙ c))]`` for ``c ~ N(1, kappa^2 I)``, (n, hidden), in closed form."""
    z, s = mask_moments(layer.weight, x.flatten(1), kappa)
    return smoothed_relu(z + layer.bias, s)


class SmoothedMLP(MLP):
    """A ReLU :class:`MLP` whose training forward uses the expected first layer at ``kappa``."""

    def __init__(
        self,
        image_shape: Sequence[int],
        kappa: float,
        hidden: int = 4096,
        n_classes: int = 10,
        dropout: float = 0.2,
    ):
        super().__init__(image_shape, hidden, n_classes, dropout, activation="relu")
        self.kappa = check_kappa(kappa)

    def forward(self, x):
        if not self.training or self.kappa == 0:
            return super().forward(x)
        return self.out(self.dropout(expected_hidden(self.hidden, x, self.kappa)))

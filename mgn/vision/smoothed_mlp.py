"""The smoothed view of masked training (the book's, not the paper's): train on the expected layer.

For a ReLU MLP the first layer under the mask sees ``relu(w_r^T (x ⊙ c) + b_r)``, and with
``c ~ N(1, kappa^2 I)`` its mean over the mask is chapter 1's smoothed ReLU,

    E_c[relu(w_r^T (x ⊙ c) + b_r)] = sigma_tilde(z, s),  z = w_r^T x + b_r,  s = kappa ||w_r ⊙ x||,

since the bias is not masked. :class:`SmoothedMLP` trains on that expectation in closed form (no
sampling); in eval mode it is the plain ReLU MLP on clean images, as a masked model is evaluated.
Comparing it with masked training separates what masking does by smoothing the first layer from
what the sampling noise does. :func:`masked_hidden_mean` estimates the same mean by sampling
masks, the check that the closed form is right on real images.
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


@torch.no_grad()
def masked_hidden_mean(
    layer: torch.nn.Linear,
    x: torch.Tensor,
    kappa: float,
    draws: int,
    *,
    seed: int = 0,
    chunk: int = 100,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Monte Carlo mean of ``relu(layer(x ⊙ c))`` over ``draws`` masks, and its standard error.

    Parameters
    ----------
    layer : the first layer, ``Linear(C*H*W, hidden)``.
    x : (n, C, H, W) clean images on the CPU, in the layer's dtype.
    kappa : mask scale; every draw is ``c = 1 + kappa g`` with a fresh ``g ~ N(0, 1)`` per pixel.
    draws : number of masks per image, a multiple of ``chunk``.
    seed : seed of the generator of the masks.
    chunk : masks drawn per batched forward call.

    Returns
    -------
    ``(mean, se)``, both (n, hidden): the sample mean and the standard error of that mean.
    """
    check_kappa(kappa)
    if isinstance(chunk, bool) or not isinstance(chunk, int) or chunk < 1:
        raise ValueError(f"chunk must be a positive int, got {chunk!r}")
    if isinstance(draws, bool) or not isinstance(draws, int) or draws < 2 or draws % chunk:
        raise ValueError(
            f"draws must be an int >= 2 and a multiple of chunk = {chunk}, got {draws!r}"
        )
    generator = torch.Generator().manual_seed(seed)
    total = torch.zeros(x.shape[0], layer.out_features, dtype=x.dtype)
    squares = torch.zeros_like(total)
    for _ in range(draws // chunk):
        noise = torch.randn((chunk, *x.shape), generator=generator, dtype=x.dtype)
        sample = torch.relu(layer((x * (1 + kappa * noise)).flatten(2)))
        total += sample.sum(0)
        squares += sample.square().sum(0)
    mean = total / draws
    return mean, ((squares / draws - mean.square()).clamp_min(0) / (draws - 1)).sqrt()


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

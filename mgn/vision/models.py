"""The two classifiers of Figure 4 (chapter 7), built from the image shape, and their seeding.

* :class:`MLP`: flatten, one hidden layer (4096 GELU units in the paper), dropout 0.2, 10 logits.
  ``activation="relu"`` gives the ReLU MLP whose first layer under the mask is chapter 2's smoothed
  network (the book's smoothed view).
* :class:`CNN`: 2 x [conv3x3(32) + BN + ReLU], maxpool, dropout 0.2, 2 x [conv3x3(64) + BN + ReLU],
  maxpool, dropout 0.3, FC 100 + ReLU, dropout 0.5, FC 10.

Both take ``image_shape = (C, H, W)``, so CIFAR-10 (3, 32, 32) and MNIST-5k (1, 28, 28) use the
same classes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from torch import nn

from mgn.seeds import global_generator_seeded

ACTIVATIONS = {"gelu": nn.GELU, "relu": nn.ReLU}


def _check_shape(image_shape: Sequence[int], smallest: int = 1) -> tuple[int, int, int]:
    shape = tuple(image_shape)
    if len(shape) != 3 or any(not isinstance(s, int) or s < 1 for s in shape):
        raise ValueError(f"image_shape must be (C, H, W) of positive ints, got {image_shape!r}")
    if min(shape[1:]) < smallest:
        raise ValueError(f"image_shape must have H, W >= {smallest}, got {image_shape!r}")
    return shape


class MLP(nn.Module):
    """Flatten, ``Linear(C*H*W, hidden)``, activation, dropout, ``Linear(hidden, n_classes)``."""

    def __init__(
        self,
        image_shape: Sequence[int],
        hidden: int = 4096,
        n_classes: int = 10,
        dropout: float = 0.2,
        activation: str = "gelu",
    ):
        super().__init__()
        c, h, w = _check_shape(image_shape)
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
        self.image_shape = (c, h, w)
        self.hidden = nn.Linear(c * h * w, hidden)
        self.activation = ACTIVATIONS[activation]()
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(hidden, n_classes)

    def forward(self, x):
        return self.out(self.dropout(self.activation(self.hidden(x.flatten(1)))))


def _conv_block(c_in: int, c_out: int) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, 3, padding=1), nn.BatchNorm2d(c_out), nn.ReLU()]


class CNN(nn.Module):
    """The paper's CNN; the first linear layer takes ``c2 * (H // 4) * (W // 4)`` features.

    ``channels = (c1, c2)`` and ``fc`` default to the paper's (32, 64) and 100; smaller values give
    the same architecture, narrower (the book's settings on the fallback image set).
    """

    def __init__(
        self,
        image_shape: Sequence[int],
        n_classes: int = 10,
        channels: tuple[int, int] = (32, 64),
        fc: int = 100,
    ):
        super().__init__()
        c, h, w = _check_shape(image_shape, smallest=4)
        c1, c2 = channels
        self.image_shape = (c, h, w)
        self.features = nn.Sequential(
            *_conv_block(c, c1),
            *_conv_block(c1, c1),
            nn.MaxPool2d(2),
            nn.Dropout(0.2),
            *_conv_block(c1, c2),
            *_conv_block(c2, c2),
            nn.MaxPool2d(2),
            nn.Dropout(0.3),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(c2 * (h // 4) * (w // 4), fc),
            nn.ReLU(),
            nn.Dropout(0.5),
            nn.Linear(fc, n_classes),
        )

    def forward(self, x):
        return self.classifier(self.features(x))


def initialised(make_model: Callable[[], nn.Module], seed: int) -> nn.Module:
    """``make_model()`` built with torch's global generator seeded by ``seed``.

    A module draws its initial weights from the global generator; this seeds it inside
    :func:`mgn.seeds.global_generator_seeded`, so the caller's global state is left as it was.
    """
    with global_generator_seeded(seed):
        return make_model()

"""The seed rule of every trainer: each random stream is derived from the caller's seed.

A trainer takes one ``seed`` (an int >= 0). Each of its streams (the masks, the batches, a
worker's draws, a replicate of a sweep, DP-SGD's sampling and noise) is a torch generator seeded
from ``numpy.random.SeedSequence([seed, *key])``, with a key that names the stream. No trainer
reads or changes torch's global generator: where a library call draws from it (dropout, Opacus'
parameter initialisation), the trainer runs inside ``torch.random.fork_rng`` with the global
generator seeded from the caller's seed, and the caller's global state is restored afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch

from mgn.validation import check_seed

__all__ = [
    "derived_seed",
    "global_generator_seeded",
    "stream",
]


def derived_seed(seed: int, *key: int) -> int:
    """A 63-bit seed for the stream ``key`` of ``seed``: ``SeedSequence([seed, *key])``'s first word."""
    check_seed(seed)
    for index, part in enumerate(key):
        check_seed(part, f"key[{index}]")
    state = np.random.SeedSequence([seed, *key]).generate_state(1, dtype=np.uint64)[0]
    return int(state) >> 1


def stream(seed: int, *key: int, device: str | torch.device = "cpu") -> torch.Generator:
    """A torch generator on ``device`` seeded with :func:`derived_seed` ``(seed, *key)``."""
    return torch.Generator(device=device).manual_seed(derived_seed(seed, *key))


@contextmanager
def global_generator_seeded(seed: int, device: torch.device | None = None) -> Iterator[None]:
    """Inside, torch's global generators are seeded with ``seed``; afterwards the caller's are back.

    For what a library draws from them (module initialisation, dropout, Opacus): ``fork_rng`` saves
    the CPU generator, and that of ``device`` when it is a CUDA device, and restores them on exit.
    """
    cuda = device is not None and device.type == "cuda"
    devices, device_type = ([device], "cuda") if cuda else ([], "cpu")
    with torch.random.fork_rng(devices=devices, device_type=device_type):
        torch.manual_seed(check_seed(seed))
        yield

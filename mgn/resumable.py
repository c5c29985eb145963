"""The one training loop of every trainer: resume from a checkpoint, show progress, save atomically.

A trainer describes its work as ``total`` iterations (steps, rounds or epochs) of an object with
``advance(k)`` (run iteration ``k``), ``state()`` (everything needed to continue: weights, records,
generator states) and ``restore(state)``. :func:`run_resumable` runs the iterations not yet done.
With a ``checkpoint`` path, the state is saved (through :mod:`mgn.checkpoint`: a temporary file and
a rename) whenever ``checkpoint_every`` seconds have passed since the last save, and after the last
iteration; a later call with the same settings and tensors continues from the file, and a call
with other settings refuses it. Resuming is exact: the state holds every generator.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Protocol

import torch

from mgn.checkpoint import fingerprint, load_state, save_state
from mgn.progress import progress
from mgn.validation import check_checkpoint_every

__all__ = [
    "CHECKPOINT_EVERY",
    "Resumable",
    "run_resumable",
]

#: Seconds between checkpoint saves unless the caller says otherwise (every trainer's default).
CHECKPOINT_EVERY = 60.0


class Resumable(Protocol):
    """Work that :func:`run_resumable` can run, save and continue."""

    def advance(self, k: int) -> None: ...

    def state(self) -> dict: ...

    def restore(self, state: dict) -> None: ...


def run_resumable(
    work: Resumable,
    total: int,
    *,
    settings: dict,
    tensors: dict[str, torch.Tensor],
    checkpoint: str | os.PathLike | None,
    checkpoint_every: float,
    show_progress: bool,
    desc: str,
    postfix: Callable[[], dict] | None = None,
) -> None:
    """Run iterations ``done..total - 1`` of ``work``, ``done`` from the checkpoint (else 0).

    ``settings`` (JSON-able) and ``tensors`` (the inputs) make the checkpoint's fingerprint;
    ``postfix`` returns what the progress bar shows after each iteration.
    """
    checkpoint_every = check_checkpoint_every(checkpoint_every)
    done, key = 0, None
    if checkpoint is not None:
        key = fingerprint(settings, tensors)
        state = load_state(checkpoint, key)
        if state is not None:
            work.restore(state)
            done = int(state["done"])
    hide = {} if show_progress else {"disable": True}
    bar = progress(range(done, total), total=total, initial=done, desc=desc, **hide)
    last_save = time.monotonic()
    for k in bar:
        work.advance(k)
        if postfix is not None:
            bar.set_postfix(postfix())
        finished = k + 1 == total
        if checkpoint is not None and (
            finished or time.monotonic() - last_save >= checkpoint_every
        ):
            save_state(checkpoint, {"fingerprint": key, "done": k + 1, **work.state()})
            last_save = time.monotonic()

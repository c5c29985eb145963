"""Local SGD with masked local steps (chapter 6), all workers and runs in one process.

Every (worker, kappa, replicate) run advances in one batched tensor program; worker k draws its
masks from its own generator seeded from ``(seed, k)``, as the ``torch.distributed`` worker of the
same rank does, and the models are averaged by the same expression (``stack.sum(0) / K``), so a
run here equals the multi-process run bit for bit on the CPU (see :mod:`mgn.distributed.local_sgd`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from mgn.device import resolve_device
from mgn.distributed.local_sgd import LocalSGDEngine, average_stacked
from mgn.resumable import CHECKPOINT_EVERY, run_resumable
from mgn.seeds import derived_seed
from mgn.training import TrainingResult
from mgn.validation import (
    check_kappa,
    check_kappas,
    check_positive,
    check_seed,
    check_training_inputs,
)


@dataclass(frozen=True, kw_only=True)
class LocalSGDResult(TrainingResult):
    """Records of a local-SGD run, on the CPU.

    Besides the settings of :class:`mgn.training.TrainingResult` (``precision`` is the runs'
    dtype):

    Attributes
    ----------
    kappas, kappa_up, lr, rounds, local_steps, workers, batch_size, split : the settings.
    replicate_seeds : the seed of each replicate's streams: ``(seed,)`` for one initialisation,
        ``derived_seed(seed, r)`` for replicate ``r`` of a replicate axis.
    clean_loss : clean sum loss of the global model on all n samples before the first round and
        after each, ``(len(kappas), rounds + 1)`` (``(len(kappas), R, rounds + 1)`` with a
        replicate axis).
    W : final global weights, ``(len(kappas), m, d)`` (``(len(kappas), R, m, d)``).
    bytes_per_worker : bytes one worker uploads over the whole run for one kappa: its local model,
        ``m d`` numbers of the run's dtype, once per round.
    """

    kappas: tuple[float, ...]
    kappa_up: float
    lr: float
    rounds: int
    local_steps: int
    workers: int
    batch_size: int | None
    split: str
    replicate_seeds: tuple[int, ...]
    clean_loss: torch.Tensor
    W: torch.Tensor
    bytes_per_worker: int


def check_local_sgd_options(n, rounds, local_steps, workers, batch_size, kappa_up) -> float:
    """Validate the options of chapter 6's run; errors name the argument. Returns kappa_up."""
    check_positive("rounds", rounds, integer=True)
    check_positive("local_steps", local_steps, integer=True)
    check_positive("workers", workers, integer=True)
    if workers > n:
        raise ValueError(f"workers must be at most n = {n} (one sample per shard), got {workers}")
    if batch_size is not None:
        check_positive("batch_size", batch_size, integer=True)
        smallest = n // workers
        if batch_size > smallest:
            raise ValueError(
                f"batch_size must be at most the smallest shard, n // workers = {smallest}, "
                f"got {batch_size}"
            )
    return check_kappa(kappa_up, "kappa_up")


class _Simulation:
    """All K workers of every run, averaged in-process: the work of :func:`run_resumable`."""

    def __init__(self, engine: LocalSGDEngine, W: torch.Tensor, rounds: int, local_steps: int):
        self.engine, self.W, self.local_steps = engine, W, local_steps
        self.clean_loss = torch.zeros(engine.B, rounds + 1, dtype=W.dtype, device=W.device)
        self.clean_loss[:, 0] = engine.clean_loss(W)

    def advance(self, t: int) -> None:
        self.W = self.engine.round(self.W, self.local_steps, average_stacked)
        self.clean_loss[:, t + 1] = self.engine.clean_loss(self.W)

    def state(self) -> dict:
        generators = self.engine.generator_states()
        return {"W": self.W, "clean_loss": self.clean_loss, "generators": generators}

    def restore(self, state: dict) -> None:
        self.W.copy_(state["W"])
        self.clean_loss.copy_(state["clean_loss"])
        self.engine.set_generator_states(state["generators"])


def train_local_sgd(
    X,
    y,
    W0,
    a,
    kappas: Sequence[float],
    lr: float,
    rounds: int,
    local_steps: int,
    workers: int,
    *,
    batch_size: int | None = None,
    kappa_up: float = 0.0,
    split: str = "iid",
    seed: int = 0,
    device: str | torch.device = "auto",
    checkpoint: str | os.PathLike | None = None,
    checkpoint_every: float = CHECKPOINT_EVERY,
    show_progress: bool = True,
) -> LocalSGDResult:
    """Local SGD (chapter 6) for every kappa, from one initialisation or a replicate axis.

    Parameters
    ----------
    X : (n, d) inputs; y : (n,) targets.
    W0 : (m, d) initial global weights, or (R, m, d), one per replicate.
    a : (m,) fixed output weights, or (R, m) with a replicate axis.
    kappas : input-mask scales (``>= 0``); every kappa of a replicate sees the same noise draws.
    lr : local step size on the shard's sum loss. rounds : communication rounds.
    local_steps : masked GD steps per round (``H`` on the notation page). workers : K, the number
        of shards.
    batch_size : ``None``: full-shard local GD; an int: each local step uses ``batch_size`` of the
        shard's samples (without replacement), the gradient scaled by ``n_k / batch_size``.
    kappa_up : uplink fading scale (``>= 0``); 0 sends the local models unchanged.
    split : how the samples are shared out, ``"iid"`` (contiguous blocks of the i.i.d. samples) or
        ``"by_output"`` (bands of the targets: heterogeneous shards); see
        :func:`mgn.distributed.local_sgd.shard_indices`.
    seed : worker k draws from a generator seeded from ``(seed, k)``
        (:func:`mgn.distributed.local_sgd.worker_generator`), as rank k of
        ``python -m mgn.distributed`` does, so one initialisation reproduces that run bit for bit.
        With a replicate axis, replicate r uses the seed ``mgn.seeds.derived_seed(seed, r)`` in
        place of ``seed``: it equals the run of ``W0[r]`` alone with that seed.
    device : ``"auto"``, ``"cpu"``, ``"cuda"``... (masks are drawn on the CPU).
    checkpoint, checkpoint_every, show_progress : the resumable loop's
        (:func:`mgn.resumable.run_resumable`): save every ``checkpoint_every`` seconds and at the
        end; resume from ``checkpoint``.

    Returns
    -------
    :class:`LocalSGDResult` with ``clean_loss (len(kappas), rounds + 1)`` and
    ``W (len(kappas), m, d)`` (with a replicate axis: ``(len(kappas), R, ...)``).
    """
    started = time.perf_counter()
    X, y, W0, a, replicated = check_training_inputs(X, y, W0, a)
    kappas = tuple(check_kappas(kappas))
    lr = float(check_positive("lr", lr))
    kappa_up = check_local_sgd_options(
        X.shape[0], rounds, local_steps, workers, batch_size, kappa_up
    )
    seed = check_seed(seed)
    R = W0.shape[0]
    seeds = tuple(derived_seed(seed, r) for r in range(R)) if replicated else (seed,)
    device = resolve_device(device)
    engine = LocalSGDEngine(
        X, y, a, kappas, seeds, range(workers), workers, lr, batch_size, kappa_up, device, split
    )
    simulation = _Simulation(engine, W0.to(device).repeat(len(kappas), 1, 1), rounds, local_steps)
    settings = {
        "kappas": kappas,
        "kappa_up": kappa_up,
        "lr": lr,
        "rounds": rounds,
        "local_steps": local_steps,
        "workers": workers,
        "seeds": seeds,
        "batch_size": batch_size,
        "split": split,
    }
    run_resumable(
        simulation,
        rounds,
        settings=settings,
        tensors={"X": X, "y": y, "W0": W0, "a": a},
        checkpoint=checkpoint,
        checkpoint_every=checkpoint_every,
        show_progress=show_progress,
        desc="local SGD",
    )
    K, (m, d) = len(kappas), W0.shape[1:]
    shape = (K, R) if replicated else (K,)
    return LocalSGDResult(
        seed=seed,
        device=device.type,
        precision=str(X.dtype).removeprefix("torch."),
        seconds=time.perf_counter() - started,
        kappas=kappas,
        kappa_up=kappa_up,
        lr=lr,
        rounds=rounds,
        local_steps=local_steps,
        workers=workers,
        batch_size=batch_size,
        split=split,
        replicate_seeds=seeds,
        clean_loss=simulation.clean_loss.to("cpu").reshape(*shape, rounds + 1),
        W=simulation.W.to("cpu").reshape(*shape, m, d),
        bytes_per_worker=rounds * m * d * X.element_size(),
    )

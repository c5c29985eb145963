"""Local SGD with masked local steps (SPEC section 8), all workers and runs in one process.

Every (worker, kappa, replicate) run advances in one batched tensor program; worker k draws its
masks from its own generator seeded from ``(seed, k)``, as the ``torch.distributed`` worker of the
same rank does, and the models are averaged by the same expression (``stack.sum(0) / K``), so a
run here equals the multi-process run bit for bit on the CPU (see :mod:`mgn.distributed.local_sgd`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from mgn._validation import as_float_tensor, check_kappa, check_kappas, check_positive
from mgn.checkpoint import fingerprint, load_state, save_state
from mgn.device import resolve_device
from mgn.distributed.local_sgd import _LocalRuns, average_stacked
from mgn.progress import progress
from mgn.train import _check_inputs


@dataclass(frozen=True)
class LocalSGDResult:
    """Records of a local-SGD sweep, on the CPU.

    Attributes
    ----------
    kappas, kappa_up, lr, rounds, local_steps, workers, seeds, batch_size : the settings.
    clean_loss : clean sum loss of the global model on all n samples before the first round and
        after each, ``(len(kappas), rounds + 1)`` (``(len(kappas), R, rounds + 1)`` for a sweep).
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
    seeds: tuple[int, ...]
    batch_size: int | None
    clean_loss: torch.Tensor
    W: torch.Tensor
    bytes_per_worker: int


def check_local_sgd_options(n, rounds, local_steps, workers, batch_size, kappa_up) -> float:
    """Validate the options of SPEC section 8's run; errors name the argument. Returns kappa_up."""
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


def train_local_sgd_sweep(
    X,
    y,
    W0,
    a,
    kappas: Sequence[float],
    lr: float,
    rounds: int,
    local_steps: int,
    workers: int,
    seeds: Sequence[int] = (0,),
    *,
    batch_size: int | None = None,
    kappa_up: float = 0.0,
    device: str | torch.device = "auto",
    checkpoint: str | os.PathLike | None = None,
    checkpoint_every: int = 100,
    show_progress: bool = True,
) -> LocalSGDResult:
    """Local SGD (SPEC section 8) for every kappa and every replicate ``r`` (init ``W0[r]``, ``seeds[r]``).

    Parameters
    ----------
    X : (n, d) inputs; y : (n,) targets.
    W0 : (R, m, d) initial global weights; a : (R, m) or (m,) fixed output weights.
    kappas : input-mask scales (``>= 0``); every kappa of a replicate sees the same noise draws.
    lr : local step size on the shard's sum loss. rounds : communication rounds.
    local_steps : masked GD steps per round (``tau``). workers : K, the number of shards.
    seeds : one per replicate; worker k of replicate r draws from a generator seeded from
        ``(seeds[r], k)`` (:func:`mgn.distributed.local_sgd.worker_generator`).
    batch_size : ``None``: full-shard local GD; an int: each local step uses ``batch_size`` of the
        shard's samples (without replacement), the gradient scaled by ``n_k / batch_size``.
    kappa_up : uplink fading scale (``>= 0``); 0 sends the local models unchanged.
    device : ``"auto"``, ``"cpu"``, ``"cuda"``... (masks are drawn on the CPU).
    checkpoint : file to save the state every ``checkpoint_every`` rounds and resume from.
    show_progress : progress bar over rounds (silent in CI and under the book's runner).
    """
    X, y, W0, a = _check_inputs(X, y, W0, a)
    kappas = tuple(check_kappas(kappas))
    lr = float(check_positive("lr", lr))
    kappa_up = check_local_sgd_options(
        X.shape[0], rounds, local_steps, workers, batch_size, kappa_up
    )
    seeds = tuple(seeds)
    if len(seeds) != W0.shape[0] or any(
        isinstance(s, bool) or not isinstance(s, int) for s in seeds
    ):
        raise ValueError(
            f"seeds must hold one int per replicate (R = {W0.shape[0]}), got {seeds!r}"
        )
    check_positive("checkpoint_every", checkpoint_every, integer=True)
    device = resolve_device(device)
    runs = _LocalRuns(
        X, y, a, kappas, seeds, range(workers), workers, lr, batch_size, kappa_up, device
    )
    W = W0.to(device).repeat(len(kappas), 1, 1)
    clean_loss = torch.zeros(runs.B, rounds + 1, dtype=X.dtype, device=device)
    clean_loss[:, 0] = runs.clean_loss(W)
    done = 0
    if checkpoint is not None:
        settings = {
            "kappas": kappas,
            "kappa_up": kappa_up,
            "lr": lr,
            "rounds": rounds,
            "local_steps": local_steps,
            "workers": workers,
            "seeds": seeds,
            "batch_size": batch_size,
        }
        key = fingerprint(settings, {"X": X, "y": y, "W0": W0, "a": a})
        state = load_state(checkpoint, key)
        if state is not None:
            done = int(state["round"])
            W.copy_(state["W"])
            clean_loss.copy_(state["clean_loss"])
            runs.set_generator_states(state["generators"])
    hide = {} if show_progress else {"disable": True}
    for t in progress(range(done, rounds), total=rounds, initial=done, desc="local SGD", **hide):
        W = runs.round(W, local_steps, average_stacked)
        clean_loss[:, t + 1] = runs.clean_loss(W)
        if checkpoint is not None and ((t + 1) % checkpoint_every == 0 or t + 1 == rounds):
            state = {"round": t + 1, "W": W, "clean_loss": clean_loss}
            save_state(
                checkpoint, {"fingerprint": key, **state, "generators": runs.generator_states()}
            )
    K, R, (m, d) = len(kappas), W0.shape[0], W0.shape[1:]
    return LocalSGDResult(
        kappas=kappas,
        kappa_up=kappa_up,
        lr=lr,
        rounds=rounds,
        local_steps=local_steps,
        workers=workers,
        seeds=seeds,
        batch_size=batch_size,
        clean_loss=clean_loss.to("cpu").reshape(K, R, rounds + 1),
        W=W.to("cpu").reshape(K, R, m, d),
        bytes_per_worker=rounds * m * d * X.element_size(),
    )


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
    seed: int = 0,
    *,
    batch_size: int | None = None,
    kappa_up: float = 0.0,
    device: str | torch.device = "auto",
    checkpoint: str | os.PathLike | None = None,
    checkpoint_every: int = 100,
    show_progress: bool = True,
) -> LocalSGDResult:
    """Local SGD (SPEC section 8) from one initialisation ``W0 (m, d)``, ``a (m,)``, per kappa.

    The in-process simulation of ``python -m mgn.distributed``: with one kappa, its ``W[0]``
    equals that run's weights for the same arguments. See :func:`train_local_sgd_sweep` for
    every argument (``seed`` is the one replicate's seed).

    Returns
    -------
    :class:`LocalSGDResult` with ``clean_loss (len(kappas), rounds + 1)`` and
    ``W (len(kappas), m, d)``.
    """
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be an int, got {seed!r}")
    W0 = as_float_tensor("W0", W0, ndim=2)
    a = as_float_tensor("a", a, ndim=1)
    result = train_local_sgd_sweep(
        X,
        y,
        W0[None],
        a[None],
        kappas,
        lr,
        rounds,
        local_steps,
        workers,
        (seed,),
        batch_size=batch_size,
        kappa_up=kappa_up,
        device=device,
        checkpoint=checkpoint,
        checkpoint_every=checkpoint_every,
        show_progress=show_progress,
    )
    return LocalSGDResult(
        **{
            **result.__dict__,
            "clean_loss": result.clean_loss.squeeze(1),
            "W": result.W.squeeze(1),
        }
    )

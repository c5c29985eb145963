"""One worker of local SGD on ``torch.distributed`` (chapter 6): the ``torchrun`` entry point.

Launch (one process per worker; ``torchrun`` sets RANK, WORLD_SIZE, MASTER_ADDR, ...)::

    torchrun --standalone --nproc-per-node=K -m mgn.distributed --samples N --dim D --width M \\
        --kappa KAPPA --lr LR --rounds R --local-steps T --seed S --out FILE.json

The problem is chapter 4's: ``X, y = sphere_teacher_data(N, D, seed=S)``,
``W0, a = init_network(M, D, seed=S + 1)``. Worker k (the rank) holds shard k (``--split``, as in
:func:`mgn.distributed.local_sgd.shard_indices`), draws its masks
from the generator seeded from ``(S, k)``, and each round ends with one ``all_gather`` of the
local models, averaged as ``torch.stack(models).sum(0) / K`` in rank order: the expression the
simulation uses, so the weights equal ``train_local_sgd(...).W[0]`` bit for bit on the CPU
(an ``all_reduce(SUM)`` would not: its reduction order differs at K >= 3). Rank 0 writes
``{"clean_loss", "W", "seconds", "workers", ...}`` atomically. gloo on the CPU (one thread per
process), NCCL when every rank has a GPU; every collective has a short timeout, so a worker that
dies or a group that never forms ends the run with an error instead of a hang.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import timedelta
from pathlib import Path

import torch
import torch.distributed as dist

from mgn.data import init_network, sphere_teacher_data
from mgn.distributed.local_sgd import SPLITS, LocalSGDEngine, average_stacked
from mgn.distributed.simulation import check_local_sgd_options
from mgn.records import write_json_atomic

DTYPES = {"float32": torch.float32, "float64": torch.float64}


class WorkerError(RuntimeError):
    """The process group could not form, or a collective failed (a worker died or timed out)."""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line of the module docstring; option names avoid torchrun's own prefixes."""
    parser = argparse.ArgumentParser(
        prog="python -m mgn.distributed", description=__doc__.split("\n")[0], allow_abbrev=False
    )
    parser.add_argument("--samples", type=int, required=True, help="n, the number of samples")
    parser.add_argument("--dim", type=int, required=True, help="d, the input dimension")
    parser.add_argument("--width", type=int, required=True, help="m, the hidden width")
    parser.add_argument("--kappa", type=float, required=True, help="input mask scale")
    parser.add_argument("--lr", type=float, required=True, help="local step size")
    parser.add_argument("--rounds", type=int, required=True, help="communication rounds")
    parser.add_argument("--local-steps", type=int, required=True, help="Q, steps per round")
    parser.add_argument("--seed", type=int, default=0, help="data seed S (init: S + 1)")
    parser.add_argument("--batch-size", type=int, default=None, help="local minibatch size")
    parser.add_argument("--kappa-up", type=float, default=0.0, help="uplink fading scale")
    parser.add_argument("--split", choices=list(SPLITS), default="iid", help="how shards are cut")
    parser.add_argument("--dtype", choices=sorted(DTYPES), default="float64")
    parser.add_argument("--backend", choices=["auto", "gloo", "nccl"], default="auto")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per collective")
    parser.add_argument("--out", type=Path, required=True, help="JSON file rank 0 writes")
    return parser.parse_args(argv)


def _check(args: argparse.Namespace, workers: int) -> None:
    for name in ("samples", "dim", "width"):
        if getattr(args, name) < 1:
            raise ValueError(f"--{name} must be a positive integer, got {getattr(args, name)}")
    if not args.lr > 0:
        raise ValueError(f"--lr must be positive, got {args.lr}")
    if not args.kappa >= 0:
        raise ValueError(f"--kappa must be >= 0, got {args.kappa}")
    if not args.timeout > 0:
        raise ValueError(f"--timeout must be positive, got {args.timeout}")
    check_local_sgd_options(
        args.samples, args.rounds, args.local_steps, workers, args.batch_size, args.kappa_up
    )


def _backend_and_device(requested: str, local_rank: int, local_workers: int):
    gpus = torch.cuda.device_count()
    if requested == "nccl" and gpus < local_workers:
        raise ValueError(
            f"--backend nccl needs one GPU per local worker ({local_workers}), found {gpus}"
        )
    if requested == "nccl" or (requested == "auto" and gpus >= local_workers > 0):
        return "nccl", torch.device("cuda", local_rank)
    return "gloo", torch.device("cpu")


def init_group(backend: str, timeout_s: float, init_method: str | None = None) -> None:
    """``init_process_group`` with a short timeout, its failure turned into a clear :class:`WorkerError`."""
    world = os.environ.get("WORLD_SIZE", "?")
    try:
        dist.init_process_group(
            backend, init_method=init_method, timeout=timedelta(seconds=timeout_s)
        )
    except Exception as err:  # torch raises several types (DistStoreError, RuntimeError, ...)
        raise WorkerError(
            f"the process group of {world} workers did not form within {timeout_s:g} s "
            f"(rendezvous at {init_method or os.environ.get('MASTER_ADDR', '?')}): {err}"
        ) from err


def run(args: argparse.Namespace) -> dict | None:
    """Run this process's worker to the end; rank 0 returns (and writes) the record."""
    if "RANK" not in os.environ or "WORLD_SIZE" not in os.environ:
        raise WorkerError("RANK and WORLD_SIZE are not set: launch the workers with torchrun")
    rank, workers = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    local_rank = int(os.environ.get("LOCAL_RANK", rank))
    local_workers = int(os.environ.get("LOCAL_WORLD_SIZE", workers))
    _check(args, workers)
    torch.set_num_threads(1)
    if local_workers == workers:  # one machine: gloo talks over loopback
        os.environ.setdefault("GLOO_SOCKET_IFNAME", "lo")
    backend, device = _backend_and_device(args.backend, local_rank, local_workers)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    init_group(backend, args.timeout)
    print(f"worker {rank} of {workers}: group formed ({backend})", file=sys.stderr, flush=True)
    start = time.perf_counter()
    dtype = DTYPES[args.dtype]
    X, y = sphere_teacher_data(args.samples, args.dim, seed=args.seed, dtype=dtype)
    W0, a = init_network(args.width, args.dim, seed=args.seed + 1, dtype=dtype)
    runs = LocalSGDEngine(
        X, y, a[None], [args.kappa], [args.seed], [rank], workers, args.lr,
        args.batch_size, args.kappa_up, device, args.split,
    )  # fmt: skip
    W = W0[None].to(device)
    losses = [runs.clean_loss(W)]
    gathered = [torch.empty_like(W) for _ in range(workers)]

    def average(received: torch.Tensor) -> torch.Tensor:
        dist.all_gather(gathered, received[0].contiguous())
        return average_stacked(torch.stack(gathered))

    try:
        for t in range(args.rounds):
            try:
                W = runs.round(W, args.local_steps, average)
            except Exception as err:
                raise WorkerError(
                    f"worker {rank}: the all_gather of round {t + 1} of {args.rounds} failed "
                    f"(a worker died or stalled; collective timeout {args.timeout:g} s): {err}"
                ) from err
            if rank == 0:
                losses.append(runs.clean_loss(W))
        seconds = time.perf_counter() - start
    finally:
        dist.destroy_process_group()
    if rank != 0:
        return None
    record = {
        "clean_loss": torch.cat(losses).tolist(),
        "W": W[0].to("cpu").tolist(),
        "seconds": seconds,
        "workers": workers,
        "backend": backend,
        "settings": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
    }
    write_json_atomic(args.out, record)
    return record


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m mgn.distributed``: exit status 0, or 1 with the error on stderr."""
    args = parse_args(argv)
    try:
        run(args)
    except (WorkerError, ValueError, TypeError) as err:
        print(f"mgn.distributed: error: {err}", file=sys.stderr, flush=True)
        return 1
    return 0

"""Chapter 6's sweep (4 kappas x 3 Qs x seeds, K = 4 workers): a plain PyTorch loop vs the simulation.

The plain way runs one setting after another, and inside it one worker after another: an
``nn.Module`` and a ``torch.optim.SGD`` per worker, a fresh mask per local step, autograd, the
models averaged through their ``state_dict`` each round and the clean loss recorded.
``mgn.distributed.train_local_sgd`` (with a replicate axis) advances all workers, kappas and seeds of one Q in one
batched program. Both run single-threaded, side by side in one process (target: >= 5x on the CPU).
Then the real thing: a 2-process gloo run (``torchrun --standalone``) against the simulation of
the same run, time per round.

Run: ``python benchmarks/local_sgd.py [--steps 2000] [--seeds 3] [--gloo-rounds 100]``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from train_sweep import TwoLayer

from mgn.data import init_network, sphere_teacher_data
from mgn.distributed import train_local_sgd

KAPPAS, QS = (0.0, 0.2, 0.6, 1.0), (1, 5, 20)
N, D, M, LR, WORKERS = 500, 20, 100, 0.005, 4


def plain_local_sgd(X, y, W0, a, kappa, Q, rounds, seed) -> list[float]:
    """One worker after another, one local step after another; returns the clean losses."""
    generator = torch.Generator().manual_seed(seed)
    shards = torch.tensor_split(torch.arange(X.shape[0]), WORKERS)
    server = TwoLayer(W0, a).to(X.dtype)
    models = [TwoLayer(W0, a).to(X.dtype) for _ in range(WORKERS)]
    optimizers = [torch.optim.SGD(model.parameters(), lr=LR) for model in models]
    with torch.no_grad():
        losses = [0.5 * (server(X) - y).square().sum().item()]
    for _ in range(rounds):
        for model, optimizer, rows in zip(models, optimizers, shards, strict=True):
            model.load_state_dict(server.state_dict())
            Xk, yk = X[rows], y[rows]
            for _ in range(Q):
                mask = 1 + kappa * torch.randn(Xk.shape, generator=generator, dtype=X.dtype)
                loss = 0.5 * (model(Xk * mask) - yk).square().sum()
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
        with torch.no_grad():
            average = torch.stack([model.hidden.weight for model in models]).mean(0)
            server.hidden.weight.copy_(average)
            losses.append(0.5 * (server(X) - y).square().sum().item())
    return losses


def cpu_and_wall(function) -> tuple[float, float]:
    cpu, wall = time.process_time(), time.perf_counter()
    function()
    return time.process_time() - cpu, time.perf_counter() - wall


def gloo_seconds_per_round(rounds: int, Q: int) -> float:
    """Time per round measured inside a 2-process gloo run (rank 0's clock)."""
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "run.json"
        command = [
            sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2",
            "-m", "mgn.distributed", "--samples", str(N), "--dim", str(D), "--width", str(M),
            "--kappa", "0.6", "--lr", str(LR), "--rounds", str(rounds), "--local-steps", str(Q),
            "--seed", "0", "--backend", "gloo", "--out", str(out),
        ]  # fmt: skip
        env = dict(os.environ, OMP_NUM_THREADS="1")
        subprocess.run(command, env=env, check=True, capture_output=True, timeout=600)
        return json.loads(out.read_text())["seconds"] / rounds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=2000, help="local steps per worker per run")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--gloo-rounds", type=int, default=100)
    args = parser.parse_args()
    torch.set_num_threads(1)
    X, y = sphere_teacher_data(N, D, seed=0, dtype=torch.float64)
    W0, a = init_network(M, D, seed=1, dtype=torch.float64)
    seeds = tuple(range(args.seeds))

    def batched():
        for Q in QS:
            train_local_sgd(
                X, y, W0.expand(args.seeds, -1, -1), a, KAPPAS, LR, args.steps // Q, Q,
                WORKERS, seed=0, device="cpu", show_progress=False,
            )  # fmt: skip

    def plain():
        for Q in QS:
            for kappa in KAPPAS:
                for seed in seeds:
                    plain_local_sgd(X, y, W0, a, kappa, Q, args.steps // Q, seed)

    runs = len(KAPPAS) * len(QS) * args.seeds
    print(f"sweep: {runs} runs x {WORKERS} workers x {args.steps} local steps, float64, 1 thread")
    cpu_b, wall_b = cpu_and_wall(batched)
    cpu_p, wall_p = cpu_and_wall(plain)
    print(f"  simulation (batched): {cpu_b:8.2f} s CPU  {wall_b:8.2f} s wall")
    print(f"  plain PyTorch loop:   {cpu_p:8.2f} s CPU  {wall_p:8.2f} s wall")
    print(f"  ratio: {cpu_p / cpu_b:.1f}x CPU, {wall_p / wall_b:.1f}x wall (target >= 5x)")

    Q = 5
    gloo = gloo_seconds_per_round(args.gloo_rounds, Q)
    cpu_s, wall_s = cpu_and_wall(
        lambda: train_local_sgd(
            X, y, W0, a, [0.6], LR, args.gloo_rounds, Q, 2, device="cpu", show_progress=False
        )
    )
    print(f"2 workers, Q = {Q}, {args.gloo_rounds} rounds, same problem:")
    print(f"  gloo, 2 processes:    {gloo * 1e3:8.2f} ms per round (wall, rank 0)")
    print(f"  simulation:           {wall_s / args.gloo_rounds * 1e3:8.2f} ms per round (wall), "
          f"{cpu_s / args.gloo_rounds * 1e3:.2f} ms CPU")  # fmt: skip
    print(f"  ratio gloo / simulation: {gloo * args.gloo_rounds / wall_s:.2f}x")


if __name__ == "__main__":
    main()

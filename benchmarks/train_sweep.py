"""Figure 3a's sweep (7 kappas x 5 seeds, 2000 steps): a plain PyTorch loop vs ``train_masked_gd``.

The plain way trains one run at a time: an ``nn.Module`` with ``nn.Linear(d, m, bias=False)`` and
the fixed output weights ``a``, a fresh mask each step, autograd, ``torch.optim.SGD``, and the
clean loss recorded each step. ``mgn.train_masked_gd`` advances all 35 runs in one batched
program with the gradient written out by hand. Both are timed single-threaded and with all
threads; the ratio is printed (targets: 3x on the CPU, 20x on a GPU). Finally the share of a
batched step spent in its matrix products, and their speed against a large square GEMM (the
machine's practical limit).

Run: ``python benchmarks/train_sweep.py [--steps 2000] [--seeds 5] [--device auto]``.
"""

from __future__ import annotations

import argparse
import math
import time

import torch
from _timing import median_seconds
from torch import nn

from mgn.data import init_network, sphere_teacher_data
from mgn.device import describe_device, resolve_device
from mgn.train import train_masked_gd

KAPPAS = (0.0, 0.05, 0.2, 0.4, 0.6, 1.0, 2.0)
N, D, M, LR, PAPER_STEPS = 500, 20, 100, 0.005, 2000


class TwoLayer(nn.Module):
    """f(W; x) = m^{-1/2} a^T relu(W x), only W trained (the notation page)."""

    def __init__(self, W0: torch.Tensor, a: torch.Tensor):
        super().__init__()
        self.hidden = nn.Linear(W0.shape[1], W0.shape[0], bias=False)
        with torch.no_grad():
            self.hidden.weight.copy_(W0)
        self.register_buffer("a", a / math.sqrt(W0.shape[0]))

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.hidden(X)) @ self.a


def plain_sweep(X, y, W0s, a_s, steps, device) -> list[list[list[float]]]:
    """One run after another, the way one would first write it; returns the clean losses."""
    generator = torch.Generator(device=device).manual_seed(0)
    losses = []
    for kappa in KAPPAS:
        per_seed = []
        for W0, a in zip(W0s, a_s, strict=True):
            model = TwoLayer(W0, a).to(device)
            optimizer = torch.optim.SGD(model.parameters(), lr=LR)
            curve = []
            for _ in range(steps):
                with torch.no_grad():
                    curve.append(0.5 * (model(X) - y).square().sum().item())
                mask = 1 + kappa * torch.randn(X.shape, generator=generator, device=device)
                loss = 0.5 * (model(X * mask) - y).square().sum()
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
            with torch.no_grad():
                curve.append(0.5 * (model(X) - y).square().sum().item())
            per_seed.append(curve)
        losses.append(per_seed)
    return losses


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn, device: torch.device):
    synchronize(device)
    start = time.perf_counter()
    out = fn()
    synchronize(device)
    return out, time.perf_counter() - start


def matmul_share(X, y, W0s, a_s, device, block: int = 10, repeats: int = 7):
    """Seconds per batched step, seconds of its bmm calls alone, their GFLOP/s.

    The step time is the median of ``repeats`` timed sweeps of ``block`` steps (recording included,
    so the per-step cost is slightly overstated); the bmm calls are the six products of one step
    (module docstring of ``mgn.train``) on tensors of the sweep's shapes.
    """
    step_time = (
        median_seconds(
            lambda: train_masked_gd(
                X, y, W0s, a_s, KAPPAS, LR, block, device=device, show_progress=False
            ),
            repeats=repeats,
        )
        / block
    )
    B, Z = len(KAPPAS) * W0s.shape[0], W0s.shape[0] * KAPPAS.count(0.0)
    W, X_T = torch.randn(B, M, D, device=device), torch.randn(B, D, N, device=device)
    a_scaled = torch.randn(B, 1, M, device=device)
    hidden, weighted = torch.empty(B, M, N, device=device), torch.randn(B, D, N, device=device)
    grad_T = torch.empty(B, D, M, device=device)

    def products():
        for _ in range(block):
            torch.bmm(W, X_T, out=hidden)
            torch.bmm(a_scaled, hidden)
            torch.bmm(weighted[:Z], hidden[:Z].transpose(1, 2), out=grad_T[:Z])
            torch.bmm(W[Z:], X_T[Z:], out=hidden[Z:])
            torch.bmm(a_scaled[Z:], hidden[Z:])
            torch.bmm(weighted[Z:], hidden[Z:].transpose(1, 2), out=grad_T[Z:])
        synchronize(device)

    bmm_time = median_seconds(products, repeats=repeats) / block
    flops = 2 * M * N * D * (3 * B - Z) + 2 * M * N * (2 * B - Z)
    return step_time, bmm_time, flops / bmm_time / 1e9


def peak_gflops(device: torch.device, size: int = 2048) -> float:
    """GFLOP/s of a large square float32 GEMM (median of 5): the machine's practical limit."""
    A = torch.randn(size, size, device=device)
    C = torch.empty_like(A)

    def product():
        torch.mm(A, A, out=C)
        synchronize(device)

    return 2 * size**3 / median_seconds(product, repeats=5) / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=PAPER_STEPS)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    device = resolve_device(args.device)
    X, y = sphere_teacher_data(N, D, seed=0)
    inits = [init_network(M, D, seed=1 + s) for s in range(args.seeds)]
    W0s = torch.stack([W0 for W0, _ in inits])
    a_s = torch.stack([a for _, a in inits])
    X, y, W0s, a_s = (t.to(device) for t in (X, y, W0s, a_s))
    runs = len(KAPPAS) * args.seeds
    if args.steps != PAPER_STEPS:
        print(f"Timing {args.steps} steps per run, not the paper's {PAPER_STEPS}.")
    print(
        f"Figure 3a sweep: {len(KAPPAS)} kappas x {args.seeds} seeds = {runs} runs, "
        f"n={N}, d={D}, m={M}, {args.steps} steps, float32, on {describe_device(device)}"
    )

    all_threads = torch.get_num_threads()
    thread_counts = [1, all_threads] if device.type == "cpu" and all_threads > 1 else [1]
    for threads in thread_counts:
        torch.set_num_threads(threads)
        plain, plain_s = timed(lambda: plain_sweep(X, y, W0s, a_s, args.steps, device), device)
        batched, batched_s = timed(
            lambda: train_masked_gd(
                X, y, W0s, a_s, KAPPAS, LR, args.steps, device=device, show_progress=False
            ),
            device,
        )
        gap = (batched.clean_loss[0] - torch.tensor(plain[0])).abs().max().item()
        print(
            f"\n{threads} thread(s): plain loop {plain_s:7.2f} s   train_masked_gd "
            f"{batched_s:6.2f} s   ratio {plain_s / batched_s:5.1f}x"
        )
        print(
            f"  kappa = 0 curves, plain vs batched: max |difference| {gap:.2e} "
            f"(initial loss {plain[0][0][0]:.1f})"
        )
        finals = batched.clean_loss[:, :, -1].mean(1).tolist()
        plain_finals = [sum(c[-1] for c in per_seed) / len(per_seed) for per_seed in plain]
        print(
            "  final clean loss by kappa (mean over seeds), batched / plain: "
            + ", ".join(
                f"{k:g}: {b:.3g}/{p:.3g}"
                for k, b, p in zip(KAPPAS, finals, plain_finals, strict=True)
            )
        )

        step_s, bmm_s, gflops = matmul_share(X, y, W0s, a_s, device)
        peak = peak_gflops(device)
        print(
            f"  one batched step {step_s * 1e3:.2f} ms; its bmm calls alone "
            f"{bmm_s * 1e3:.2f} ms = {100 * bmm_s / step_s:.0f}% of the step, at {gflops:.0f} "
            f"GFLOP/s; a 2048^2 float32 GEMM runs at {peak:.0f} GFLOP/s "
            f"(the bmm calls reach {100 * gflops / peak:.0f}% of it)"
        )
    torch.set_num_threads(all_threads)


if __name__ == "__main__":
    main()

"""Finite-width NTK Gram through activation patterns versus per-sample Jacobians (chapter 3).

Setting of Figure 3a (chapter 4) with n = 1000: inputs on the sphere of R^20, width m = 100 at
the NTK initialisation. ``mgn.ntk_gram`` forms H(W) = ((X X^T) ⊙ (S S^T)) / m from the 0/1
activation pattern S; the naive way builds the (n, m d) Jacobian of the outputs in W with
``torch.func.vmap(jacrev(...))`` and multiplies J J^T. Both run in one process (median of repeated
timings); the script also times the smoothed Gram and H_inf, and checks that the results agree.

Run: ``.venv/bin/python benchmarks/ntk_gram.py``.
"""

from __future__ import annotations

import math

import torch
from _timing import median_seconds
from torch.func import jacrev, vmap

from mgn import init_network, ntk_gram, ntk_gram_infinite, ntk_gram_smoothed, sphere_teacher_data
from mgn.device import describe_device

N, D, M, SEED, KAPPA = 1000, 20, 100, 0, 0.2


def jacobian_gram(W: torch.Tensor, a: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
    """J J^T with J the per-sample Jacobians of f(W; x_i) in W, by torch.func."""

    def output(W, x):
        return torch.relu(W @ x) @ a / math.sqrt(W.shape[0])

    J = vmap(jacrev(output), in_dims=(None, 0))(W, X).reshape(X.shape[0], -1)
    return J @ J.T


def main() -> None:
    X, _ = sphere_teacher_data(N, D, seed=SEED, dtype=torch.float64)
    W, a = init_network(M, D, seed=SEED + 1, dtype=torch.float64)
    print(f"NTK Gram, n = {N}, d = {D}, m = {M}, float64, on {describe_device('cpu')}")
    fast, naive = ntk_gram(W, X), jacobian_gram(W, a, X)
    print(f"max |H_patterns - H_jacobians| = {(fast - naive).abs().max().item():.1e}")
    t_fast = median_seconds(lambda: ntk_gram(W, X), repeats=20)
    t_naive = median_seconds(lambda: jacobian_gram(W, a, X), repeats=5)
    t_smooth = median_seconds(lambda: ntk_gram_smoothed(W, X, KAPPA), repeats=5)
    t_inf = median_seconds(lambda: ntk_gram_infinite(X), repeats=20)
    print(f"{'method':<40} {'time':>10} {'vs ntk_gram':>12}")
    rows = [
        ("ntk_gram (activation patterns)", t_fast),
        ("per-sample Jacobians (torch.func)", t_naive),
        (f"ntk_gram_smoothed (kappa = {KAPPA})", t_smooth),
        ("ntk_gram_infinite", t_inf),
    ]
    for name, seconds in rows:
        print(f"{name:<40} {seconds * 1e3:>8.2f}ms {seconds / t_fast:>11.1f}x")
    print(f"speed-up of ntk_gram over per-sample Jacobians: {t_naive / t_fast:.1f}x")


if __name__ == "__main__":
    main()

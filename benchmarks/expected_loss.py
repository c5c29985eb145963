"""Exact expected masked loss versus Monte Carlo at equal accuracy (chapter 2).

Setting of Figure 3a (chapter 4): n = 500 inputs on the sphere of R^20 with teacher labels,
width m = 100 at the NTK initialisation, Gaussian mask. The closed form costs O(n m^2) bivariate
normal evaluations; Monte Carlo costs one masked forward pass per draw and its standard error falls
like sigma / sqrt(draws). For each kappa this script times both in one run, measures sigma (the
standard deviation of one draw's masked loss), and prints how many draws, and how much time, Monte
Carlo needs to reach a given relative accuracy, against the closed form's time. The closed form's
own accuracy is estimated by comparing, on the first 50 inputs, its output variance (the part of
the loss that the bivariate formulas compute) with a second float64 evaluation that shares only the
bivariate cdf with it: chapter 2's product formula E[relu relu] minus the product of the means.

Run: ``.venv/bin/python benchmarks/expected_loss.py``.
"""

from __future__ import annotations

import math
import time

import torch
from _timing import median_seconds

from mgn import (
    expected_masked_loss,
    init_network,
    masked_loss_monte_carlo,
    masked_output_variance,
    relu_product_moment,
    smoothed_relu,
    smoothed_relu_second_moment,
    sphere_teacher_data,
)
from mgn.device import describe_device

N, D, M, SEED = 500, 20, 100, 0
KAPPAS = (0.05, 0.2, 1.0)
MC_DRAWS = 2000  # draws timed to measure the cost of one draw and sigma
TARGETS = (1e-2, 1e-3, 1e-4, 1e-6)
ACCURACY_INPUTS = 50


def product_formula_variance(W, a, X, kappa: float) -> torch.Tensor:
    """Var_c f per input through chapter 2's E[relu relu] - mean mean, on (m, m) blocks per input."""
    variance = []
    for x in X:
        z = W @ x
        s = kappa * (W * x).norm(dim=1)
        cov = kappa**2 * (W * x) @ (W * x).T
        second = relu_product_moment(z[:, None], z[None, :], s[:, None], s[None, :], cov).clone()
        second.diagonal().copy_(smoothed_relu_second_moment(z, s))
        mean = smoothed_relu(z, s)
        variance.append(a @ (second - torch.outer(mean, mean)) @ a / W.shape[0])
    return torch.stack(variance)


def main() -> None:
    X, y = sphere_teacher_data(N, D, seed=SEED, dtype=torch.float64)
    W, a = init_network(M, D, seed=SEED + 1, dtype=torch.float64)
    print(f"Expected masked loss, n = {N}, d = {D}, m = {M}, float64, on {describe_device('cpu')}")
    print(f"pairs (input, neuron pair): {N * M * (M - 1) // 2:,}")
    for kappa in KAPPAS:
        exact = float(expected_masked_loss(W, a, X, y, kappa))
        t_exact = median_seconds(lambda k=kappa: expected_masked_loss(W, a, X, y, k), repeats=3)
        t_exact32 = median_seconds(
            lambda k=kappa: expected_masked_loss(W.float(), a.float(), X.float(), y.float(), k),
            repeats=3,
        )
        closed_var = masked_output_variance(W, a, X[:ACCURACY_INPUTS], kappa)
        other_var = product_formula_variance(W, a, X[:ACCURACY_INPUTS], kappa)
        var_error = float((closed_var - other_var).abs().max() / closed_var.abs().max())
        share = float(0.5 * masked_output_variance(W, a, X, kappa).sum()) / exact  # R / loss
        accuracy = max(var_error * share, torch.finfo(W.dtype).eps)
        start = time.perf_counter()
        estimate = masked_loss_monte_carlo(W, a, X, y, kappa, draws=MC_DRAWS, seed=1)
        per_draw = (time.perf_counter() - start) / MC_DRAWS
        sigma = estimate.stderr * math.sqrt(MC_DRAWS)
        print(f"\nkappa = {kappa}: exact {exact:.10g} in {t_exact * 1e3:.0f} ms (float32 "
              f"{t_exact32 * 1e3:.0f} ms); Monte Carlo {estimate.mean:.6g} +- {estimate.stderr:.2g}"
              f" ({MC_DRAWS} draws, {per_draw * 1e3:.2f} ms per draw, sigma {sigma:.3g})")  # fmt: skip
        print(f"  two float64 evaluations of the output variance agree to {var_error:.1e} (relative);"
              f" R is {share:.1%} of the loss, whose accuracy is taken as {accuracy:.1e}")  # fmt: skip
        print(f"  {'rel. accuracy':>14} {'MC draws':>12} {'MC time':>12} {'MC / exact':>11}")
        for target in (*TARGETS, accuracy):
            draws = math.ceil((sigma / (target * exact)) ** 2)
            seconds = draws * per_draw
            print(f"  {target:>14.1e} {draws:>12.3g} {seconds:>11.3g}s {seconds / t_exact:>10.3g}x")
        budget_draws = max(1, int(t_exact / per_draw))
        reach = sigma / math.sqrt(budget_draws) / exact
        print(f"  in the closed form's time Monte Carlo makes {budget_draws} draws: "
              f"relative standard error {reach:.1e}")  # fmt: skip


if __name__ == "__main__":
    main()

"""The exact expected masked loss (chapter 2): the kink-band split against all pairs, then against Monte Carlo.

Setting of Figure 3a (chapter 4): n = 500 inputs on the sphere of R^20 with teacher labels, width
m = 100 at the NTK initialisation, Gaussian mask, float64, on two threads.

1. The split (:mod:`mgn.output_variance`: only the pairs of neurons whose kink the noise reaches go
   through the bivariate normal, their arithmetic fused by ``torch.compile``) against every pair
   through the closed form (:func:`mgn.expected_loss.all_pairs_variance`, the library's only form
   before the split). For kappa = 0.05, 0.2 and 1: the median time of the loss alone and of the
   loss with its gradient in W, their ratio, the share of pairs evaluated
   (:func:`mgn.kink_pair_share`), the largest relative difference of the two losses and of the two
   gradients, and the split's arithmetic rate against a large float64 GEMM's (an estimate: about
   ``FLOPS_PER_PAIR`` operations per pair, over the whole evaluation). The first calls, which
   compile the kernels (or load them from the disk cache), are timed apart. On a shared machine
   the times vary from run to run: each is the median of ``REPEATS`` runs.
2. Monte Carlo at equal accuracy: for each kappa, the time Monte Carlo needs to reach a given
   relative accuracy against the closed form's time (sigma is the standard deviation of one draw's
   masked loss). The closed form's own accuracy is estimated by comparing, on the first 50 inputs,
   its output variance with a second float64 evaluation that shares only the bivariate cdf with
   it: the product formula E[relu relu] minus the product of the means.

Run: ``.venv/bin/python benchmarks/expected_loss.py``.
"""

from __future__ import annotations

import math
import time

import torch
from _timing import median_seconds

from mgn import (
    GaussianMask,
    expected_masked_loss,
    init_network,
    kink_pair_share,
    masked_loss_monte_carlo,
    masked_output_variance,
    relu_product_moment,
    smoothed_relu,
    smoothed_relu_second_moment,
    sphere_teacher_data,
)
from mgn.device import describe_device
from mgn.expected_loss import all_pairs_variance

N, D, M, SEED, THREADS = 500, 20, 100, 0, 2
KAPPAS = (0.05, 0.2, 1.0)
REPEATS = 5
# Floating-point operations of one pair of the split, roughly: 12 nodes of a degree-17 sine (18),
# the exponent and the weights (12) and an exp (counted as 15), plus about 30 per pair (an asin
# counted as 20).
FLOPS_PER_PAIR = 12 * (18 + 12 + 15) + 30
MC_DRAWS = 2000  # draws timed to measure the cost of one draw and sigma
TARGETS = (1e-2, 1e-3, 1e-4, 1e-6)
ACCURACY_INPUTS = 50


def product_formula_variance(W, a, X, kappa: float) -> torch.Tensor:
    """Var_c f per input through the product formula E[relu relu] - mean mean, per input."""
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


def all_pairs_loss(W, a, X, y, kappa: float) -> torch.Tensor:
    """The expected masked loss with every pair through the closed form."""
    mask = GaussianMask(kappa)
    z, s = mask.moments(W, X)
    residual = smoothed_relu(z, s) @ a / math.sqrt(W.shape[0]) - y
    return 0.5 * residual.square().sum() + 0.5 * all_pairs_variance(W, a, X, mask, z, s).sum()


def value_and_gradient(loss, W, *args) -> tuple[torch.Tensor, torch.Tensor]:
    """``loss(W, *args)`` and its gradient in W."""
    W = W.clone().requires_grad_(True)
    value = loss(W, *args)
    (grad,) = torch.autograd.grad(value, W)
    return value.detach(), grad


def peak_gflops(size: int = 2048) -> float:
    """GFLOP/s of a large square float64 GEMM (median of 5): the machine's practical limit."""
    A = torch.randn(size, size, dtype=torch.float64)
    C = torch.empty_like(A)
    return 2 * size**3 / median_seconds(lambda: torch.mm(A, A, out=C), repeats=5) / 1e9


def split_versus_all_pairs(W, a, X, y) -> None:
    """Part 1 of the module docstring."""
    pairs = N * M * (M - 1) // 2
    peak = peak_gflops()
    print(f"(input, neuron pair) terms: {pairs:,}; a 2048^2 float64 GEMM: {peak:.1f} GFLOP/s")
    for what, run in (
        ("loss", expected_masked_loss),
        ("loss + gradient", lambda *args: value_and_gradient(expected_masked_loss, *args)),
    ):
        start = time.perf_counter()
        run(W, a, X, y, KAPPAS[0])
        print(f"first call of the split ({what}, compiles or loads its kernel): "
              f"{time.perf_counter() - start:.1f} s")  # fmt: skip
    print(f"\n{'kappa':>5} {'share':>6} | {'loss: all pairs':>15} {'split':>8} {'ratio':>6} | "
          f"{'+ gradient: all':>15} {'split':>8} {'ratio':>6} | {'rel. diff loss':>14} "
          f"{'grad':>8} | {'GFLOP/s':>7} {'of peak':>7}")  # fmt: skip
    for kappa in KAPPAS:
        share = kink_pair_share(W, X, kappa)
        args = (W, a, X, y, kappa)
        times = [
            median_seconds(lambda f=f, args=args: f(*args), repeats=REPEATS)
            for f in (
                all_pairs_loss,
                expected_masked_loss,
                lambda *x: value_and_gradient(all_pairs_loss, *x),
                lambda *x: value_and_gradient(expected_masked_loss, *x),
            )
        ]
        old_value, old_grad = value_and_gradient(all_pairs_loss, *args)
        new_value, new_grad = value_and_gradient(expected_masked_loss, *args)
        value_diff = float((new_value - old_value).abs() / old_value.abs())
        grad_diff = float((new_grad - old_grad).abs().max() / old_grad.abs().max())
        gflops = share * pairs * FLOPS_PER_PAIR / times[1] / 1e9
        print(f"{kappa:>5} {share:>6.1%} | {times[0] * 1e3:>12.0f} ms {times[1] * 1e3:>5.0f} ms "
              f"{times[0] / times[1]:>5.1f}x | {times[2] * 1e3:>12.0f} ms {times[3] * 1e3:>5.0f} ms "
              f"{times[2] / times[3]:>5.1f}x | {value_diff:>14.1e} {grad_diff:>8.1e} | "
              f"{gflops:>7.1f} {gflops / peak:>7.1%}")  # fmt: skip


def main() -> None:
    torch.set_num_threads(THREADS)
    X, y = sphere_teacher_data(N, D, seed=SEED, dtype=torch.float64)
    W, a = init_network(M, D, seed=SEED + 1, dtype=torch.float64)
    print(f"Expected masked loss, n = {N}, d = {D}, m = {M}, float64, {THREADS} threads, on "
          f"{describe_device('cpu')}")  # fmt: skip
    split_versus_all_pairs(W, a, X, y)
    print("\nThe closed form against Monte Carlo at equal accuracy")
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

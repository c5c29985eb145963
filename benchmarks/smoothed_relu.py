"""Closed form versus Monte Carlo for the Figure 2 curve (chapter 1).

The curve: kappa = 0.2 and ||w ⊙ x|| = 1, so s = 0.2; z on 400 points in [-2.1, 2.1]. The paper's
figure estimates E[relu(z + s g)] with 200,000 Gaussian draws (seed 42); the book evaluates
z Phi(z/s) + s phi(z/s). This script times both in one run (median of repeated timings) and reports
the accuracy of each against a reference checked by scipy quadrature.

Run: ``.venv/bin/python benchmarks/smoothed_relu.py``.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from _timing import median_seconds
from scipy import integrate

from mgn import smoothed_relu
from mgn.device import describe_device

S, N_POINTS, N_MC, SEED = 0.2, 400, 200_000, 42
CHUNK = 20_000  # draws per block, to bound the memory of the (draws, points) Monte Carlo matrix


def closed_form(z: torch.Tensor) -> torch.Tensor:
    return smoothed_relu(z, S)


def monte_carlo(z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and standard error of relu(z + s g) over N_MC draws g ~ N(0, 1), seed SEED."""
    gen = torch.Generator().manual_seed(SEED)
    total = torch.zeros_like(z)
    total_sq = torch.zeros_like(z)
    for start in range(0, N_MC, CHUNK):
        g = torch.randn(min(CHUNK, N_MC - start), 1, dtype=z.dtype, generator=gen)
        draws = torch.relu(z + S * g)
        total += draws.sum(dim=0)
        total_sq += draws.square().sum(dim=0)
    mean = total / N_MC
    variance = (total_sq / N_MC - mean.square()) * N_MC / (N_MC - 1)
    return mean, variance.clamp(min=0).sqrt() / math.sqrt(N_MC)


def quad_reference(z: np.ndarray) -> np.ndarray:
    """E[relu(z + s g)] = int_{-z/s}^inf (z + s g) phi(g) dg, by adaptive quadrature."""

    def one(zi: float) -> float:
        def integrand(g: float) -> float:
            return (zi + S * g) * math.exp(-0.5 * g * g) / math.sqrt(2 * math.pi)

        lower = -zi / S
        # the integrand is below 1e-300 beyond g = max(lower, 0) + 40
        value, _ = integrate.quad(
            integrand, lower, max(lower, 0.0) + 40.0, epsabs=0.0, epsrel=1e-13
        )
        return value

    return np.array([one(float(zi)) for zi in z])


def main() -> None:
    z = torch.linspace(-2.1, 2.1, N_POINTS, dtype=torch.float64)
    reference = torch.from_numpy(quad_reference(z.numpy()))

    exact = closed_form(z)
    mc_mean, mc_se = monte_carlo(z)
    t_closed = median_seconds(lambda: closed_form(z), repeats=15, number=200)
    t_mc = median_seconds(lambda: monte_carlo(z), repeats=5, number=1)

    closed_error = (exact - reference).abs().max().item()
    mc_error = (mc_mean - reference).abs().max().item()
    print(f"Figure 2 curve: s = {S}, {N_POINTS} points z in [-2.1, 2.1], float64")
    print(f"device: {describe_device('cpu')}, torch {torch.__version__}")
    print(f"{'method':<38}{'median time':>14}{'max |error|':>14}")
    print(
        f"{'closed form z Phi(z/s) + s phi(z/s)':<38}{t_closed * 1e6:>11.1f} us{closed_error:>14.2e}"
    )
    mc_name = f"Monte Carlo, {N_MC:,} draws (seed {SEED})"
    print(f"{mc_name:<38}{t_mc * 1e3:>11.1f} ms{mc_error:>14.2e}")
    print(f"speed-up of the closed form: {t_mc / t_closed:,.0f}x")
    print(
        f"Monte Carlo standard error: max {mc_se.max().item():.2e}, median "
        f"{mc_se.median().item():.2e}; max |MC - reference| = {mc_error / mc_se.max().item():.2f}"
        " x the largest standard error"
    )
    print("(reference: scipy.integrate.quad, relative tolerance 1e-13)")


if __name__ == "__main__":
    main()

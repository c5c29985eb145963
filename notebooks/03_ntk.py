# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # The neural tangent kernel
#
# Convergence proofs for wide two-layer networks, the one of Kolomvaki et al. (2026),
# arXiv:2602.17423, included, run through the *neural tangent kernel* (NTK): the Gram matrix of
# the network's gradients at the data. While the weights stay near their initialisation, gradient
# descent on the squared loss contracts the residuals at a rate set by the smallest eigenvalue of
# this matrix, and at large width that matrix is close to a deterministic limit $H^\infty$ whose
# smallest eigenvalue $\lambda_0$ enters the paper's convergence radius and rate.
#
# This chapter computes these objects for the book's data (the Figure 3a problem: $n = 500$ inputs
# on the sphere of $\mathbb R^{20}$, width $m = 100$): $H^\infty$ in closed form, checked against a
# Monte Carlo average over random weights; the concentration of the finite-width Gram $H(W_0)$
# around $H^\infty$ as $m$ grows, with its fitted rate; $\lambda_0$ itself; and the Gram matrix of
# the *smoothed* network that masked training follows on average, as the mask scale $\kappa$ grows.
# The NTK statements here are the standard ones (Du et al., 2019), in the book's conventions.

# %% tags=["parameters"]
mode = "paper"
seed = 0
n = 500  # inputs on the unit sphere of R^d (Figure 3a)
d = 20
m = 100  # the width of Figure 3a
tau = 1.0  # init scale
n_mc_inputs = 60  # inputs for the Monte Carlo check of H_inf
mc_neurons = 400_000  # random w averaged in that check
widths = [10, 30, 100, 300, 1000, 3000, 10000]
repeats = 5  # initialisations per width
kappas = [0.0, 0.05, 0.2, 0.4, 0.6, 1.0, 2.0]  # the mask scales of Figure 3a
device = "cpu"  # "auto" takes a GPU when there is one

# %% tags=["hide-cell"]
import math

import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import Markdown, display
from scipy import stats

from mgn import (
    Results,
    clean_loss,
    init_network,
    lambda_0,
    network,
    ntk_concentration,
    ntk_gram,
    ntk_gram_infinite,
    ntk_gram_monte_carlo,
    ntk_gram_smoothed,
    sphere_teacher_data,
)
from mgn.checks import eigenvalue_margin_check, loglog_slope
from mgn.device import resolve_device
from mgn.plotting import kappa_colors, use_book_style
from mgn.progress import progress
from mgn.report import verdict

use_book_style()
results = Results("03_ntk", mode)
device = resolve_device(device)
dtype = torch.float64
X, y = sphere_teacher_data(n, d, seed=seed, dtype=dtype)
X, y = X.to(device), y.to(device)

# %% [markdown]
# ## The Gram matrix of the network's gradients
#
# Only the hidden weights $W$ are trained (the output weights $a_r \in \{\pm 1\}$ stay fixed;
# see the notation page), so the gradient of one output is
# $\partial f(W; x_i)/\partial w_r = m^{-1/2} a_r \mathbf 1\{w_r^\top x_i > 0\}\, x_i$. Stacking them
# as the rows of the Jacobian $J$ and using $a_r^2 = 1$,
#
# $$
# H(W)_{ij} = (J J^\top)_{ij} = \frac{x_i^\top x_j}{m} \sum_{r=1}^m
# \mathbf 1\{w_r^\top x_i > 0\}\,\mathbf 1\{w_r^\top x_j > 0\}
# = \frac1m \big[(X X^\top) \odot (S S^\top)\big]_{ij},
# $$
#
# with $S_{ir} = \mathbf 1\{w_r^\top x_i > 0\}$ the activation pattern: two matrix products,
# never a per-sample Jacobian (`mgn.ntk_gram`; `benchmarks/ntk_gram.py` compares it with the
# per-sample Jacobians of `torch.func`). For the sum loss $L = \tfrac12 \lVert r \rVert^2$ with
# residuals $r = f(W; X) - y$, the chain rule gives
# $\lVert \nabla_W L \rVert^2 = r^\top H(W)\, r \ge 2 \lambda_{\min}(H(W))\, L(W)$: a
# Polyak–Łojasiewicz inequality whose constant is the smallest eigenvalue of the Gram.
#
# $H(W)$ is an average over the $m$ neurons of i.i.d. terms when the $w_r \sim \mathcal N(0,
# \tau^2 I)$ are drawn independently, so it concentrates around its expectation. The probability
# that a Gaussian $w$ has $w^\top x_i > 0$ and $w^\top x_j > 0$ is $(\pi - \theta_{ij})/(2\pi)$,
# $\theta_{ij}$ the angle between the inputs (a half-plane argument in the plane they span), so
#
# $$
# H^\infty_{ij} = \mathbb E_w\, H(W)_{ij}
# = x_i^\top x_j\, \frac{\pi - \arccos(x_i^\top x_j)}{2\pi},
# \qquad \lambda_0 = \lambda_{\min}(H^\infty),
# $$
#
# for unit inputs, whatever $\tau$ (`mgn.ntk_gram_infinite`, `mgn.lambda_0`).
#
# ## $H^\infty$ against a Monte Carlo average over random weights
#
# We draw many independent $w \sim \mathcal N(0, I)$ and average
# $x_i^\top x_j \mathbf 1\{w^\top x_i > 0\} \mathbf 1\{w^\top x_j > 0\}$ on a subset of the inputs.
# That average is exactly $H(W)$ for a very wide $W$. Each term is $x_i^\top x_j$ times a Bernoulli
# variable, so the standard error of every entry is known in closed form from the estimate itself.

# %%
X_sub = X[:n_mc_inputs]
estimate = ntk_gram_monte_carlo(X_sub, mc_neurons, seed=seed)
H_mc = estimate.mean
H_inf_sub = ntk_gram_infinite(X_sub)
upper = torch.triu_indices(n_mc_inputs, n_mc_inputs, device=device)
z_entries = ((H_mc - H_inf_sub) / estimate.stderr)[upper[0], upper[1]].cpu().numpy()

# %% [markdown]
# On the left each entry of the estimate against its closed form; on the right the standardised
# differences of the upper triangle beside the standard normal density.

# %%
fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
axes[0].plot(H_inf_sub.cpu().flatten(), H_mc.cpu().flatten(), ".", ms=2)
axes[0].plot([-0.2, 0.5], [-0.2, 0.5], "k:", lw=1)
axes[0].set(xlabel=r"$H^\infty_{ij}$ (closed form)", ylabel="Monte Carlo average",
            title=f"{mc_neurons:,} random $w$, {n_mc_inputs} inputs")  # fmt: skip
grid = np.linspace(-4.5, 4.5, 200)
axes[1].hist(z_entries, bins=40, density=True, alpha=0.6, label="entries")
axes[1].plot(grid, np.exp(-(grid**2) / 2) / math.sqrt(2 * math.pi), "k", label="N(0, 1)")
axes[1].set(xlabel="(MC - closed form) / SE", ylabel="density", title="standardised differences")
axes[1].legend()
fig.tight_layout()
plt.show()
print(f"{z_entries.size} entries: max |z| = {np.abs(z_entries).max():.2f}, "
      f"rms z = {np.sqrt(np.mean(z_entries**2)):.3f}")  # fmt: skip

# %% [markdown]
# With a thousand or more entries, the largest $|z|$ is expected above 3 even when the formula is
# exact. We hold it to the Bonferroni bound at 1% (a threshold that, if the formula is exact, the
# largest $|z|$ exceeds with probability at most 1%), and the root mean square of the $z$'s to 1
# within 0.2.

# %%
bonferroni = stats.norm.isf(0.01 / 2 / z_entries.size)
print(f"Bonferroni bound for {z_entries.size} entries at 1%: |z| <= {bonferroni:.2f}")
results.value("H_inf_mc_max_abs_z", np.abs(z_entries).max())
results.check(
    "H_inf_vs_monte_carlo",
    "max |MC - H_inf| / SE over the entries (Bonferroni bound at 1%)",
    np.abs(z_entries).max(),
    bonferroni,
)
results.check(
    "H_inf_vs_monte_carlo_rms",
    "|rms of the standardised differences - 1|",
    abs(np.sqrt(np.mean(z_entries**2)) - 1.0),
    0.2,
)

# %% [markdown]
# ## Concentration of $H(W_0)$ around $H^\infty$
#
# Each entry of $H(W_0)$ is a mean of $m$ bounded i.i.d. terms, so its deviation from $H^\infty$
# shrinks like $m^{-1/2}$, and with it the operator norm of the difference (up to factors that do
# not depend on $m$). We draw several initialisations at each width and fit the rate on log–log
# axes.

# %%
H_inf = ntk_gram_infinite(X)
lam0 = lambda_0(X).item()
concentration = ntk_concentration(X, widths, repeats, tau=tau, seed=seed)
spectral, entrywise = concentration.spectral, concentration.entrywise
lam_min = concentration.lambda_min
rate_spectral = loglog_slope(widths, spectral.mean(axis=1)).slope
rate_entry = loglog_slope(widths, entrywise.mean(axis=1)).slope

# %% [markdown]
# The two distances with the slopes fitted to their means over the initialisations (the bands
# span the smallest to the largest), and the smallest eigenvalue of $H(W_0)$ beside $\lambda_0$.

# %%
fig, axes = plt.subplots(1, 2, figsize=(11, 4))
for values, label, rate, marker in [
    (spectral, r"$\|H(W_0) - H^\infty\|_2$", rate_spectral, "o"),
    (entrywise, r"$\max_{ij} |H(W_0) - H^\infty|_{ij}$", rate_entry, "s"),
]:
    axes[0].loglog(widths, values.mean(axis=1), marker + "-", label=f"{label} (slope {rate:.3f})")
    axes[0].fill_between(widths, values.min(axis=1), values.max(axis=1), alpha=0.2)
reference = spectral.mean(axis=1)[0] * (np.array(widths) / widths[0]) ** -0.5
axes[0].loglog(widths, reference, "k:", label=r"$\propto m^{-1/2}$")
axes[0].set(xlabel="width $m$", ylabel="distance", title="distance to the infinite-width Gram")
axes[0].legend()
axes[1].semilogx(widths, lam_min.mean(axis=1), "o-", label=r"$\lambda_{\min}(H(W_0))$")
axes[1].fill_between(widths, lam_min.min(axis=1), lam_min.max(axis=1), alpha=0.2)
axes[1].axhline(lam0, color="k", ls="--", label=rf"$\lambda_0 = {lam0:.4f}$")
axes[1].set(
    xlabel="width $m$", ylabel="smallest eigenvalue", title="smallest eigenvalue", ylim=(0, None)
)
axes[1].legend()
fig.tight_layout()
plt.show()
print(f"fitted rates: operator norm m^{rate_spectral:.3f}, largest entry m^{rate_entry:.3f}")

# %%
results.value("concentration_rate_spectral", rate_spectral)
results.value("concentration_rate_entrywise", rate_entry)
results.check(
    "concentration_rate",
    "|fitted log-log slope of ||H(W0) - H_inf||_2 in m + 1/2|",
    abs(rate_spectral + 0.5),
    0.1,
)

# %% [markdown]
# ## $\lambda_0$ for the Figure 3 data
#
# The smallest eigenvalue of $H^\infty$ is positive when no two inputs are parallel (Du et al.,
# 2019); for $n = 500$ points on the sphere of $\mathbb R^{20}$ it is small but clearly away from
# zero. At the paper's width $m = 100$ the Gram of one initialisation has a visibly different
# spectrum: its eigenvalues spread around those of $H^\infty$. Its smallest sets the worst-case
# rate of the NTK bound (chapter 4 draws it); the early decay of the loss is driven by the large
# eigenvalues (chapter 4 measures it), the smallest governs the slowest directions, late in a run.
# We ask $\lambda_0$ to be positive beyond the round-off of the eigen-solver, by a wide margin: a
# kernel that is singular (for example the linear part $x_i^\top x_j/4$ alone, of rank $d < n$)
# fails this.

# %%
W0, a = init_network(m, d, tau=tau, seed=seed + 1, dtype=dtype)
W0, a = W0.to(device), a.to(device)
H0 = ntk_gram(W0, X)
spectrum_inf = torch.linalg.eigvalsh(H_inf).cpu().numpy()
spectrum_0 = torch.linalg.eigvalsh(H0).cpu().numpy()
fig, ax = plt.subplots()
ax.semilogy(spectrum_inf[::-1], label=r"$H^\infty$")
ax.semilogy(spectrum_0[::-1], label=f"$H(W_0)$, $m = {m}$")
ax.set(xlabel="index (largest first)", ylabel="eigenvalue", title=f"NTK spectra, n = {n}, d = {d}")
ax.legend()
plt.show()
print(f"lambda_0 = lambda_min(H_inf) = {lam0:.5f}; lambda_min(H(W_0)) at m = {m}: "
      f"{spectrum_0[0]:.5f}; largest eigenvalues {spectrum_inf[-1]:.2f} and {spectrum_0[-1]:.2f}")  # fmt: skip
results.value("lambda_0", lam0)
results.value("lambda_min_H0", spectrum_0[0])
margin_check, _ = eigenvalue_margin_check(
    "lambda_0_positive", "lambda_0 = lambda_min(H_inf) > 0", H_inf
)
results.add(margin_check)
results.claim(
    "lambda_0 > 0 on the data",
    paper="NTK analysis (the paper's convergence theorem): lambda_0 = lambda_min(H_inf) > 0",
    measured=f"lambda_0 = {lam0:.4g} for n = {n}, d = {d}, {margin_check.measured:.3g} times the "
    "eigen-solver's round-off",
    verdict=verdict([margin_check.passed]),
)

# %% [markdown]
# The PL inequality of the first section holds at $W_0$ with the identity
# $\lVert \nabla_W L \rVert^2 = r^\top H(W_0)\, r$ exact to rounding:

# %%
W = W0.clone().requires_grad_(True)
loss = clean_loss(W, a, X, y)
(grad,) = torch.autograd.grad(loss, W)
residual = (network(W0, a, X) - y).detach()
quadratic = (residual @ H0 @ residual).item()
grad_sq = grad.square().sum().item()
pl_ratio = grad_sq / (2 * spectrum_0[0] * loss.item())
print(f"||grad L||^2 = {grad_sq:.6f}, r^T H r = {quadratic:.6f}, "
      f"||grad L||^2 / (2 lambda_min L) = {pl_ratio:.2f}")  # fmt: skip
results.check(
    "gradient_gram_identity",
    "relative | ||grad L||^2 - r^T H(W0) r |",
    abs(grad_sq - quadratic) / grad_sq,
    1e-10,
)
results.identity(
    "pl_inequality",
    "||grad L||^2 / (2 lambda_min(H) L) >= 1: a Rayleigh quotient, true by algebra (ratio shown)",
    pl_ratio,
)

# %% [markdown]
# ## The smoothed Gram under masking
#
# Averaged over the mask, the gradient of one neuron is the gradient of the smoothed neuron (Stein's
# lemma, chapter 1): $\mathbb E_c[\mathbf 1\{w^\top (x \odot c) > 0\}(x \odot c)] = \Phi(z/s)\, x +
# \varphi(z/s)\, \kappa^2 (x \odot x \odot w)/s$. So masked gradient descent follows, on average,
# the gradient of the smoothed network, and its Gram is
# $\tilde H_{ij} = m^{-1} \sum_r \tilde g_{ir}^\top \tilde g_{jr}$ with these smoothed gradients
# (`mgn.ntk_gram_smoothed`; the book's formulation). At $\kappa = 0$ it is $H(W_0)$. As $\kappa$
# grows, the hard pattern $\mathbf 1\{z > 0\}$ becomes the soft $\Phi(z/s)$, which pulls the
# gradients of different inputs toward each other.

# %%
smoothed = {kappa: ntk_gram_smoothed(W0, X, kappa) for kappa in progress(kappas, desc="kappa")}
norm_H0 = torch.linalg.matrix_norm(H0, ord=2).item()
moves, lam_smoothed, spectra = [], [], {}
for kappa, H_s in smoothed.items():
    moves.append(torch.linalg.matrix_norm(H_s - H0, ord=2).item() / norm_H0)
    spectra[kappa] = torch.linalg.eigvalsh(H_s).cpu().numpy()
    lam_smoothed.append(spectra[kappa][0])
    print(f"kappa = {kappa:4.2f}: lambda_min {spectra[kappa][0]:.5f}, "
          f"lambda_max {spectra[kappa][-1]:.3f}, ||H~ - H||/||H|| = {moves[-1]:.4f}")  # fmt: skip

fig, axes = plt.subplots(1, 2, figsize=(11, 4))
for color, kappa in zip(kappa_colors(kappas), kappas, strict=True):
    axes[0].semilogy(spectra[kappa][::-1], color=color, label=rf"$\kappa = {kappa}$")
axes[0].set(xlabel="index (largest first)", ylabel="eigenvalue", title=r"spectrum of $\tilde H$")
axes[0].legend(ncol=2)
positive = np.array(kappas) > 0
move_rate = loglog_slope(np.array(kappas)[positive][:3], np.array(moves)[positive][:3]).slope
axes[1].loglog(np.array(kappas)[positive], np.array(moves)[positive], "o-",
               label=rf"$\|\tilde H - H\|_2 / \|H\|_2$ (slope {move_rate:.2f} at small $\kappa$)")  # fmt: skip
axes[1].loglog(np.array(kappas)[positive], np.array(lam_smoothed)[positive] / spectrum_0[0], "s-",
               label=r"$\lambda_{\min}(\tilde H) / \lambda_{\min}(H)$")  # fmt: skip
axes[1].set(xlabel=r"$\kappa$", ylabel="ratio", title=f"how the Gram moves, m = {m}")
axes[1].legend()
fig.tight_layout()
plt.show()

# %% [markdown]
# The Gram moves continuously away from $H(W_0)$, by a power of $\kappa$ below one at first (the
# fitted slope in the legend, through the three smallest positive $\kappa$): only neurons whose pre-activation lies within a few $s$ of the kink
# change their gradient much, and at width 100 there are few of them per input. Its smallest
# eigenvalue falls steadily: the soft patterns $\Phi(z/s)$ make the gradients of different inputs
# more alike, so the expected dynamics of masked training are slower along the Gram's weakest
# direction than those of clean training. At large $\kappa$ the second term of the smoothed
# gradient, $\varphi(z/s)\,\kappa^2 (x \odot x \odot w)/s$, adds directions of its own (the jump
# in the spectrum).

# %%
kappa0_gap = (ntk_gram_smoothed(W0, X, 0.0) - H0).abs().max().item()
results.value("smoothed_gram_move_rate", move_rate)
for kappa, value in zip(kappas, lam_smoothed, strict=True):
    results.value(f"lambda_min_smoothed_kappa_{kappa:g}", value)
results.check(
    "smoothed_gram_at_kappa_zero",
    "max |H~(kappa = 0) - H(W0)|",
    kappa0_gap,
    1e-12,
)

# %% [markdown]
# ## Summary

# %%
display(
    Markdown(
        "The infinite-width Gram has the closed form above and matches the Monte Carlo average "
        "over random weights entry by entry; the finite-width Gram concentrates around it at the "
        f"rate $m^{{{rate_spectral:.2f}}}$ (theory: $m^{{-1/2}}$); the Figure 3 data have "
        f"$\\lambda_0 = {lam0:.4g} > 0$, so the NTK argument applies; and masking moves the Gram "
        f"continuously, by $\\kappa^{{{move_rate:.2f}}}$ at small $\\kappa$ (a power below one: "
        "only the neurons near their kink change), while its smallest eigenvalue falls from "
        f"{lam_smoothed[0]:.4g} at $\\kappa = {kappas[0]:g}$ to {lam_smoothed[-1]:.4g} at "
        f"$\\kappa = {kappas[-1]:g}$: the expected dynamics of masked training are slower along "
        "the weakest direction."
    )
)

# %%
display(results)
results.finish()

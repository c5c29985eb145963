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
# # The smoothed ReLU
#
# Gaussian input masking multiplies every input coordinate by an independent factor
# $c_j \sim \mathcal N(1, \kappa^2)$, drawn afresh at every step. Kolomvaki et al. (2026),
# arXiv:2602.17423, analyse two-layer ReLU networks trained this way. Their first observation
# concerns a single neuron: averaged over the mask, the ReLU becomes a *smooth* function of its
# weights. This chapter derives that smoothed activation in closed form, compares it with the
# simpler proxy that the paper's theorems use, and checks every formula against Monte Carlo
# simulation with the paper's settings (its Figures 1 and 2).
#
# The first cell holds the settings. Its defaults are the paper's (Figure 2: $\kappa = 0.2$, 400
# points, 200,000 Monte Carlo draws, seed 42), and CI runs a smaller smoke version.

# %% tags=["parameters"]
mode = "paper"
seed = 42
n_mc = 200_000  # Monte Carlo draws per estimate (Figures 1b and 2, the checks)
n_grid = 400  # points z in [-z_max, z_max] (Figure 2)
z_max = 2.1
kappa_fig2 = 0.2  # mask scale of Figure 2 (unit ||w ⊙ x||, hence s is kappa)
kappas_fig1a = [0.01, 0.1, 0.25, 0.5, 1.0]
d = 10  # input dimension of the fixed (w, x) of Figure 1b
z_fig1b = 0.77  # the pre-activation w^T x of that pair
kappa_max_fig1b = 1.0
n_kappa_fig1b = 20
kappa_stein = 0.5  # mask scale of the gradient check
chunk = 20_000  # Monte Carlo draws per block (bounds the memory)
z_k = 5.0  # a Monte Carlo check allows this many standard errors at each compared point
min_positive = 1000  # compare only where this many draws are expected to be positive
device = "cpu"  # "auto" takes a GPU when there is one (the Monte Carlo draws then differ)

# %% tags=["hide-cell"]
import math

import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import Markdown, display
from scipy import optimize

from mgn import (
    Results,
    mask_moments,
    smoothed_neuron,
    smoothed_neuron_grad,
    smoothed_relu,
    smoothed_relu_second_moment,
)
from mgn.checks import gradient_check, z_score_check
from mgn.device import resolve_device
from mgn.plotting import kappa_colors, use_book_style
from mgn.progress import progress

use_book_style()
results = Results("01_smoothed_relu", mode)
device = resolve_device(device)
dtype = torch.float64
PHI0 = 1.0 / math.sqrt(2.0 * math.pi)  # phi(0)

# %% [markdown]
# ## One masked neuron is a Gaussian
#
# Take one hidden unit with weights $w \in \mathbb R^d$ and an input $x$. Under the mask the unit
# sees $x \odot c$ with $c = \mathbf 1 + \kappa g$, $g \sim \mathcal N(0, I_d)$, so its
# pre-activation is
#
# $$
# w^\top (x \odot c) = \sum_j w_j x_j (1 + \kappa g_j) = z + \kappa\,(w \odot x)^\top g
# \sim \mathcal N(z, s^2), \qquad z = w^\top x, \quad s = \kappa \lVert w \odot x \rVert_2 .
# $$
#
# Every expectation over the mask of a function of this one neuron is therefore a
# one-dimensional Gaussian integral in $(z, s)$. For the ReLU, with $t = z/s$,
# $\int_a^\infty g\,\varphi(g)\,dg = \varphi(a)$ and $1 - \Phi(-t) = \Phi(t)$:
#
# $$
# \tilde\sigma(z, s) = \mathbb E\,\mathrm{relu}(z + s g)
# = \int_{-t}^{\infty} (z + s g)\, \varphi(g)\, dg
# = z\,\Phi(z/s) + s\,\varphi(z/s).
# $$
#
# The paper's theorems use the **proxy** $\hat\sigma(z, s) = z\,\Phi(z/s)$, which drops the
# second term. Since $z\Phi(z/s) = s\,t\,\Phi(t)$, the proxy is a rescaled GELU,
# $\hat\sigma(z, s) = s\,\mathrm{GELU}(z/s)$. The gap between the two,
#
# $$
# \tilde\sigma(z, s) - \hat\sigma(z, s) = s\,\varphi(z/s) \in \bigl(0,\; s/\sqrt{2\pi}\,\bigr],
# $$
#
# is largest at $z = 0$. Both functions tend to $\mathrm{relu}(z)$ as $s \to 0$, and at $s = 0$
# they *are* $\mathrm{relu}(z)$. As $s$ grows at fixed $z$ they part ways: the proxy tends to
# $z/2$ (because $\Phi(0) = 1/2$), while the exact mean grows like $s/\sqrt{2\pi} + z/2$. The
# proxy is negative for $z < 0$, with its minimum $-0.16997\,s$ at $z = -0.75179\,s$. The mean of
# a non-negative variable cannot be negative, so the proxy is not an expectation of the masked
# ReLU. It is a model of one.
#
# In code, `mask_moments(W, X, kappa)` gives $z$ and $s$ for every (input, neuron) pair, and
# `smoothed_relu(z, s, kind)` evaluates $\tilde\sigma$ (`"exact"`) or $\hat\sigma$ (`"proxy"`).
# The library computes both without overflow or cancellation for any $z$ and any $s \ge 0$,
# and it returns `relu(z)` exactly when $s = 0$. Figure 1a reproduces the paper's picture of
# the proxy, with $\lVert w \odot x\rVert = 1$ so that $s = \kappa$.

# %%
z_line = torch.linspace(-2.0, 2.0, 801, dtype=dtype)
fig, ax = plt.subplots()
for kappa, color in zip(kappas_fig1a, kappa_colors(kappas_fig1a), strict=True):
    ax.plot(z_line, smoothed_relu(z_line, kappa, kind="proxy"), color=color, label=f"κ = {kappa:g}")
ax.plot(z_line, torch.relu(z_line), "k:", label="ReLU")
ax.set(
    xlabel=r"$z = w^\top x$",
    ylabel=r"$\hat\sigma(z, \kappa)$",
    title=r"Figure 1a: the proxy $z\,\Phi(z/s)$, $s = \kappa$",
)
ax.legend()
plt.show()

# %% [markdown]
# The minimum of the proxy and its large-$s$ limit, checked numerically. We minimise
# $t\,\Phi(t)$ (the proxy at $s = 1$). For large $s$, expanding $\Phi$ around 0 gives
# $\hat\sigma(z, s) = z/2 + \varphi(0)\, z^2/s\,\bigl(1 + O(z^2/s^2)\bigr)$: at $s = 10^3$
# and $0.1 \le |z| \le 2$ the relative deviation from that leading term must be below $(z/s)^2$.

# %%
best = optimize.minimize_scalar(
    lambda t: smoothed_relu(t, 1.0, kind="proxy"), bracket=(-2.0, -0.5, 0.0), tol=1e-12
)
results.value("proxy_argmin_over_s", best.x)
results.value("proxy_min_over_s", best.fun)
results.check(
    "proxy_minimum",
    "the proxy's minimum is -0.16997 s at z = -0.75179 s",
    max(abs(best.x + 0.75179), abs(best.fun + 0.16997)),
    1e-5,
)
s_large = 1e3
z_off = z_line[z_line.abs() >= 0.1]  # nearer 0, Phi(z/s) - 1/2 drowns in rounding
leading = PHI0 * z_off**2 / s_large
deviation = smoothed_relu(z_off, s_large, kind="proxy") - z_off / 2
expansion_err = ((deviation / leading) - 1).abs().max().item()
results.value("proxy_large_s_relative_deviation", expansion_err)
results.check(
    "proxy_tends_to_half_z",
    "for large s the proxy is z/2 + phi(0) z^2/s (1 + O(z^2/s^2)); s = 1e3, 0.1 <= |z| <= 2",
    expansion_err,
    (2.0 / s_large) ** 2,
)
print(
    f"argmin = {best.x:.6f} s, minimum = {best.fun:.6f} s; relative deviation {expansion_err:.2e}"
)


# %% [markdown]
# ## Figure 2: exact formula, proxy and Monte Carlo
#
# The paper's Figure 2 sets $\kappa = 0.2$ and $\lVert w \odot x \rVert = 1$, so $s = \kappa$,
# and compares the formulas with a Monte Carlo estimate of $\mathbb E\,\mathrm{relu}(z + s g)$ on
# a grid of $z$ (the paper: 200,000 draws on 400 points in $[-2.1, 2.1]$; the settings of this
# run are in the parameters cell and in the figure titles). The same draws also give the second
# moment $\mathbb E\,\mathrm{relu}(z + s g)^2$ used further down. Each estimate comes with its
# standard error.


# %%
def monte_carlo_relu(z: torch.Tensor, s: float, n: int, gen: torch.Generator):
    """Means and standard errors of relu(z + s g) and relu(z + s g)^2 over n draws g ~ N(0, 1)."""
    sums = torch.zeros(3, *z.shape, dtype=z.dtype, device=z.device)  # sum of a, a^2, a^4
    for start in progress(range(0, n, chunk), desc="Monte Carlo"):
        g = torch.randn(min(chunk, n - start), 1, dtype=z.dtype, device=z.device, generator=gen)
        a = torch.relu(z + s * g)
        a2 = a * a
        sums += torch.stack([a.sum(0), a2.sum(0), (a2 * a2).sum(0)])
    mean, mean_sq, mean_4 = sums / n
    se_1 = ((mean_sq - mean**2).clamp(min=0) / (n - 1)).sqrt()
    se_2 = ((mean_4 - mean_sq**2).clamp(min=0) / (n - 1)).sqrt()
    return mean, se_1, mean_sq, se_2


s_fig2 = kappa_fig2 * 1.0
z_grid = torch.linspace(-z_max, z_max, n_grid, dtype=dtype, device=device)
generator = torch.Generator(device=device).manual_seed(seed)
mc_mean, mc_se, mc_second, mc_second_se = monte_carlo_relu(z_grid, s_fig2, n_mc, generator)
# points with at least min_positive expected positive draws: there the estimate is Gaussian
resolved = torch.special.ndtr(z_grid / s_fig2) * n_mc >= min_positive
exact = smoothed_relu(z_grid, s_fig2)
proxy = smoothed_relu(z_grid, s_fig2, kind="proxy")

# %%
z_np = z_grid.cpu().numpy()
fig, axes = plt.subplots(2, 2, figsize=(10, 6), sharex=True, height_ratios=[2, 1])
for col, (formula, name) in enumerate([(exact, "exact"), (proxy, "proxy")]):
    top, bottom = axes[0, col], axes[1, col]
    top.plot(z_np, mc_mean.cpu(), color="0.6", lw=3.5, label=f"Monte Carlo ({n_mc:,} draws)")
    top.plot(z_np, formula.cpu(), color="C0" if col == 0 else "C3", label=name)
    top.plot(z_np, torch.relu(z_grid).cpu(), "k:", lw=1, label="ReLU")
    top.set(
        title=f"Figure 2{'ab'[col]}: {name} vs Monte Carlo, s = {s_fig2:g}",
        ylabel=r"$\mathbb{E}\,\mathrm{relu}(z + s g)$",
    )
    top.legend()
    band = z_k * mc_se.cpu()
    bottom.fill_between(z_np, -band, band, color="0.85", label=f"±{z_k:g} standard errors")
    bottom.plot(z_np, (mc_mean - formula).cpu(), color="C0" if col == 0 else "C3")
    bottom.set(xlabel=r"$z$", ylabel="Monte Carlo − formula")
    bottom.legend(loc="upper left")
plt.show()

# %%
display(
    Markdown(
        f"The exact formula sits on the Monte Carlo curve to within its noise. The proxy falls "
        f"below it by the bump $s\\,\\varphi(z/s)$, which peaks at $z = 0$ at "
        f"$s\\,\\varphi(0) = {s_fig2:g}/\\sqrt{{2\\pi}} \\approx {s_fig2 * PHI0:.3f}$. The checks "
        f"below put numbers on both. Each grid point is compared with its **own** standard error "
        f"and must lie within {z_k:g} of them, on the {int(resolved.sum())} of {n_grid} points "
        f"where at least {min_positive} of the {n_mc:,} draws are expected to be positive (far "
        f"left, only a handful are, and the estimate is not yet Gaussian). At the grid point "
        f"closest to $z = 0$ the difference between Monte Carlo and the proxy must match "
        f"$s\\,\\varphi(z/s)$ within {z_k:g} standard errors."
    )
)

# %%
exact_err = (mc_mean - exact).abs().max().item()
results.value("fig2_exact_max_abs_err", exact_err)
results.value("fig2_max_standard_error", mc_se.max().item())
check = results.add(
    z_score_check(
        "fig2_exact_vs_monte_carlo",
        "the exact smoothed ReLU matches Monte Carlo on the Figure 2 grid",
        mc_mean[resolved],
        mc_se[resolved],
        exact[resolved],
        z_k,
    )
)
results.value("fig2_exact_max_z_score", check.measured)
i0 = int(z_grid.abs().argmin())
z0 = z_grid[i0].item()
mc_gap = (mc_mean[i0] - proxy[i0]).item()
results.value("fig2_mc_minus_proxy_near_0", mc_gap)
results.value("fig2_proxy_max_abs_err", (mc_mean - proxy).abs().max().item())
results.add(
    z_score_check(
        "fig2_proxy_gap_near_0",
        f"Monte Carlo exceeds the proxy near z = 0 by s phi(z/s) (s phi(0) = {s_fig2 * PHI0:.3f})",
        mc_gap,
        mc_se[i0].item(),
        s_fig2 * PHI0 * math.exp(-0.5 * (z0 / s_fig2) ** 2),
        z_k,
    )
)
print(
    f"max |MC - exact| = {exact_err:.2e}, largest |z| {check.measured:.2f}; "
    f"MC - proxy at z = {z0:+.4f}: {mc_gap:.4f} (s phi(0) = {s_fig2 * PHI0:.4f})"
)

# %% [markdown]
# The largest gap between exact and proxy, on a fine grid through $z = 0$, is $s\,\varphi(0)$
# and is reached at $z = 0$. The $s = 0$ case must give the ReLU itself, exactly: not a number
# close to it, and no NaN from $0/0$ at $z = 0$.

# %%
z_fine = torch.linspace(-3 * s_fig2, 3 * s_fig2, 60_001, dtype=dtype)
gap = smoothed_relu(z_fine, s_fig2) - smoothed_relu(z_fine, s_fig2, kind="proxy")
results.value("largest_gap", gap.max().item())
results.value("largest_gap_at", z_fine[gap.argmax()].item())
results.identity(
    "largest_gap_is_s_phi0",
    "max_z (exact - proxy) = s phi(0) at z = 0: the library's gap term is s phi(z/s) by construction",
    abs(gap.max().item() / (s_fig2 * PHI0) - 1) + abs(z_fine[gap.argmax()].item()),
)
z_kink = torch.tensor([-1.5, -1e-300, -0.0, 0.0, 1e-300, 0.3, 2.0], dtype=dtype)
zero = torch.zeros_like(z_kink)
relu_err = max(
    (smoothed_relu(z_kink, zero) - torch.relu(z_kink)).abs().max().item(),
    (smoothed_relu(z_kink, zero, kind="proxy") - torch.relu(z_kink)).abs().max().item(),
    (smoothed_relu_second_moment(z_kink, zero) - torch.relu(z_kink) ** 2).abs().max().item(),
)
results.check(
    "s0_is_relu", "at s = 0 both forms and the second moment are relu exactly", relu_err, 0.0
)

# %% [markdown]
# ## Figure 1b: one fixed neuron as the mask grows
#
# The paper's Figure 1b fixes one pair $(w, x)$ with $w^\top x \approx 0.77$ and follows the
# masked mean as $\kappa$ grows. Here $x$ is a random unit vector of $\mathbb R^d$ and $w$ a
# random Gaussian vector shifted along $x$ so that $w^\top x$ equals the parameter `z_fig1b`
# exactly (seeded). The Monte Carlo estimate now draws the full masks $c \in \mathbb R^d$ and
# evaluates $\mathrm{relu}(w^\top(x \odot c))$ directly, without the Gaussian reduction above.
# The exact formula beside it is the book's addition (the paper plots the proxy against Monte
# Carlo).

# %%
gen_pair = torch.Generator(device=device).manual_seed(seed + 1)
x = torch.randn(d, dtype=dtype, device=device, generator=gen_pair)
x = x / x.norm()
w = torch.randn(d, dtype=dtype, device=device, generator=gen_pair)
w = w + (z_fig1b - w @ x) * x
kappas_fig1b = np.linspace(0.0, kappa_max_fig1b, n_kappa_fig1b + 1)[1:]
g_mask = torch.randn(n_mc, d, dtype=dtype, device=device, generator=generator)


def masked_neuron_draws(kappa: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Pre-activations w^T(x ⊙ c) and masked inputs x ⊙ c for the n_mc masks c = 1 + kappa g."""
    masked = x * (1.0 + kappa * g_mask)
    return masked @ w, masked


mc_1b, se_1b = [], []
for kappa in progress(kappas_fig1b, desc="kappa"):
    a = torch.relu(masked_neuron_draws(kappa)[0])
    mc_1b.append(a.mean().item())
    se_1b.append(a.std().item() / math.sqrt(n_mc))
mc_1b, se_1b = np.array(mc_1b), np.array(se_1b)
z_1b, s_1b = mask_moments(w[None], x[None], 1.0)  # s at kappa = 1 is ||w ⊙ x||
s_line = torch.as_tensor(kappas_fig1b, dtype=dtype) * s_1b.cpu().item()
exact_1b = smoothed_relu(z_1b.cpu().item(), s_line).numpy()
proxy_1b = smoothed_relu(z_1b.cpu().item(), s_line, kind="proxy").numpy()
print(f"w^T x = {z_1b.item():.4f}, ||w ⊙ x|| = {s_1b.item():.4f}")

# %%
fig, ax = plt.subplots()
ax.errorbar(
    kappas_fig1b, mc_1b, yerr=2 * se_1b, fmt="o", ms=4, color="0.4", label="Monte Carlo ±2 SE"
)
ax.plot(kappas_fig1b, proxy_1b, color="C3", label=r"proxy $z\,\Phi(z/s)$")
ax.plot(
    kappas_fig1b, exact_1b, color="C0", ls="--", label=r"exact $z\,\Phi(z/s) + s\,\varphi(z/s)$"
)
ax.axhline(z_1b.item(), color="k", ls=":", lw=1, label=r"relu$(w^\top x)$")
ax.set(
    xlabel=r"$\kappa$",
    ylabel=r"$\mathbb{E}_c\,\mathrm{relu}(w^\top(x \odot c))$",
    title=rf"Figure 1b: one neuron, $w^\top x = {z_1b.item():.2f}$, $d = {d}$",
)
ax.legend()
plt.show()

# %% [markdown]
# For small $\kappa$ all three agree with $\mathrm{relu}(w^\top x)$. As $\kappa$ grows, the proxy
# bends *down*, toward $z/2$, while the true mean bends *up*, since the positive part of a wider
# Gaussian has the larger mean. The exact formula follows the simulation for every $\kappa$,
# with each point checked against its own standard error (nothing is rare here: most
# pre-activations are positive).

# %%
z_scores_1b = np.abs(mc_1b - exact_1b) / se_1b
results.value("fig1b_max_z_score_exact", z_scores_1b.max())
results.value("fig1b_proxy_gap_at_kappa_max", exact_1b[-1] - proxy_1b[-1])
results.add(
    z_score_check(
        "fig1b_exact_vs_monte_carlo",
        "for a fixed (w, x) the exact mean matches Monte Carlo at every kappa",
        mc_1b,
        se_1b,
        exact_1b,
        z_k,
    )
)

# %% [markdown]
# ## The gradient of a smoothed neuron (Stein's lemma)
#
# The derivatives of $\tilde\sigma$ are strikingly simple (the book's own derivation):
# $\partial_z \tilde\sigma = \Phi(z/s)$ and $\partial_s \tilde\sigma = \varphi(z/s)$. The
# $z$-derivative of $s\,\varphi(z/s)$ cancels the extra term of $z\,\Phi(z/s)$. By the chain rule,
# with $\nabla_w z = x$ and $\nabla_w s = \kappa^2 (x \odot x \odot w)/s$,
#
# $$
# \nabla_w \tilde\sigma = \Phi(z/s)\, x + \varphi(z/s)\, \frac{\kappa^2\, (x \odot x \odot w)}{s}
# = \mathbb E_c\!\left[\mathbf 1\{w^\top(x \odot c) > 0\}\,(x \odot c)\right].
# $$
#
# The right-hand side is the expected gradient of the masked neuron, so for one neuron the mean
# stochastic gradient under masking is exactly the gradient of the smoothed neuron. The second
# equality is Stein's lemma, $\mathbb E[g\,h(g)] = \mathbb E[h'(g)]$ for a standard Gaussian
# $g$. The proxy's derivatives are $\Phi(t) + t\varphi(t)$ and $-t^2\varphi(t)$ instead. The
# library's `smoothed_neuron_grad(w, x, kappa)` is the formula above. We compare it with the
# masked gradients averaged over the draws, coordinate by coordinate against each coordinate's
# standard error, and with central differences of the closed-form *value* `smoothed_neuron`
# (an independent route: the value does not contain the gradient formula), with a tolerance from
# the finite-difference error bound.

# %%
pre, masked = masked_neuron_draws(kappa_stein)
grads = (pre > 0).to(dtype)[:, None] * masked
mc_grad, se_grad = grads.mean(0), grads.std(0) / math.sqrt(n_mc)
stein = smoothed_neuron_grad(w, x, kappa_stein)
check = results.add(
    z_score_check(
        "stein_gradient_vs_monte_carlo",
        "grad_w of the smoothed neuron = E_c[1{w^T(x⊙c) > 0} (x⊙c)], every coordinate",
        mc_grad,
        se_grad,
        stein,
        z_k,
    )
)
results.value("stein_max_z_score", check.measured)
results.add(
    gradient_check(
        "stein_gradient_vs_finite_differences",
        "the Stein formula is the gradient of the closed-form smoothed neuron",
        lambda v: smoothed_neuron(v[None], x[None], kappa_stein),
        w,
        stein,
    )
)
table = np.stack([stein.cpu(), mc_grad.cpu(), se_grad.cpu()], axis=1)
print(f"kappa = {kappa_stein}: closed form | Monte Carlo | standard error")
print(np.array2string(table, precision=5, suppress_small=True))

# %% [markdown]
# ## The second moment
#
# The expected masked *loss* needs more than the mean of each neuron. It needs the second moments
# too, because the variance of the network output over the mask acts as a regularizer (next
# chapter). For one neuron, with $\int_a^\infty g^2 \varphi(g)\,dg = a\varphi(a) + 1 - \Phi(a)$,
#
# $$
# \mathbb E\,\mathrm{relu}(z + s g)^2 = (z^2 + s^2)\,\Phi(z/s) + z\,s\,\varphi(z/s),
# \qquad
# \mathrm{Var} = \mathbb E\,\mathrm{relu}^2 - \tilde\sigma^2,
# $$
#
# again the book's own derivation. Its gradients are $2\tilde\sigma$ in $z$ and $2s\,\Phi(z/s)$
# in $s$. Below it is checked against the Figure 2 draws.

# %%
second = smoothed_relu_second_moment(z_grid, s_fig2)
second_err = (mc_second - second).abs().max().item()
results.value("second_moment_max_abs_err", second_err)
results.add(
    z_score_check(
        "second_moment_vs_monte_carlo",
        "E relu(z + s g)^2 matches Monte Carlo on the Figure 2 grid (each z its own SE)",
        mc_second[resolved],
        mc_second_se[resolved],
        second[resolved],
        z_k,
    )
)
variance = second - exact**2
fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
axes[0].plot(z_np, mc_second.cpu(), color="0.6", lw=3.5, label="Monte Carlo")
axes[0].plot(z_np, second.cpu(), color="C0", label="closed form")
axes[0].set(
    xlabel=r"$z$",
    ylabel=r"$\mathbb{E}\,\mathrm{relu}(z + s g)^2$",
    title=rf"second moment, $s = {s_fig2:g}$",
)
axes[1].plot(z_np, (mc_second - mc_mean**2).cpu(), color="0.6", lw=3.5, label="Monte Carlo")
axes[1].plot(z_np, variance.cpu(), color="C0", label="closed form")
axes[1].axhline(s_fig2**2, color="k", ls=":", lw=1, label=r"$s^2$")
axes[1].set(
    xlabel=r"$z$",
    ylabel=r"$\mathrm{Var}\,\mathrm{relu}(z + s g)$",
    title=rf"variance of the masked neuron, $s = {s_fig2:g}$",
)
for ax in axes:
    ax.legend()
plt.show()

# %% [markdown]
# The variance of a masked neuron grows from 0 (far left, where the unit is off under every mask)
# to $s^2$ (far right, where it is always on and passes the Gaussian noise through unchanged).
# Where the unit is near its kink, the mask switches it on and off, and the variance is in
# between.
#
# ## Checks
#
# Every claim of this chapter, measured at the settings above, with the tolerance it is held to.

# %%
results.claim(
    "proxy approximates the masked neuron",
    paper="Figures 1b and 2: the smoothed activation z Phi(z/s) is close to E_c relu(w^T(x ⊙ c)) for "
    "small kappa",
    measured=f"exact mean z Phi + s phi matches Monte Carlo (largest |z| "
    f"{results.values['fig2_exact_max_z_score']:.2f}); the proxy misses it by s phi(z/s), "
    f"{results.values['largest_gap']:.4f} at z = 0 for s = {s_fig2:g}, and by "
    f"{results.values['fig1b_proxy_gap_at_kappa_max']:.3f} at kappa = {kappas_fig1b[-1]:g} in "
    "Figure 1b; it is negative for z < 0",
    verdict="refined",
)
display(results)
results.finish()

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
# # Masked gradient descent converges into a ball (Figure 3a)
#
# Kolomvaki et al. (2026), arXiv:2602.17423, train the two-layer network
# $f(W; x) = m^{-1/2} \sum_r a_r \,\mathrm{relu}(w_r^\top x)$ by full-batch gradient descent on
# masked inputs: at every step $k$ each sample is multiplied coordinatewise by a fresh mask
# $c_{i,k} \sim \mathcal N(\mathbf 1, \kappa^2 I_d)$,
#
# $$
# W_{k+1} = W_k - \eta \,\nabla_W \tfrac12 \sum_{i=1}^n \bigl(f(W_k; x_i \odot c_{i,k}) - y_i\bigr)^2 ,
# $$
#
# and evaluate the *clean* loss $L(W) = \tfrac12 \sum_i (f(W; x_i) - y_i)^2$. Their convergence
# theorem says that, with enough width (the NTK regime, where the weights stay near their
# initialisation), a small step and a small $\kappa$, masked GD converges **linearly, into a ball
# around the global minimum** whose radius grows with $\kappa$; the clean run ($\kappa = 0$) keeps
# decreasing, and all curves share the same initial linear rate. Their Figure 3a shows it for
# $n = 500$, $d = 20$, $m = 100$, $\eta = 0.005$, 2000 iterations and
# $\kappa \in \{0, 0.05, 0.2, 0.4, 0.6, 1, 2\}$.
#
# This chapter reruns that experiment with several seeds and measures each part of the claim:
#
# 1. the initial linear rate of every curve, beside the NTK rate $(1 - \eta\lambda_{\min}(H(W_0))/2)^k$;
# 2. that $\kappa = 0$ keeps decreasing;
# 3. the plateau of each curve against $\kappa$ on log–log axes: does the ball grow like $\kappa$
#    (the authors' README) or like $\kappa^2$ (the abstract: "proportional to the mask's variance")?
# 4. how far $W$ moves from $W_0$ as the width grows (the NTK regime).
#
# The paper does not describe its synthetic data. **Ours** (the book's choice, not the paper's):
# $x_i$ uniform on the unit sphere, $y_i$ the output of a fixed random two-layer ReLU teacher with
# 10 hidden units (`mgn.sphere_teacher_data`); the student starts from $w_r(0) \sim \mathcal N(0, I_d)$
# with $a_r$ uniform in $\{-1, +1\}$ (`mgn.init_network`). Every $(\kappa, \text{seed})$ run
# advances in one batched tensor program (`mgn.train_masked_gd` with a replicate axis), with a fresh mask for every
# sample, coordinate and step.

# %% tags=["parameters"]
mode = "paper"
seed = 0
n = 500
d = 20
m = 100
lr = 0.005
steps = 2000
n_seeds = 5
kappas = [0.0, 0.05, 0.2, 0.4, 0.6, 1.0, 2.0]
rate_window = 20
small_kappa = 0.2
fit_kappas = [0.2, 0.4, 0.6, 1.0]
long_steps = 10000
long_kappas = [0.0, 0.1, 0.2, 0.4, 0.6]
widths = [50, 100, 400, 1600]
width_kappas = [0.0, 0.2]
ball_n = 40  # the converged ball: a smaller problem of the same kind (closed form O(n m^2))
ball_d = 10
ball_widths = [10, 30, 100]  # widths of the converged ball, up to md >> n (the NTK regime)
ball_kappa_min = 0.05
ball_kappa_max = 0.8
ball_points = 5  # log-spaced kappas; the two halves share the middle one
ball_seeds = [2, 1, 1]  # problems per width (data and W0 from seeds seed + 100 j): pooled
ball_tolerance = 1e-5  # L-BFGS stops at this gradient norm of L + R, relative to its norm at W0
ball_evaluations = [2000, 1000, 1000]  # and at most this many evaluations per kappa, per width
ball_perturbation = 0.01  # the second start: W0 + this * rms(W0) * N(0, 1)
ball_workers = 2  # processes for the kappas (independent problems)

# %% tags=["hide-cell"]
import math
import time

import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import Markdown, display

from mgn import (
    Check,
    Results,
    init_network,
    kink_pair_share,
    linearised_ntk_loss,
    ntk_gram,
    sphere_teacher_data,
    train_masked_gd,
)
from mgn.checks import (
    least_squares_slope,
    loglog_slope,
    pooled_loglog_slope,
    slope_excludes_check,
)
from mgn.converged_ball import band_share, converged_balls
from mgn.curves import initial_log_slope, plateau
from mgn.device import describe_device
from mgn.plotting import kappa_colors, use_book_style
from mgn.report import contains, interval_change, markdown_table, verdict

use_book_style()
results = Results("04_convergence", mode)
started = time.perf_counter()
print(f"mode = {mode}; running on {describe_device()}")

# %% [markdown]
# ## The data, the initialisations and the NTK rate
#
# One data set (seed `seed`) and `n_seeds` initialisations (seeds `seed + 1, seed + 2, ...`). For
# the sum loss the NTK Gram matrix is $H(W)_{ij} = \frac1m x_i^\top x_j \sum_r
# \mathbf 1\{w_r^\top x_i > 0\}\mathbf 1\{w_r^\top x_j > 0\}$ (`mgn.ntk_gram`). The NTK
# analysis of gradient descent (Du et al., 2019) gives $L(W_k) \le (1 - \eta\lambda/2)^k L(W_0)$
# while the weights stay close to $W_0$, with $\lambda$ the smallest eigenvalue of the Gram matrix
# (Du et al. use the infinite-width one; we use $\lambda_{\min}(H(W_0))$ of each actual
# initialisation, the rate this chapter calls the NTK rate).

# %%
X, y = sphere_teacher_data(n, d, seed=seed)
inits = [init_network(m, d, seed=seed + 1 + j) for j in range(n_seeds)]
W0s = torch.stack([W0 for W0, _ in inits])
a_s = torch.stack([a for _, a in inits])

eigenvalues = [torch.linalg.eigvalsh(ntk_gram(W0.double(), X.double())) for W0 in W0s]
lambda_min = np.array([ev[0].item() for ev in eigenvalues])
ntk_rate = 1 - lr * lambda_min.mean() / 2
print(
    f"lambda_min(H(W0)) over seeds: {lambda_min.round(4)}; lambda_max: "
    f"{np.mean([ev[-1].item() for ev in eigenvalues]):.3f}"
)
print(
    f"NTK rate 1 - lr lambda_min / 2 = {ntk_rate:.6f} per step "
    f"(a factor {ntk_rate**steps:.3f} over {steps} steps)"
)
results.value("lambda_min_H0", lambda_min.mean())
results.value("ntk_rate", ntk_rate)

# %% [markdown]
# ## Figure 3a: the clean loss of masked GD
#
# All `len(kappas) * n_seeds` runs train together. The line is the median over seeds, the band
# spans the smallest to the largest seed.

# %%
sweep = train_masked_gd(X, y, W0s, a_s, kappas, lr, steps, seed=seed)
loss = sweep.clean_loss.double().numpy()  # (kappa, seed, step)
colors = kappa_colors(kappas)
iterations = np.arange(steps + 1)

fig, ax = plt.subplots()
for i, kappa in enumerate(kappas):
    ax.plot(iterations, np.median(loss[i], axis=0), color=colors[i], label=f"$\\kappa$ = {kappa:g}")
    ax.fill_between(iterations, loss[i].min(0), loss[i].max(0), color=colors[i], alpha=0.2, lw=0)
ax.set_yscale("log")
ax.set_xlabel("iteration $k$")
ax.set_ylabel("clean loss $L(W_k)$")
ax.set_title(f"Masked GD, n={n}, d={d}, m={m}, $\\eta$={lr}, {n_seeds} seeds")
ax.legend(ncol=2)
plt.show()

# %% [markdown]
# Where each curve ends, the median over seeds:

# %%
final = np.median(loss[:, :, -1], axis=1)
header = ["$\\kappa$", *(f"{k:g}" for k in kappas)]
display(
    Markdown(markdown_table(header, [["final clean loss (median)", *(f"{v:.4g}" for v in final)]]))
)
for kappa, value in zip(kappas, final, strict=True):
    results.value(f"final_loss_kappa_{kappa:g}", value)
results.value("final_ratio_kappa_0.05_to_0", final[1] / final[0])
print(f"kappa = 0.05 ends at {final[1] / final[0]:.3f} times the clean run's loss")

# %% [markdown]
# The picture has the paper's shape: every curve falls fast at first, the masked ones level off
# at a height that grows with $\kappa$, and the clean one keeps going down. One detail of the
# paper's figure, $\kappa = 0.05$ ending marginally *below* $\kappa = 0$, is measured by the
# ratio printed above rather than assumed (a ratio below 1 means it appears in this run).
#
# ## The initial linear rate
#
# The per-step contraction $\rho_\kappa$ of a curve is $e^{\text{slope}}$ of a least-squares line
# through $\log L(W_k)$ over the first `rate_window` steps (one fit per seed, then the median;
# `mgn.curves.initial_log_slope`). The NTK bound of the theorem, $1 - \eta\lambda_{\min}/2$, is a
# statement about the slowest direction; gradient descent on the sum loss contracts the residual
# along an eigenvector of $H$ with eigenvalue $\lambda$ by $1 - \eta\lambda$ per step, the loss by
# $(1 - \eta\lambda)^2$, so the early decay is driven by the *large* eigenvalues and is much faster
# than the bound. We compute the linearised NTK prediction for $\kappa = 0$,
# $L_k \approx \tfrac12 \sum_j (1 - \eta\lambda_j)^{2k} (u_j^\top r_0)^2$ with $(\lambda_j, u_j)$
# the eigenpairs of $H(W_0)$ and $r_0$ the initial residual (`mgn.linearised_ntk_loss`), for the
# first seed.

# %%
slopes = initial_log_slope(loss, rate_window)  # (kappa, seed)
rates = np.exp(np.median(slopes, axis=1))
linearised = linearised_ntk_loss(
    W0s[0].double(), a_s[0].double(), X.double(), y.double(), lr, steps
)
for kappa, rate in zip(kappas, rates, strict=True):
    results.value(f"initial_rate_kappa_{kappa:g}", rate)
print(
    "initial contraction per step rho_kappa:",
    ", ".join(f"{k:g}: {r:.4f}" for k, r in zip(kappas, rates, strict=True)),
)
linear_gap = np.max(np.abs(np.log(linearised[: rate_window + 1] / loss[0, 0, : rate_window + 1])))
print(f"kappa = 0 vs linearised NTK over the window: max |log ratio| = {linear_gap:.3g}")

# %% [markdown]
# On the left, the first steps of the first seed beside the linearised prediction and the NTK
# bound (the grey line closes the rate window); on the right, the initial decrease per step of
# every $\kappa$ against the bound's.

# %%
fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
zoom = iterations[: min(steps, 10 * rate_window) + 1]
for i, kappa in enumerate(kappas):
    left.plot(zoom, loss[i, 0, : zoom.size], color=colors[i], label=f"$\\kappa$ = {kappa:g}")
left.plot(zoom, linearised[: zoom.size], "k:", label="linearised NTK, $\\kappa$=0")
left.plot(zoom, loss[0, 0, 0] * ntk_rate**zoom, "k--",
          label="NTK bound $(1-\\eta\\lambda_{\\min}/2)^k L_0$")  # fmt: skip
left.axvline(rate_window, color="grey", lw=0.8)
left.set(yscale="log", xlabel="iteration $k$", ylabel="clean loss (first seed)")
left.legend(fontsize=7)
right.semilogx([k if k > 0 else 0.02 for k in kappas], 1 - rates, "o-", color="C0",
               label="measured $1 - \\rho_\\kappa$")  # fmt: skip
right.axhline(1 - ntk_rate, color="k", ls="--", label="NTK bound $\\eta\\lambda_{\\min}/2$")
right.set(yscale="log", xlabel="$\\kappa$ ($\\kappa = 0$ drawn at 0.02)",
          ylabel="initial decrease per step")  # fmt: skip
right.legend()
plt.show()

# %% [markdown]
# The NTK bound holds at every step of the clean run, by a wide margin: it is a worst case over
# directions, and over this horizon it barely falls, so it is shown as an identity, not counted as
# a check. Two checks: for small $\kappa$ (up to `small_kappa`) the initial
# rates agree with the clean one, as the paper says; for large $\kappa$ they do not, the first
# steps drop *faster* (the rates printed above), outside the small-$\kappa$ regime the theorem
# assumes. And over the rate window the clean run follows its linearised NTK dynamics.

# %%
bound_ratio = loss[0, :, 1:] / (loss[0, :, :1] * ntk_rate ** iterations[1:])
results.identity(
    "ntk_bound_holds",
    f"kappa = 0: L(W_k) <= (1 - lr lambda_min/2)^k L(W_0) at every step and seed (max ratio "
    f"shown): the bound falls only to {ntk_rate**steps:.3f} L(W_0) over {steps} steps, so it "
    "holds by construction here",
    bound_ratio.max(),
)
small = [i for i, kappa in enumerate(kappas) if 0 < kappa <= small_kappa]
rate_spread = max(abs(np.log(rates[i]) / np.log(rates[0]) - 1) for i in small)
results.check(
    "shared_initial_rate",
    f"0 < kappa <= {small_kappa}: initial rate within 5% of the "
    "clean run's (max relative gap of log rho)",
    rate_spread,
    0.05,
)
results.check(
    "linearised_ntk_window",
    "kappa = 0 follows the linearised NTK dynamics over the rate window (max |log ratio|)",
    linear_gap,
    0.1,
)
results.value("initial_rate_spread_small_kappa", rate_spread)

# %% [markdown]
# ## The clean run keeps decreasing
#
# Full-batch GD with a small step on the clean loss decreases it at every step; with
# $\kappa = 0$ the trainer *is* plain GD (tested against autograd in `tests/test_train.py`). We
# check that every step decreases the loss (up to float32 rounding) and that the last 10% of the
# run still lowers it by a visible factor, unlike the masked runs with large $\kappa$.

# %%
tail = max(1, steps // 10)
tail_ratio = np.median(loss[:, :, -1] / loss[:, :, -1 - tail], axis=1)
worst_increase = np.max(np.diff(loss[0], axis=1) / loss[0, :, :-1])
print(
    "L(W_T) / L(W_{0.9 T}) by kappa:",
    ", ".join(f"{k:g}: {r:.3f}" for k, r in zip(kappas, tail_ratio, strict=True)),
)
results.check(
    "clean_run_monotone",
    "kappa = 0: largest relative one-step increase of the loss",
    worst_increase,
    1e-5,
)
results.check(
    "clean_run_still_decreasing",
    "kappa = 0: loss ratio over the last 10% of steps",
    tail_ratio[0],
    0.99,
)
results.value("tail_ratio_kappa_0", tail_ratio[0])

# %% [markdown]
# ## The plateau against $\kappa$: $\kappa$ or $\kappa^2$?
#
# The plateau of a curve is its mean clean loss over the last 10% of the steps
# (`mgn.curves.plateau`). Part of it is
# plain optimisation error that the clean run also has after `steps` steps, so the quantity that
# measures the ball is the **excess plateau** $P(\kappa) - P(0)$, paired by seed (same data, same
# initialisation). We fit $\log(P(\kappa) - P(0))$ against $\log\kappa$ over `fit_kappas` for each
# seed, and report the slope's mean and standard error over seeds. A ball $\propto \kappa$ gives
# slope 1, $\propto \kappa^2$ slope 2. These are heights after a fixed number of steps, not the
# ball: the section after next computes the ball at convergence and derives what to expect of it.
# The mask scales in `fit_kappas` are fitted; a smaller mask whose excess is not resolved at this
# horizon (within noise of, or below, the clean run) would only add noise to the fit. After
# `long_steps` steps a $\kappa$ whose excess is $\le 0$ is dropped from the fit (listed in the
# printout), which biases that slope, and as few as two may remain, so that slope is a plain
# least-squares line without an interval: the converged ball below needs no such choice.

# %%
plateaus = plateau(loss)  # (kappa, seed)
excess = plateaus - plateaus[:1]
fit_index = [kappas.index(k) for k in fit_kappas]
per_seed_slopes = np.array(
    [loglog_slope(fit_kappas, excess[fit_index, j]).slope for j in range(n_seeds)]
)
slope = per_seed_slopes.mean()
slope_se = per_seed_slopes.std(ddof=1) / np.sqrt(n_seeds) if n_seeds > 1 else float("nan")
raw_slope = loglog_slope(fit_kappas, plateaus[fit_index].mean(1)).slope
print(
    f"excess-plateau slope over kappa in {fit_kappas}: {slope:.2f} +- {slope_se:.2f} "
    f"(per seed: {per_seed_slopes.round(2)}); slope of the raw plateau: {raw_slope:.2f}"
)
for kappa, p, e in zip(kappas, plateaus.mean(1), excess.mean(1), strict=True):
    print(f"  kappa {kappa:4g}: plateau {p:9.4f}, excess over kappa = 0 {e:+.4f}")

# %% [markdown]
# The same measurement after `long_steps` steps (one seed, the kappas in `long_kappas`) tells
# whether the slope is an artefact of stopping at `steps`: with $\eta\lambda_{\min}$ (printed at
# the top) the slowest directions need $\sim 1/(\eta\lambda_{\min})$ steps, so no curve is
# truly flat at `steps`.

# %%
long_run = train_masked_gd(X, y, W0s[:1], a_s[:1], long_kappas, lr, long_steps, seed=seed + 1)
long_loss = long_run.clean_loss[:, 0].double().numpy()
long_plateau = plateau(long_loss)
long_excess = long_plateau - long_plateau[0]
long_fit = [i for i, k in enumerate(long_kappas) if k > 0 and long_excess[i] > 0]
long_kappa_fit = np.array(long_kappas)[long_fit]
long_slope = least_squares_slope(np.log(long_kappa_fit), np.log(long_excess[long_fit]))
print(
    f"after {long_steps} steps: excess plateau slope {long_slope:.2f} over kappa in "
    f"{long_kappa_fit.tolist()}"
)

# %% [markdown]
# On the left, the plateau and its excess over the clean run against $\kappa$ beside the two
# candidate powers; on the right, the long runs.

# %%
positive = [i for i, k in enumerate(kappas) if k > 0]
kappa_pos = np.array(kappas)[positive]
excess_mean = excess[positive].mean(1)
shown = excess_mean > 0
fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
left.loglog(
    kappa_pos, plateaus[positive].mean(1), "o-", label=f"plateau $P(\\kappa)$, {steps} steps"
)
left.loglog(
    kappa_pos[shown], excess_mean[shown], "s-", label="excess $P(\\kappa) - P(0)$ (where > 0)"
)
left.axhline(plateaus[0].mean(), color="grey", ls=":", label="$P(0)$")
ref = excess[fit_index].mean(1)[0]
for power, style in ((1, "--"), (2, "-.")):
    left.loglog(kappa_pos, ref * (kappa_pos / fit_kappas[0]) ** power, "k" + style, lw=0.8,
                label=f"$\\propto \\kappa^{power}$")  # fmt: skip
left.set(
    xlabel="$\\kappa$", ylabel="clean loss", title=f"excess slope {slope:.2f} $\\pm$ {slope_se:.2f}"
)
left.legend(fontsize=7)
long_colors = kappa_colors(long_kappas)
for i, kappa in enumerate(long_kappas):
    right.plot(long_loss[i], color=long_colors[i], label=f"$\\kappa$ = {kappa:g}")
right.set(yscale="log", xlabel="iteration $k$", ylabel="clean loss (first seed)",
          title=f"{long_steps} steps: excess slope {long_slope:.2f}")  # fmt: skip
right.legend(fontsize=7)
plt.show()

# %% [markdown]
# Three checks: the plateau grows with $\kappa$, and its excess grows faster than $\kappa$ after
# `steps` and after `long_steps` steps.

# %%
results.value("plateau_slope", slope)
results.value("plateau_slope_se", slope_se)
results.value("plateau_slope_long", long_slope)
rising = plateaus.mean(1)[[i for i, k in enumerate(kappas) if k >= 0.05]]
results.add(
    Check.at_least(
        "plateau_grows_with_kappa",
        "plateau increases with kappa for kappa >= 0.05 (smallest ratio of consecutive plateaus)",
        np.min(rising[1:] / rising[:-1]),
        1.0,
    )
)
results.add(
    Check.at_least(
        "ball_faster_than_kappa",
        "excess plateau grows faster than kappa: "
        "fitted log-log slope (1 would be a ball proportional to kappa)",
        slope,
        1.5,
    )
)
results.add(
    Check.at_least(
        "ball_faster_than_kappa_long", f"the same after {long_steps} steps", long_slope, 1.5
    )
)

# %% [markdown]
# ## The ball at convergence, from width 10 to the NTK regime
#
# The plateaus above are the heights of curves that are still falling at `steps` (and even at
# `long_steps` for small $\kappa$: the tail ratios printed above), and masked runs optimise more
# slowly than clean ones (chapter 3: the smoothed Gram's $\lambda_{\min}$ falls with $\kappa$), so
# their slope mixes the ball with unfinished optimisation. The ball itself is where masked GD
# ends. Full-batch masked GD follows GD on the expected loss
# $\mathbb E_c[L_{\text{masked}}] = L + R$ (chapter 5 measures the gap: about a percent), so its
# limit is the clean loss at a minimiser $W^\star_\kappa$ of $L + R$. We compute $W^\star_\kappa$ by
# L-BFGS with a strong-Wolfe line search on the exact closed form (chapter 2, float64), from the
# training's own $W_0$ at every $\kappa$ ($L + R$ is not convex, so no warm start down the grid),
# on a smaller problem of the same kind (`ball_n` inputs in `ball_d` dimensions: each L-BFGS run
# takes thousands of evaluations of the closed form), at every width of `ball_widths`: the
# theorem is stated for wide networks, and at the largest width ($md \gg n$) the weights stay
# near $W_0$ (the last section).
#
# **What to expect.** Split the clean residual at the minimiser as $f - y = (f - \tilde f) +
# (\tilde f - y)$, with $\tilde f$ the smoothed network: the minimiser fits $\tilde f$ (its
# objective is $\frac12\lVert\tilde f - y\rVert^2 + R$), and the clean network differs from it
# only where the noise reaches a kink.
#
# - *The smoothed residual.* Linearise around $W_0$ (the NTK regime). Where $R$ is smooth,
#   $R \approx \kappa^2 (c + g^\top\delta + \delta^\top Q\delta/2)$; at the minimiser
#   $J^\top(\tilde f - y) = -\nabla R = O(\kappa^2)$, and when the network can interpolate
#   ($md > n$, $JJ^\top = H$ invertible) $\lVert\tilde f - y\rVert \le \lVert\nabla R\rVert /
#   \sqrt{\lambda_{\min}(H)} = O(\kappa^2)$: a ridge-like problem, $\frac12\lVert\tilde f -
#   y\rVert^2 = O(\kappa^4)$.
# - *The smoothing gap.* A pair $(i, r)$ with $|z_{ir}| \lesssim s_{ir}$ contributes $a_r s_{ir}
#   \psi(z_{ir}/s_{ir})/\sqrt m$, of order $\kappa/\sqrt m$, to $\tilde f(x_i) - f(x_i)$; outside
#   the band its contribution is exponentially small. *If* the band holds the share $\sim\kappa$
#   of the neurons that it holds at $W_0$, with random signs $a_r$, these terms add like a random
#   walk, $|\tilde f - f| \sim \sqrt{m\kappa}\,\kappa/\sqrt m = \kappa^{3/2}$ per input (chapter 2
#   measured this $\kappa^{3/2}$ for the error term $E$ at $W_0$), and $\frac12\lVert f - \tilde
#   f\rVert^2 \sim n\kappa^3$. But $R$ charges every neuron whose kink the noise reaches (its
#   variance), so the minimiser has a reason to move kinks out of the band, and the gap can fall
#   faster than $\kappa^3$.
#
# So the clean loss should scale as $\kappa^3$ where the gap keeps its $W_0$ form and dominates,
# and as $\kappa^4$ or steeper where the minimiser empties the band. We measure both parts at
# $W^\star_\kappa$ and the share of (input, neuron) pairs with $|z| < s$ at $W_0$ and at
# $W^\star_\kappa$, at every width.
#
# Convergence is shown, not assumed: the gradient norm reached, a second start from a perturbed
# $W_0$ (`ball_perturbation`), and the drift of the clean loss over the second half of each run
# (the gradient norm can be small while $L$ still moves along the flat directions of $R$). The
# exponents are fitted on the lower and the upper half of the grid by one least-squares slope
# shared by all curves of a width (its `ball_seeds` problems from their own $W_0$, plus the
# perturbed start), each curve with its own intercept (`mgn.checks.pooled_loglog_slope`); the 95%
# interval is Student's $t$ on the pooled residuals, so the spread between problems and between
# minima widens it.

# %%
ball_kappas = np.geomspace(ball_kappa_min, ball_kappa_max, ball_points)
if not len(ball_seeds) == len(ball_evaluations) == len(ball_widths):
    raise ValueError(f"ball_seeds and ball_evaluations need one entry per width of {ball_widths}")


def ball_starts(width: int, problems: int) -> dict:
    """(X, y, W0, a) per start at this width: the problems j < ``problems`` (data from seed
    seed + 100 j, the same at every width; W0 from seed + 100 j + 1) and a perturbed W0 of j = 0."""
    starts = {}
    for j in range(problems):
        X_j, y_j = sphere_teacher_data(ball_n, ball_d, seed=seed + 100 * j)
        W_j, a_j = init_network(width, ball_d, seed=seed + 100 * j + 1)
        starts[f"seed {j}, W0"] = tuple(t.double() for t in (X_j, y_j, W_j, a_j))
    X_0, y_0, W_0, a_0 = starts["seed 0, W0"]
    gen = torch.Generator().manual_seed(seed + 7)
    noise = torch.randn(W_0.shape, generator=gen, dtype=W_0.dtype)
    perturbed = W_0 + ball_perturbation * W_0.square().mean().sqrt() * noise
    starts["seed 0, perturbed W0"] = (X_0, y_0, perturbed, a_0)
    return starts


starts = {
    (width, name): start
    for width, problems in zip(ball_widths, ball_seeds, strict=True)
    for name, start in ball_starts(width, problems).items()
}

# %% [markdown]
# L-BFGS from every start at every $\kappa$ and width (`ball_evaluations` per run at most, the
# runs of a width in one pool of `ball_workers` processes); the table shows the clean loss
# $L(W^\star_\kappa)$ it reaches.

# %%
ball_started = time.perf_counter()
minima = {}
for width, budget in zip(ball_widths, ball_evaluations, strict=True):
    keys = [key for key in starts if key[0] == width]
    problems = [(W_s, a_s, X_s, y_s) for X_s, y_s, W_s, a_s in (starts[key] for key in keys)]
    found = converged_balls(problems, ball_kappas, ball_tolerance, budget, workers=ball_workers)
    minima.update(zip(keys, found, strict=True))


def ball_part(width: int, part: str) -> np.ndarray:
    """(starts, kappas) array of a :class:`mgn.converged_ball.Minimum` field at one width."""
    rows = [[getattr(mn, part) for mn in f] for (w, _), f in minima.items() if w == width]
    return np.array(rows)


ball_rows = [
    [str(width), name, *(f"{mn.clean:.3g}" for mn in f)] for (width, name), f in minima.items()
]
header = ["m", "start", *(f"$\\kappa = {k:.4f}$" for k in ball_kappas)]
display(Markdown(markdown_table(header, ball_rows)))
evaluations = [mn.evaluations for f in minima.values() for mn in f]
print(f"L-BFGS: {time.perf_counter() - ball_started:.0f} s wall ({ball_workers} processes); "
      f"evaluations {min(evaluations)} to {max(evaluations)}")  # fmt: skip

# %% [markdown]
# Per width: the exponents of the clean loss and of its two parts on both halves of the grid,
# and the convergence evidence (largest gradient ratio reached, the perturbed start's largest
# gap in $\log L$, and the largest drift of $L$ over the second half of a run, as $\log$ of
# $L$ halfway over $L$ at the end).

# %%
half = ball_points // 2
halves = {"small": slice(0, half + 1), "large": slice(half, ball_points)}
PARTS = {"clean": "clean loss L", "smoothed_residual": "1/2 |f~ - y|^2",
         "smoothing_gap": "1/2 |f - f~|^2"}  # fmt: skip
fits, evidence = {}, {}
for width in ball_widths:
    for part in PARTS:
        curves = ball_part(width, part)
        for name, sl in halves.items():
            fit = pooled_loglog_slope(ball_kappas[sl], curves[:, sl])
            fits[width, part, name] = fit
            label = "converged_ball" if part == "clean" else f"ball_{part}"
            results.value(f"{label}_exponent_{name}_m{width}", fit.slope)
            results.value(f"{label}_exponent_{name}_m{width}_low", fit.low)
            results.value(f"{label}_exponent_{name}_m{width}_high", fit.high)
    names = [name for (w, name) in minima if w == width]
    clean = ball_part(width, "clean")
    evidence[width] = {
        "relative_grad": (
            ball_part(width, "grad_norm") / ball_part(width, "initial_grad_norm")
        ).max(),
        "start_gap": np.abs(np.log(clean[names.index("seed 0, perturbed W0")] / clean[0])).max(),
        "halfway_drift": np.log(ball_part(width, "clean_halfway") / clean).max(),
    }
    for key, value in evidence[width].items():
        results.value(f"converged_ball_{key}_m{width}", value)
for label, value in (("n", ball_n), ("d", ball_d), ("kappa_min", ball_kappa_min),
                     ("kappa_max", ball_kappa_max), ("points", ball_points)):  # fmt: skip
    results.value(f"converged_ball_{label}", value)
# %%
fit_rows = [
    [str(width), PARTS[part], *(str(fits[width, part, name]) for name in halves)]
    for width in ball_widths
    for part in PARTS
]
display(Markdown(markdown_table(["m", "quantity", "small-kappa exponent", "large-kappa exponent"],
                                fit_rows)))  # fmt: skip
display(Markdown(markdown_table(
    ["m", "largest |grad| / |grad at W0|", "start gap (log L)", "drift over 2nd half (log L)"],
    [[str(w), *(f"{v:.2g}" for v in e.values())] for w, e in evidence.items()],
)))  # fmt: skip

# %% [markdown]
# The kink band at the start and at the minimum (first problem): the share of (input, neuron)
# pairs with $|z| < s$, $W_0 \to W^\star_\kappa$, and in brackets the share of (input, neuron
# pair) terms of the closed form at $W^\star_\kappa$ that go through the bivariate normal
# (chapter 2: both neurons within $8.5 s$ of their kinks).

# %%
band_rows, band_ratio = [], {}
for width in ball_widths:
    X_0, _, W_0, _ = starts[width, "seed 0, W0"]
    cells, at_start, at_minimum = [], [], []
    for kappa, mn in zip(ball_kappas, minima[width, "seed 0, W0"], strict=True):
        at_start.append(band_share(W_0, X_0, float(kappa)))
        at_minimum.append(mn.band_share)
        share = kink_pair_share(mn.W, X_0, float(kappa))
        cells.append(f"{at_start[-1]:.3f} → {mn.band_share:.3f} ({share:.0%})")
    band_ratio[width] = np.array(at_minimum) / np.array(at_start)
    band_rows.append([str(width), *cells])
    results.value(f"ball_band_share_ratio_smallest_kappa_m{width}", band_ratio[width][0])
    results.value(f"ball_band_share_ratio_largest_kappa_m{width}", band_ratio[width][-1])
    results.value(f"ball_pair_share_largest_kappa_m{width}", share)
display(Markdown(markdown_table(["m", *(f"$\\kappa = {k:.3g}$" for k in ball_kappas)], band_rows)))

# %% [markdown]
# For comparison, masked GD on the first problem at the narrowest width, at the two horizons of
# this chapter.

# %%
narrow = ball_widths[0]
Xb, yb, W0b, ab = starts[narrow, "seed 0, W0"]
ball_gd = train_masked_gd(
    Xb, yb, W0b[None], ab[None], list(ball_kappas), lr, long_steps, seed=seed, show_progress=False
)
ball_gd_loss = ball_gd.clean_loss[:, 0].double().numpy()
horizon = {steps: ball_gd_loss[:, steps], long_steps: ball_gd_loss[:, long_steps]}
narrow_ball = ball_part(narrow, "clean")[0]

# %%
fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
ball_colors = kappa_colors(ball_widths)
for color, width in zip(ball_colors, ball_widths, strict=True):
    mean = np.exp(np.log(ball_part(width, "clean")).mean(axis=0))
    left.loglog(ball_kappas, mean, "o-", color=color, label=f"$L(W^\\star_\\kappa)$, m = {width}")
    for part, style in (("smoothed_residual", "s--"), ("smoothing_gap", "^:")):
        values = np.exp(np.log(ball_part(width, part)).mean(axis=0))
        right.loglog(ball_kappas, values, style, color=color, ms=4,
                     label=f"{PARTS[part]}, m = {width}")  # fmt: skip
for k, (horizon_steps, values) in enumerate(horizon.items()):
    left.loglog(ball_kappas, values, "s--", color="0.3" if k else "0.6", ms=4,
                label=f"masked GD, m = {narrow}, {horizon_steps} steps")  # fmt: skip
left.loglog(kappa_pos[shown], excess_mean[shown], "^:", color="C5", ms=4,
            label=f"Fig. 3a excess plateau (n={n}, m={m}), {steps} steps")  # fmt: skip
for axis in (left, right):
    anchor = np.exp(np.log(ball_part(ball_widths[-1], "clean")).mean(axis=0))[-1]
    for power, style in ((2, "-."), (3, ":"), (4, "--")):
        axis.loglog(ball_kappas, anchor * (ball_kappas / ball_kappas[-1]) ** power, "k" + style,
                    lw=0.7, label=rf"$\propto \kappa^{power}$")  # fmt: skip
    axis.set(xlabel=r"$\kappa$")
left.set(ylabel="clean loss", title=f"the ball at convergence (n={ball_n}, d={ball_d})")
right.set(ylabel="part of the clean loss", title="smoothed residual (dashed) and smoothing gap")
left.legend(fontsize=6)
right.legend(fontsize=6)
plt.show()

# %%
results.check(
    "ball_converged",
    f"L-BFGS reduced ||grad (L + R)|| to <= {ball_tolerance:g} of its value at the start, at "
    f"every kappa and from every start, at the narrowest width m = {narrow} (largest ratio)",
    evidence[narrow]["relative_grad"],
    ball_tolerance,
)
finite_over_converged = horizon[steps] / narrow_ball
results.value("finite_horizon_over_converged_smallest_kappa", finite_over_converged[0])

# %% [markdown]
# Each power of $\kappa$ is held against both halves' intervals at the largest width
# (`mgn.report.interval_change`): an interval entirely above the power is steeper, one entirely
# below is below, one that holds it does not exclude it. The README's $\kappa$ is checked against
# the upper half, where the exponent is steadier.

# %%
wide = ball_widths[-1]
envelopes = {
    width: {name: (fits[width, "clean", name].low, fits[width, "clean", name].high)
            for name in halves}
    for width in ball_widths
}  # fmt: skip
WHERE = {"rises": "steeper", "falls": "below", "no change": "not excluded"}


def compare(power: float, width: int) -> str:
    """Where ``kappa^power`` lies relative to both halves' intervals at ``width``, in words."""
    return ", ".join(
        f"{name} kappa: {WHERE[interval_change((power, power), envelope)]}"
        for name, envelope in envelopes[width].items()
    )


def exponents_text(width: int, part: str = "clean") -> str:
    """The two halves' exponents of ``part`` at ``width`` with their intervals, in words."""
    small, large = (fits[width, part, name] for name in halves)
    return (f"kappa^{small.slope:.2f} [{small.low:.2f}, {small.high:.2f}] on the small half, "
            f"kappa^{large.slope:.2f} [{large.low:.2f}, {large.high:.2f}] on the large half")  # fmt: skip


results.add(
    slope_excludes_check(
        "ball_exponent_large_excludes_1",
        f"README's 'scales with kappa' at convergence, upper half of the kappa grid, m = {wide}",
        fits[wide, "clean", "large"],
        1.0,
    )
)
steeper_with_width = fits[wide, "clean", "small"].low > fits[narrow, "clean", "small"].high


# %%
def convergence_text(width: int) -> str:
    """Whether the runs at ``width`` reached the gradient tolerance, and how far L still moved."""
    reached = evidence[width]["relative_grad"] <= ball_tolerance
    budget = ball_evaluations[ball_widths.index(width)]
    return (
        f"{'reached' if reached else 'did not reach'} the gradient tolerance within {budget} "
        f"evaluations (largest ratio {evidence[width]['relative_grad']:.2g}); the perturbed start "
        f"lands within a factor {math.exp(evidence[width]['start_gap']):.3g}, and L fell by up "
        f"to a factor {math.exp(evidence[width]['halfway_drift']):.3g} over the second half of a "
        "run"
    )


lines = [
    f"- m = {width}: $L(W^\\star_\\kappa)$ ~ {exponents_text(width)}; smoothed residual "
    f"{exponents_text(width, 'smoothed_residual')}; smoothing gap "
    f"{exponents_text(width, 'smoothing_gap')}. The band share at the minimum is "
    f"{band_ratio[width][0]:.2f} (smallest kappa) to {band_ratio[width][-1]:.2f} (largest) of its "
    f"share at W0. L-BFGS {convergence_text(width)}."
    for width in ball_widths
]
display(Markdown("\n".join(lines)))


# %%
def holds(width: int, part: str, power: float, name: str = "small") -> bool:
    """Whether the ``name`` half's interval of ``part`` at ``width`` holds ``power``."""
    fit = fits[width, part, name]
    return contains((fit.low, fit.high), power)


ridge_widths = [w for w in ball_widths if holds(w, "smoothed_residual", 4.0)]
walk_widths = [w for w in ball_widths if holds(w, "smoothing_gap", 3.0)]
display(
    Markdown(
        "**The derivation against the measurement** (small-kappa half). The ridge prediction "
        f"for the smoothed residual, $\\kappa^4$, is held by the interval at m = {ridge_widths} "
        f"of {ball_widths}. The random-walk count for the smoothing gap, $\\kappa^3$, is held "
        f"at m = {walk_widths}; the gap's exponents are "
        + ", ".join(f"{fits[w, 'smoothing_gap', 'small']} at m = {w}" for w in ball_widths)
        + ". The count assumed the band of $W_0$; at the smallest kappa the minimum keeps "
        + ", ".join(f"{band_ratio[w][0]:.2f} of it at m = {w}" for w in ball_widths)
        + ". Where the band empties, the gap falls faster than $\\kappa^3$; the clean loss, the "
        "sum of both parts and their cross term, takes its exponent from whichever part "
        "dominates on each half of the grid."
    )
)
for width in ball_widths:
    results.value(f"ball_residual_holds_kappa4_m{width}", float(width in ridge_widths))
display(
    Markdown(
        f"At the largest width, m = {wide}, against $\\kappa^2$ (the abstract): "
        f"{compare(2.0, wide)}; against $\\kappa$ (the README): {compare(1.0, wide)}; against "
        f"$\\kappa^3$ (the width-{narrow} finding): {compare(3.0, wide)}; against $\\kappa^4$: "
        f"{compare(4.0, wide)}. The small-kappa interval at m = {wide} "
        f"{'lies entirely above' if steeper_with_width else 'overlaps'} the one at m = {narrow}. "
        f"On the narrowest problem, masked GD after {steps} steps sits "
        f"{finite_over_converged[0]:.3g} times above $L(W^\\star_\\kappa)$ at $\\kappa = "
        f"{ball_kappas[0]:.3g}$ and {finite_over_converged[-1]:.3g} times at $\\kappa = "
        f"{ball_kappas[-1]:.3g}$: Figure 3a, at {steps} iterations, shows a finite horizon, not "
        f"the ball; its excess plateaus (slope {slope:.2f} here) mix the ball with unfinished "
        "optimisation."
    )
)

# %% [markdown]
# The verdicts follow the book's rule (`mgn.report.verdict`) at the largest width, where the
# theorem lives: a power of $\kappa$ is confirmed if both halves' intervals hold it, contradicted
# if neither does, refined in between.

# %%
results.claim(
    "ball proportional to the mask variance (kappa^2)",
    paper="abstract: masked GD converges linearly into a ball whose radius is proportional to the "
    "mask's variance kappa^2",
    measured=f"at convergence (L-BFGS on L + R, n={ball_n}, d={ball_d}), m = {wide}: "
    f"{exponents_text(wide)}; m = {narrow}: {exponents_text(narrow)}",
    verdict=verdict([contains(envelope, 2.0) for envelope in envelopes[wide].values()]),
)
results.claim(
    "ball scales with kappa",
    paper="the authors' README: the error ball scales with kappa",
    measured=f"m = {wide}: {exponents_text(wide)}",
    verdict=verdict([contains(envelope, 1.0) for envelope in envelopes[wide].values()]),
)
results.claim(
    "Figure 3a shows the ball",
    paper="Figure 3a: clean loss of masked GD over 2000 iterations levels off at a kappa-dependent "
    "height",
    measured=f"after {steps} steps masked GD is {finite_over_converged[0]:.3g}x (kappa = "
    f"{ball_kappas[0]:.3g}) to {finite_over_converged[-1]:.3g}x (kappa = {ball_kappas[-1]:.3g}) "
    f"above the converged ball on the same problem (m = {narrow}); excess-plateau slope "
    f"{slope:.2f} at {steps} steps vs converged exponents at m = {wide}: {exponents_text(wide)}",
    verdict="refined",
)

# %% [markdown]
# ## The NTK regime: how far the weights move
#
# The theorem needs the weights to stay near $W_0$, so that $H(W_k)$ stays close to $H(W_0)$ and
# $\lambda_{\min}(H(W_k)) \ge \lambda_{\min}(H(W_0))/2$. At fixed $\eta$ on the sum loss the function
# moves at a width-independent speed, so each neuron moves by $O(m^{-1/2})$: we train at widths
# `widths` (one seed, kappas `width_kappas`) and fit the exponent of the largest per-neuron
# distance $\max_r \|w_r(T) - w_r(0)\|$ against $m$.

# %%
width_runs = {}
for width in widths:
    W0_w, a_w = init_network(width, d, seed=seed + 1)
    run = train_masked_gd(
        X, y, W0_w[None], a_w[None], width_kappas, lr, steps, seed=seed, show_progress=False
    )
    width_runs[width] = (W0_w, run.W[:, 0].double())

# %% [markdown]
# For every width and $\kappa$: the largest move of a neuron, the relative move of the whole
# matrix, and how much the smallest eigenvalue of the Gram changed.

# %%
moves, relative, lambda_ratio = [], [], []
for W0_w, W_T in width_runs.values():
    moves.append((W_T - W0_w.double()).norm(dim=2).max(dim=1).values.numpy())
    relative.append(((W_T - W0_w.double()).flatten(1).norm(dim=1) / W0_w.norm()).numpy())
    lam0 = torch.linalg.eigvalsh(ntk_gram(W0_w.double(), X.double()))[0].item()
    lambda_ratio.append(
        [torch.linalg.eigvalsh(ntk_gram(W, X.double()))[0].item() / lam0 for W in W_T]
    )
moves, relative, lambda_ratio = np.array(moves), np.array(relative), np.array(lambda_ratio)
exponents = [loglog_slope(widths, moves[:, i]).slope for i in range(len(width_kappas))]
for width, move, rel, lam in zip(widths, moves, relative, lambda_ratio, strict=True):
    print(
        f"m = {width:5d}: max row move {move.round(4)}, ||W_T - W_0||_F / ||W_0||_F "
        f"{rel.round(4)}, lambda_min(H(W_T)) / lambda_min(H(W_0)) {lam.round(3)}"
    )

# %%
fig, ax = plt.subplots()
width_colors = kappa_colors(width_kappas)
for i, kappa in enumerate(width_kappas):
    ax.loglog(widths, moves[:, i], "o-", color=width_colors[i],
              label=f"$\\kappa$ = {kappa:g}: slope {exponents[i]:.2f}")  # fmt: skip
ax.loglog(widths, moves[0, 0] * (np.array(widths) / widths[0]) ** -0.5, "k--", lw=0.8,
          label="$\\propto m^{-1/2}$")  # fmt: skip
ax.set(xlabel="width $m$", ylabel="$\\max_r \\|w_r(T) - w_r(0)\\|$")
ax.legend()
plt.show()
for i, kappa in enumerate(width_kappas):
    results.value(f"width_exponent_kappa_{kappa:g}", exponents[i])
results.check(
    "width_exponent",
    "largest neuron move ~ m^(-1/2): |fitted exponent + 1/2| (worst over kappas)",
    max(abs(e + 0.5) for e in exponents),
    0.15,
)

# %% [markdown]
# Back at the paper's width, the condition the NTK proof needs along the whole run,
# $\lambda_{\min}(H(W_k)) \ge \lambda_{\min}(H(W_0))/2$, checked at the end of every run of
# Figure 3a (all kappas and seeds):

# %%
final_lambda = np.array(
    [
        [
            torch.linalg.eigvalsh(ntk_gram(sweep.W[i, j].double(), X.double()))[0].item()
            / lambda_min[j]
            for j in range(n_seeds)
        ]
        for i in range(len(kappas))
    ]
)
print(
    "lambda_min(H(W_T)) / lambda_min(H(W_0)), worst seed, by kappa:",
    ", ".join(f"{k:g}: {r:.3f}" for k, r in zip(kappas, final_lambda.min(1), strict=True)),
)
results.value("lambda_ratio_worst", final_lambda.min())
results.add(
    Check.at_least(
        "lambda_min_stays",
        f"m = {m}: lambda_min(H(W_T)) >= "
        "lambda_min(H(W_0))/2 for every kappa and seed (worst ratio)",
        final_lambda.min(),
        0.5,
    )
)

# %% [markdown]
# ## Summary
#
# The paper's claims beside what this run measured (every number computed above; the checks in
# the table below hold the run to them). The excess-plateau exponent after `steps` steps is read
# as "at least as fast as $\kappa^2$" from 1.75 up, "like $\kappa$" below 1.25, and "between" in
# between.

# %%
if slope >= 1.75:
    growth = "at least as fast as kappa^2, not like kappa"
elif slope >= 1.25:
    growth = "between kappa and kappa^2"
else:
    growth = "like kappa"
rows = [
    (
        "all curves share the initial linear rate",
        f"rho = {rates[0]:.4f} per step at kappa = 0; within {100 * rate_spread:.1f}% in log rho "
        f"for kappa <= {small_kappa}; {rates[-1]:.4f} at kappa = {kappas[-1]:g}",
    ),
    (
        "NTK rate (1 - lr lambda_min / 2)^k",
        f"{ntk_rate:.6f} per step; largest L(W_k) / bound over the clean runs "
        f"{bound_ratio.max():.3g}",
    ),
    (
        "kappa = 0 keeps decreasing",
        f"L(W_T) / L(W_0.9T) = {tail_ratio[0]:.3f}; largest one-step relative change "
        f"{worst_increase:.2g}",
    ),
    (
        "the ball grows like kappa (README) or kappa^2 (abstract)",
        f"excess plateau ~ kappa^({slope:.2f} +- {slope_se:.2f}) after {steps} steps, "
        f"kappa^{long_slope:.2f} after {long_steps}: {growth}; at convergence (n={ball_n}), "
        f"m = {wide}: {exponents_text(wide)}; m = {narrow}: {exponents_text(narrow)}",
    ),
    (
        "NTK regime: weights stay near W_0",
        f"largest neuron move ~ m^({exponents[0]:.2f}); lambda_min(H(W_T)) >= "
        f"{final_lambda.min():.2f} lambda_min(H(W_0)) at m = {m}",
    ),
]
display(Markdown(markdown_table(["claim (Kolomvaki et al., 2026)", "measured here"], rows)))
print(f"run time {time.perf_counter() - started:.0f} s")

# %%
results.finish()

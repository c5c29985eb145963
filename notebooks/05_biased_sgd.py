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
# # SGD with biased gradients, checked on masked training
#
# The mask sits inside the ReLU, so the gradient that masked training follows is a *biased*
# estimate of the clean gradient: $\mathbb E_c[g] = \nabla \mathbb E_c[L_{\text{masked}}] \ne
# \nabla L$. Kolomvaki et al. (2026), arXiv:2602.17423, prove a general convergence theorem for
# SGD whose gradient is biased and apply it to masked training: linear convergence into a ball
# whose radius is set by the bias and the noise. The paper's exact statement is not available
# to us; this chapter states **our** version (the standard biased-SGD argument under a PL
# inequality), proves it in five lines, measures every constant on real masked-GD trajectories
# with the settings of Figure 3a, and checks, step by step, whether each premise and the bound
# itself held, and how loose the bound is.
#
# It ends with a prediction rather than a bound: the clean-loss curve of full-batch masked GD,
# computed without sampling by gradient descent on the closed-form expected loss.

# %% tags=["parameters"]
mode = "paper"
seed = 0
n = 500  # samples (Figure 3a)
d = 20  # input dimension
m = 100  # width
lr = 0.005  # step size eta
steps = 2000  # iterations
kappas = [0.05, 0.2, 0.4, 1.0]  # mask scales whose trajectories are probed
rate_window = 20  # steps over which the initial rate is measured
slope_kappas = [0.01, 0.02, 0.03, 0.05, 0.07, 0.1, 0.2, 0.4, 1.0]  # zeta and V at W_0
slope_fit_max = 0.1  # the slopes at W_0 are fitted on slope_kappas up to this
probe_every = 100  # a probe every this many steps
draws = 256  # masks per probe for E||g||^2
big_lr_factor = 1.5  # the run beyond the step-size condition uses this times 1 / (2 beta M)
big_lr_steps = 600  # and this many steps
bias_draws = 4000  # masks for the Monte Carlo cross-check of the exact bias
truncation = 3.0  # the truncated mask keeps c in 1 +- truncation * kappa
ratio_draws = 1_000_000  # Gaussian masks in the per-mask assumption demo
predict_n = 500  # the prediction problem, of Figure 3a size
predict_m = 100
predict_steps = 400  # the CPU build runs 400 of the 2000 steps of Figure 3a; 2000 take 14 min more
predict_kappas = [0.05, 0.2, 0.4, 0.6, 1.0, 2.0]  # Figure 3a, all but kappa 0 (GD itself)
predict_seeds = 4  # masked-GD runs averaged against the prediction
sgd_batch = 20  # minibatch size of the SGD comparison
device = "auto"  # "cpu", "cuda" or "auto" (a GPU when PyTorch sees one)

# %% tags=["hide-cell"]
import math
from dataclasses import replace

import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import Markdown, display

from mgn import (
    Check,
    GaussianMask,
    Results,
    TruncatedGaussianMask,
    expected_loss_descent,
    init_network,
    kink_pair_share,
    masked_gradient_bias,
    masked_gradient_monte_carlo,
    masked_gradients,
    network,
    probe_trajectory,
    sphere_teacher_data,
    train_masked_gd,
)
from mgn.biased_sgd import check_theorem, fit_constants, looseness, theorem_bound
from mgn.checks import local_slopes, loglog_slope, slope_excludes_check
from mgn.curves import initial_log_slope, plateau
from mgn.device import describe_device, resolve_device
from mgn.plotting import kappa_colors, use_book_style
from mgn.report import contains, markdown_table, verdict

use_book_style()
results = Results("05_biased_sgd", mode)
device = resolve_device(device)
dtype = torch.float64
print(f"device: {describe_device(device)}")

X, y = sphere_teacher_data(n, d, seed=seed, dtype=dtype)
W0, a = init_network(m, d, seed=seed + 1, dtype=dtype)

# %% [markdown]
# ## The theorem (ours) and its proof
#
# Let $F$ be the objective, here the clean loss $L$, and $F^\star$ its infimum ($0$: the
# network can interpolate). The iterates are $W_{k+1} = W_k - \eta g_k$ with
# $\mathbb E_k[g_k] = \nabla F(W_k) + b_k$. Assume, along the iterates,
#
# - **(A1)** $F$ is $\beta$-smooth: $F(W') \le F(W) + \langle \nabla F(W), W' - W\rangle + \frac\beta2 \lVert W' - W\rVert^2$;
# - **(A2)** PL: $\lVert \nabla F(W_k)\rVert^2 \ge 2\mu\,(F(W_k) - F^\star)$;
# - **(A3)** bounded bias: $\lVert b_k\rVert^2 \le \zeta^2$;
# - **(A4)** second moment: $\mathbb E_k\lVert g_k\rVert^2 \le M \lVert \nabla F(W_k)\rVert^2 + \sigma^2$.
#
# **Theorem.** If $\eta \le 1/(2\beta M)$, then
#
# $$
# \mathbb E[F(W_k) - F^\star] \le \Bigl(1 - \frac{\eta\mu}{2}\Bigr)^k (F(W_0) - F^\star)
#   + \frac{\zeta^2 + \beta\eta\sigma^2}{\mu}.
# $$
#
# **Proof.** (1) The descent lemma (A1) and $\mathbb E_k$ give
# $\mathbb E_k F(W_{k+1}) \le F(W_k) - \eta\langle \nabla F, \nabla F + b_k\rangle + \frac{\beta\eta^2}{2}\mathbb E_k\lVert g_k\rVert^2$.
# (2) $\langle \nabla F, \nabla F + b\rangle \ge \frac12\lVert\nabla F\rVert^2 - \frac12\lVert b\rVert^2$ (Young).
# (3) (A4) with $\eta \le 1/(2\beta M)$ turns the last term into at most
# $\frac\eta4\lVert\nabla F\rVert^2 + \frac{\beta\eta^2}{2}\sigma^2$, so
# $\mathbb E_k F(W_{k+1}) \le F(W_k) - \frac\eta4\lVert\nabla F\rVert^2 + \frac\eta2(\zeta^2 + \beta\eta\sigma^2)$ by (A3).
# (4) PL (A2): $\mathbb E_k F(W_{k+1}) - F^\star \le (1 - \frac{\eta\mu}{2})(F(W_k) - F^\star) + \frac\eta2(\zeta^2 + \beta\eta\sigma^2)$.
# (5) Unroll and sum the geometric series: $\frac\eta2(\zeta^2 + \beta\eta\sigma^2)\big/\frac{\eta\mu}{2}$. $\square$
#
# The paper's claim beside it: masked GD converges linearly into a ball whose radius grows with
# $\kappa$ and depends on $m$, $n$ and $\tau$. In ours the ball is
# $(\zeta^2 + \beta\eta\sigma^2)/\mu$: we expect $\zeta \sim \kappa^2$ (the smoothed network
# differs from the clean one by $O(s^2)$, and the regulariser is $O(\kappa^2)$) and
# $\sigma^2 \sim \kappa^2$, so a radius $\sim \eta\kappa^2$ for small $\kappa$, with
# $\zeta^4/\mu$ taking over as $\kappa$ grows. That is the expectation we started from; the
# measurements below refute it for the bias: $\zeta^2$ grows like $\kappa$, not $\kappa^4$.
#
# ## The bias, exactly and by Monte Carlo
#
# The bias $b = \nabla\mathbb E_c[L_{\text{masked}}] - \nabla L$ comes exactly from the closed
# form of the expected loss (chapter 2) by automatic differentiation. We cross-check it at
# $W_0$ against the average of masked gradients over fresh masks.

# %%
kappa_check = kappas[len(kappas) // 2]
exact_bias = masked_gradient_bias(W0, a, X, y, kappa_check)
estimate = masked_gradient_monte_carlo(W0, a, X, y, kappa_check, draws=bias_draws, seed=seed + 2)
z_scores = ((estimate.bias - exact_bias) / estimate.mean_se).flatten()
bias_rel_err = float((estimate.bias - exact_bias).norm() / exact_bias.norm())
results.value("bias_norm_exact", exact_bias.norm())
results.value("bias_mc_relative_error", bias_rel_err)
results.check(
    "bias exact vs Monte Carlo",
    f"mean squared z-score of the {z_scores.numel()} bias entries is about 1 "
    f"(kappa = {kappa_check:g}, {bias_draws} masks)",
    abs(float(z_scores.square().mean()) - 1.0),
    5 * math.sqrt(2.0 / z_scores.numel()) + 0.05,
)
print(
    f"kappa = {kappa_check:g}: ||b|| = {float(exact_bias.norm()):.4f} exactly, "
    f"Monte Carlo {float(estimate.bias.norm()):.4f}; relative error {bias_rel_err:.3f}, "
    f"mean z^2 = {float(z_scores.square().mean()):.3f}"
)

# %% [markdown]
# ## The constants along the trajectories of Figure 3a
#
# For each $\kappa$ we run masked GD with the settings of the parameters cell (Figure 3a's by
# default) and, every `probe_every` steps, measure at $W_k$: the clean loss and gradient; the
# extreme eigenvalues of the Gram matrix $H(W_k)$ (chapter 3), since $\lVert\nabla L\rVert^2 = r^\top H r$ makes
# $\lambda_{\min}(H(W_k))$ a PL constant and $\lambda_{\max}$ the curvature of the Gauss–Newton
# part of the Hessian; the smoothness that the descent lemma needs on one masked step from $W_k$
# (ReLU kinks can make it exceed $\lambda_{\max}$); the exact bias; and
# $\mathbb E_k\lVert g_k\rVert^2$ from `draws` masks, with its standard error.
#
# The constants are **fitted on every other probe** ($\beta$ the largest curvature, $\mu$ the smallest
# $\lambda_{\min}$, $\zeta^2$ the largest squared bias) and every premise is **verified on the
# other probes**: a constant that only fits the steps it was fitted on is caught. For (A4) we
# take $M = 2$: $\mathbb E\lVert g\rVert^2 = \lVert\nabla F + b\rVert^2 + V$ with $V =
# \operatorname{tr}\operatorname{Cov} g$ the mask variance of the gradient, hence
# $\mathbb E\lVert g\rVert^2 \le 2\lVert\nabla F\rVert^2 + 2\zeta^2 + V$ and
# $\sigma^2 = 2\zeta^2 + \max_k V_k$.

# %%
trajectories = {}
for index, kappa in enumerate(kappas):
    loss, probe = probe_trajectory(
        X, y, W0, a, kappa, lr, steps, probe_every, draws=draws, seed=seed + 100 * index,
        device=device,
    )  # fmt: skip
    fit, verify = probe.halves()
    trajectories[kappa] = (loss, fit_constants(fit), verify)

# %% [markdown]
# The constants fitted on each trajectory, the step size the theorem allows, the floor of its
# bound, and the plateau the loss actually reached (its mean over the last 10% of the steps):

# %%
header = ["$\\kappa$", "$\\beta$", "$\\mu$", "$\\zeta^2$", "$\\sigma^2$ (± s.e.)",
          "$1/(2\\beta M)$", "floor", "plateau", "floor / plateau"]  # fmt: skip
rows = []
for kappa, (loss, c, _) in trajectories.items():
    before = (c.beta, c.mu, c.zeta2)
    after = (c.step_size_limit(), c.floor(lr), plateau(loss), looseness(c, lr, loss))
    sigma2 = f"{c.sigma2:.3g} ± {c.sigma2_se:.2g}"
    rows.append([f"{kappa:g}", *(f"{v:.3g}" for v in before), sigma2, *(f"{v:.3g}" for v in after)])
display(Markdown(markdown_table(header, rows)))

# %% [markdown]
# ## Did every premise and the bound hold?
#
# For each $\kappa$: the step-size condition, each premise on the verification probes (a Monte
# Carlo quantity is allowed three standard errors) and the bound at every one of the `steps`
# iterations. Not all of these can fail, and those that cannot are recorded as identities, not
# checks: (A2) with $\mu = \lambda_{\min}(H)$ is the Rayleigh quotient $r^\top H r / \lVert r
# \rVert^2 \ge \lambda_{\min}$, true by algebra; (A4) with $M = 2$ and $\sigma^2 = 2\zeta^2 +
# \max V$ follows from (A3) by Young's inequality; and the bound starts at $(1 - \eta\mu/2)^k
# F_0$, which with the worst-case $\mu$ stays near $F_0$ over the whole run (the factor is
# printed below), so "the bound held" cannot fail here. What can fail is the step size, the
# smoothness (A1) and the bias bound (A3), each fitted on one half of the probes and verified on
# the other.

# %%
BY_CONSTRUCTION = {
    "A2 PL": "mu = lambda_min(H) and ||grad F||^2 = r^T H r (Rayleigh quotient)",
    "A4 second moment": "M = 2, sigma^2 = 2 zeta^2 + max V follow from A3 by Young's inequality",
    "bound": "the worst-case rate (1 - eta mu / 2)^k keeps the bound near F_0",
}
rate_ratio = {}
fig, axes = plt.subplots(1, len(kappas), figsize=(3.2 * len(kappas), 3.4), sharey=True)
for ax, color, (kappa, (loss, constants, verify)) in zip(
    axes, kappa_colors(kappas), trajectories.items(), strict=True
):
    bound = theorem_bound(constants, lr, loss[0], steps)
    for check in check_theorem(constants, verify, lr, loss):
        if check.name in BY_CONSTRUCTION:
            results.identity(
                f"kappa={kappa:g}: {check.name}",
                f"{check.claim}: {BY_CONSTRUCTION[check.name]} (measured / tolerance shown)",
                check.measured / check.tolerance,
            )
        else:
            results.add(replace(check, name=f"kappa={kappa:g}: {check.name}"))
    results.value(f"kappa={kappa:g}: looseness at plateau", looseness(constants, lr, loss))
    measured_rate = -initial_log_slope(loss, rate_window)
    rate_ratio[kappa] = measured_rate / (lr * constants.mu / 2)
    results.value(f"kappa={kappa:g}: initial rate / theorem rate", rate_ratio[kappa])
    ax.semilogy(loss, color=color, label="measured clean loss")
    ax.semilogy(bound, "k--", label="bound")
    ax.axhline(constants.floor(lr), color="0.6", lw=1, label="floor of the bound")
    ax.set(title=f"κ = {kappa:g}", xlabel="iteration k", ylabel="clean loss")
axes[0].legend()
fig.suptitle(f"The biased-SGD bound beside masked GD (n = {n}, d = {d}, m = {m}, η = {lr:g})")
plt.show()

# %%
worst_mu = min(c.mu for _, c, _ in trajectories.values())
loose = {k: looseness(c, lr, loss) for k, (loss, c, _) in trajectories.items()}
display(
    Markdown(
        f"The bound holds, and it is loose: its floor sits {min(loose.values()):.3g} to "
        f"{max(loose.values()):.3g} times above the plateau the loss actually reaches (the column "
        "floor / plateau). Its rate is the worst case too: $(1 - \\eta\\mu/2)^{k}$ with "
        f"$\\mu$ as small as {worst_mu:.3g} is still {(1 - lr * worst_mu / 2) ** steps:.3f} after "
        f"{steps} steps, while the measured initial rate (a line through $\\log L$ over the first "
        f"{rate_window} steps) is {min(rate_ratio.values()):.3g} to {max(rate_ratio.values()):.3g} "
        "times faster than $\\eta\\mu/2$: $\\mu$, the smallest eigenvalue of $H(W_k)$, governs "
        "the slowest direction, not the one the residual takes first. And the floor divides the "
        "*squared* bias by $\\mu$: the next section shows that $\\zeta^2$ grows like "
        "$\\kappa$ at small $\\kappa$, so the floor scales like $\\kappa$, while the ball "
        "that masked GD converges to scales with the exponents measured in chapter 4 (the "
        "converged ball): the theorem gets the $\\kappa$-dependence wrong in this regime, not "
        "just the height. It explains the shape (linear rate, then a $\\kappa$-dependent floor); "
        "the last section predicts the height."
    )
)

# %% [markdown]
# ## How the constants scale with $\kappa$
#
# Our expectation was $\zeta \sim \kappa^2$ and $\sigma^2 \sim \kappa^2$. The constants of
# the table above are maxima along trajectories at a few $\kappa$; to fit exponents we measure
# both at $W_0$ on a finer grid (`slope_kappas`): the exact bias norm $\zeta(\kappa) =
# \lVert b \rVert$ and the mask variance $V = \mathbb E\lVert g - \mathbb E g\rVert^2$ from
# `draws` masks. Each slope is a least-squares fit on log–log axes over $\kappa \le$
# `slope_fit_max` with a 95% interval (Student's $t$), and the local slopes between neighbouring
# $\kappa$ show where the behaviour changes.

# %%
zeta_w0, variance_w0, variance_se = [], [], []
for j, kappa in enumerate(slope_kappas):
    zeta_w0.append(float(masked_gradient_bias(W0, a, X, y, kappa).norm()))
    estimate = masked_gradient_monte_carlo(W0, a, X, y, kappa, draws=draws, seed=seed + 50 + j)
    variance_w0.append(estimate.variance)
kappa_arr = np.array(slope_kappas)
zeta_w0, variance_w0 = np.array(zeta_w0), np.array(variance_w0)
small = kappa_arr <= slope_fit_max
zeta_fit = loglog_slope(kappa_arr[small], zeta_w0[small])
variance_fit = loglog_slope(kappa_arr[small], variance_w0[small])
zeta_local = local_slopes(kappa_arr, zeta_w0)
variance_local = local_slopes(kappa_arr, variance_w0)
for name, fit in (("zeta", zeta_fit), ("variance", variance_fit)):
    results.value(f"{name} slope vs kappa", fit.slope)
    results.value(f"{name} slope vs kappa low", fit.low)
    results.value(f"{name} slope vs kappa high", fit.high)
middle = np.sqrt(kappa_arr[1:] * kappa_arr[:-1])
print(f"zeta ~ kappa^{zeta_fit}, V ~ kappa^{variance_fit}")

# %% [markdown]
# On the left both constants against $\kappa$ with the fitting range shaded; on the right their
# local slopes between neighbouring $\kappa$, printed below the figure.

# %%
fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
left.loglog(kappa_arr, zeta_w0, "o-", label=f"ζ = ||b|| at W₀ (slope {zeta_fit})")
left.loglog(kappa_arr, variance_w0, "s-", label=f"V = tr Cov g at W₀ (slope {variance_fit})")
left.loglog(kappa_arr, variance_w0[0] * (kappa_arr / kappa_arr[0]) ** 2, "k:", label="∝ κ²")
left.loglog(kappa_arr, zeta_w0[0] * (kappa_arr / kappa_arr[0]) ** 0.5, "k--", lw=1, label="∝ κ^½")
left.axvspan(kappa_arr[0], slope_fit_max, color="0.9", label="fitting range")
left.set(xlabel="κ", ylabel="ζ and V", title="bias and noise at W₀ against the mask scale")
left.legend(fontsize=7)
right.semilogx(middle, zeta_local, "o-", label="ζ")
right.semilogx(middle, variance_local, "s-", label="V")
for level in (0.5, 1.0, 2.0):
    right.axhline(level, color="0.6", lw=0.8, ls=":")
right.set(xlabel="κ (geometric mean of neighbours)", ylabel="local log–log slope",
          title="local slopes between neighbouring κ")  # fmt: skip
right.legend()
plt.show()
print(
    "local slopes of zeta:",
    ", ".join(f"{k:.3g}: {v:.2f}" for k, v in zip(middle, zeta_local, strict=True)),
)
print(
    "local slopes of V:",
    ", ".join(f"{k:.3g}: {v:.2f}" for k, v in zip(middle, variance_local, strict=True)),
)

# %% [markdown]
# Neither constant follows $\kappa^2$ at small $\kappa$. The *loss* changes by $O(\kappa^2)$
# under the mask, but its *gradient* does not.
# For one neuron, $\partial_z(\tilde\sigma - \mathrm{relu})(z, s) = \Phi(z/s) - \mathbf 1\{z>0\}$
# is of order one on the band $|z| \lesssim s$, and a share $O(s) = O(\kappa)$ of the
# (sample, neuron) pairs falls in that band. Their contributions to $b$ carry the residuals'
# signs, so they add up like a random walk: $\lVert b\rVert^2 = O(\kappa)$ and
# $\zeta \sim \kappa^{1/2}$. Where the band holds few pairs the smooth part, $O(\kappa^2)$,
# takes over again: the local slopes of $\zeta$ rise above one at larger $\kappa$ (the
# crossover in the right panel). The same band makes the masked gradient jump by $O(1)$ with
# probability $O(1)$ for an $O(\kappa)$ share of the pairs, a variance $O(\kappa)$ beside the
# smooth part's $O(\kappa^2)$, so the slope of $V$ at small $\kappa$ is below 2. The checks
# hold the fitted intervals to these arguments: the interval of $\zeta$'s slope must exclude 1
# and the expected 2; the interval of $V$'s slope must exclude 2 (the $\kappa^2$ expected
# above). How close $\zeta$'s slope comes to $1/2$ is reported, not checked: where the band
# holds only a few pairs (the smallest $\kappa$ on a small problem) the random walk has too few
# steps and the local slope drops below $1/2$.

# %%
results.add(
    slope_excludes_check(
        "zeta not ~ kappa", f"zeta at W_0, kappa <= {slope_fit_max:g}", zeta_fit, 1.0
    )
)
results.add(
    slope_excludes_check(
        "zeta not ~ kappa^2", f"zeta at W_0, kappa <= {slope_fit_max:g}", zeta_fit, 2.0
    )
)
results.add(
    slope_excludes_check(
        "V not ~ kappa^2", f"mask variance at W_0, kappa <= {slope_fit_max:g}", variance_fit, 2.0
    )
)

# %%
below, above = middle < slope_fit_max, middle > 2 * slope_fit_max
display(
    Markdown(
        f"Measured at $W_0$: $\\zeta \\sim \\kappa^{{{zeta_fit.slope:.2f}}}$ (95% interval "
        f"[{zeta_fit.low:.2f}, {zeta_fit.high:.2f}], {zeta_fit.points} values of $\\kappa \\le$ "
        f"{slope_fit_max:g}) and $V \\sim \\kappa^{{{variance_fit.slope:.2f}}}$ "
        f"([{variance_fit.low:.2f}, {variance_fit.high:.2f}]). The local slopes of $\\zeta$ run "
        f"from {zeta_local[below].min():.2f} to {zeta_local[below].max():.2f} below "
        f"$\\kappa = {slope_fit_max:g}$ and from {zeta_local[above].min():.2f} to "
        f"{zeta_local[above].max():.2f} above ${2 * slope_fit_max:g}$: the crossover from the "
        "kink band to the smooth part. With $\\zeta^2 \\sim "
        f"\\kappa^{{{2 * zeta_fit.slope:.2f}}}$ the theorem's floor $\\zeta^2/\\mu$ scales "
        "like that power of $\\kappa$, while the ball that masked GD converges to scales "
        "faster (chapter 4, the converged ball): the theorem gets the $\\kappa$-dependence of "
        "the ball wrong in this regime, not only its height."
    )
)

# %% [markdown]
# The verdicts. Our expectation holds for a constant if the interval of its exponent holds 2; by
# the book's rule (`mgn.report.verdict`) it is confirmed if it holds for both $\zeta$ and $V$,
# contradicted if for neither.

# %%
results.claim(
    "bias of the masked gradient ~ kappa^2",
    paper="our expectation in the paper's spirit (this chapter's theorem): zeta ~ kappa^2, "
    "sigma^2 ~ kappa^2, so a ball ~ eta kappa^2",
    measured=f"at W_0: zeta ~ kappa^{zeta_fit} and V ~ kappa^{variance_fit} for kappa <= "
    f"{slope_fit_max:g}",
    verdict=verdict([contains((fit.low, fit.high), 2.0) for fit in (zeta_fit, variance_fit)]),
)
results.claim(
    "biased-SGD bound (ours) on masked GD",
    paper="linear convergence into a ball (1 - eta mu / 2)^k F_0 + (zeta^2 + beta eta sigma^2) / mu",
    measured=f"held at every step; floor {min(loose.values()):.3g} to {max(loose.values()):.3g} "
    f"times the plateau; measured initial rate {min(rate_ratio.values()):.3g} to "
    f"{max(rate_ratio.values()):.3g} times eta mu / 2",
    verdict="refined",
)

# %% [markdown]
# ## A step beyond the condition
#
# The theorem asks $\eta \le 1/(2\beta M)$. We rerun the middle $\kappa$ with
# $\eta = 1.5/(2\beta M)$ (still below the $2/\beta$ at which gradient descent itself becomes unstable)
# and let the check speak: it must report the violated premise, whatever the loss does.

# %%
kappa_big = kappas[len(kappas) // 2]
limit = trajectories[kappa_big][1].step_size_limit()
big_lr = big_lr_factor * limit
loss_big, probe_big = probe_trajectory(
    X, y, W0, a, kappa_big, big_lr, big_lr_steps, probe_every, draws=draws, seed=seed + 999,
    device=device,
)  # fmt: skip
fit_big, verify_big = probe_big.halves()
constants_big = fit_constants(fit_big)
premises = {c.name: c for c in check_theorem(constants_big, verify_big, big_lr, loss_big)}
rows = [(c.name, f"{c.measured:.4g}", f"{c.tolerance:.4g}", c.passed) for c in premises.values()]
display(Markdown(markdown_table(["premise", "measured", "tolerance", "held"], rows)))
results.add(
    Check(
        "large step: violated premise reported",
        f"with eta = {big_lr_factor:g} / (2 beta M) the check reports 'step size' as failed",
        premises["step size"].measured / premises["step size"].tolerance,
        1.0,
        not premises["step size"].passed,
    )
)
results.value("large step: bound held anyway", float(premises["bound"].passed))

# %% [markdown]
# ## A per-mask assumption cannot hold for a Gaussian mask
#
# Convergence proofs often assume a bound *for every mask*, such as $\lVert\nabla\ell\rVert^2
# \le C\,\ell$. A Gaussian mask is unbounded and no such $C$ exists: with $n = m = d = 1$,
# $x = w = a = 1$, $y = 0$ and mask $c$, the network outputs $\mathrm{relu}(c)$, the loss is
# $\ell = c^2/2$ and the gradient in $w$ is $c^2$ for $c > 0$, so $\lVert\nabla\ell\rVert^2/\ell =
# 2c^2$, unbounded in $c$. That is why our premises (A3)–(A4) are stated **in expectation** over
# the mask. The alternative is to truncate the mask: with $c \in [1 - T\kappa, 1 + T\kappa]$ the
# ratio is at most $2(1 + T\kappa)^2$. Below, the ratio is computed with the library's network
# and masked gradient, not with the formula.

# %%
one = torch.ones(1, 1, dtype=dtype)
ratio_kappa = 1.0


def loss_gradient_ratio(c: torch.Tensor) -> torch.Tensor:
    """||grad l||^2 / l for the one-neuron network of the text, for each mask value c."""
    masked = c.reshape(-1, 1, 1) * one  # (draws, n = 1, d = 1)
    grads = masked_gradients(one, one[0], masked, torch.zeros(1, dtype=dtype))
    losses = 0.5 * network(one, one[0], masked.reshape(-1, 1)).square()
    return grads.flatten(1).square().sum(1) / losses


c_values = torch.tensor([0.5, 1.0, 2.0, 5.0, 10.0], dtype=dtype)
formula_err = float((loss_gradient_ratio(c_values) / (2 * c_values**2) - 1).abs().max())
results.check(
    "per-mask ratio is 2 c^2",
    "||grad l||^2 / l = 2 c^2 for the one-neuron network (c = 0.5, ..., 10)",
    formula_err,
    1e-12,
)

# %% [markdown]
# The largest ratio seen as more and more masks are drawn, for the Gaussian mask and for the
# truncated one:

# %%
generator = torch.Generator().manual_seed(seed + 3)
draw_counts = np.unique(np.logspace(2, math.log10(ratio_draws), 9).astype(int))
gaussian_c = GaussianMask(ratio_kappa).sample(one, generator, draws=ratio_draws).flatten()
truncated_c = (
    TruncatedGaussianMask(ratio_kappa, truncation)
    .sample(one, generator, draws=ratio_draws)
    .flatten()
)
running_max = {
    name: [float(loss_gradient_ratio(c[:count][c[:count] > 0]).max()) for count in draw_counts]
    for name, c in [("Gaussian", gaussian_c), ("truncated", truncated_c)]
}
truncated_bound = 2 * (1 + truncation * ratio_kappa) ** 2
results.check(
    "truncated mask: uniform bound",
    f"max ||grad l||^2 / l over {ratio_draws:,} truncated masks <= 2 (1 + T kappa)^2",
    running_max["truncated"][-1],
    truncated_bound,
)
results.add(
    Check.at_least(
        "Gaussian mask: no uniform bound",
        f"max ratio over {ratio_draws:,} Gaussian masks exceeds the truncated bound",
        running_max["Gaussian"][-1],
        truncated_bound,
    )
)

# %%
fig, ax = plt.subplots()
for name, values in running_max.items():
    ax.loglog(draw_counts, values, "o-", label=f"{name} mask")
ax.axhline(truncated_bound, color="k", ls=":", label="2 (1 + Tκ)²")
ax.set(
    xlabel="masks drawn",
    ylabel="largest ||∇ℓ||² / ℓ seen",
    title=f"κ = {ratio_kappa:g}, T = {truncation:g}",
)
ax.legend()
plt.show()

# %% [markdown]
# ## Beyond the bound: predicting the curve
#
# A bound says where the loss cannot go; a prediction says where it goes. With full-batch masked
# GD the mask noise averages over the $n$ samples at every step, while the bias does not. So the
# clean-loss curve of masked GD should be predicted, without sampling, by **deterministic GD on
# the closed-form expected loss**,
# $W_{k+1} = W_k - \eta\,\nabla\mathbb E_c[L_{\text{masked}}](W_k)$ (chapter 2).
#
# The closed form costs $O(n m^2)$ bivariate-normal terms per step, of which only the pairs of
# neurons whose kinks the noise reaches need the bivariate normal (chapter 2; the share is printed
# below). We run it at Figure 3a's size and kappas (`predict_n`, `predict_m`; $\kappa = 0$ is
# GD itself) for `predict_steps` steps: on the two CPU cores of the published build, 400 of
# Figure 3a's 2000, which fit its time budget; `predict_steps = 2000` runs all of them (on the
# same two cores this section then takes about 17 minutes instead of 4). The prediction runs in
# float32, whose round-off (about $10^{-7}$ relative) is far below the gaps measured here; the
# closed form is faster in it from $\kappa = 0.2$ up. We compare the prediction with the mean of `predict_seeds` masked-GD runs
# from the same initialisation, and with minibatch SGD, where the gradient noise no longer
# averages out.

# %%
Xp, yp = sphere_teacher_data(predict_n, d, seed=seed + 10, dtype=dtype)
Wp, ap = init_network(predict_m, d, seed=seed + 11, dtype=dtype)
pair_share = [kink_pair_share(Wp, Xp, kappa) for kappa in predict_kappas]
print("share of (input, neuron pair) terms through the bivariate normal at W0: " + ", ".join(
    f"{share:.1%} (kappa = {kappa:g})" for kappa, share in zip(predict_kappas, pair_share, strict=True)
))  # fmt: skip
predicted = expected_loss_descent(
    *(t.float() for t in (Xp, yp, Wp, ap)), predict_kappas, lr, predict_steps, device=device
)
replicas = Wp.expand(predict_seeds, -1, -1)
signs = ap.expand(predict_seeds, -1)
full = train_masked_gd(
    Xp, yp, replicas, signs, predict_kappas, lr, predict_steps, seed=seed + 12, device=device
)
sgd = train_masked_gd(
    Xp, yp, replicas, signs, predict_kappas, lr, predict_steps, seed=seed + 13, device=device,
    batch_size=sgd_batch,
)  # fmt: skip

# %% [markdown]
# The mean curves of the full-batch and of the minibatch runs, and the prediction's largest
# relative gap to each, per $\kappa$ (for the full batch also beyond three standard errors of the
# mean). The curves first, then the gaps.

# %%
measured_full = full.clean_loss.double().mean(1).numpy()
measured_sgd = sgd.clean_loss.double().mean(1).numpy()
relative_gap_full = (np.abs(predicted - measured_full) / measured_full).max(1)
# standard error of the mean over the predict_seeds runs, per kappa and step
se_full = full.clean_loss.double().std(1).numpy() / math.sqrt(predict_seeds)
beyond_noise = ((np.abs(predicted - measured_full) - 3 * se_full) / measured_full).max()
relative_gap_sgd = (np.abs(predicted - measured_sgd) / measured_sgd).max(1)

# %%
fig, ax = plt.subplots(figsize=(7, 4.2))
for kappa, color, pred, meas in zip(
    predict_kappas, kappa_colors(predict_kappas), predicted, measured_full, strict=True
):
    ax.semilogy(meas, color=color, lw=3, alpha=0.45)
    ax.semilogy(pred, color=color, ls="--", label=f"κ = {kappa:g}")
ax.set(
    xlabel="iteration k",
    ylabel="clean loss",
    title="Masked GD (thick, mean of runs) and GD on E[L_masked] (dashed)",
)
ax.legend(ncols=2)
plt.show()

# %%
gaps = list(zip(predict_kappas, relative_gap_full, relative_gap_sgd, strict=True))
header = ["$\\kappa$", "largest relative gap, full batch",
          f"largest relative gap, SGD (batch {sgd_batch})"]  # fmt: skip
display(Markdown(markdown_table(header, [(f"{k:g}", f"{f:.3%}", f"{g:.3%}") for k, f, g in gaps])))
for (kappa, g_full, g_sgd), share in zip(gaps, pair_share, strict=True):
    results.value(f"prediction gap kappa={kappa:g}", g_full)
    results.value(f"prediction gap SGD kappa={kappa:g}", g_sgd)
    results.value(f"prediction pair share kappa={kappa:g}", share)
results.check(
    "prediction, full batch",
    f"GD on the closed-form expected loss follows the mean of {predict_seeds} masked-GD runs "
    "within 3 standard errors of that mean plus 2% (the second-order effect of the mask noise), "
    "at every step and kappa (largest relative excess over 3 SE)",
    float(beyond_noise),
    0.02,
)
results.add(
    Check.at_least(
        "prediction, SGD",
        "with minibatches the gap grows for every kappa (the variance term returns)",
        float((relative_gap_sgd / relative_gap_full).min()),
        1.0,
    )
)

# %%
display(
    Markdown(
        "The prediction needs no sampling and follows the measured full-batch curves within "
        f"{relative_gap_full.max():.2%} at every step, for every $\\kappa$ up to "
        f"{max(predict_kappas):g}: the height of the plateau is set by the bias, which the "
        "expected loss contains exactly, and not by the mask noise, which averages over the $n$ "
        "samples of each step. With minibatches of "
        f"{sgd_batch} the same prediction misses by up to {relative_gap_sgd.max():.2%}, because "
        "the noise of the sampled batch (and of its masks) no longer averages out; its effect on "
        "the curve is the variance term $\\beta\\eta\\sigma^2$ of the theorem, which the "
        "expected loss does not contain. The full-batch gap runs from "
        f"{relative_gap_full.min():.2%} (at $\\kappa = "
        f"{predict_kappas[int(relative_gap_full.argmin())]:g}$) to {relative_gap_full.max():.2%} "
        f"(at $\\kappa = {predict_kappas[int(relative_gap_full.argmax())]:g}$), at Figure 3a's "
        f"size (n = {predict_n}, m = {predict_m}) over the first {predict_steps} steps."
    )
)

# %%
results.finish()

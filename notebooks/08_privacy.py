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
# # Privacy under the mask: membership inference and DP-SGD (Figures 5-7)
#
# The paper's practical claim is privacy. A model trained on masked inputs $x \odot c$,
# $c \sim \mathcal N(\mathbf 1, \kappa^2 I)$, should reveal less about *which* images it was
# trained on: Kolomvaki et al. (2026) attack CNN targets on CIFAR-10 with ML-Leaks' adversary 1
# (Salem et al., 2019) and report an attack AUC of 0.782 at $\kappa = 0$ falling to 0.543 at
# $\kappa = 1.8$ after 120 epochs (their Figure 5). This chapter runs their protocol and adds
# what the membership-inference literature now expects:
#
# | attack | what the attacker has (its assumptions) | score of an example |
# |---|---|---|
# | **ML-Leaks 1** (the paper's) | black-box softmax outputs; a shadow model of the target's architecture and masked training (so it knows $\kappa$), on data of the same distribution | logistic regression on the top-3 sorted probabilities, trained on the shadow model's members / non-members |
# | **loss threshold** (Yeom et al., 2018) | the example's label and the target's loss on it; no shadow model | $-\ell(x)$ |
# | **RMIA**, offline (Zarifzadeh et al., 2024) | true-label probabilities of the target and of one reference model trained without the example (here the shadow model), and population samples known to be non-members | the likelihood ratio $\frac{p(x\mid\theta)/p(x)}{p(z\mid\theta)/p(z)}$ against the population, as its mean log over $z$ |
#
# **Training runs are the unit.** Every arm (each architecture at each $\kappa$, DP-SGD at each
# noise level) trains several seeds on one fixed data split; a seed draws the initial weights,
# the masks and the batches. Every interval on this page is a 95% Student's t interval over the
# seeds, and a change from $\kappa = 0$ to the largest $\kappa$ is read from the per-seed
# differences: the seeds share the split, so the examples' own variation cancels there. Each
# attack is reported as its AUC and as its true positive rate at a low false positive rate
# (Carlini et al., 2022: an average-case AUC hides the few examples that leak badly), read where
# the non-members allow it, with a Clopper-Pearson interval. Losses and probabilities are computed
# in float64 from the logits.
#
# Masking comes with **no $(\varepsilon, \delta)$ guarantee**: the privacy measured here is
# empirical, the strength of the attacks we ran, not a bound on every attack. DP-SGD (Abadi et
# al., 2016; Opacus, per-example clipping at norm 1, $\delta = 10^{-5}$) gives a bound; the last
# sections put both on the same privacy-utility axes at the same training budget.

# %% tags=["parameters"]
mode = "paper"
cifar_root = None
kappas = [0.0, 0.5, 1.2, 1.8]
epochs = 120
snapshot_every = 20
n_seeds = 5
seed = 0  # replicate j of an arm trains with seed + j
# the paper sizes, used on CIFAR-10
group_size = 10520
mlp_hidden = 4096
cnn_channels = [32, 64]
cnn_kappas = [0.0, 0.5, 1.2, 1.8]
cnn_epochs = 120
cnn_seeds = 5
# the sizes used on the bundled fallback data set (see "The setting")
fallback_group_size = 250
fallback_mlp_hidden = 128
fallback_cnn_channels = [32, 64]
fallback_cnn_kappas = [0.0, 1.8]
fallback_cnn_epochs = 40
fallback_cnn_seeds = 8  # the CNN changes vary more from seed to seed than the MLP ones
lr = 1e-3
weight_decay = 1e-7
batch_size = 100
dp_noise = [0.5, 1.0, 2.0]
max_grad_norm = 1.0
delta = 1e-5
offline_a = 0.3
false_positives = 10  # the tail is read at FPR k/n with this k
smallest_change = 0.03  # the AUC change the run must resolve
leak_floor = 0.6
precision = "float32"

# %% tags=["hide-cell"]
import time
from functools import partial

import matplotlib.pyplot as plt
import numpy as np
from IPython.display import Markdown, display

from mgn import Results, recorded_values
from mgn.device import describe_device
from mgn.plotting import kappa_colors, use_book_style
from mgn.privacy import (
    ATTACKS,
    FPR_LEVELS,
    NULL,
    attack_snapshots,
    clopper_pearson,
    dominated,
    dpsgd_target,
    leak_check,
    learns_under_mask_check,
    null_paths_check,
    over_seeds,
    paired_change,
    reportable,
    resolution_check,
    tie_check,
    train_target_shadow,
)
from mgn.report import markdown_table, verdict
from mgn.vision import CNN, MLP, membership_split, resolve_images

# %%
use_book_style()
results = Results("08_privacy", mode)
started = time.perf_counter()
data = resolve_images(cifar_root=cifar_root)
on_cifar = data.source == "cifar10"
group, hidden, channels, cnn_arm_kappas, cnn_run_epochs, cnn_arm_seeds = (
    (group_size, mlp_hidden, cnn_channels, cnn_kappas, cnn_epochs, cnn_seeds)
    if on_cifar
    else (
        fallback_group_size,
        fallback_mlp_hidden,
        fallback_cnn_channels,
        fallback_cnn_kappas,
        fallback_cnn_epochs,
        fallback_cnn_seeds,
    )
)
split = membership_split(data.images, data.labels, group)
shape = tuple(split.target_train.images.shape[1:])
snapshot_epochs = list(range(snapshot_every, epochs + 1, snapshot_every))
last = snapshot_epochs[-1]
make_mlp = partial(MLP, shape, hidden=hidden, dropout=0.0)
make_cnn = partial(CNN, shape, channels=tuple(channels))
training = dict(lr=lr, weight_decay=weight_decay, batch_size=batch_size, precision=precision)
seeds = range(n_seeds)
print(f"mode = {mode}; running on {describe_device()}; data: {data.description}")

# %% [markdown]
# ## The setting
#
# The authors' protocol: the pooled images are shuffled (seed 42) into four disjoint groups,
# target-train (the target's members), target-test (its non-members), shadow-train and
# shadow-test; Adam with learning rate $10^{-3}$, weight decay $10^{-7}$, batches of 100,
# $\kappa \in \{0, 0.5, 1.2, 1.8\}$, snapshots every 20 epochs up to 120.
#
# On the bundled fallback (no CIFAR-10 folder given, 5,000 MNIST digits) the CPU setting is chosen
# for the attacks to have something to measure. A model leaks membership when it memorises, and it
# memorises more the fewer images it sees, so the setting makes the unmasked model memorise:
# **few training images per model, long training, no augmentation, no dropout in the MLP** (the
# `fallback_` parameters). The CNN is chapter 7's, at the paper's widths; on the fallback it runs
# at the smallest and largest $\kappa$ only, for fewer epochs, because its two trainings per seed
# and $\kappa$ dominate the chapter's time on two CPU cores; it gets more seeds than the MLP, as
# its per-seed changes vary more. Every model trains in
# float32, as the DP-SGD baseline does, so that the two defences differ only in how they protect
# the data.

# %%
arch_note = (
    f"MLP with one hidden layer of {hidden} GELU units and no dropout (paper: 4096, dropout 0.2), "
    f"{epochs} epochs, snapshots at {snapshot_epochs}, kappa in {kappas}; CNN with widths "
    f"{list(channels)} (the paper's: [32, 64]), {cnn_run_epochs} epochs, kappa in "
    f"{cnn_arm_kappas}, {cnn_arm_seeds} seeds"
)
display(
    Markdown(
        f"**This run:** {data.description}. Groups of **{group}** images "
        f"({len(split.target_train)} members and {len(split.target_test)} non-members per model); "
        f"{arch_note}; **{n_seeds} seeds** for the MLP and DP-SGD arms (seed s from {seed} on "
        "trains the target, a seed derived from s by SeedSequence its shadow); no augmentation."
    )
)

# %% [markdown]
# ## Training and attacking every snapshot
#
# For each $\kappa$ and seed, `mgn.privacy.train_target_shadow` trains a target model on
# target-train and a shadow model (same architecture, same masked training) on shadow-train. At
# each snapshot `mgn.privacy.attack_snapshots` runs the three attacks on the target's members and
# non-members: ML-Leaks' attacker is fitted on the shadow model's outputs at the same epoch; RMIA
# uses the shadow model as its reference model and shadow-test as its population (both
# non-members of the target, and of the reference). Each model sees every image standardised with
# its own pair's statistics (as the authors' code does), so an image of the target pair is
# rescaled to the shadow statistics before the reference model scores it, and the other way
# round (`mgn.vision.as_seen_by`).


# %%
def sweep(make_model, arm_kappas, n_epochs, epochs_attacked, arm_seeds):
    """Attacks ``{(kappa, j): {epoch: {attack: result}}}`` and (test, train) accuracies.

    The clean accuracies are measured after the last epoch only (``record_every``).
    """
    attacks, accuracy = {}, {}
    for kappa in arm_kappas:
        for j in range(arm_seeds):
            pair = train_target_shadow(
                make_model,
                split,
                kappa,
                n_epochs,
                seed=seed + j,
                snapshots=epochs_attacked,
                record_every=n_epochs,
                **training,
            )
            attacks[kappa, j] = attack_snapshots(
                split, pair, epochs_attacked, offline_a=offline_a, seed=seed + j
            )
            accuracy[kappa, j] = (pair.target.test_accuracy[-1], pair.target.train_accuracy[-1])
    return attacks, accuracy


mlp_attacks, mlp_accuracy = sweep(make_mlp, kappas, epochs, snapshot_epochs, n_seeds)
print(f"MLP sweep done after {time.perf_counter() - started:.0f} s")


# %%
def aucs(attacks, kappa, attack, epoch):
    """The AUC of ``attack`` on every seed's target at ``kappa`` and ``epoch``."""
    return [found[epoch][attack].auc for (k, _), found in attacks.items() if k == kappa]


def accuracies(accuracy, kappa, which=0):
    """Every seed's test (``which`` 0) or train (1) accuracy at ``kappa``."""
    return [measured[which] for (k, _), measured in accuracy.items() if k == kappa]


# %% [markdown]
# ## Figure 5: attack AUC against epochs
#
# One line per $\kappa$, the mean over seeds, and its band the seeds' 95% t interval at each
# snapshot. The paper's target was the CNN, on CIFAR-10, read at epoch 120: its values are drawn
# as black stars at epoch 120 when this run reaches it (on another data set they are a reference
# for the shape, not a target).

# %%
PAPER_AUC_120 = {0.0: 0.782, 0.5: 0.692, 1.2: 0.585, 1.8: 0.543}  # Figure 5, CIFAR-10
colors = kappa_colors(kappas)
fig, axes = plt.subplots(1, 3, figsize=(12, 3.8), sharey=True)
for ax, attack in zip(axes, ATTACKS, strict=True):
    for color, kappa in zip(colors, kappas, strict=True):
        band = np.array([over_seeds(aucs(mlp_attacks, kappa, attack, e)) for e in snapshot_epochs])
        ax.plot(snapshot_epochs, band[:, 0], "o-", color=color, label=f"$\\kappa$ = {kappa:g}")
        ax.fill_between(snapshot_epochs, band[:, 1], band[:, 2], color=color, alpha=0.2, lw=0)
        if attack == "ML-Leaks" and kappa in PAPER_AUC_120 and last == 120:
            ax.plot(120, PAPER_AUC_120[kappa], "k*", ms=9)
    ax.axhline(0.5, color="grey", ls=":", lw=1)
    ax.set_xlabel("epoch")
    ax.set_title(f"{attack} (MLP target)")
if last == 120:
    axes[0].plot([], [], "k*", label="paper, CIFAR-10 CNN, epoch 120")
axes[0].set_ylabel("attack AUC")
axes[0].legend(fontsize=8)
plt.show()

# %% [markdown]
# ## Figures 6-7: the attacks per $\kappa$, MLP and CNN
#
# The CNN trains with the same protocol, attacked at its last epoch. The table gives, per
# architecture and $\kappa$, each attack's AUC and the target's test accuracy and generalisation
# gap (train minus test accuracy), each the mean over seeds with its t interval.

# %%
cnn_attacks, cnn_accuracy = sweep(
    make_cnn, cnn_arm_kappas, cnn_run_epochs, [cnn_run_epochs], cnn_arm_seeds
)
print(f"CNN sweep done after {time.perf_counter() - started:.0f} s")
arms = {
    "MLP": (mlp_attacks, mlp_accuracy, kappas, last),
    "CNN": (cnn_attacks, cnn_accuracy, cnn_arm_kappas, cnn_run_epochs),
}

# %%
rows = []
for arch, (attacks, accuracy, arm_kappas, at) in arms.items():
    for kappa in arm_kappas:
        test = accuracies(accuracy, kappa)
        gap = np.subtract(accuracies(accuracy, kappa, 1), test)
        cells = [over_seeds(aucs(attacks, kappa, a, at)).formatted() for a in ATTACKS]
        rows.append(
            [arch, f"{kappa:g}", *cells, over_seeds(test).formatted(), over_seeds(gap).formatted()]
        )
        results.value(f"{arch.lower()}_test_accuracy_kappa_{kappa:g}", np.mean(test))
        results.value(f"{arch.lower()}_gap_kappa_{kappa:g}", np.mean(gap))
        for a in ATTACKS:
            results.value(
                f"{arch.lower()}_auc_{a.replace(' ', '_')}_kappa_{kappa:g}",
                np.mean(aucs(attacks, kappa, a, at)),
            )
header = ["model", "$\\kappa$", *(f"{a} AUC" for a in ATTACKS), "test accuracy", "gap"]
display(Markdown(markdown_table(header, rows)))

# %%
fig, axes = plt.subplots(1, 2, figsize=(11, 3.8), sharey=True)
for ax, (arch, (attacks, _, arm_kappas, at)) in zip(axes, arms.items(), strict=True):
    x = np.arange(len(arm_kappas))
    for j, field in enumerate(("precision", "recall", "auc")):
        values = [
            [getattr(found[at]["ML-Leaks"], field) for (k2, _), found in attacks.items() if k2 == k]
            for k in arm_kappas
        ]
        band = np.array([over_seeds(v) for v in values])
        error = [band[:, 0] - band[:, 1], band[:, 2] - band[:, 0]]
        ax.bar(x + (j - 1) * 0.25, band[:, 0], 0.25, yerr=error, capsize=3, label=field)
    ax.axhline(0.5, color="grey", ls=":", lw=1)
    ax.set_xticks(x, [f"{k:g}" for k in arm_kappas])
    ax.set_xlabel("mask scale $\\kappa$")
    ax.set_title(f"ML-Leaks on the {arch} target (epoch {at}, {len(values[0])} seeds)")
axes[0].set_ylabel("attack metric")
axes[0].legend()
plt.show()

# %% [markdown]
# ## Does the leak fall with $\kappa$? One verdict per architecture
#
# For each architecture and attack, the per-seed change of the AUC from $\kappa = 0$ to the
# largest $\kappa$ (`mgn.privacy.paired_change`): **falls** when its t interval lies below 0,
# **rises** when above, **no change** when it contains 0. Beside it, the smallest change the
# seeds resolve: a true change that large is detected with 80% power,
# $(t_{0.975} + t_{0.80})\, s / \sqrt{R}$ for $R$ seeds with differences of standard deviation
# $s$. The architecture's verdict is that of the paper's attack, ML-Leaks.

# %%
changes, rows = {}, []
for arch, (attacks, _, arm_kappas, at) in arms.items():
    top = arm_kappas[-1]
    for attack in ATTACKS:
        change = paired_change(aucs(attacks, 0.0, attack, at), aucs(attacks, top, attack, at))
        changes[arch, attack] = change
        rows.append(
            [
                arch,
                attack,
                f"0 to {top:g}",
                change.difference.formatted(),
                change.direction,
                f"{change.resolvable:.3f}",
            ]
        )
        results.value(
            f"{arch.lower()}_auc_change_{attack.replace(' ', '_')}", change.difference.mean
        )
        results.value(f"{arch.lower()}_resolvable_{attack.replace(' ', '_')}", change.resolvable)
header = ["model", "attack", "$\\kappa$", "AUC change [95% t]", "direction", "resolves (80% power)"]
display(Markdown(markdown_table(header, rows)))
direction = {arch: changes[arch, "ML-Leaks"].direction for arch in arms}
print("verdict per architecture (ML-Leaks):", direction)

# %% [markdown]
# ## The tail: TPR at a low FPR
#
# With $n$ non-members an attack can only be read at FPR $= k/n$: the threshold is the
# $(k+1)$-th strongest non-member score. Below $k = 10$ the threshold is set by a handful of
# extreme non-members and moves with every draw of them, so the tail is read at
# $k =$ `false_positives`, and at 1% or 0.1% FPR only where the non-members allow 10 false
# positives there (1,000 and 10,000 non-members). Each cell is the mean TPR over seeds with its t
# interval, and the Clopper-Pearson interval of the true positives pooled over the seeds' members
# (each seed at its own threshold). The last column is the per-seed change from $\kappa = 0$.

# %%
n_out = len(split.target_test)
levels = [false_positives / n_out] + [
    level for level in FPR_LEVELS if reportable(level, n_out) and level > false_positives / n_out
]


def tail_cell(estimates):
    """Mean TPR over seeds [t interval]; Clopper-Pearson of the true positives pooled."""
    hits = sum(e.true_positives for e in estimates)
    low, high = clopper_pearson(hits, sum(e.members for e in estimates))
    return f"{over_seeds([e.tpr for e in estimates]).formatted()}; CP [{low:.3f}, {high:.3f}]"


# %%
rows, tail_moves = [], {}
for arch, (attacks, _, arm_kappas, at) in arms.items():
    for attack, level in ((attack, level) for attack in ATTACKS for level in levels):
        found = [
            [found[at][attack].at_fpr(level) for (k2, _), found in attacks.items() if k2 == k]
            for k in (0.0, arm_kappas[-1])
        ]
        move = paired_change(*([e.tpr for e in estimates] for estimates in found))
        tail_moves[arch, attack, level] = move
        row = [arch, attack, f"{100 * level:.2g}%", *(tail_cell(e) for e in found)]
        rows.append([*row, f"{move.difference.formatted()} ({move.direction})"])
        name = f"{arch.lower()}_tail_change_{attack.replace(' ', '_')}_fpr_{100 * level:.2g}"
        results.value(name, move.difference.mean)
header = ["model", "attack", "FPR", "TPR at $\\kappa$ = 0", "TPR at the largest $\\kappa$"]
display(Markdown(markdown_table([*header, "change"], rows)))

# %% [markdown]
# ## Checks
#
# 1. **Two non-member paths are indistinguishable.** The loss threshold on each target, with
#    target-test posing as members and shadow-test, rescaled to the target's statistics, as
#    non-members. Neither group trained the target, so the AUC sits at chance unless one path
#    treats its images differently: a wrong rescaling or the wrong group's statistics moves it.
#    Both groups are the same for every model, so the mean over models must lie within the 99%
#    chance band of one model's AUC, $2.576 \sqrt{(M + n + 1) / (12 M n)}$.
# 2. **The strongest scores are not tied.** A float32 softmax rounds a confident member's loss to
#    exactly 0, and the loss threshold could not order its strongest candidates.
# 3. **The unmasked models leak**: for each architecture, some attack's AUC at $\kappa = 0$ has
#    the lower end of its seed interval above `leak_floor`. Without it the experiment measures
#    nothing.
# 4. **The masked models still learn** at the largest $\kappa$: the lower end of the seed interval
#    of the test accuracy at least 20 points above chance.
# 5. **The run has power**: the smallest change of the ML-Leaks AUC the seeds resolve is at most
#    `smallest_change`, for each architecture.

# %%
nulls = [found[at][NULL] for attacks, _, _, at in arms.values() for found in attacks.values()]
results.add(null_paths_check("null_paths_at_chance", nulls))
threshold_attacks = [
    found[at]["loss threshold"] for attacks, _, _, at in arms.values() for found in attacks.values()
]
results.add(tie_check("strongest_scores_untied", threshold_attacks))
for arch, (attacks, accuracy, arm_kappas, at) in arms.items():
    unmasked = {attack: aucs(attacks, 0.0, attack, at) for attack in ATTACKS}
    results.add(leak_check(f"unmasked_{arch.lower()}_leaks", arch, unmasked, leak_floor))
    top = accuracies(accuracy, arm_kappas[-1])
    results.add(learns_under_mask_check(f"masked_{arch.lower()}_learns", arch, top))
results.add(
    resolution_check(
        "resolves_auc_change", {a: changes[a, "ML-Leaks"] for a in arms}, smallest_change
    )
)
null_mean = results.value("null_paths_auc_mean", np.mean([r.auc for r in nulls]))
for check in results.checks:
    print(
        f"{check.name}: measured {check.measured:.4g} against {check.tolerance:.4g}: {'passed' if check.passed else 'FAILED'}"
    )

# %% [markdown]
# ## DP-SGD at the same budget
#
# The MLP has no normalisation layer, so the DP-SGD arm trains **the same architecture** as the
# masked arm (for the CNN, Opacus would need GroupNorm in place of BatchNorm,
# `mgn.privacy.dp_compatible`, and the masked arm would have to use it too). Both arms get the
# same budget: the same data, epochs, expected batch size, optimiser and seeds. DP-SGD trains on
# target-train with Poisson-sampled batches, clean inputs, clipping at `max_grad_norm`, one noise
# multiplier $\sigma$ per run; Opacus' RDP accountant gives $\varepsilon$ at $\delta$. Both arms
# are attacked by the loss threshold, the attack that needs no shadow model of the DP training.

# %%
dp = {
    (sigma, j): dpsgd_target(
        make_mlp,
        split,
        sigma,
        epochs,
        seed=seed + j,
        max_grad_norm=max_grad_norm,
        delta=delta,
        lr=lr,
        weight_decay=weight_decay,
        batch_size=batch_size,
    )
    for sigma in dp_noise
    for j in seeds
}
print(f"DP-SGD sweep done after {time.perf_counter() - started:.0f} s")


# %%
def frontier_point(attack_aucs, test_accuracies):
    """(attack, accuracy) of one setting, each the seed interval."""
    return over_seeds(attack_aucs), over_seeds(test_accuracies)


points = {
    ("masking", kappa): frontier_point(
        aucs(mlp_attacks, kappa, "loss threshold", last), accuracies(mlp_accuracy, kappa)
    )
    for kappa in kappas
}
points |= {
    ("DP-SGD", sigma): frontier_point(
        [dp[sigma, j].attack.auc for j in seeds], [dp[sigma, j].accuracy for j in seeds]
    )
    for sigma in dp_noise
}
epsilon = {sigma: dp[sigma, 0].epsilon for sigma in dp_noise}  # the same for every seed
dp_gap = {
    sigma: over_seeds([dp[sigma, j].train_accuracy - dp[sigma, j].accuracy for j in seeds])
    for sigma in dp_noise
}

# %%
rows = []
for (arm, key), (attack, accuracy) in points.items():
    if arm == "DP-SGD":
        setting, bound, gap = f"sigma = {key:g}", f"{epsilon[key]:.1f}", dp_gap[key]
    else:
        setting, bound = f"kappa = {key:g}", "none"
        gap = over_seeds(
            np.subtract(accuracies(mlp_accuracy, key, 1), accuracies(mlp_accuracy, key))
        )
    rows.append([arm, setting, bound, accuracy.formatted(), gap.formatted(), attack.formatted()])
for sigma in dp_noise:
    results.value(f"dp_epsilon_sigma_{sigma:g}", epsilon[sigma])
    results.value(f"dp_accuracy_sigma_{sigma:g}", points["DP-SGD", sigma][1].mean)
    results.value(f"dp_gap_sigma_{sigma:g}", dp_gap[sigma].mean)
    results.value(f"dp_auc_sigma_{sigma:g}", points["DP-SGD", sigma][0].mean)
header = ["defence", "setting", f"$\\varepsilon$ at $\\delta$ = {delta:g}", "test accuracy"]
display(Markdown(markdown_table([*header, "gap", "loss-threshold AUC"], rows)))

# %% [markdown]
# ## The privacy-utility frontier
#
# Test accuracy against the loss-threshold AUC for both defences, each point the mean over seeds
# with its t intervals. Up and to the left is better: more accuracy, a weaker attack. A setting
# is *dominated* when a setting of the other defence is resolved better on one axis (its interval
# lies entirely on the better side) and not resolved worse on the other (`mgn.privacy.dominated`).

# %%
fig, ax = plt.subplots(figsize=(6.5, 4.2))
for arm, marker, symbol in (("masking", "o", "\\kappa"), ("DP-SGD", "s", "\\sigma")):
    keys = [key for a, key in points if a == arm]
    attack, accuracy = (np.array([points[arm, k][i] for k in keys]) for i in (0, 1))
    ax.errorbar(
        attack[:, 0],
        accuracy[:, 0],
        xerr=[attack[:, 0] - attack[:, 1], attack[:, 2] - attack[:, 0]],
        yerr=[accuracy[:, 0] - accuracy[:, 1], accuracy[:, 2] - accuracy[:, 0]],
        fmt=marker + "-",
        capsize=3,
        label=arm,
    )
    for key, x, y in zip(keys, attack[:, 0], accuracy[:, 0], strict=True):
        ax.annotate(
            f"${symbol}$={key:g}", (x, y), fontsize=7, xytext=(3, 3), textcoords="offset points"
        )
ax.set_xlabel("loss-threshold attack AUC")
ax.set_ylabel("clean test accuracy")
ax.set_title(f"Privacy-utility frontier (MLP, {epochs} epochs, {n_seeds} seeds)")
ax.legend()
plt.show()

# %%
masked_points = [points["masking", k] for k in kappas]
dp_points = [points["DP-SGD", s] for s in dp_noise]
dp_dominated = [dominated(p, masked_points) for p in dp_points]
mask_dominated = [dominated(p, dp_points) for p in masked_points]
dp_beaten = results.value("dp_settings_dominated_by_masking", sum(dp_dominated))
mask_beaten = results.value("masked_settings_dominated_by_dp", sum(mask_dominated))
display(
    Markdown(
        f"With the intervals, **{dp_beaten:g} of {len(dp_noise)}** DP-SGD settings are dominated "
        f"by a masked one and **{mask_beaten:g} of {len(kappas)}** masked settings by a DP-SGD "
        f"one. The DP-SGD points carry a bound, $\\varepsilon$ from {min(epsilon.values()):.1f} "
        f"to {max(epsilon.values()):.1f} at $\\delta$ = {delta:g}; the masked points carry none."
    )
)

# %% [markdown]
# ## The verdict on the paper's claim
#
# The paper: *attack AUC falls toward 0.5 as $\kappa$ grows*, measured on its CNN. The ledger
# follows the paper's architecture: **confirmed** when the ML-Leaks AUC of the CNN falls (its
# per-seed change resolved below 0) in the paper's own setting, **refined** when it falls in
# another setting (another data set, other sizes), **contradicted** when it does not fall.

# %%
at_paper_scale = (
    on_cifar and group == 10520 and cnn_run_epochs == 120 and list(channels) == [32, 64]
)
fall_verdict = verdict([direction["CNN"] == "falls"], at_paper_scale=at_paper_scale)
summary = "; ".join(
    f"{arch} {over_seeds(aucs(a, 0.0, 'ML-Leaks', at)).formatted()} at kappa 0 to "
    f"{over_seeds(aucs(a, k[-1], 'ML-Leaks', at)).formatted()} at kappa {k[-1]:g}, change "
    f"{changes[arch, 'ML-Leaks'].difference.formatted()} ({direction[arch]}; resolves "
    f"{changes[arch, 'ML-Leaks'].resolvable:.3f})"
    for arch, (a, _, k, at) in arms.items()
)
seeds_text = f"{n_seeds} MLP and {cnn_arm_seeds} CNN seeds"
measured = f"{data.source}, groups of {group}, {seeds_text}, ML-Leaks AUC: {summary}"
results.claim(
    "attack_auc_falls_with_kappa",
    paper="membership-inference attack AUC falls toward 0.5 as kappa grows "
    "(0.782 at kappa 0 to 0.543 at kappa 1.8, CIFAR-10 CNN, 120 epochs)",
    measured=measured,
    verdict=fall_verdict,
)
display(Markdown(f"**Verdict: {fall_verdict}.** {measured}."))

# %% [markdown]
# The comparison with DP-SGD is confirmed when every DP-SGD setting is dominated by a masked one
# and no masked setting by a DP-SGD one (in the paper's setting), contradicted when no DP-SGD
# setting is dominated and every masked one is, refined in between.

# %%
results.claim(
    "masking_against_dp_sgd",
    paper="masking compares favourably with DP-SGD (clip 1.0, delta 1e-5) at equal accuracy "
    "(the authors' comparison; its numbers are not known to us)",
    measured=(
        f"MLP, {epochs} epochs, batch {batch_size}, {n_seeds} seeds per arm: DP-SGD epsilon "
        f"{min(epsilon.values()):.1f}-{max(epsilon.values()):.1f} at delta {delta:g}; "
        f"{dp_beaten:g}/{len(dp_noise)} DP settings dominated by a masked one, "
        f"{mask_beaten:g}/{len(kappas)} masked settings by a DP one (loss-threshold AUC and test "
        "accuracy, t intervals)"
    ),
    verdict=verdict(dp_dominated + [not beaten for beaten in mask_dominated], at_paper_scale),
)

# %% [markdown]
# ## Chapter 7 and this chapter
#
# Chapter 7 measures accuracy on the same kind of split, with the largest groups the data allow
# (10,520 images, the paper's, on CIFAR-10; 1,250 on the fallback). Membership leaks through the
# generalisation gap, so on the fallback this chapter trains the same architectures on groups of
# 250. The CNN is chapter 7's, at the paper's widths, trained with the
# privacy protocol's optimiser settings; the MLP is narrower than chapter 7's on the fallback and
# has no dropout, because this chapter trains it twice per seed and $\kappa$. The table puts the
# gaps (train minus test accuracy, in points, means over seeds) of both chapters side by side,
# chapter 7's as recorded in this build.

# %%
chapter7 = recorded_values("07_accuracy")
rows = []
for arch, (_, acc, arm_kappas, _) in arms.items():
    for k in (arm_kappas[0], arm_kappas[-1]):
        ours = 100 * np.mean(np.subtract(accuracies(acc, k, 1), accuracies(acc, k)))
        theirs = (chapter7 or {}).get(f"{arch.lower()}_gap_kappa_{k:g}")
        shown = "not in this build" if theirs is None else f"{100 * theirs:.1f}"
        rows.append([arch, f"{k:g}", shown, f"{ours:.1f}"])
header = ["model", "$\\kappa$", "gap, chapter 7", "gap, this chapter"]
display(Markdown(markdown_table(header, rows)))

# %% [markdown]
# ## What masking does not protect against
#
# The attacks here are one family: black-box queries of clean images, by an attacker who knows
# the training recipe, $\kappa$ included (the shadow and reference models train with the target's
# $\kappa$). White-box attacks on the weights or gradients, queries of masked images, and
# attackers who average many queries were not tried. The measured privacy is an average over the
# examples attacked: masking gives no per-example guarantee, and the few examples that leak most
# are what the tail reads.

# %%
tail_text = "; ".join(
    f"{arch}, {attack}: {tail_moves[arch, attack, levels[0]].difference.formatted()} "
    f"({tail_moves[arch, attack, levels[0]].direction})"
    for arch in arms
    for attack in ATTACKS
)
display(
    Markdown(
        f"**The tail.** The change of the TPR at FPR {false_positives}/{n_out} from $\\kappa$ = 0 "
        f"to the largest $\\kappa$, per seed: {tail_text}."
    )
)
print(f"run time {time.perf_counter() - started:.0f} s")

# %%
results.finish()

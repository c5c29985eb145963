"""Every chapter's checks fail on a wrong input and pass on the right one.

A check that a wrong formula, a wrong implementation or a false claim would pass is no evidence.
For each chapter the check functions it records (``mgn.checks``, ``mgn.biased_sgd``,
``mgn.distributed.drift``) get the right input and a deliberately wrong one: a formula missing a
term, the proxy in place of the exact form, a bias of zero, a kernel of the wrong rank, a scaling
law with the wrong power of kappa, a drift bound without its drift term, a curve still falling, an
untrained classifier, the clean layer in place of the mask's mean, a wrong rescaling, members and
non-members swapped, losses from a float32 softmax, seeds too noisy to resolve a change.
"""

import math
from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from mgn import (
    Check,
    expected_masked_loss,
    init_network,
    loss_decomposition,
    masked_gradient_bias,
    masked_gradient_monte_carlo,
    masked_loss_monte_carlo,
    ntk_gram_infinite,
    smoothed_network,
    smoothed_neuron,
    smoothed_neuron_grad,
    smoothed_relu,
    smoothed_relu_second_moment,
    sphere_teacher_data,
)
from mgn.biased_sgd import Constants, Probe, check_theorem
from mgn.checks import (
    bitwise_equal_check,
    eigenvalue_margin_check,
    gradient_check,
    loglog_slope,
    paired_increase_check,
    slope_excludes_check,
    z_score_check,
)
from mgn.converged_ball import minimise_expected_loss
from mgn.curves import first_below, plateau_test, relative_gap
from mgn.distributed import train_local_sgd
from mgn.distributed.drift import DriftProbe, check_drift, fit_drift_constants, probe_drift
from mgn.distributed.theory import expected_local_gd
from mgn.privacy import (
    NULL,
    attack_snapshots,
    cross_entropy_from_logits,
    leak_check,
    learns_under_mask_check,
    loss_threshold,
    null_paths_check,
    paired_change,
    resolution_check,
    tie_check,
    train_target_shadow,
)
from mgn.vision import (
    MLP,
    decline,
    evaluate,
    expected_hidden,
    figure4_verdict,
    initialised,
    learns_check,
    masked_hidden_mean,
    membership_split,
    summarise_sweep,
    train_classifier,
)
from tests.cifar_folder import coloured_images

DTYPE = torch.float64


# chapter 1: the smoothed ReLU, its second moment and its gradient


@pytest.fixture(scope="module")
def relu_draws():
    """Monte Carlo means and standard errors of relu(z + s g) and its square on a grid of z."""
    s, n = 0.2, 20_000
    z = torch.linspace(-2.1, 2.1, 101, dtype=DTYPE)
    g = torch.randn(n, 1, dtype=DTYPE, generator=torch.Generator().manual_seed(42))
    a = torch.relu(z + s * g)
    resolved = torch.special.ndtr(z / s) * n >= 1000  # enough positive draws for a Gaussian mean
    se1, se2 = a.std(0) / math.sqrt(n), (a * a).std(0) / math.sqrt(n)
    return (
        z[resolved],
        s,
        a.mean(0)[resolved],
        se1[resolved],
        (a * a).mean(0)[resolved],
        se2[resolved],
    )


def test_ch1_mean_check_fails_with_the_proxy(relu_draws):
    z, s, mean, se, _, _ = relu_draws
    assert z_score_check("mean", "exact", mean, se, smoothed_relu(z, s)).passed
    assert not z_score_check("mean", "proxy", mean, se, smoothed_relu(z, s, kind="proxy")).passed


def test_ch1_second_moment_check_fails_without_the_z_s_phi_term(relu_draws):
    z, s, _, _, second, se = relu_draws
    right = smoothed_relu_second_moment(z, s)
    missing = (z**2 + s**2) * torch.special.ndtr(z / s)  # drops z s phi(z/s)
    assert z_score_check("second", "exact", second, se, right).passed
    assert not z_score_check("second", "missing term", second, se, missing).passed


def test_ch1_stein_gradient_check_fails_without_the_phi_term():
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(10, dtype=DTYPE, generator=gen)
    x = x / x.norm()
    w = torch.randn(10, dtype=DTYPE, generator=gen)
    kappa = 0.5
    value = lambda v: smoothed_neuron(v[None], x[None], kappa)  # noqa: E731
    right = smoothed_neuron_grad(w, x, kappa)
    z, s = (w @ x), kappa * (w * x).norm()
    phi_term = torch.exp(-0.5 * (z / s) ** 2) / math.sqrt(2 * math.pi) * kappa**2 * x * x * w / s
    assert gradient_check("stein", "right", value, w, right).passed
    assert not gradient_check("stein", "missing phi term", value, w, right - phi_term).passed


# chapter 2: the expected masked loss


@pytest.fixture(scope="module")
def small_problem():
    X, y = sphere_teacher_data(20, 5, seed=0, dtype=DTYPE)
    W, a = init_network(8, 5, seed=1, dtype=DTYPE)
    return W, a, X, y


def test_ch2_closed_form_check_fails_without_the_regularizer(small_problem):
    W, a, X, y = small_problem
    kappa = 0.6
    mc = masked_loss_monte_carlo(W, a, X, y, kappa, draws=4000, seed=3)
    exact = expected_masked_loss(W, a, X, y, kappa).item()
    smoothed_only = 0.5 * (smoothed_network(W, a, X, kappa) - y).square().sum().item()
    assert z_score_check("loss", "exact", mc.mean, mc.stderr, exact, 3.0).passed
    assert not z_score_check("loss", "no R", mc.mean, mc.stderr, smoothed_only, 3.0).passed


def test_ch2_regularizer_slope_check_fails_with_the_wrong_power(small_problem):
    W, a, X, y = small_problem
    kappas = np.geomspace(1e-3, 3e-2, 6)
    R = np.array([loss_decomposition(W, a, X, y, k).regularizer.item() for k in kappas])

    def slope_check(values):  # chapter 2's regularizer_slope: |slope - 2| <= 0.05
        return Check.at_most("R", "slope 2", abs(loglog_slope(kappas, values).slope - 2.0), 0.05)

    assert slope_check(R).passed
    assert not slope_check(R * kappas).passed  # a regularizer of the wrong power


# chapter 3: lambda_0


def test_ch3_lambda0_margin_fails_for_a_singular_kernel():
    X, _ = sphere_teacher_data(60, 5, seed=0, dtype=DTYPE)
    assert eigenvalue_margin_check("lambda_0", "H_inf", ntk_gram_infinite(X))[0].passed
    linear_part = X @ X.T / 4  # rank d = 5 < n = 60: lambda_min is round-off
    assert not eigenvalue_margin_check("lambda_0", "linear", linear_part)[0].passed


# chapter 4: the converged ball


def _noisy_power(power: float, kappas: np.ndarray, seed: int = 0) -> np.ndarray:
    noise = np.random.default_rng(seed).normal(0.0, 0.05, kappas.size)
    return kappas**power * np.exp(noise)


def test_ch4_exponent_check_fails_for_a_kappa_squared_ball():
    kappas = np.geomspace(0.05, 0.8, 7)
    assert slope_excludes_check(
        "ball", "x", loglog_slope(kappas, _noisy_power(3, kappas)), 2
    ).passed
    assert not slope_excludes_check(
        "ball", "x", loglog_slope(kappas, _noisy_power(2, kappas)), 2
    ).passed
    assert not slope_excludes_check(
        "ball", "x", loglog_slope(kappas, _noisy_power(1, kappas)), 1
    ).passed


def test_ch4_convergence_is_not_claimed_without_it(small_problem):
    W, a, X, y = small_problem
    stopped = minimise_expected_loss(W, a, X, y, 0.3, tolerance=1e-8, max_evaluations=3)
    assert not stopped.converged and stopped.grad_norm > 1e-8 * stopped.initial_grad_norm
    done = minimise_expected_loss(W, a, X, y, 0.3, tolerance=1e-5, max_evaluations=3000)
    assert done.converged and done.grad_norm <= 1e-5 * done.initial_grad_norm
    assert done.objective < expected_masked_loss(W, a, X, y, 0.3).item()


# chapter 5: the bias, its scaling, and the premises of the theorem


def test_ch5_bias_check_fails_for_a_zero_bias(small_problem):
    W, a, X, y = small_problem
    kappa = 0.4
    exact = masked_gradient_bias(W, a, X, y, kappa)
    estimate = masked_gradient_monte_carlo(W, a, X, y, kappa, draws=4000, seed=5)
    se = estimate.mean_se.clamp(min=1e-12)
    assert z_score_check("bias", "exact", estimate.bias, se, exact).passed
    assert not z_score_check("bias", "zero", estimate.bias, se, torch.zeros_like(exact)).passed


def test_ch5_slope_checks_fail_for_the_refuted_powers():
    kappas = np.geomspace(0.01, 0.1, 6)
    half = loglog_slope(kappas, _noisy_power(0.5, kappas))
    square = loglog_slope(kappas, _noisy_power(2.0, kappas))
    assert slope_excludes_check("zeta", "x", half, 1.0).passed
    assert not slope_excludes_check(
        "zeta", "x", loglog_slope(kappas, _noisy_power(1, kappas)), 1
    ).passed
    assert slope_excludes_check("V", "x", loglog_slope(kappas, _noisy_power(1.3, kappas)), 2).passed
    assert not slope_excludes_check("V", "x", square, 2.0).passed


def test_ch5_bias_premise_fails_when_the_bias_is_taken_as_zero():
    steps = np.array([100.0, 300.0])
    ones = np.ones(2)
    verify = Probe(
        steps=steps,
        loss=ones,
        grad_norm2=4 * ones,
        lambda_min=ones,
        lambda_max=2 * ones,
        smoothness_needed=ones,
        bias_norm2=np.array([1e-3, 2e-3]),
        second_moment=9 * ones,
        second_moment_se=0.1 * ones,
        variance=ones,
    )
    loss = np.geomspace(1.0, 0.5, 11)
    right = Constants(beta=2.0, mu=1.0, zeta2=2e-3, M=2.0, sigma2=2.0)
    zero_bias = Constants(beta=2.0, mu=1.0, zeta2=0.0, M=2.0, sigma2=2.0)
    by_name = {c.name: c.passed for c in check_theorem(right, verify, 0.01, loss)}
    assert by_name["A3 bias"]
    by_name = {c.name: c.passed for c in check_theorem(zero_bias, verify, 0.01, loss)}
    assert not by_name["A3 bias"]


# chapter 6: local SGD (the loss after N steps, the plateau test, the drift bound, gloo)


def test_ch6_growth_checks_fail_when_the_paired_increase_is_not_resolved():
    before = np.array([[8.0, 8.1, 7.9], [9.0, 9.2, 8.8]])  # (cases, seeds)
    grows = before + np.array([[0.20, 0.22, 0.21], [0.30, 0.28, 0.31]])
    assert paired_increase_check("grows", "x", before, grows, margin=1e-6).passed
    one_seed_falls = grows.copy()
    one_seed_falls[1, 2] = before[1, 2] - 0.3  # the mean still rises; the t interval holds 0
    assert (one_seed_falls - before).mean(1).min() > 0
    assert not paired_increase_check("grows", "x", before, one_seed_falls, margin=1e-6).passed
    same = before[:1].repeat(3, 0)  # deterministic runs that do not differ: no increase
    assert not paired_increase_check("grows", "x", same, same + 1e-9, margin=1e-6).passed


def test_ch6_uplink_check_fails_when_uplink_moves_the_loss_more():
    clean = np.array([9.0, 9.0, 9.0])
    after_in = np.array([[9.4, 9.5, 9.3], [12.1, 12.4, 12.0]])  # (kappa > 0, seeds)
    after_up = np.array([[9.05, 8.97, 9.02], [8.9, 9.1, 9.0]])
    margin = 1e-6 * 9.0

    def check(inputs, uplinks):  # the chapter's: input fading's shift exceeds uplink's
        shift_in, shift_up = np.abs(inputs - clean), np.abs(uplinks - clean)
        return paired_increase_check("uplink", "x", shift_up, shift_in, margin)

    assert check(after_in, after_up).passed
    assert not check(after_up, after_in).passed  # the kinds of fading swapped


def test_ch6_communication_check_fails_when_local_steps_do_not_help():
    one = np.geomspace(100.0, 1.0, 201)  # Q = 1: the loss per round
    target = 25.0

    def saving(curve_many):  # the chapter's: rounds to the target at Q = 1 over those at Q
        return first_below(one, target) / first_below(curve_many, target)

    many = one[::20]  # Q = 20 local steps do the work of 20 rounds
    assert Check.at_least("comm", "x", saving(many), 2.0).passed
    assert not Check.at_least("comm", "x", saving(one), 2.0).passed  # a round is one step's work


def test_ch6_plateau_test_fails_for_a_curve_still_falling():
    k = np.arange(101.0)
    seeds = np.array([1.0, 1.02, 0.98])[:, None]
    still_falling = (5.0 + 20.0 * np.exp(-0.02 * k)) * seeds  # the horizon of chapter 6's runs
    at_floor = (5.0 + 20.0 * np.exp(-0.3 * k)) * seeds
    assert not plateau_test(still_falling).plateaued
    assert plateau_test(at_floor).plateaued


@pytest.fixture(scope="module")
def local_sgd_problem():
    X, y = sphere_teacher_data(24, 4, seed=2, dtype=DTYPE)
    W, a = init_network(6, 4, seed=3, dtype=DTYPE)
    return X, y, W, a


def test_ch6_prediction_check_fails_without_the_mask_bias(local_sgd_problem):
    X, y, W, a = local_sgd_problem
    kappa, lr, Q, K = 1.0, 0.05, 3, 3
    runs = train_local_sgd(X, y, W.expand(16, -1, -1), a, [kappa], lr, 10, Q, K, seed=4)
    mean = runs.clean_loss[0].double().mean(0).numpy()
    right, _ = expected_local_gd(X, y, W, a, kappa, lr, 10, Q, K)
    without_bias, _ = expected_local_gd(X, y, W, a, 0.0, lr, 10, Q, K)  # clean local GD
    assert Check.at_most("prediction", "x", relative_gap(right, mean), 0.02).passed
    assert not Check.at_most("prediction", "x", relative_gap(without_bias, mean), 0.02).passed


def test_ch6_drift_check_fails_for_a_bias_bound_without_its_drift_term(local_sgd_problem):
    X, y, W, a = local_sgd_problem
    kappa, lr, Q, K = 0.4, 0.05, 8, 3
    _, history = expected_local_gd(X, y, W, a, kappa, lr, 4, Q, K)
    probes = [probe_drift(X, y, history[t], a, kappa, lr, Q, K, 64, seed=t) for t in range(4)]
    constants = fit_drift_constants(probes[0::2], lr, Q)
    right = {c.name: c for c in check_drift(constants, probes[1::2])}
    assert all(c.passed for c in right.values())
    no_drift = {c.name: c for c in check_drift(replace(constants, drift=0.0), probes[1::2])}
    assert not no_drift["drift within D"].passed


def test_ch6_premises_fail_for_constants_taken_at_round_starts_only():
    """Planted paths where the gradient grows, the curvature rises and the noise piles up."""
    Q = 3
    steps = np.arange(Q)[:, None]
    fitted = DriftProbe(
        drift=0.05, drift_se=0.001, bias_norm=0.2, direction_variance=1.0,
        mean_step=np.full((Q, 2), 1.0), mean_step_se=np.full((Q, 2), 0.01),
        secant=np.array([[0.0, 0.0], [0.9, 0.9], [0.9, 0.9]]), secant_se=np.full((Q, 2), 0.01),
        step_variance=np.full((Q, 2), 0.5), path_variance=0.5 * steps * np.ones((1, 2)),
        path_variance_se=np.full((Q, 2), 0.01), curvature=np.array([1.0, 1.0]),
        lambda_min=0.1, lambda_max=3.0,
    )  # fmt: skip
    constants = fit_drift_constants([fitted], lr=0.1, local_steps=Q)
    assert all(c.passed for c in check_drift(constants, [fitted]))
    harder = replace(
        fitted,
        mean_step=np.array([[1.0, 1.0], [1.2, 1.0], [1.4, 1.0]]),  # grows along the round
        secant=np.array([[0.0, 0.0], [1.5, 0.9], [1.6, 0.9]]),  # the path bends more
        path_variance=np.array([[0.0, 0.0], [0.5, 0.5], [1.6, 1.0]]),  # positive covariance
    )
    names = {c.name: c.passed for c in check_drift(constants, [harder])}
    assert not names["P1 smoothness along the path"]
    assert not names["P2 gradient over the round"]
    assert not names["P3 variance over the round"]


def test_ch6_gloo_check_fails_one_bit_off(local_sgd_problem):
    X, y, W, a = local_sgd_problem
    run = train_local_sgd(X, y, W, a, [0.5], 0.05, 3, 2, 2, seed=1, device="cpu")
    again = train_local_sgd(X, y, W, a, [0.5], 0.05, 3, 2, 2, seed=1, device="cpu")
    assert bitwise_equal_check("gloo", "x", again.W[0], run.W[0]).passed
    off = run.W[0].clone()
    off[0, 0] = torch.nextafter(off[0, 0], torch.tensor(math.inf, dtype=DTYPE))
    check = bitwise_equal_check("gloo", "x", off, run.W[0])
    assert not check.passed and check.measured < 1e-12  # within the old tolerance, yet not equal


# chapter 7: accuracy against kappa on real images (the learning, layer and precision checks, and
# the plateau that every comparison across kappas waits for)


@pytest.fixture(scope="module")
def coloured_groups():
    """Train and test groups of coloured random images (:mod:`tests.cifar_folder`), standardised."""
    pixels, labels = coloured_images(600, seed=3)
    images = torch.from_numpy(pixels).float().reshape(-1, 3, 32, 32)[:, :, :8, :8]
    images = (images - images.mean((0, 2, 3), keepdim=True)) / images.std((0, 2, 3), keepdim=True)
    labels = torch.tensor(labels)
    return (
        SimpleNamespace(images=images[:400], labels=labels[:400]),
        SimpleNamespace(images=images[400:], labels=labels[400:]),
    )


def accuracies(train, test, epochs: int) -> list[float]:
    """Clean test accuracy of a small MLP per seed after ``epochs`` (0: the untrained model)."""
    out = []
    for seed in (0, 1):
        model = initialised(lambda: MLP((3, 8, 8), hidden=32), seed)
        if epochs:
            model = train_classifier(model, train, test, 0.0, epochs, seed=seed, device="cpu",
                                     show_progress=False).model  # fmt: skip
        out.append(evaluate(model, test.images, test.labels)[0])
    return out


def test_ch7_learning_and_precision_checks_fail_for_an_untrained_model(coloured_groups):
    train, test = coloured_groups
    trained, untrained = accuracies(train, test, 3), accuracies(train, test, 0)
    assert learns_check("learns", "MLP", trained).passed
    assert not learns_check("learns", "MLP", untrained).passed
    tolerance = 0.05  # the chapter's: |accuracy in one precision - in the other| <= tolerance

    def agrees(ours, theirs):
        return Check.at_most("precision", "x", abs(theirs - ours), tolerance)

    assert agrees(trained[0], accuracies(train, test, 3)[0]).passed  # the same run again
    assert not agrees(trained[0], untrained[0]).passed  # a path that did not learn


def test_ch7_layer_check_fails_without_the_smoothing():
    layer = initialised(lambda: MLP((1, 4, 4), hidden=64, activation="relu"), 0).hidden.double()
    x = torch.randn(6, 1, 4, 4, dtype=DTYPE, generator=torch.Generator().manual_seed(2))
    kappa = 1.8
    mean, se = masked_hidden_mean(layer, x, kappa, 2000, seed=0)
    active = se > 0
    with torch.no_grad():
        exact, clean = expected_hidden(layer, x, kappa), torch.relu(layer(x.flatten(1)))
    check = lambda ref: z_score_check("layer", "x", mean[active], se[active], ref[active], k=6.0)  # noqa: E731
    assert check(exact).passed
    assert not check(clean).passed  # the mask's mean is not the clean layer


def test_ch7_claim_is_not_tested_on_curves_still_rising():
    kappas, epochs, n_test = [0.0, 0.2, 0.5, 1.0], np.arange(1, 13), 1000
    final = np.array([0.90, 0.895, 0.85, 0.75])[:, None] + np.array([-0.004, 0.0, 0.004])
    rising = final[:, :, None] - 0.3 * np.exp(-0.15 * epochs)  # (kappa, seed, epoch), still rising
    settled = final[:, :, None] - 0.3 * np.exp(-1.5 * epochs)
    shape = decline(kappas, summarise_sweep(settled, settled), n_test)
    for curves, plateaued in ((rising, False), (settled, True)):
        test = plateau_test(1 - curves + 0.5 / n_test, 0.25, 0.05)  # the chapter's
        assert bool(test.plateaued.all()) == plateaued
    assert figure4_verdict(shape, plateaued=True, at_paper_scale=True) == "confirmed"
    assert figure4_verdict(shape, plateaued=False, at_paper_scale=True) == "not tested"
    assert figure4_verdict(shape, plateaued=True, at_paper_scale=False) == "refined"


# chapter 8: membership inference (the null across paths, ties, the leak, learning, power)


@pytest.fixture(scope="module")
def memorised_pairs():
    """Two seeds of a tiny MLP target and shadow that memorise random labels of 4x4 images."""
    generator = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (1200, 1, 4, 4), generator=generator, dtype=torch.uint8)
    labels = torch.randint(0, 4, (1200,), generator=generator)  # only memorisation fits them
    split = membership_split(images, labels, group_size=300)

    def make():
        return MLP((1, 4, 4), hidden=64, n_classes=4, dropout=0.0)

    options = dict(snapshots=(80,), lr=1e-2, batch_size=30, device="cpu")
    pairs = [train_target_shadow(make, split, 0.0, 80, seed=s, **options) for s in (0, 1)]
    return (
        split,
        pairs,
        [attack_snapshots(split, pair, [80], seed=s)[80] for s, pair in enumerate(pairs)],
    )


def test_ch8_null_check_fails_for_a_wrong_rescaling(memorised_pairs):
    split, pairs, records = memorised_pairs
    assert null_paths_check("null", [r[NULL] for r in records]).passed
    wrong = replace(split, shadow_std=2 * split.shadow_std)  # shadow-test rescaled with a wrong sd
    found = [attack_snapshots(wrong, pair, [80])[80][NULL] for pair in pairs]
    assert not null_paths_check("null", found).passed


def test_ch8_leak_check_fails_with_members_and_nonmembers_swapped(memorised_pairs):
    _, _, records = memorised_pairs
    aucs = {a: [r[a].auc for r in records] for a in ("loss threshold", "RMIA")}
    assert leak_check("leak", "MLP", aucs, 0.6).passed
    swapped = {a: [1 - auc for auc in values] for a, values in aucs.items()}
    assert not leak_check("leak", "MLP", swapped, 0.6).passed


def test_ch8_tie_check_fails_for_float32_losses():
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(200, 10, generator=generator)
    labels = torch.randint(0, 10, (200,), generator=generator)
    logits[:100][torch.arange(100), labels[:100]] += torch.linspace(
        20, 40, 100
    )  # confident members
    float64 = cross_entropy_from_logits(logits, labels)
    float32 = -logits.softmax(-1).gather(1, labels[:, None])[:, 0].log().numpy()
    right = loss_threshold(float64[:100], float64[100:], n_bootstrap=0)
    wrong = loss_threshold(float32[:100], float32[100:], n_bootstrap=0)
    assert tie_check("ties", [right]).passed
    assert not tie_check("ties", [wrong]).passed


def test_ch8_learning_check_fails_for_an_untrained_model(coloured_groups):
    train, test = coloured_groups
    trained, untrained = accuracies(train, test, 3), accuracies(train, test, 0)
    assert learns_under_mask_check("learns", "MLP", trained).passed
    assert not learns_under_mask_check("learns", "MLP", untrained).passed


def test_ch8_resolution_check_fails_for_seeds_too_noisy_to_resolve_the_change():
    reference = np.array([0.70, 0.72, 0.69, 0.71, 0.70])
    tight = paired_change(reference, reference - [0.10, 0.11, 0.10, 0.09, 0.10])
    noisy = paired_change(reference, reference - [0.00, 0.20, 0.05, 0.15, 0.10])
    assert resolution_check("power", {"CNN": tight}, 0.03).passed
    assert not resolution_check("power", {"CNN": tight, "MLP": noisy}, 0.03).passed

"""The regressions the mutation check plants (:mod:`mgn.book.mutations`), at least one per chapter.

Each patch sits on a line that every chapter it names executes; ``python -m mgn mutations`` runs
them, ``--only NAME`` a few.
"""

from __future__ import annotations

from mgn.book.mutations import Mutation

MUTATIONS = (
    Mutation(
        name="exact_relu_without_phi_term",
        chapters=("01_smoothed_relu",),
        path="smoothed.py",
        old="    upper = z * (1.0 - q) + s * p\n",
        new="    upper = z * (1.0 - q)\n",
        models="The exact smoothed ReLU loses its s phi(z/s) term for z >= 0 and falls back to the "
        "paper's proxy z Phi(z/s) there.",
    ),
    Mutation(
        name="expected_loss_without_variance",
        chapters=("02_expected_loss",),
        path="expected_loss.py",
        old="    return 0.5 * residual.square().sum() + 0.5 * variance.sum()\n",
        new="    return 0.5 * residual.square().sum()\n",
        models="The expected masked loss drops its variance term, the regularizer R(W), and keeps "
        "only the smoothed network's squared residual.",
    ),
    Mutation(
        name="ntk_gram_halved",
        chapters=("03_ntk", "04_convergence"),
        path="ntk.py",
        old="    return (X @ X.T) * ((pattern * weights.square()) @ pattern.T) / W.shape[0]\n",
        new="    return (X @ X.T) * ((pattern * weights.square()) @ pattern.T) / (2 * W.shape[0])\n",
        models="The finite-width Gram H(W) takes the 1/2 of the sum loss into its normalisation "
        "and comes out half its size.",
    ),
    Mutation(
        name="masked_gd_kappa_times_1.1",
        chapters=("04_convergence", "05_biased_sgd"),
        path="train.py",
        old="        self.kappa = kappa[self.order][Z:].to(device)\n",
        new="        self.kappa = 1.1 * kappa[self.order][Z:].to(device)\n",
        models="The batched masked-GD trainer draws its masks with 1.1 kappa in place of kappa "
        "(full batch and minibatch alike).",
    ),
    Mutation(
        name="masked_gd_first_step_unmasked",
        chapters=("04_convergence", "05_biased_sgd"),
        path="train.py",
        old="            torch.addcmul(X_batch_T, noise, kappa_X_T, out=self.masked_X_T)\n",
        new="            torch.addcmul(X_batch_T, noise, kappa_X_T * (k > 0), out=self.masked_X_T)\n",
        models="An off-by-one in the batched masked-GD trainer: the first step of every call "
        "differentiates the clean inputs (the noise is still drawn, so later masks are unchanged).",
    ),
    Mutation(
        name="local_sgd_worker_0_counted_twice",
        chapters=("06_distributed",),
        path="distributed/local_sgd.py",
        old="    return sent.sum(0) / sent.shape[0]\n",
        new="    return (sent.sum(0) + sent[0]) / (sent.shape[0] + 1)\n",
        models="Local SGD's server averages the workers' models with worker 0 weighted twice (in "
        "the simulation and the torch.distributed workers alike).",
    ),
    Mutation(
        name="image_trainer_without_mask",
        chapters=("07_accuracy", "08_privacy"),
        path="vision/trainer.py",
        old='                logits = model(mask_batch(x, o["kappa"], self.generator))\n',
        new="                logits = model(x)\n",
        models="The image classifier's trainer forgets to apply the mask: every kappa trains on "
        "clean images.",
    ),
    Mutation(
        name="loss_threshold_members_swapped",
        chapters=("08_privacy",),
        path="privacy/attacks.py",
        old="    return evaluate_attack(-members, -nonmembers, n_bootstrap=n_bootstrap, seed=seed)\n",
        new="    return evaluate_attack(-nonmembers, -members, n_bootstrap=n_bootstrap, seed=seed)\n",
        models="The loss-threshold attack swaps members and non-members (a label mix-up), "
        "reporting 1 - AUC.",
    ),
    Mutation(
        name="reference_standardised_with_other_pair",
        chapters=("08_privacy",),
        path="vision/split.py",
        old="    to_mean, to_std = _statistics(split, pair)\n",
        new="    to_mean, to_std = _statistics(split, source)\n",
        models="A model scores the other pair's images standardised with that other pair's "
        "statistics, not its own (RMIA's reference and population scores).",
    ),
)

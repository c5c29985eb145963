"""Three membership-inference attacks, each returning an :class:`~mgn.privacy.metrics.AttackResult`.

* :func:`ml_leaks`: ML-Leaks adversary 1 (Salem et al., 2019), the paper's attack (chapter 8).
  Assumes a shadow model of the target's architecture and training, on data from the same
  distribution; the attacker sees only the top-k sorted softmax probabilities.
* :func:`loss_threshold`: Yeom et al. (2018). No shadow model; assumes the attacker knows each
  example's label and the target's loss on it. Score = minus the cross-entropy loss.
* :func:`rmia`: the relative membership inference attack of Zarifzadeh, Liu and Shokri (2024) in
  its offline form: reference models trained without the examples attacked, and population
  samples known to be non-members of the target.
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import precision_score, recall_score

from mgn.privacy.metrics import AttackResult, evaluate_attack
from mgn.validation import as_scores

ROW_SUM_TOLERANCE = 1e-3
RMIA_SCORES = ("count", "ratio")


def _probabilities(name: str, values, n_classes: int | None = None) -> np.ndarray:
    """A (N, classes) array of softmax rows: non-negative, each summing to 1."""
    array = np.asarray(values.detach().cpu() if isinstance(values, torch.Tensor) else values, float)
    if array.ndim != 2:
        raise ValueError(f"{name} must be a (N, classes) array of probabilities, got {array.shape}")
    if array.shape[0] == 0:
        raise ValueError(f"{name} must not be empty: an attack needs members and non-members")
    if n_classes is not None and array.shape[1] != n_classes:
        raise ValueError(
            f"{name} has {array.shape[1]} classes, expected {n_classes} like the first argument"
        )
    if not np.isfinite(array).all() or (array < 0).any():
        raise ValueError(f"{name} must hold probabilities: finite and non-negative")
    worst = np.abs(array.sum(axis=1) - 1).max()
    if worst > ROW_SUM_TOLERANCE:
        raise ValueError(
            f"{name} must hold probabilities whose rows sum to 1 (softmax outputs), "
            f"a row is off by {worst:.3g}"
        )
    return array


def top_k_features(probabilities: np.ndarray, top_k: int) -> np.ndarray:
    """ML-Leaks' features: the ``top_k`` largest probabilities of each row, in decreasing order."""
    return -np.sort(-probabilities, axis=1)[:, :top_k]


def ml_leaks(
    shadow_in,
    shadow_out,
    target_in,
    target_out,
    top_k: int = 3,
    *,
    n_bootstrap: int = 200,
    seed: int = 0,
) -> AttackResult:
    """ML-Leaks adversary 1: logistic regression on the shadow model's top-k softmax outputs.

    Parameters
    ----------
    shadow_in, shadow_out
        (N, classes) softmax outputs of the shadow model on its training set (members, label 1) and
        on held-out data (non-members, label 0). The larger set is subsampled (seed ``seed``) to
        the size of the smaller one, so the attacker trains on a class-balanced set.
    target_in, target_out
        Softmax outputs of the target model on its members and non-members: the evaluation set.
    top_k
        Number of sorted probabilities used as features (3 in the paper).

    Returns
    -------
    AttackResult
        Scores are the attacker's predicted member probabilities on the target set; ``precision``
        and ``recall`` are those of its 0.5-threshold decision; all metrics from scikit-learn.
    """
    shadow_in = _probabilities("shadow_in", shadow_in)
    n_classes = shadow_in.shape[1]
    shadow_out = _probabilities("shadow_out", shadow_out, n_classes)
    target_in = _probabilities("target_in", target_in, n_classes)
    target_out = _probabilities("target_out", target_out, n_classes)
    if isinstance(top_k, bool) or not isinstance(top_k, int) or not 1 <= top_k <= n_classes:
        raise ValueError(f"top_k must be an int in 1..{n_classes} (the classes), got {top_k!r}")
    rng = np.random.default_rng(seed)
    size = min(len(shadow_in), len(shadow_out))
    shadow_in = shadow_in[rng.permutation(len(shadow_in))[:size]]
    shadow_out = shadow_out[rng.permutation(len(shadow_out))[:size]]
    attacker = LogisticRegression()
    attacker.fit(
        top_k_features(np.concatenate([shadow_in, shadow_out]), top_k),
        np.concatenate([np.ones(size, int), np.zeros(size, int)]),
    )
    member_scores = attacker.predict_proba(top_k_features(target_in, top_k))[:, 1]
    nonmember_scores = attacker.predict_proba(top_k_features(target_out, top_k))[:, 1]
    labels = np.concatenate([np.ones(len(target_in), int), np.zeros(len(target_out), int)])
    decisions = (np.concatenate([member_scores, nonmember_scores]) > 0.5).astype(int)
    return evaluate_attack(
        member_scores,
        nonmember_scores,
        n_bootstrap=n_bootstrap,
        seed=seed,
        precision=float(precision_score(labels, decisions, zero_division=0)),
        recall=float(recall_score(labels, decisions, zero_division=0)),
    )


def loss_threshold(
    member_loss, nonmember_loss, *, n_bootstrap: int = 200, seed: int = 0
) -> AttackResult:
    """Yeom et al. (2018): an example is a member when its loss is below a threshold.

    ``member_loss`` and ``nonmember_loss`` are 1-D per-example losses of the target model (the
    cross-entropy in float64, :func:`mgn.privacy.cross_entropy_from_logits`). Sweeping the threshold gives the ROC
    curve of the score ``-loss``; Yeom et al.'s threshold (the mean training loss) is one point on
    it.
    """
    members = as_scores("member_loss", member_loss)
    nonmembers = as_scores("nonmember_loss", nonmember_loss)
    return evaluate_attack(-members, -nonmembers, n_bootstrap=n_bootstrap, seed=seed)


def _label_probability(name: str, values, rows: int | None = None) -> np.ndarray:
    """A (R, N) array (a 1-D input is one row) of true-label probabilities in (0, 1]."""
    array = np.asarray(values.detach().cpu() if isinstance(values, torch.Tensor) else values, float)
    array = np.atleast_2d(array)
    if array.ndim != 2 or array.shape[1] == 0:
        raise ValueError(f"{name} must be a non-empty (N,) or (models, N) array, got {array.shape}")
    if not np.isfinite(array).all() or (array <= 0).any() or (array > 1 + 1e-6).any():
        raise ValueError(f"{name} must hold probabilities of the true label, in (0, 1]")
    if rows is not None and array.shape[0] != rows:
        raise ValueError(f"{name} must have {rows} rows (one per model), got {array.shape[0]}")
    return array


def rmia(
    target_in,
    target_out,
    reference_in,
    reference_out,
    population_target,
    population_reference,
    *,
    offline_a: float = 0.3,
    gamma: float = 1.0,
    score: str = "ratio",
    n_bootstrap: int = 200,
    seed: int = 0,
) -> AttackResult:
    """RMIA (Zarifzadeh et al., 2024), offline: likelihood ratios against population samples.

    For an example x with true-label probability ``Pr(x|theta)`` under the target and ``Pr(x)``
    its marginal over models, the ratio ``LR(x, z) = (Pr(x|theta)/Pr(x)) / (Pr(z|theta)/Pr(z))``
    compares x with a population sample z; the score of x is the fraction of population samples
    with ``LR(x, z) > gamma``. Offline (reference models trained without x), the paper estimates
    ``Pr(x) = ((1 + a) Pr_out(x) + (1 - a)) / 2`` with ``Pr_out`` the mean over reference models,
    ``a`` correcting for the missing IN models.

    For a fixed population the count is a step function of ``Pr(x|theta)/Pr(x)`` with ``Z + 1``
    levels, so examples whose ratios beat every population sample (the tail a low-FPR reading
    looks at) tie at 1. ``score="ratio"`` scores x by the ratio itself instead, as the mean over
    the population of ``log(LR(x, z) / gamma)`` (the log of the geometric-mean ratio, 0 when x is
    as likely a member as a typical population sample by a factor gamma): it orders examples as
    the count does wherever the counts differ and breaks the count's ties by the ratio.

    Parameters
    ----------
    target_in, target_out
        (N,) true-label probabilities of the target model on its members and non-members.
    reference_in, reference_out
        (R, N) (or (N,) for one model) probabilities of the same examples under R reference models.
    population_target, population_reference
        (Z,) and (R, Z): the same for population samples, non-members of the target and of the
        reference models.
    offline_a
        The offline correction a in [0, 1] (a = 1: ``Pr(x) = Pr_out(x)``).
    gamma
        Threshold on the pairwise likelihood ratio (1 in the paper's default).
    score
        ``"count"``: the paper's fraction of population samples with ``LR(x, z) > gamma`` (Z + 1
        levels); ``"ratio"``: the mean over z of ``log(LR(x, z) / gamma)`` (no ties from counting).
    """
    if not 0 <= offline_a <= 1:
        raise ValueError(f"offline_a must be in [0, 1], got {offline_a!r}")
    if not gamma > 0:
        raise ValueError(f"gamma must be positive, got {gamma!r}")
    if score not in RMIA_SCORES:
        raise ValueError(f"score must be one of {RMIA_SCORES}, got {score!r}")
    n_models = _label_probability("reference_in", reference_in).shape[0]
    arrays = {}
    for t_name, target, r_name, reference in (
        ("target_in", target_in, "reference_in", reference_in),
        ("target_out", target_out, "reference_out", reference_out),
        ("population_target", population_target, "population_reference", population_reference),
    ):
        t = _label_probability(t_name, target, rows=1)[0]
        r = _label_probability(r_name, reference, rows=n_models)
        if r.shape[1] != t.shape[0]:
            raise ValueError(f"{r_name} must have {t.shape[0]} columns to match {t_name}")
        arrays[t_name] = t / (0.5 * ((1 + offline_a) * r.mean(axis=0) + (1 - offline_a)))
    population = np.sort(arrays["population_target"])

    def count(ratio: np.ndarray) -> np.ndarray:
        return np.searchsorted(population, ratio / gamma, side="left") / len(population)

    def mean_log_ratio(ratio: np.ndarray) -> np.ndarray:
        return np.log(ratio) - np.log(population).mean() - np.log(gamma)

    scored = count if score == "count" else mean_log_ratio
    return evaluate_attack(
        scored(arrays["target_in"]),
        scored(arrays["target_out"]),
        n_bootstrap=n_bootstrap,
        seed=seed,
    )

"""How strong a membership attack is: AUC and TPR at a low FPR, each with a bootstrap interval.

Average-case AUC hides the few examples that leak badly, so an attack is also reported as its true
positive rate at a fixed low false positive rate (Carlini et al., 2022, "Membership inference
attacks from first principles"): here 1% and 0.1%. ROC curves and AUC come from scikit-learn.
With ``n`` non-members the smallest non-zero FPR is ``1/n``: below that, TPR at a given FPR is the
TPR at zero false positives. :meth:`AttackResult.at_fpr` reads a level exactly instead, at
``k/n``, with a Clopper-Pearson interval (:mod:`mgn.privacy.low_fpr`).

Intervals are percentile intervals of a stratified bootstrap: members and non-members are resampled
separately (with replacement, their sizes kept), ``n_bootstrap`` times, with a fixed seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.metrics import roc_auc_score, roc_curve

from mgn.privacy.low_fpr import LowFprEstimate, tpr_at_level
from mgn.validation import as_scores

FPR_LEVELS = (0.01, 0.001)


def tpr_at_fpr(fpr: np.ndarray, tpr: np.ndarray, level: float) -> float:
    """The largest TPR of a ROC curve (scikit-learn's ``roc_curve``) whose FPR is at most ``level``.

    The curve must keep every threshold (``roc_curve(..., drop_intermediate=False)``): the default
    drops points collinear with their neighbours, such as a run of member/non-member ties, and
    the TPR at a level that falls on one of them would be read too low.
    """
    return float(tpr[np.searchsorted(fpr, level, side="right") - 1])


@dataclass(frozen=True)
class AttackResult:
    """One attack on one model.

    ``scores`` (higher means "member") and ``labels`` (1 member, 0 non-member) of every example
    attacked; ``fpr``/``tpr`` the ROC curve, one point per distinct score; ``auc`` and ``tpr_at[level]`` for ``level`` in
    ``FPR_LEVELS``, each with a 95% bootstrap interval (``auc_interval``, ``tpr_interval[level]``).
    ``precision`` and ``recall`` are those of a thresholded decision when the attack makes one
    (ML-Leaks' classifier), ``None`` otherwise.
    """

    scores: np.ndarray
    labels: np.ndarray
    fpr: np.ndarray
    tpr: np.ndarray
    auc: float
    auc_interval: tuple[float, float]
    tpr_at: dict[float, float]
    tpr_interval: dict[float, tuple[float, float]]
    precision: float | None = None
    recall: float | None = None

    def at_fpr(self, level: float, *, confidence: float = 0.95) -> LowFprEstimate:
        """The exact TPR at the most false positives ``level`` allows among the non-members.

        :func:`mgn.privacy.low_fpr.tpr_at_level` on this attack's scores: the achieved FPR is at
        most ``level`` and the TPR has a Clopper-Pearson interval (not the bootstrap one).
        """
        members = self.scores[self.labels == 1]
        nonmembers = self.scores[self.labels == 0]
        return tpr_at_level(members, nonmembers, level, confidence=confidence)

    def summary(self) -> str:
        """One line: AUC and TPR at each FPR level, with intervals."""
        lo, hi = self.auc_interval
        parts = [f"AUC {self.auc:.3f} [{lo:.3f}, {hi:.3f}]"]
        for level in FPR_LEVELS:
            lo, hi = self.tpr_interval[level]
            parts.append(f"TPR@{100 * level:g}%FPR {self.tpr_at[level]:.3f} [{lo:.3f}, {hi:.3f}]")
        return ", ".join(parts)


def _point(scores: np.ndarray, labels: np.ndarray) -> tuple[float, list[float]]:
    fpr, tpr, _ = roc_curve(labels, scores, drop_intermediate=False)
    return roc_auc_score(labels, scores), [tpr_at_fpr(fpr, tpr, level) for level in FPR_LEVELS]


def evaluate_attack(
    member_scores,
    nonmember_scores,
    *,
    n_bootstrap: int = 200,
    seed: int = 0,
    precision: float | None = None,
    recall: float | None = None,
) -> AttackResult:
    """AUC and TPR at 1% and 0.1% FPR of membership scores, with stratified bootstrap intervals.

    Parameters
    ----------
    member_scores, nonmember_scores
        1-D arrays of attack scores, higher meaning "member"; neither may be empty.
    n_bootstrap
        Bootstrap resamples for the 95% intervals (0 gives the point estimate as the interval).
    seed
        Seed of the bootstrap.
    precision, recall
        Stored as they are (for attacks that make a thresholded decision).
    """
    members = as_scores("member_scores", member_scores)
    nonmembers = as_scores("nonmember_scores", nonmember_scores)
    if not isinstance(n_bootstrap, int) or n_bootstrap < 0:
        raise ValueError(f"n_bootstrap must be a non-negative int, got {n_bootstrap!r}")
    scores = np.concatenate([members, nonmembers])
    labels = np.concatenate([np.ones(len(members), int), np.zeros(len(nonmembers), int)])
    fpr, tpr, _ = roc_curve(labels, scores, drop_intermediate=False)
    auc, tprs = _point(scores, labels)
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(n_bootstrap):
        resampled = np.concatenate(
            [rng.choice(members, len(members)), rng.choice(nonmembers, len(nonmembers))]
        )
        b_auc, b_tprs = _point(resampled, labels)
        draws.append([b_auc, *b_tprs])
    point = np.array([auc, *tprs])
    low, high = np.percentile(draws, [2.5, 97.5], axis=0) if draws else (point, point)
    return AttackResult(
        scores=scores,
        labels=labels,
        fpr=fpr,
        tpr=tpr,
        auc=float(auc),
        auc_interval=(float(low[0]), float(high[0])),
        tpr_at=dict(zip(FPR_LEVELS, tprs, strict=True)),
        tpr_interval={
            level: (float(low[i + 1]), float(high[i + 1])) for i, level in enumerate(FPR_LEVELS)
        },
        precision=precision,
        recall=recall,
    )

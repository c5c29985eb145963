"""An attack's TPR at FPR = k/n, read off exactly, with the Clopper-Pearson interval of the TPR.

With ``n`` non-members an attack can only be read at the FPRs ``k/n``: allowing ``k`` false
positives puts the threshold at the ``(k + 1)``-th largest non-member score, and an example is
called a member when its score is strictly above it (chapter 8, the tail of the attacks). An
example tied with the threshold is called a non-member, so ties never make the FPR look lower
than it is: the FPR returned is the fraction of non-members actually above the threshold, at most
``k/n`` (below it when non-member scores tie across the ``k``-th place). The TPR is a proportion
of members, and its interval is :func:`mgn.privacy.binomial.clopper_pearson` of the true
positives among them (the threshold taken as fixed).

A level is worth reporting only when it allows :data:`MIN_FALSE_POSITIVES` false positives or
more: with fewer, the threshold is set by the few most extreme non-members and moves with every
draw of them. At 10 false positives a 1% column needs 1,000 non-members and a 0.1% column 10,000.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from mgn.privacy.binomial import clopper_pearson
from mgn.validation import as_scores

MIN_FALSE_POSITIVES = 10


@dataclass(frozen=True)
class LowFprEstimate:
    """An attack at ``false_positives`` allowed false positives among ``nonmembers`` (k and n).

    ``threshold`` is the ``(k + 1)``-th largest non-member score (members are scores strictly
    above it); ``fpr`` the achieved false positive rate, at most ``k / n``; ``true_positives`` of
    ``members`` above it give ``tpr``, with its ``confidence`` Clopper-Pearson ``tpr_interval``.
    """

    false_positives: int
    nonmembers: int
    threshold: float
    fpr: float
    true_positives: int
    members: int
    tpr: float
    tpr_interval: tuple[float, float]


def tpr_at_false_positives(
    member_scores, nonmember_scores, false_positives: int, *, confidence: float = 0.95
) -> LowFprEstimate:
    """The TPR of an attack when at most ``false_positives`` non-members are called members.

    Parameters
    ----------
    member_scores, nonmember_scores
        (M,) and (n,) attack scores, higher meaning "member"; neither may be empty.
    false_positives
        k, an int in ``0..n - 1``: the threshold is the ``(k + 1)``-th largest non-member score.
    confidence
        Coverage of the Clopper-Pearson interval of the TPR.

    Returns
    -------
    :class:`LowFprEstimate`: the achieved FPR (``<= k/n``; ties at the threshold count as
    non-members) and the TPR with its interval.
    """
    members = as_scores("member_scores", member_scores)
    nonmembers = as_scores("nonmember_scores", nonmember_scores)
    n = len(nonmembers)
    if (
        isinstance(false_positives, bool)
        or not isinstance(false_positives, int)
        or not 0 <= false_positives < n
    ):
        raise ValueError(
            f"false_positives must be an int in 0..{n - 1} (below the {n} non-members), "
            f"got {false_positives!r}"
        )
    threshold = float(np.sort(nonmembers)[n - 1 - false_positives])
    true_positives = int((members > threshold).sum())
    return LowFprEstimate(
        false_positives=false_positives,
        nonmembers=n,
        threshold=threshold,
        fpr=int((nonmembers > threshold).sum()) / n,
        true_positives=true_positives,
        members=len(members),
        tpr=true_positives / len(members),
        tpr_interval=clopper_pearson(true_positives, len(members), confidence),
    )


def _allowed(level: float, nonmembers: int) -> int:
    """The most false positives k with ``k / nonmembers <= level`` (0 when level < 1/n)."""
    if isinstance(nonmembers, bool) or not isinstance(nonmembers, int) or nonmembers < 1:
        raise ValueError(f"nonmembers must be a positive int, got {nonmembers!r}")
    if not 0 < level < 1:
        raise ValueError(f"level must be an FPR in (0, 1), got {level!r}")
    return math.floor(level * nonmembers * (1 + 1e-12))  # 0.001 * 10_000 is 10, not 9.99...


def false_positives_at(level: float, nonmembers: int) -> int:
    """The most false positives k with ``k / nonmembers <= level``: where to read an FPR level.

    Raises ``ValueError`` naming the level when it is below ``1 / nonmembers`` (k would be 0: the
    attack could only be read at zero false positives, not at that level).
    """
    allowed = _allowed(level, nonmembers)
    if allowed == 0:
        raise ValueError(
            f"level {level:g} is below 1/n = {1 / nonmembers:.3g} with n = {nonmembers} "
            "non-members: no false positive is allowed there"
        )
    return allowed


def tpr_at_level(
    member_scores, nonmember_scores, level: float, *, confidence: float = 0.95
) -> LowFprEstimate:
    """:func:`tpr_at_false_positives` at the most false positives an FPR ``level`` allows.

    ``member_scores`` (M,) and ``nonmember_scores`` (n,) as there; the achieved FPR is at most
    ``level``, and a ``level`` below ``1/n`` raises ``ValueError`` (:func:`false_positives_at`).
    """
    nonmembers = as_scores("nonmember_scores", nonmember_scores)
    return tpr_at_false_positives(
        member_scores,
        nonmembers,
        false_positives_at(level, len(nonmembers)),
        confidence=confidence,
    )


def reportable(
    level: float, nonmembers: int, *, min_false_positives: int = MIN_FALSE_POSITIVES
) -> bool:
    """Whether an FPR ``level`` allows ``min_false_positives`` or more among ``nonmembers``.

    With the default of 10, a 0.1% column needs at least 10,000 non-members and a 1% column 1,000.
    """
    if (
        isinstance(min_false_positives, bool)
        or not isinstance(min_false_positives, int)
        or min_false_positives < 1
    ):
        raise ValueError(f"min_false_positives must be a positive int, got {min_false_positives!r}")
    return _allowed(level, nonmembers) >= min_false_positives

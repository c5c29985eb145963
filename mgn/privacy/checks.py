"""The recorded checks of chapter 8, each a :class:`~mgn.records.Check` that a wrong input fails.

* :func:`null_paths_check`: two non-member groups reaching the target through different paths
  (target-test, and shadow-test rescaled to the target's statistics) are told apart no better
  than chance; a wrong rescaling moves the AUC.
* :func:`leak_check`: the unmasked model leaks (an attack's seed interval above a floor), without
  which the experiment measures nothing; members and non-members swapped fail it.
* :func:`learns_under_mask_check`: a masked model still learns (its accuracy's seed interval well above
  chance); an untrained model fails it.
* :func:`resolution_check`: the run resolves the AUC change it is asked to (the power stated).
* :func:`tie_check`: the strongest loss-threshold scores are not tied; losses from a float32
  softmax, which round a confident example's loss to 0, fail it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from mgn.privacy.metrics import AttackResult
from mgn.privacy.summary import Change, chance_band, over_seeds
from mgn.records import Check


def null_paths_check(name: str, nulls: Sequence[AttackResult]) -> Check:
    """The mean null AUC over models lies within the 99% chance band of one model's AUC.

    The groups are the same for every model, so their sampling deviation does not average out
    over models; the band of one model's AUC (:func:`chance_band`) bounds that of the mean.
    """
    if len(nulls) == 0:
        raise ValueError("nulls must hold at least one model's null attack")
    members = int((nulls[0].labels == 1).sum())
    nonmembers = int((nulls[0].labels == 0).sum())
    band = chance_band(members, nonmembers)
    mean = float(np.mean([r.auc for r in nulls]))
    return Check.at_most(
        name,
        f"target-test against shadow-test rescaled, loss threshold: |mean AUC over "
        f"{len(nulls)} models - 0.5| within the 99% chance band of {members} + {nonmembers} examples",
        abs(mean - 0.5),
        band,
    )


def leak_check(name: str, model: str, aucs: Mapping[str, Sequence[float]], floor: float) -> Check:
    """Some attack's AUC on the unmasked ``model`` has its seed interval's lower end above ``floor``.

    ``aucs`` maps each attack to its AUCs, one per seed; measured: the largest lower end.
    """
    lows = {attack: over_seeds(values).low for attack, values in aucs.items()}
    best = max(lows, key=lows.get)
    return Check.at_least(
        name,
        f"the unmasked {model} leaks: lower end of the seed interval of the AUC above {floor:g} "
        f"for at least one attack (measured: the largest, {best})",
        lows[best],
        floor,
    )


def learns_under_mask_check(
    name: str, model: str, accuracies: Sequence[float], chance: float = 0.1, margin: float = 0.2
) -> Check:
    """The lower end of the seed interval of ``model``'s test accuracy is ``margin`` above chance."""
    return Check.at_least(
        name,
        f"the {model} at the largest kappa learns: lower end of the seed interval of its test "
        f"accuracy at least {100 * margin:g} points above chance ({100 * chance:g}%)",
        over_seeds(accuracies).low,
        chance + margin,
    )


def resolution_check(name: str, changes: Mapping[str, Change], smallest: float) -> Check:
    """Every change in ``changes`` (one per model) resolves ``smallest`` at its stated power."""
    if not changes:
        raise ValueError("changes must name at least one model")
    return Check.at_most(
        name,
        f"the smallest AUC change from kappa 0 to the largest that the seeds resolve (80% power), "
        f"worst of {', '.join(changes)}, at most {smallest:g}",
        max(change.resolvable for change in changes.values()),
        smallest,
    )


def top_ties(result: AttackResult) -> int:
    """How many examples share the strongest score of ``result`` (1 when it is unique)."""
    return int((result.scores == result.scores.max()).sum())


def tie_check(name: str, results: Sequence[AttackResult], largest: int = 2) -> Check:
    """At most ``largest`` examples tie at the strongest loss-threshold score, in every model."""
    if len(results) == 0:
        raise ValueError("results must hold at least one attack")
    return Check.at_most(
        name,
        f"examples tied at the strongest loss-threshold score, worst of {len(results)} models "
        f"(float64 losses from logits keep confident examples apart)",
        max(top_ties(r) for r in results),
        largest,
    )

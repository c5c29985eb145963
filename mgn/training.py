"""What every trainer returns: a frozen record of the settings that produced it."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "TrainingResult",
]


@dataclass(frozen=True, kw_only=True)
class TrainingResult:
    """The settings every trainer records; each trainer's result adds its own fields.

    Attributes
    ----------
    seed : the caller's seed, from which every random stream was derived (:mod:`mgn.seeds`).
    device : where it ran (``"cpu"``, ``"cuda"``).
    precision : the arithmetic of the run: ``"float64"`` or ``"float32"`` for the theory
        trainers (the dtype of the inputs), ``"float32"`` or ``"bfloat16"`` (mixed) for the image
        trainers.
    seconds : wall time of the call (of this call only, when it resumed from a checkpoint).
    """

    seed: int
    device: str
    precision: str
    seconds: float

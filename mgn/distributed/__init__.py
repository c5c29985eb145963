"""Local SGD (FedAvg) under Gaussian input masking, chapter 6.

:func:`train_local_sgd` simulates K workers in one process, batched; ``python -m mgn.distributed``
(launched by ``torchrun``) runs one worker per process on ``torch.distributed`` and gives the same
weights bit for bit on the CPU. ``SPLITS`` names the ways the samples are shared out (i.i.d.
blocks, or bands of the teacher's outputs) and :func:`shard_indices` gives the shards.
:mod:`mgn.distributed.theory` predicts the runs without sampling; :mod:`mgn.distributed.drift`
measures and checks the client-drift bound.
"""

from mgn.distributed.local_sgd import SPLITS, shard_indices
from mgn.distributed.simulation import LocalSGDResult, train_local_sgd

__all__ = ["SPLITS", "LocalSGDResult", "shard_indices", "train_local_sgd"]

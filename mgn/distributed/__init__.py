"""Local SGD (FedAvg) under Gaussian input masking, chapter 6.

:func:`train_local_sgd` simulates K workers in one process, batched; ``python -m mgn.distributed``
(launched by ``torchrun``) runs one worker per process on ``torch.distributed`` and gives the same
weights bit for bit on the CPU.
"""

from mgn.distributed.simulation import LocalSGDResult, train_local_sgd

__all__ = ["LocalSGDResult", "train_local_sgd"]

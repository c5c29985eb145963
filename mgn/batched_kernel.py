"""The arithmetic shared by the batched trainers: loss and gradient of many runs in one program.

Masked GD (:mod:`mgn.train`) and local SGD (:mod:`mgn.distributed`) advance a batch of runs of
the two-layer network ``f(W; x) = m^{-1/2} a^T relu(W x)`` together; this is their one kernel.
"""

from __future__ import annotations

import torch


def sum_squares_and_grad(
    W, a_scaled, inputs_T, targets, hidden, weighted, grad_T=None, batch_invariant=False
) -> torch.Tensor:
    """Sum of squared residuals ``(b,)`` of ``b`` runs on inputs ``(b, d, N)`` against ``(b, N)``.

    ``W (b, m, d)``, ``a_scaled = a / sqrt(m)`` as ``(b, 1, m)``; ``hidden`` and ``weighted`` are
    flat scratch buffers of at least ``b m N`` and ``g d N`` entries. When ``grad_T (g, d, m)`` is
    given, the first ``g`` runs write their gradient ``(r ⊙ x)^T 1{W x > 0}^T`` into it.
    ``batch_invariant`` forms the outputs as an elementwise product and a sum over neurons instead
    of a row-vector ``bmm``, whose rounding on the CPU depends on the batch size: then a run's
    numbers do not depend on which other runs share its batch.
    """
    (b, m, d), N = W.shape, inputs_T.shape[2]
    hidden = hidden[: b * m * N].view(b, m, N)
    torch.bmm(W, inputs_T, out=hidden).relu_()
    if batch_invariant:
        outputs = (hidden * a_scaled.transpose(1, 2)).sum(1)
    else:
        outputs = torch.bmm(a_scaled, hidden).squeeze(1)
    residual = outputs - targets
    if grad_T is not None:
        g = grad_T.shape[0]
        weighted = weighted[: g * d * N].view(g, d, N)
        torch.mul(inputs_T[:g], residual[:g, None, :], out=weighted)
        active = hidden[:g].sign_().transpose(1, 2)
        torch.bmm(weighted, active, out=grad_T)
    return residual.square().sum(1)

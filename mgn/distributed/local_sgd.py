"""Local SGD (FedAvg) with masked local steps, chapter 6: the engine both runners share.

K workers; worker k holds shard k of :func:`shard_indices` (``split="iid"``: block k of
``torch.tensor_split(arange(n), K)``; ``"by_output"``: the k-th band of targets). A round: every worker
starts from the global ``W``, takes ``Q`` masked GD steps on its shard's sum loss

    L_k(W) = 1/2 sum_{i in shard k} (f(W; x_i ⊙ c) - y_i)^2,   c ~ N(1, kappa^2 I) fresh per
    sample, coordinate and step,

then the global ``W`` becomes the mean of the K local models. Uplink fading (``kappa_up > 0``):
worker k's update ``Delta_k = W_k - W`` arrives as ``Delta_k ⊙ h_k``, ``h_k ~ N(1, kappa_up^2)``
per entry, fresh per round, so the server averages ``W + Delta_k ⊙ h_k``.

:class:`LocalSGDEngine` advances any subset of the workers, each for a batch of (kappa, replicate)
runs, with the batched trainers' kernel (:func:`mgn.batched_kernel.sum_squares_and_grad`). The in-process
simulation holds all K workers and averages with ``stack.sum(0) / K``; a ``torch.distributed``
worker (:mod:`mgn.distributed.worker`) holds its own rank and averages the same expression over an
``all_gather``. Both draw worker k's masks from one generator seeded from ``(seed, k)`` in the same
order, and every kernel is batch-invariant, so the two give bit-identical weights on the CPU.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch

from mgn.batched_kernel import sum_squares_and_grad
from mgn.seeds import stream


def worker_generator(seed: int, rank: int) -> torch.Generator:
    """The CPU generator of worker ``rank``: the stream ``(seed, rank)`` of :mod:`mgn.seeds`."""
    return stream(seed, rank)


SPLITS = ("iid", "by_output")


def shard_indices(n: int, workers: int, split: str = "iid", y=None) -> list[torch.Tensor]:
    """Sample indices of each worker, ascending within a shard.

    Parameters
    ----------
    n : the number of samples; workers : K, the number of shards (sizes differ by at most one).
    split : ``"iid"``: the blocks of ``torch.tensor_split(arange(n), K)``; the samples are i.i.d.,
        so every shard is a sample of one distribution and the shards differ only by chance.
        ``"by_output"``: the samples ordered by their target ``y`` (a stable sort), cut into the
        same blocks: shard k holds the k-th band of teacher outputs, so the shards' losses pull
        towards different models (heterogeneous clients).
    y : (n,) targets, needed by ``"by_output"``.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    if split == "iid":
        return list(torch.tensor_split(torch.arange(n), workers))
    if y is None:
        raise ValueError("split='by_output' needs the targets y")
    y = torch.as_tensor(y)
    if tuple(y.shape) != (n,):
        raise ValueError(f"y must have shape ({n},) for split='by_output', got {tuple(y.shape)}")
    order = torch.sort(y, stable=True).indices
    return [torch.sort(block).values for block in torch.tensor_split(order, workers)]


def average_stacked(sent: torch.Tensor) -> torch.Tensor:
    """Mean over the leading (worker) axis, summed in rank order: ``sent.sum(0) / K``."""
    return sent.sum(0) / sent.shape[0]


class LocalSGDEngine:
    """Local masked GD of the workers ``ranks``, each for ``B = len(kappas) * R`` runs.

    Runs are ordered worker-major, then kappa, then replicate (run ``(w, i, r)`` is worker
    ``ranks[w]`` with ``kappas[i]`` and replicate ``r``). Shards are zero-padded to
    ``ceil(n / K)`` rows: a zero input contributes exactly nothing to outputs or gradients, and
    every worker then has the same shapes whichever process it runs in. Per local step, worker
    k's generator for replicate r draws, in this order: ``torch.rand(n_k)`` batch keys (minibatch
    only; the batch is their ``argsort``'s first ``batch_size``), then the mask noise
    ``torch.randn(d, N_k)`` (``N_k`` the batch or shard size), shared by all kappas (common random
    numbers); after the ``Q`` steps, ``torch.randn(m, d)`` uplink noise when ``kappa_up > 0``.
    ``split`` chooses the shards (:func:`shard_indices`).
    """

    def __init__(
        self, X, y, a, kappas, seeds, ranks, workers, lr, batch_size, kappa_up, device, split="iid"
    ):
        n, d = X.shape
        R, m = a.shape
        self.ranks, self.workers, self.R, self.m = list(ranks), workers, R, m
        self.lr, self.batch_size, self.kappa_up, self.device = lr, batch_size, kappa_up, device
        dtype = X.dtype
        shards = shard_indices(n, workers, split, y)
        self.sizes = [len(shards[k]) for k in self.ranks]
        N = batch_size if batch_size is not None else math.ceil(n / workers)
        Wn, Kk = len(self.ranks), len(kappas)
        self.B = Kk * R
        self.shape = (Wn, Kk, R)
        self.shard_X = [X[shards[k]] for k in self.ranks]
        self.shard_y = [y[shards[k]] for k in self.ranks]
        self.inputs_T = torch.zeros(Wn, 1, R, d, N, dtype=dtype)
        self.targets = torch.zeros(Wn, 1, R, N, dtype=dtype)
        if batch_size is None:
            for w in range(Wn):
                self.inputs_T[w, 0, :, :, : self.sizes[w]] = self.shard_X[w].T
                self.targets[w, 0, :, : self.sizes[w]] = self.shard_y[w]
        self.inputs_T, self.targets = self.inputs_T.to(device), self.targets.to(device)
        self.kappa = torch.tensor(kappas, dtype=dtype, device=device)[None, :, None, None, None]
        self.generators = [worker_generator(s, k) for k in self.ranks for s in seeds]
        self.noise = torch.zeros(Wn, 1, R, d, N, dtype=dtype)
        self.masked_T = torch.empty(Wn, Kk, R, d, N, dtype=dtype, device=device)
        self.a_scaled = (a / math.sqrt(m)).to(device)[None, None].expand(Wn, Kk, R, m)
        self.a_scaled = self.a_scaled.reshape(Wn * self.B, 1, m)
        # -lr * n_k / batch_size * a / sqrt(m): the minibatch gradient is scaled to the shard's.
        scale = [1.0 if batch_size is None else size / batch_size for size in self.sizes]
        scale = torch.tensor(scale, dtype=dtype, device=device).repeat_interleave(self.B)
        self.step_weight = -lr * scale[:, None, None] * self.a_scaled.transpose(1, 2)
        self.hidden = torch.empty(Wn * self.B * m * max(N, n), dtype=dtype, device=device)
        self.weighted = torch.empty(Wn * self.B * d * N, dtype=dtype, device=device)
        self.grad_T = torch.empty(Wn * self.B, d, m, dtype=dtype, device=device)
        self.X_T = X.T.contiguous().to(device).expand(self.B, d, n)
        self.y = y.to(device)

    def _draw(self) -> None:
        """Draw this step's batches (minibatch only) and noise, worker by worker (class docstring)."""
        Wn, R = len(self.ranks), self.R
        for w in range(Wn):
            for r in range(R):
                generator = self.generators[w * R + r]
                size = self.sizes[w]
                if self.batch_size is not None:
                    keys = torch.rand(size, generator=generator)
                    index = keys.argsort()[: self.batch_size]
                    self.inputs_T[w, 0, r] = self.shard_X[w][index].T.to(self.device)
                    self.targets[w, 0, r] = self.shard_y[w][index].to(self.device)
                    size = self.batch_size
                noise = torch.randn(self.noise.shape[3], size, generator=generator)
                self.noise[w, 0, r, :, :size] = noise

    def local_step(self, W_local: torch.Tensor) -> None:
        """One masked GD step of every run in place; ``W_local`` is ``(len(ranks) * B, m, d)``."""
        self._draw()
        noise = self.noise.to(self.device).expand_as(self.masked_T)
        inputs = self.inputs_T.expand_as(self.masked_T)
        torch.addcmul(inputs, noise, self.kappa * inputs, out=self.masked_T)
        d, N = self.masked_T.shape[3:]
        targets = self.targets.expand(*self.shape, N).reshape(-1, N)
        masked_T = self.masked_T.view(-1, d, N)
        sum_squares_and_grad(
            W_local, self.a_scaled, masked_T, targets, self.hidden, self.weighted, self.grad_T, True
        )
        W_local.addcmul_(self.step_weight, self.grad_T.mT)

    def uplink(self, W_global: torch.Tensor, W_local: torch.Tensor) -> torch.Tensor:
        """What the server receives: ``W_local`` (``kappa_up = 0``) or ``W + Delta ⊙ h``."""
        if self.kappa_up == 0:
            return W_local
        Wn, R, m = len(self.ranks), self.R, self.m
        h = torch.empty(Wn, 1, R, m, W_local.shape[2], dtype=W_local.dtype)
        for w in range(Wn):
            for r in range(R):
                h[w, 0, r] = torch.randn(h.shape[3:], generator=self.generators[w * R + r])
        h = (1 + self.kappa_up * h).to(self.device).expand(*self.shape, *h.shape[3:])
        W_start = W_global.expand(Wn, *W_global.shape).reshape(W_local.shape)
        return torch.addcmul(W_start, W_local - W_start, h.reshape(W_local.shape))

    def clean_loss(self, W_global: torch.Tensor) -> torch.Tensor:
        """Clean sum loss of the global models ``(B, m, d)`` on all n samples, ``(B,)``."""
        a_scaled = self.a_scaled[: self.B]
        squares = sum_squares_and_grad(
            W_global, a_scaled, self.X_T, self.y, self.hidden, self.weighted, None, True
        )
        return 0.5 * squares

    def round(
        self,
        W_global: torch.Tensor,
        local_steps: int,
        average: Callable[[torch.Tensor], torch.Tensor],
    ) -> torch.Tensor:
        """One round from the global ``W (B, m, d)``: local steps, uplink, then ``average``.

        ``average`` maps the received models ``(len(ranks), B, m, d)`` of these workers to the
        new global ``W (B, m, d)``.
        """
        Wn = len(self.ranks)
        W_local = W_global.expand(Wn, *W_global.shape).reshape(-1, *W_global.shape[1:]).clone()
        for _ in range(local_steps):
            self.local_step(W_local)
        received = self.uplink(W_global, W_local)
        return average(received.view(Wn, *W_global.shape))

    def generator_states(self) -> list[torch.Tensor]:
        return [generator.get_state() for generator in self.generators]

    def set_generator_states(self, states: Sequence[torch.Tensor]) -> None:
        for generator, state in zip(self.generators, states, strict=True):
            generator.set_state(state)

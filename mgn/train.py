"""Masked gradient descent on the two-layer network, all runs of a sweep in one batched program.

The paper's masked training (chapter 4; symbols on the notation page): with a fresh Gaussian mask ``c_{i,k} ~ N(1, kappa^2 I_d)`` for every sample ``i``
and step ``k``,

    W_{k+1} = W_k - lr * grad_W 1/2 sum_i (f(W_k; x_i ⊙ c_{i,k}) - y_i)^2,

with ``a`` fixed. Every run of a sweep (one per mask scale ``kappa`` and initialisation) advances in
the same tensor program: the runs are the batch axis of ``torch.bmm``, the gradient is written out
by hand (no autograd), and one generator draws the masks of all runs. ``kappa = 0`` gives
``x ⊙ c = x`` exactly, so that run is plain gradient descent.

Per step, for all ``B`` runs at once (``C`` the masks, one bmm per line; inputs are kept
transposed, (B, d, n), so that every bmm operand is contiguous or a plain transpose)::

    f_clean = m^{-1/2} a^T relu(W X^T)          (B, n): the recorded clean loss L(W_k)
    P       = W (X ⊙ C)^T                       (B, m, n): masked pre-activations
    r       = m^{-1/2} a^T relu(P) - y          (B, n): masked residuals
    G       = (r ⊙ (X ⊙ C))^T 1{P > 0}^T        (B, d, m)
    W      <- W - lr m^{-1/2} a ⊙ G^T           the masked gradient step
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from mgn.batched_kernel import sum_squares_and_grad
from mgn.device import resolve_device
from mgn.resumable import CHECKPOINT_EVERY, run_resumable
from mgn.training import TrainingResult
from mgn.validation import (
    check_kappas,
    check_positive,
    check_seed,
    check_training_inputs,
)


@dataclass(frozen=True, kw_only=True)
class MaskedGDResult(TrainingResult):
    """Records of a masked-GD sweep, on the CPU, in the dtype the runs computed in.

    Besides the settings of :class:`mgn.training.TrainingResult` (``precision`` is the runs'
    dtype, ``"float64"`` or ``"float32"``):

    Attributes
    ----------
    kappas, lr, steps, batch_size : the sweep's settings.
    clean_loss : clean sum loss L(W_k) (no mask) for k = 0..steps; shape
        ``(len(kappas), steps + 1)`` from :func:`train_masked_gd`, ``(len(kappas), R, steps + 1)``
        from :func:`train_masked_sweep`.
    W : final weights, ``(len(kappas), m, d)`` or ``(len(kappas), R, m, d)``.
    masked_loss : the loss each step differentiated (masked inputs; a minibatch loss is scaled by
        ``n / batch_size``), ``(..., steps)``; ``None`` unless ``record_masked_loss``.
    distance : ``||W_k - W_0||_F`` for k = 0..steps, ``(..., steps + 1)``; ``None`` unless
        ``record_distance``.
    """

    kappas: tuple[float, ...]
    lr: float
    steps: int
    batch_size: int | None
    clean_loss: torch.Tensor
    W: torch.Tensor
    masked_loss: torch.Tensor | None = None
    distance: torch.Tensor | None = None


class _BatchedRuns:
    """State and buffers of ``B = len(kappas) * R`` runs; :meth:`step` advances all of them.

    Internally the runs are reordered so that the ``Z`` full-batch runs with ``kappa = 0`` come
    first: they need no mask and no second forward pass (their masked step *is* the clean one),
    so the masked part of a step works on the contiguous block ``[Z:]`` only;
    :meth:`in_run_order` undoes the reordering. The activations live in scratch buffers
    allocated once: on the CPU a fresh multi-megabyte tensor per step costs as much as the
    matrix products themselves.
    """

    def __init__(self, X, y, W0, a, kappas, lr, steps, seed, batch_size, device, rng_device):
        K, R, m = len(kappas), W0.shape[0], W0.shape[1]
        B, n, d = K * R, X.shape[0], X.shape[1]
        n_batch = n if batch_size is None else batch_size
        dtype = X.dtype
        kappa = torch.tensor(kappas, dtype=dtype).repeat_interleave(R)
        masked = kappa > 0 if batch_size is None else torch.ones(B, dtype=torch.bool)
        self.order = torch.argsort(masked.to(torch.int8), stable=True)
        self.Z = Z = int((~masked).sum())
        self.n, self.lr, self.steps, self.batch_size = n, lr, steps, batch_size
        self.scale = n / n_batch
        self.X, self.y = X.to(device), y.to(device)
        self.X_T = self.X.T.contiguous().expand(B, d, n)
        self.W0 = W0.repeat(K, 1, 1)[self.order].to(device)
        self.W = self.W0.clone()
        self.a_scaled = (a / math.sqrt(m)).repeat(K, 1)[self.order, None, :].to(device)
        self.kappa = kappa[self.order][Z:].to(device)
        self.kappa_X_T = self.kappa[:, None, None] * self.X_T[Z:]
        self.generator = torch.Generator(device=rng_device).manual_seed(seed)
        self.noise = torch.empty(B - Z, d, n_batch, dtype=dtype, device=rng_device)
        self.masked_X_T = torch.empty(B - Z, d, n_batch, dtype=dtype, device=device)
        self.hidden = torch.empty(B * m * n, dtype=dtype, device=device)
        self.weighted = torch.empty(B * d * n, dtype=dtype, device=device)
        self.grad_T = torch.empty(B, d, m, dtype=dtype, device=device)
        self.clean_loss = torch.zeros(B, steps + 1, dtype=dtype, device=device)
        self.masked_loss = torch.zeros(B, steps, dtype=dtype, device=device)
        self.distance = torch.zeros(B, steps + 1, dtype=dtype, device=device)

    def in_run_order(self, records: torch.Tensor) -> torch.Tensor:
        """``records`` (B, ...) from the internal order back to the sweep's run order."""
        return records[torch.argsort(self.order).to(records.device)]

    def _pass(self, first: int, inputs_T, targets, gradient_runs: int) -> torch.Tensor:
        """Sum of squared residuals of runs ``first:`` (``mgn.batched_kernel``)."""
        g = gradient_runs
        return sum_squares_and_grad(
            self.W[first:],
            self.a_scaled[first:],
            inputs_T,
            targets,
            self.hidden,
            self.weighted,
            self.grad_T[first : first + g] if g else None,
        )

    def _record(self, k: int, gradient_runs: int = 0) -> None:
        """Record L(W_k) and ||W_k - W_0||_F; the first ``gradient_runs`` runs take their grad."""
        squares = self._pass(0, self.X_T, self.y, gradient_runs)
        self.clean_loss[:, k] = 0.5 * squares
        self.distance[:, k] = torch.linalg.vector_norm((self.W - self.W0).flatten(1), dim=1)

    def _draw_batch(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Transposed inputs (b, d, N) of the masked runs, kappa times them, and their targets."""
        if self.batch_size is None:
            return self.X_T[self.Z :], self.kappa_X_T, self.y
        B, n = self.W.shape[0], self.n
        keys = torch.rand(B, n, generator=self.generator, device=self.noise.device)
        index = keys.argsort(dim=1)[:, : self.batch_size].to(self.X.device)
        X_batch_T = self.X[index].transpose(1, 2)
        return X_batch_T, self.kappa[:, None, None] * X_batch_T, self.y[index]

    def advance(self, k: int) -> None:
        """Record L(W_k), then take masked step k for every run (module docstring)."""
        Z = self.Z
        self._record(k, gradient_runs=Z)
        self.masked_loss[:Z, k] = self.clean_loss[:Z, k]
        if Z < self.W.shape[0]:
            X_batch_T, kappa_X_T, y_batch = self._draw_batch()
            torch.randn(self.noise.shape, generator=self.generator, out=self.noise)
            noise = self.noise.to(self.masked_X_T.device)
            torch.addcmul(X_batch_T, noise, kappa_X_T, out=self.masked_X_T)
            squares = self._pass(Z, self.masked_X_T, y_batch, self.W.shape[0] - Z)
            self.masked_loss[Z:, k] = 0.5 * self.scale * squares
        self.W.addcmul_(
            self.a_scaled.transpose(1, 2), self.grad_T.transpose(1, 2), value=-self.lr * self.scale
        )

    def finish(self) -> None:
        """Record the clean loss and distance of the final weights."""
        self._record(self.steps)

    def state(self) -> dict:
        return {
            "W": self.W,
            "clean_loss": self.clean_loss,
            "masked_loss": self.masked_loss,
            "distance": self.distance,
            "rng_state": self.generator.get_state(),
        }

    def restore(self, state: dict) -> None:
        for name in ("W", "clean_loss", "masked_loss", "distance"):
            getattr(self, name).copy_(state[name])
        self.generator.set_state(state["rng_state"])


def _check_batch_size(batch_size, n) -> None:
    if batch_size is not None:
        check_positive("batch_size", batch_size, integer=True)
        if batch_size > n:
            raise ValueError(f"batch_size must be at most n = {n}, got {batch_size}")


def train_masked_gd(
    X,
    y,
    W0,
    a,
    kappas: Sequence[float],
    lr: float,
    steps: int,
    *,
    batch_size: int | None = None,
    record_masked_loss: bool = False,
    record_distance: bool = False,
    rng_device: str | torch.device | None = None,
    seed: int = 0,
    device: str | torch.device = "auto",
    checkpoint: str | os.PathLike | None = None,
    checkpoint_every: float = CHECKPOINT_EVERY,
    show_progress: bool = True,
) -> MaskedGDResult:
    """Masked GD (module docstring) for every mask scale in ``kappas`` and every initialisation.

    ``W0`` is one initialisation ``(m, d)`` or R of them ``(R, m, d)`` (a replicate axis). All
    ``len(kappas) * R`` runs advance together in one batched tensor program; each draws a
    fresh mask for every sample, coordinate and step. Runs compute in the promoted dtype of ``X``
    and ``W0`` (float32 inputs: float32 runs; pass float64 tensors for float64 runs).

    Parameters
    ----------
    X : (n, d) inputs; y : (n,) targets.
    W0 : (m, d) initial hidden weights, or (R, m, d), one per replicate (e.g. one per init seed).
    a : (m,) fixed output weights, or (R, m) with a replicate axis.
    kappas : mask scales (``>= 0``); ``kappa = 0`` is plain GD.
    lr : step size ``eta > 0`` on the sum loss 1/2 sum_i (f(x_i) - y_i)^2.
    steps : number of steps (positive int).
    batch_size : ``None`` for full-batch GD; an int for minibatch SGD: every run draws its own
        batch without replacement at every step, and the gradient of the batch's sum loss is
        scaled by ``n / batch_size`` (an unbiased estimate of the full gradient).
    record_masked_loss, record_distance : also record the loss each step differentiated and
        ``||W_k - W_0||_F``.
    rng_device : device of the mask generator (default: ``device``). CPU and CUDA generators draw
        different numbers from one seed; ``rng_device="cpu"`` makes a CUDA run use the CPU's
        draws, hence the CPU's results up to floating point, at the cost of a copy per step.
    seed : seeds the one generator (``torch.Generator(rng_device).manual_seed(seed)``) that
        draws every mask of the sweep: one draw per step for all runs is what makes the batched
        program fast. Runs are ordered kappa-major (run ``b = i * R + j`` has ``kappas[i]`` and
        ``W0[j]``). Full batch: step k's masks are ``1 + kappa * xi`` with ``xi`` the k-th
        ``torch.randn((B', d, n))`` draw over the ``B'`` runs with ``kappa > 0`` in run order
        (``kappa = 0`` runs draw nothing) and ``xi[b, j, i]`` the noise of coordinate ``j`` of
        sample ``i``. With ``batch_size``, every run draws: each step first draws
        ``torch.rand((B, n))`` keys whose ``argsort`` picks the batch, then
        ``torch.randn((B, d, batch_size))``. A run's masks therefore depend on the seed *and* on
        the sweep it belongs to.
    device : ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"``, ...
    checkpoint, checkpoint_every, show_progress : the resumable loop's
        (:func:`mgn.resumable.run_resumable`): the state is saved to ``checkpoint`` every
        ``checkpoint_every`` seconds and at the end, and a later call resumes from it. A resumed
        run on the CPU is bit-identical to an uninterrupted one.

    Returns
    -------
    :class:`MaskedGDResult` with records of shape ``(len(kappas), ...)`` for one initialisation
    and ``(len(kappas), R, ...)`` with a replicate axis.
    """
    started = time.perf_counter()
    X, y, W0, a, replicated = check_training_inputs(X, y, W0, a)
    kappas = tuple(check_kappas(kappas))
    lr = float(check_positive("lr", lr))
    steps = check_positive("steps", steps, integer=True)
    seed = check_seed(seed)
    _check_batch_size(batch_size, X.shape[0])
    device = resolve_device(device)
    rng_device = device if rng_device is None else resolve_device(rng_device)
    runs = _BatchedRuns(X, y, W0, a, kappas, lr, steps, seed, batch_size, device, rng_device)
    settings = {
        "kappas": kappas,
        "lr": lr,
        "steps": steps,
        "seed": seed,
        "batch_size": batch_size,
        "rng_device": rng_device.type,
    }
    run_resumable(
        runs,
        steps,
        settings=settings,
        tensors={"X": X, "y": y, "W0": W0, "a": a},
        checkpoint=checkpoint,
        checkpoint_every=checkpoint_every,
        show_progress=show_progress,
        desc="masked GD",
    )
    runs.finish()
    K, R = len(kappas), W0.shape[0]

    def shaped(records: torch.Tensor) -> torch.Tensor:
        records = runs.in_run_order(records).to("cpu").reshape(K, R, *records.shape[1:])
        return records if replicated else records.squeeze(1)

    return MaskedGDResult(
        seed=seed,
        device=device.type,
        precision=str(X.dtype).removeprefix("torch."),
        seconds=time.perf_counter() - started,
        kappas=kappas,
        lr=lr,
        steps=steps,
        batch_size=batch_size,
        clean_loss=shaped(runs.clean_loss),
        W=shaped(runs.W),
        masked_loss=shaped(runs.masked_loss) if record_masked_loss else None,
        distance=shaped(runs.distance) if record_distance else None,
    )

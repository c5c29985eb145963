"""Masked gradient descent on the two-layer network, all runs of a sweep in one batched program.

SPEC section 1: with a fresh Gaussian mask ``c_{i,k} ~ N(1, kappa^2 I_d)`` for every sample ``i``
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
    W      <- W - lr m^{-1/2} a ⊙ G^T           SPEC section 1's gradient step
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from mgn._validation import (
    as_float_tensor,
    check_kappas,
    check_nonempty,
    check_positive,
    check_rows,
)
from mgn.checkpoint import fingerprint, load_state, save_state
from mgn.device import resolve_device
from mgn.progress import progress


@dataclass(frozen=True)
class TrainResult:
    """Records of a training sweep, on the CPU, in the dtype the runs computed in.

    Attributes
    ----------
    kappas, lr, steps, seed, batch_size : the sweep's settings.
    clean_loss : clean sum loss L(W_k) (SPEC section 1, no mask) for k = 0..steps; shape
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
    seed: int
    batch_size: int | None
    clean_loss: torch.Tensor
    W: torch.Tensor
    masked_loss: torch.Tensor | None = None
    distance: torch.Tensor | None = None


def _sum_squares_and_grad(
    W, a_scaled, inputs_T, targets, hidden, weighted, grad_T=None, batch_invariant=False
) -> torch.Tensor:
    """Sum of squared residuals of ``b`` runs on inputs ``(b, d, N)`` against targets ``(b, N)``.

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
        """Sum of squared residuals of runs ``first:`` (see :func:`_sum_squares_and_grad`)."""
        g = gradient_runs
        return _sum_squares_and_grad(
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

    def step(self, k: int) -> None:
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

    def state(self, done: int) -> dict:
        return {
            "step": done,
            "W": self.W,
            "clean_loss": self.clean_loss,
            "masked_loss": self.masked_loss,
            "distance": self.distance,
            "rng_state": self.generator.get_state(),
        }

    def restore(self, state: dict) -> int:
        for name in ("W", "clean_loss", "masked_loss", "distance"):
            getattr(self, name).copy_(state[name])
        self.generator.set_state(state["rng_state"])
        return int(state["step"])


def _check_inputs(X, y, W0, a) -> tuple[torch.Tensor, ...]:
    X = as_float_tensor("X", X, ndim=2)
    y = as_float_tensor("y", y, ndim=1)
    W0 = as_float_tensor("W0", W0, ndim=3)
    a = as_float_tensor("a", a)
    check_nonempty("X", X)
    check_nonempty("W0", W0)
    check_rows("y", y, X.shape[0], "the rows of X (the sample size n)")
    if W0.shape[2] != X.shape[1]:
        raise ValueError(
            f"W0 must have d = {X.shape[1]} columns to match X, got shape {tuple(W0.shape)}"
        )
    if a.ndim == 1:
        a = a.expand(W0.shape[0], -1)
    if a.shape != W0.shape[:2]:
        raise ValueError(
            f"a must have shape (m,) or (R, m) = {tuple(W0.shape[:2])} to match W0, "
            f"got shape {tuple(a.shape)}"
        )
    dtype = torch.promote_types(X.dtype, W0.dtype)
    return X.to(dtype), y.to(dtype), W0.to(dtype), a.to(dtype)


def _check_options(seed, batch_size, n, checkpoint_every) -> None:
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be an int, got {seed!r}")
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    if batch_size is not None:
        check_positive("batch_size", batch_size, integer=True)
        if batch_size > n:
            raise ValueError(f"batch_size must be at most n = {n}, got {batch_size}")
    check_positive("checkpoint_every", checkpoint_every, integer=True)


def train_masked_sweep(
    X,
    y,
    W0,
    a,
    kappas: Sequence[float],
    lr: float,
    steps: int,
    seed: int = 0,
    device: str | torch.device = "auto",
    *,
    batch_size: int | None = None,
    record_masked_loss: bool = False,
    record_distance: bool = False,
    checkpoint: str | os.PathLike | None = None,
    checkpoint_every: int = 250,
    rng_device: str | torch.device | None = None,
    show_progress: bool = True,
) -> TrainResult:
    """Masked GD (SPEC section 1) for every mask scale in ``kappas`` and every one of R inits.

    All ``len(kappas) * R`` runs advance together in one batched tensor program; each draws a
    fresh mask for every sample, coordinate and step. Runs compute in the promoted dtype of ``X``
    and ``W0`` (float32 inputs: float32 runs; pass float64 tensors for float64 runs).

    Parameters
    ----------
    X : (n, d) inputs; y : (n,) targets.
    W0 : (R, m, d) initial hidden weights, one per replicate (e.g. one per init seed).
    a : (R, m) or (m,) fixed output weights.
    kappas : mask scales (``>= 0``); ``kappa = 0`` is plain GD.
    lr : step size ``eta > 0`` on the sum loss 1/2 sum_i (f(x_i) - y_i)^2.
    steps : number of steps (positive int).
    seed : seed of the one generator (``torch.Generator(rng_device).manual_seed(seed)``) that
        draws every mask of the sweep. Runs are ordered kappa-major (run ``b = i * R + j`` has
        ``kappas[i]`` and ``W0[j]``). Full batch: step k's masks are ``1 + kappa * xi`` with
        ``xi`` the k-th ``torch.randn((B', d, n))`` draw over the ``B'`` runs with ``kappa > 0``
        in run order (``kappa = 0`` runs draw nothing) and ``xi[b, j, i]`` the noise of
        coordinate ``j`` of sample ``i``. With ``batch_size``, every run draws: each step first
        draws ``torch.rand((B, n))`` keys whose ``argsort`` picks the batch, then
        ``torch.randn((B, d, batch_size))``. A run's masks therefore depend on the seed *and* on
        the sweep it belongs to.
    device : ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"``, ...
    batch_size : ``None`` for full-batch GD; an int for minibatch SGD: every run draws its own
        batch without replacement at every step, and the gradient of the batch's sum loss is
        scaled by ``n / batch_size`` (an unbiased estimate of the full gradient).
    record_masked_loss, record_distance : also record the loss each step differentiated and
        ``||W_k - W_0||_F``.
    checkpoint : path of a checkpoint file. When it exists (and was written by this same sweep)
        training resumes from it; the state is saved every ``checkpoint_every`` steps and at the
        end, atomically. A resumed run on the CPU is bit-identical to an uninterrupted one.
    rng_device : device of the mask generator (default: ``device``). CPU and CUDA generators draw
        different numbers from one seed; ``rng_device="cpu"`` makes a CUDA run use the CPU's
        draws, hence the CPU's results up to floating point, at the cost of a copy per step.
    show_progress : show a progress bar (always silent when ``CI`` is set).

    Returns
    -------
    :class:`TrainResult` with records of shape ``(len(kappas), R, ...)``.
    """
    X, y, W0, a = _check_inputs(X, y, W0, a)
    kappas = tuple(check_kappas(kappas))
    lr = float(check_positive("lr", lr))
    steps = check_positive("steps", steps, integer=True)
    _check_options(seed, batch_size, X.shape[0], checkpoint_every)
    device = resolve_device(device)
    rng_device = device if rng_device is None else resolve_device(rng_device)
    runs = _BatchedRuns(X, y, W0, a, kappas, lr, steps, seed, batch_size, device, rng_device)

    done = 0
    if checkpoint is not None:
        settings = {
            "kappas": kappas,
            "lr": lr,
            "steps": steps,
            "seed": seed,
            "batch_size": batch_size,
            "rng_device": rng_device.type,
        }
        key = fingerprint(settings, {"X": X, "y": y, "W0": W0, "a": a})
        state = load_state(checkpoint, key)
        if state is not None:
            done = runs.restore(state)
    hide = {} if show_progress else {"disable": True}
    for k in progress(range(done, steps), total=steps, initial=done, desc="masked GD", **hide):
        runs.step(k)
        if checkpoint is not None and (k + 1) % checkpoint_every == 0 and k + 1 < steps:
            save_state(checkpoint, {"fingerprint": key, **runs.state(k + 1)})
    runs.finish()
    if checkpoint is not None:
        save_state(checkpoint, {"fingerprint": key, **runs.state(steps)})

    K, R = len(kappas), W0.shape[0]

    def shaped(records: torch.Tensor) -> torch.Tensor:
        return runs.in_run_order(records).to("cpu").reshape(K, R, *records.shape[1:])

    return TrainResult(
        kappas=kappas,
        lr=lr,
        steps=steps,
        seed=seed,
        batch_size=batch_size,
        clean_loss=shaped(runs.clean_loss),
        W=shaped(runs.W),
        masked_loss=shaped(runs.masked_loss) if record_masked_loss else None,
        distance=shaped(runs.distance) if record_distance else None,
    )


def train_masked_gd(
    X,
    y,
    W0,
    a,
    kappas: Sequence[float],
    lr: float,
    steps: int,
    seed: int = 0,
    device: str | torch.device = "auto",
    *,
    batch_size: int | None = None,
    record_masked_loss: bool = False,
    record_distance: bool = False,
    checkpoint: str | os.PathLike | None = None,
    checkpoint_every: int = 250,
    rng_device: str | torch.device | None = None,
    show_progress: bool = True,
) -> TrainResult:
    """Masked GD (SPEC section 1) from one initialisation ``W0 (m, d)``, ``a (m,)``, per kappa.

    The runs of all ``kappas`` advance together in one batched program; see
    :func:`train_masked_sweep` (which also batches several initialisations) for every argument.

    Returns
    -------
    :class:`TrainResult` with ``clean_loss (len(kappas), steps + 1)`` and
    ``W (len(kappas), m, d)`` (and the optional records of shape ``(len(kappas), ...)``).
    """
    W0 = as_float_tensor("W0", W0, ndim=2)
    a = as_float_tensor("a", a, ndim=1)
    result = train_masked_sweep(
        X,
        y,
        W0[None],
        a[None],
        kappas,
        lr,
        steps,
        seed,
        device,
        batch_size=batch_size,
        record_masked_loss=record_masked_loss,
        record_distance=record_distance,
        checkpoint=checkpoint,
        checkpoint_every=checkpoint_every,
        rng_device=rng_device,
        show_progress=show_progress,
    )
    squeeze = {
        name: getattr(result, name).squeeze(1) if getattr(result, name) is not None else None
        for name in ("clean_loss", "W", "masked_loss", "distance")
    }
    return TrainResult(
        kappas=result.kappas,
        lr=result.lr,
        steps=result.steps,
        seed=result.seed,
        batch_size=result.batch_size,
        **squeeze,
    )

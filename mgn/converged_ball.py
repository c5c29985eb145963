"""The error ball at convergence: the clean loss at a minimiser of L + R (chapter 4).

Full-batch masked GD follows GD on the expected masked loss E_c[L_masked] = L + R (chapter 5
measures the gap), so its limit is the clean loss L(W*_kappa) at a minimiser W*_kappa of L + R,
not the height of a curve after a fixed number of steps. :func:`minimise_expected_loss` finds
W*_kappa by L-BFGS with a strong-Wolfe line search on the exact closed form
(:func:`mgn.expected_loss.expected_masked_loss`, float64) and reports how far it got (the gradient
norm reached, and the clean loss halfway through), so that a chapter can show convergence instead
of assuming it.

At W*_kappa the clean residual splits as f - y = (f - f~) + (f~ - y), f~ the smoothed network:
the minimiser fits f~ (its objective is 1/2 ||f~ - y||^2 + R), and the clean network differs
from f~ only where the noise reaches a kink. :class:`Minimum` records both halves, and the share
of (input, neuron) pairs within one noise standard deviation of the kink, |z| < s.
"""

from __future__ import annotations

import math
import multiprocessing
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import torch

from mgn.expected_loss import clean_loss, expected_masked_loss, smoothed_network
from mgn.network import network
from mgn.progress import progress
from mgn.smoothed import mask_moments
from mgn.validation import check_kappa, check_kappas, check_positive

__all__ = [
    "Minimum",
    "band_share",
    "converged_balls",
    "minimise_expected_loss",
]


@dataclass(frozen=True)
class Minimum:
    """A minimiser of L + R at one kappa and how it was reached.

    Attributes
    ----------
    kappa : the mask scale.
    W : (m, d) float64 minimiser.
    objective : E_c[L_masked](W) = (L + R)(W).
    clean : the clean loss L(W): the height of the ball at convergence.
    smoothing_gap : 1/2 ||f(W) - f~(W)||^2 over the inputs: the clean network against the
        smoothed one it was fitted as.
    smoothed_residual : 1/2 ||f~(W) - y||^2: how far the smoothed network is from the targets.
    band_share : share of (input, neuron) pairs with |z| < s at W (the noise reaches the kink
        within one standard deviation).
    clean_halfway : the clean loss at the evaluation halfway through the run (its drift since
        then shows whether the budget was enough for L, not only for the gradient).
    grad_norm : ||grad (L + R)(W)||_2 at the end.
    initial_grad_norm : ||grad (L + R)(W0)||_2 at the start.
    evaluations : closed-form evaluations (value and gradient) spent.
    converged : whether ``grad_norm <= tolerance * initial_grad_norm`` was reached.
    """

    kappa: float
    W: torch.Tensor
    objective: float
    clean: float
    smoothing_gap: float
    smoothed_residual: float
    band_share: float
    clean_halfway: float
    grad_norm: float
    initial_grad_norm: float
    evaluations: int
    converged: bool


def band_share(W, X, kappa: float) -> float:
    """Share of (input, neuron) pairs with |z| < s: the noise reaches the kink within one sd."""
    z, s = mask_moments(W, X, kappa)
    return float((z.abs() < s).double().mean())


def minimise_expected_loss(
    W0,
    a,
    X,
    y,
    kappa: float,
    tolerance: float = 1e-5,
    max_evaluations: int = 3000,
    history: int = 100,
) -> Minimum:
    """Minimise the exact expected masked loss over W by L-BFGS from ``W0`` (chapter 4).

    Parameters
    ----------
    W0 : (m, d) start (the training's own initialisation, as masked GD starts there).
    a : (m,) output weights (fixed); X : (n, d) inputs; y : (n,) targets.
    kappa : mask scale (finite, >= 0; 0 minimises the clean loss).
    tolerance : stop when the gradient norm of L + R falls to this fraction of its norm at W0
        (relative: the closed form's gradient is not exact to rounding, and L-BFGS stalls at a few
        1e-6 of the objective's scale).
    max_evaluations : budget of closed-form evaluations (each costs O(n m^2)).
    history : L-BFGS memory.

    Returns
    -------
    :class:`Minimum`; ``converged`` says whether the tolerance was met within the budget.
    """
    kappa = check_kappa(kappa)
    check_positive("tolerance", tolerance)
    check_positive("max_evaluations", max_evaluations, integer=True)
    check_positive("history", history, integer=True)
    X, y, a = (torch.as_tensor(t, dtype=torch.float64) for t in (X, y, a))
    W = torch.as_tensor(W0, dtype=torch.float64).detach().clone().requires_grad_(True)
    evaluations = 0
    clean_trace = []
    (start_grad,) = torch.autograd.grad(expected_masked_loss(W, a, X, y, kappa), W)
    initial_grad_norm = float(start_grad.norm())
    absolute = tolerance * initial_grad_norm

    def closure() -> torch.Tensor:
        nonlocal evaluations
        optimiser.zero_grad()
        value = expected_masked_loss(W, a, X, y, kappa)
        value.backward()
        evaluations += 1
        clean_trace.append(float(clean_loss(W.detach(), a, X, y)))
        return value

    # L-BFGS can stall where ReLU kinks make the curvature pairs useless; a fresh start of its
    # memory (same W) usually moves on. Stop at the tolerance, the budget, or a restart in vain.
    best = float("inf")
    while evaluations < max_evaluations:
        optimiser = torch.optim.LBFGS(
            [W],
            lr=1.0,
            max_iter=max_evaluations - evaluations,
            max_eval=max_evaluations - evaluations,
            tolerance_grad=absolute / math.sqrt(W.numel()),
            tolerance_change=0.0,
            history_size=history,
            line_search_fn="strong_wolfe",
        )
        value = float(optimiser.step(closure).detach())
        grad_norm = float(W.grad.norm()) if W.grad is not None else float("inf")
        if grad_norm <= absolute or value >= best:
            break
        best = value
    W_star = W.detach()
    value_W = W_star.clone().requires_grad_(True)
    objective = expected_masked_loss(value_W, a, X, y, kappa)
    (grad,) = torch.autograd.grad(objective, value_W)
    objective = objective.detach()
    grad_norm = float(grad.norm())
    clean_net, smoothed = network(W_star, a, X), smoothed_network(W_star, a, X, kappa)
    return Minimum(
        kappa=kappa,
        W=W_star,
        objective=float(objective),
        clean=float(clean_loss(W_star, a, X, y)),
        smoothing_gap=0.5 * float((clean_net - smoothed).square().sum()),
        smoothed_residual=0.5 * float((smoothed - y).square().sum()),
        band_share=band_share(W_star, X, kappa),
        clean_halfway=clean_trace[(len(clean_trace) - 1) // 2],
        grad_norm=grad_norm,
        initial_grad_norm=initial_grad_norm,
        evaluations=evaluations,
        converged=grad_norm <= absolute,
    )


def converged_balls(
    problems: Sequence[tuple],
    kappas: Sequence[float],
    tolerance: float = 1e-5,
    max_evaluations: int = 3000,
    workers: int = 1,
) -> list[list[Minimum]]:
    """:func:`minimise_expected_loss` for each problem ``(W0, a, X, y)`` at every kappa.

    Every kappa starts from the problem's ``W0`` (no warm start): L + R is not convex, and a warm
    start down the kappa grid can reach another minimum than masked GD from ``W0`` does (chapter
    4). The runs are independent: with ``workers > 1`` they share one pool of that many
    processes (one thread each), the widest problems first (the longest jobs: the pool then ends
    with short ones). Returns one list of :class:`Minimum` (over ``kappas``) per problem.
    """
    kappas = check_kappas(kappas)
    check_positive("workers", workers, integer=True)
    problems = [tuple(torch.as_tensor(t, dtype=torch.float64).cpu() for t in p) for p in problems]
    jobs = [
        (*problem, kappa, tolerance, max_evaluations) for problem in problems for kappa in kappas
    ]
    order = sorted(range(len(jobs)), key=lambda j: -jobs[j][0].shape[0])
    ordered = [jobs[j] for j in order]
    if workers == 1:
        solved = [_solve(job) for job in progress(ordered, desc="L-BFGS on L + R")]
    else:
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(workers, mp_context=context, initializer=_one_thread) as pool:
            solved = list(
                progress(pool.map(_solve, ordered), total=len(jobs), desc="L-BFGS on L + R")
            )
    found = dict(zip(order, solved, strict=True))
    k = len(kappas)
    return [[found[i * k + j] for j in range(k)] for i in range(len(problems))]


def _one_thread() -> None:
    torch.set_num_threads(1)


def _solve(job: tuple) -> Minimum:
    return minimise_expected_loss(*job)

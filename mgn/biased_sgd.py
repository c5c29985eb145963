"""The biased-SGD theorem of chapter 5 (the book's statement), its bound, and its check.

Iterates ``W_{k+1} = W_k - eta g_k`` with ``E_k[g_k] = grad F(W_k) + b_k``. If along the iterates

- (A1) F is beta-smooth,                    (A2) ||grad F||^2 >= 2 mu (F - F*)   (PL),
- (A3) ||b_k||^2 <= zeta^2,                 (A4) E_k ||g_k||^2 <= M ||grad F(W_k)||^2 + sigma^2,

and ``eta <= 1 / (2 beta M)``, then

    E[F(W_k) - F*] <= (1 - eta mu / 2)^k (F(W_0) - F*) + (zeta^2 + beta eta sigma^2) / mu.

The constants are measured on a trajectory (:class:`Probe`): fitted on one half of the probed steps
and every premise verified on the other half, so that a constant that only fits the steps it was
fitted on is caught. :func:`check_theorem` returns one :class:`~mgn.records.Check` per premise and
one for the bound itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mgn.records import Check

__all__ = [
    "Constants",
    "Probe",
    "check_theorem",
    "fit_constants",
    "looseness",
    "theorem_bound",
]


@dataclass(frozen=True)
class Constants:
    """The constants of (A1)-(A4); ``sigma2_se`` is the Monte Carlo standard error of ``sigma2``."""

    beta: float
    mu: float
    zeta2: float
    M: float
    sigma2: float
    sigma2_se: float = 0.0

    def step_size_limit(self) -> float:
        """The largest step the theorem allows, ``1 / (2 beta M)``."""
        return 1.0 / (2.0 * self.beta * self.M)

    def floor(self, lr: float) -> float:
        """The radius of the ball the bound converges to, ``(zeta^2 + beta eta sigma^2) / mu``."""
        return (self.zeta2 + self.beta * lr * self.sigma2) / self.mu


def theorem_bound(
    constants: Constants, lr: float, F0: float, steps: int, F_star: float = 0.0
) -> np.ndarray:
    """The bound on ``E[F(W_k)]`` for ``k = 0..steps`` (chapter 5), as an array."""
    if constants.mu <= 0:
        raise ValueError(f"constants.mu must be > 0 for a PL bound, got {constants.mu}")
    k = np.arange(steps + 1)
    rate = max(1.0 - lr * constants.mu / 2.0, 0.0)
    return F_star + rate**k * (F0 - F_star) + constants.floor(lr)


@dataclass(frozen=True)
class Probe:
    """Per-step measurements along one trajectory of masked GD (arrays indexed like ``steps``).

    Attributes
    ----------
    steps : probed iteration numbers k.
    loss : clean loss F(W_k).
    grad_norm2 : ||grad F(W_k)||^2.
    lambda_min, lambda_max : extreme eigenvalues of the Gram matrix H(W_k) (chapter 3);
        ``||grad F||^2 = r^T H r`` makes ``lambda_min`` a PL constant and ``lambda_max`` the
        curvature of the Gauss-Newton part of the Hessian.
    smoothness_needed : the beta the descent lemma needs on the step actually taken,
        ``2 (F(W_{k+1}) - F(W_k) - <grad F(W_k), W_{k+1} - W_k>) / ||W_{k+1} - W_k||^2``.
    bias_norm2 : ||b_k||^2, the squared bias of the masked gradient.
    second_moment, second_moment_se : ``E_k ||g_k||^2`` by Monte Carlo over masks, and its
        standard error.
    variance : the mask variance ``E_k ||g_k - E_k g_k||^2`` (chapter 5's sigma^2 before the bias).
    """

    steps: np.ndarray
    loss: np.ndarray
    grad_norm2: np.ndarray
    lambda_min: np.ndarray
    lambda_max: np.ndarray
    smoothness_needed: np.ndarray
    bias_norm2: np.ndarray
    second_moment: np.ndarray
    second_moment_se: np.ndarray
    variance: np.ndarray

    def __post_init__(self) -> None:
        sizes = {name: np.asarray(value).shape for name, value in vars(self).items()}
        if len(set(sizes.values())) != 1 or len(next(iter(sizes.values()))) != 1:
            raise ValueError(f"Probe fields must be 1-d arrays of one length, got shapes {sizes}")
        if len(self.steps) == 0:
            raise ValueError("Probe needs at least one probed step")

    def subset(self, mask: np.ndarray) -> Probe:
        return Probe(**{name: np.asarray(value)[mask] for name, value in vars(self).items()})

    def halves(self) -> tuple[Probe, Probe]:
        """Alternate probed steps: (fitting half, verification half)."""
        if len(self.steps) < 2:
            raise ValueError("halves need at least two probed steps (one to fit, one to verify)")
        index = np.arange(len(self.steps))
        return self.subset(index % 2 == 0), self.subset(index % 2 == 1)


def fit_constants(probe: Probe) -> Constants:
    """Constants of (A1)-(A4) measured on ``probe``, with ``M = 2``.

    beta is the largest curvature seen (``lambda_max`` or the descent lemma's need), mu the smallest
    ``lambda_min``, zeta^2 the largest squared bias. Since ``E||g||^2 = ||grad F + b||^2 +
    tr Cov g <= 2 ||grad F||^2 + 2 ||b||^2 + tr Cov g``, (A4) holds with ``M = 2`` and
    ``sigma^2 = 2 zeta^2 + max_k tr Cov g_k``; ``sigma2_se`` is the standard error of
    ``E||g||^2`` at the step of largest variance.
    """
    zeta2 = float(probe.bias_norm2.max())
    worst = int(np.argmax(probe.variance))
    return Constants(
        beta=float(max(probe.lambda_max.max(), probe.smoothness_needed.max())),
        mu=float(probe.lambda_min.min()),
        zeta2=zeta2,
        M=2.0,
        sigma2=2.0 * zeta2 + float(probe.variance[worst]),
        sigma2_se=float(probe.second_moment_se[worst]),
    )


def check_theorem(
    constants: Constants,
    verify: Probe,
    lr: float,
    loss: np.ndarray,
    F_star: float = 0.0,
    se_multiplier: float = 3.0,
) -> list[Check]:
    """Check the step-size condition, each premise on ``verify``, and the bound on ``loss``.

    ``loss`` is the measured clean loss for k = 0..steps (one run, or the mean over seeds as an
    estimate of the expectation). A premise measured by Monte Carlo is allowed
    ``se_multiplier`` standard errors.
    """
    loss = np.asarray(loss, dtype=float)
    bound = theorem_bound(constants, lr, float(loss[0]), len(loss) - 1, F_star)
    pl_ratio = verify.grad_norm2 / (2.0 * np.maximum(verify.loss - F_star, np.finfo(float).tiny))
    a4_excess = (
        verify.second_moment
        - se_multiplier * verify.second_moment_se
        - constants.M * verify.grad_norm2
    )
    return [
        Check.at_most(
            "step size",
            "eta <= 1 / (2 beta M)",
            lr,
            constants.step_size_limit(),
        ),
        Check.at_most(
            "A1 smoothness",
            "the descent lemma holds with beta on every verified step",
            float(verify.smoothness_needed.max()),
            constants.beta,
        ),
        Check.at_least(
            "A2 PL",
            "||grad F||^2 / (2 (F - F*)) >= mu on every verified step",
            float(pl_ratio.min()),
            constants.mu,
        ),
        Check.at_most(
            "A3 bias",
            "||b_k||^2 <= zeta^2 on every verified step",
            float(verify.bias_norm2.max()),
            constants.zeta2,
        ),
        Check.at_most(
            "A4 second moment",
            f"E||g||^2 - M ||grad F||^2 <= sigma^2 (within {se_multiplier:g} s.e.) on every verified step",
            float(a4_excess.max()),
            constants.sigma2,
        ),
        Check.at_most(
            "bound",
            "measured F(W_k) <= bound at every step",
            float(np.max(loss / bound)),
            1.0,
        ),
    ]


def looseness(constants: Constants, lr: float, loss: np.ndarray, tail: float = 0.1) -> float:
    """How loose the bound is at the plateau: its floor over the mean loss of the last ``tail``."""
    loss = np.asarray(loss, dtype=float)
    plateau = loss[-max(1, int(tail * len(loss))) :].mean()
    return constants.floor(lr) / plateau

"""Input perturbations behind one small interface: the paper's Gaussian mask and others beside it.

Every mask turns an input ``x`` into a random ``x~`` with ``E[x~] = x`` and independent coordinates
of variance :meth:`Mask.input_variance`; :meth:`Mask.sample` draws it. That is all the Monte Carlo
estimator and the small-noise regularizer R_2 need (chapter 2). A :class:`GaussianFamilyMask`
also makes every pre-activation ``w^T x~`` Gaussian, with the mean and standard deviation of
:meth:`GaussianFamilyMask.moments` and the pairwise covariances of
:meth:`GaussianFamilyMask.pair_covariance`: that is what the exact expected loss needs.

- :class:`GaussianMask` ``x ⊙ c``, ``c ~ N(1, kappa^2 I)``: the paper's mask; s = kappa ||w ⊙ x||.
- :class:`AdditiveGaussian` ``x + kappa g``: the classical noise; s = kappa ||w||.
- :class:`LogNormalMask` ``x ⊙ c``, ``c`` log-normal with mean 1 and variance kappa^2 (Monte Carlo).
- :class:`TruncatedGaussianMask` the Gaussian mask with ``c`` kept in ``1 +- T kappa`` (Monte Carlo).
- :class:`BernoulliDropout` ``x ⊙ b / (1 - p)``, ``b ~ Bernoulli(1 - p)``: inverted dropout, whose
  mask has mean 1 and variance p / (1 - p) (Monte Carlo).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass

import torch

from mgn.smoothed import mask_moments
from mgn.validation import as_float_tensor, check_kappa


def _check_inputs(X) -> torch.Tensor:
    X = as_float_tensor("X", X)
    if X.ndim < 1:
        raise ValueError(f"X must have at least one dimension (the last one is d), got {X.shape}")
    return X


def _draw_shape(X: torch.Tensor, draws: int | None) -> tuple[int, ...]:
    if draws is None:
        return tuple(X.shape)
    if isinstance(draws, bool) or not isinstance(draws, int) or draws < 1:
        raise ValueError(f"draws must be a positive integer or None, got {draws!r}")
    return (draws, *X.shape)


def _check_generator(generator: torch.Generator | None, X: torch.Tensor) -> None:
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(
            f"generator must be a torch.Generator or None, got {type(generator).__name__}"
        )
    if generator is not None and generator.device.type != X.device.type:
        raise ValueError(f"generator is on {generator.device}, X on {X.device}: use one device")


class Mask(ABC):
    """An input perturbation x -> x~ with E[x~] = x and independent coordinates."""

    def sample(
        self, X, generator: torch.Generator | None = None, draws: int | None = None
    ) -> torch.Tensor:
        """Perturbed inputs: a fresh, independent draw for every row of ``X`` (and every draw).

        Parameters
        ----------
        X : (..., n, d) clean inputs (torch tensor or array-like).
        generator : torch.Generator on X's device, for reproducible draws (None: global RNG).
        draws : None for one draw of shape ``X.shape``; an int for ``(draws, *X.shape)``.
        """
        X = _check_inputs(X)
        _check_generator(generator, X)
        return self._perturb(X, _draw_shape(X, draws), generator)

    @abstractmethod
    def _perturb(self, X: torch.Tensor, shape: tuple[int, ...], generator) -> torch.Tensor:
        """``X`` broadcast to ``shape`` and perturbed."""

    @abstractmethod
    def input_variance(self, X) -> torch.Tensor:
        """Var of each coordinate of x~, shape of ``X`` (the coordinates are independent)."""


class GaussianFamilyMask(Mask):
    """A mask under which every pre-activation w^T x~ is Gaussian (closed forms exist)."""

    kappa: float

    @abstractmethod
    def moments(self, W, X) -> tuple[torch.Tensor, torch.Tensor]:
        """``(z, s)``, both (n, m): mean w_r^T x_i and standard deviation of w_r^T x~_i."""

    def pair_covariance(self, W1: torch.Tensor, W2: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
        """(n, P) covariances Cov(W1[p]^T x~_i, W2[p]^T x~_i) for paired rows of W1, W2 (P, d).

        For independent coordinates this is ``sum_k W1[p, k] W2[p, k] Var(x~_ik)``: for the
        Gaussian mask kappa^2 (w ⊙ x)^T (w' ⊙ x), for additive noise kappa^2 w^T w' (chapter 1).
        """
        return self.input_variance(X) @ (W1 * W2).T


@dataclass(frozen=True)
class GaussianMask(GaussianFamilyMask):
    """The paper's mask: x~ = x ⊙ c, c ~ N(1, kappa^2 I_d) (the notation page)."""

    kappa: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "kappa", check_kappa(self.kappa))

    def _perturb(self, X, shape, generator):
        noise = torch.randn(shape, generator=generator, dtype=X.dtype, device=X.device)
        return X * (1.0 + self.kappa * noise)

    def input_variance(self, X) -> torch.Tensor:
        X = _check_inputs(X)
        return self.kappa**2 * X * X

    def moments(self, W, X) -> tuple[torch.Tensor, torch.Tensor]:
        """z = w^T x, s = kappa ||w ⊙ x|| (:func:`mgn.smoothed.mask_moments`)."""
        return mask_moments(W, X, self.kappa)


@dataclass(frozen=True)
class AdditiveGaussian(GaussianFamilyMask):
    """Additive noise x~ = x + kappa g, g ~ N(0, I_d): the same closed forms with s = kappa ||w||."""

    kappa: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "kappa", check_kappa(self.kappa))

    def _perturb(self, X, shape, generator):
        noise = torch.randn(shape, generator=generator, dtype=X.dtype, device=X.device)
        return X + self.kappa * noise

    def input_variance(self, X) -> torch.Tensor:
        X = _check_inputs(X)
        return torch.full_like(X, self.kappa**2)

    def moments(self, W, X) -> tuple[torch.Tensor, torch.Tensor]:
        """z = w^T x and s = kappa ||w||, both (n, m)."""
        z, _ = mask_moments(W, X, 0.0)
        W = as_float_tensor("W", W, ndim=2).to(z.dtype)
        s = self.kappa * torch.linalg.vector_norm(W, dim=1)
        return z, s.expand_as(z)


@dataclass(frozen=True)
class LogNormalMask(Mask):
    """x~ = x ⊙ c with c = exp(sigma g - sigma^2 / 2), sigma^2 = log(1 + kappa^2): E c = 1, Var c = kappa^2."""

    kappa: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "kappa", check_kappa(self.kappa))

    def _perturb(self, X, shape, generator):
        sigma = math.sqrt(math.log1p(self.kappa**2))
        noise = torch.randn(shape, generator=generator, dtype=X.dtype, device=X.device)
        return X * torch.exp(sigma * noise - 0.5 * sigma**2)

    def input_variance(self, X) -> torch.Tensor:
        X = _check_inputs(X)
        return self.kappa**2 * X * X


@dataclass(frozen=True)
class BernoulliDropout(Mask):
    """Inverted dropout x~ = x ⊙ b / (1 - p), b ~ Bernoulli(1 - p): mask mean 1, variance p/(1-p)."""

    p: float

    def __post_init__(self) -> None:
        try:
            p = float(self.p)
        except (TypeError, ValueError) as err:
            raise TypeError(f"p must be a real number, got {type(self.p).__name__}") from err
        if not 0.0 <= p < 1.0:
            raise ValueError(f"p must lie in [0, 1) (a drop probability), got {p}")
        object.__setattr__(self, "p", p)

    def _perturb(self, X, shape, generator):
        uniform = torch.rand(shape, generator=generator, dtype=X.dtype, device=X.device)
        return X * (uniform >= self.p).to(X.dtype) / (1.0 - self.p)

    def input_variance(self, X) -> torch.Tensor:
        X = _check_inputs(X)
        return self.p / (1.0 - self.p) * X * X


@dataclass(frozen=True)
class TruncatedGaussianMask(Mask):
    """x~ = x ⊙ c, c = 1 + kappa xi with xi ~ N(0, 1) truncated to [-T, T] (chapter 5).

    Mean one like the paper's mask, but bounded: |c| <= 1 + T kappa, so a bound that must hold for
    every mask can hold. Var c = kappa^2 (1 - 2 T phi(T) / (2 Phi(T) - 1)). Drawn by inverting the
    normal cdf on [Phi(-T), Phi(T)].
    """

    kappa: float
    truncation: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "kappa", check_kappa(self.kappa))
        if not isinstance(self.truncation, (int, float)) or not 0 < self.truncation < math.inf:
            raise ValueError(
                f"truncation must be a finite positive number, got {self.truncation!r}"
            )
        object.__setattr__(self, "truncation", float(self.truncation))

    def _perturb(self, X, shape, generator):
        low = 0.5 * math.erfc(self.truncation / math.sqrt(2.0))  # Phi(-T)
        uniform = torch.rand(shape, generator=generator, dtype=X.dtype, device=X.device)
        xi = torch.special.ndtri(low + (1.0 - 2.0 * low) * uniform).clamp(
            -self.truncation, self.truncation
        )
        return X * (1.0 + self.kappa * xi)

    def variance_factor(self) -> float:
        """Var(xi) of the truncated standard normal: 1 - 2 T phi(T) / (2 Phi(T) - 1)."""
        t = self.truncation
        return 1.0 - 2.0 * t * math.exp(-0.5 * t * t) / math.sqrt(2.0 * math.pi) / math.erf(
            t / math.sqrt(2.0)
        )

    def input_variance(self, X) -> torch.Tensor:
        X = _check_inputs(X)
        return self.kappa**2 * self.variance_factor() * X * X


def resolve_mask(kappa: float | None, mask: Mask | None, closed_form: bool) -> Mask:
    """The mask asked for: ``GaussianMask(kappa)``, or ``mask`` itself (one of the two)."""
    if mask is None:
        if kappa is None:
            raise TypeError("give the mask scale kappa or a mask (mask=...)")
        return GaussianMask(kappa)
    if kappa is not None:
        raise ValueError("give kappa or mask, not both (a mask carries its own scale)")
    if not isinstance(mask, Mask):
        raise TypeError(f"mask must be a mgn.masks.Mask, got {type(mask).__name__}")
    if closed_form and not isinstance(mask, GaussianFamilyMask):
        raise TypeError(
            f"mask must be a GaussianFamilyMask for the closed form, got {type(mask).__name__}; "
            "use masked_loss_monte_carlo for other masks"
        )
    return mask

"""Neural tangent kernel Gram matrices of the two-layer network, and lambda_0 (SPEC section 4).

Only W is trained, so the Jacobian of the outputs in W has rows
J_i = m^{-1/2} (a_r 1{w_r^T x_i > 0} x_i)_r and H(W) = J J^T. Through the activation pattern S:
H(W) = ((X X^T) ⊙ (S diag(a^2) S^T)) / m, never through per-sample Jacobians. Its expectation over
w ~ N(0, tau^2 I) is H_inf[i, j] = x_i^T x_j (pi - arccos(cos theta_ij)) / (2 pi); under the Gaussian
mask the smoothed network's Jacobian uses the Stein gradient of :func:`mgn.smoothed.smoothed_neuron_grad`.
"""

from __future__ import annotations

import math

import torch

from mgn.smoothed import smoothed_neuron_grad
from mgn.validation import (
    as_float_tensor,
    check_kappa,
    check_nonempty,
    check_rows,
    check_weights_and_inputs,
)


def _output_weights(a, W: torch.Tensor) -> torch.Tensor:
    """a as (m,) in W's dtype; all ones when ``a`` is None (a_r^2 = 1 for a_r in {-1, +1})."""
    if a is None:
        return torch.ones(W.shape[0], dtype=W.dtype, device=W.device)
    a = as_float_tensor("a", a, ndim=1)
    check_rows("a", a, W.shape[0], "the rows of W (the width m)")
    return a.to(device=W.device, dtype=W.dtype)


def ntk_gram_infinite(X) -> torch.Tensor:
    """Infinite-width Gram H_inf[i, j] = x_i^T x_j (pi - arccos(cos theta_ij)) / (2 pi) (SPEC 4).

    ``cos theta_ij = x_i^T x_j / (||x_i|| ||x_j||)``, clamped into [-1, 1] (on the unit sphere it is
    x_i^T x_j). This is E_w[x_i^T x_j 1{w^T x_i > 0} 1{w^T x_j > 0}] for w ~ N(0, tau^2 I), any tau.

    Parameters
    ----------
    X : (n, d) inputs.

    Returns
    -------
    (n, n) symmetric positive semi-definite tensor in X's dtype and device.
    """
    X = as_float_tensor("X", X, ndim=2)
    check_nonempty("X", X)
    inner = X @ X.T
    norms = torch.linalg.vector_norm(X, dim=1)
    scale = torch.outer(norms, norms)
    cosine = torch.where(scale > 0, inner / torch.where(scale > 0, scale, 1.0), 0.0)
    return inner * (math.pi - torch.arccos(cosine.clamp(-1.0, 1.0))) / (2.0 * math.pi)


def ntk_gram(W, X, a=None) -> torch.Tensor:
    """Finite-width Gram H(W) = J J^T = ((X X^T) ⊙ (S diag(a^2) S^T)) / m (SPEC section 4).

    Parameters
    ----------
    W : (m, d) hidden weights; X : (n, d) inputs.
    a : (m,) output weights, optional: None means a_r^2 = 1 (a_r in {-1, +1}, SPEC section 1).

    Returns
    -------
    (n, n) tensor; S[i, r] = 1{w_r^T x_i > 0} is the activation pattern. Cost O(n m d + n^2 m).
    """
    W, X = check_weights_and_inputs(W, X)
    weights = _output_weights(a, W)
    pattern = (X @ W.T > 0).to(W.dtype)
    return (X @ X.T) * ((pattern * weights.square()) @ pattern.T) / W.shape[0]


def ntk_gram_smoothed(W, X, kappa: float, a=None) -> torch.Tensor:
    """Gram of the smoothed network under the Gaussian mask: H~ = J~ J~^T (SPEC section 4).

    Row i of J~ is m^{-1/2} (a_r g_ir)_r with g_ir = grad_w E_c[relu(w_r^T (x_i ⊙ c))]
    = Phi(z/s) x_i + phi(z/s) kappa^2 (x_i ⊙ x_i ⊙ w_r)/s (Stein's lemma, SPEC section 2); so
    H~[i, j] = m^{-1} sum_r a_r^2 g_ir^T g_jr. At kappa = 0 it equals :func:`ntk_gram`.
    Memory O(n m d) (the (n, m, d) gradients, one matrix product).
    """
    kappa = check_kappa(kappa)
    W, X = check_weights_and_inputs(W, X)
    weights = _output_weights(a, W)
    grads = smoothed_neuron_grad(W[None], X[:, None], kappa) * weights[:, None]
    rows = grads.reshape(X.shape[0], -1)
    return rows @ rows.T / W.shape[0]


def lambda_0(X) -> torch.Tensor:
    """lambda_0 = lambda_min(H_inf) (SPEC section 4); positive when no two inputs are parallel."""
    return torch.linalg.eigvalsh(ntk_gram_infinite(X))[0]

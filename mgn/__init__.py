"""mgn: the library behind the book on two-layer networks trained under Gaussian input masking.

Reference: Kolomvaki, Liao, Dramko, Guang, Kyrillidis, *Convergence Analysis of Two-Layer Neural
Networks under Gaussian Input Masking*, arXiv:2602.17423 (2026).
"""

from mgn.bivariate import (
    bvn_cdf,
    relu_covariance,
    relu_product_moment,
    relu_variance,
)
from mgn.data import init_network, sphere_teacher_data
from mgn.expected_loss import (
    DecompositionSweep,
    LossDecomposition,
    MonteCarloEstimate,
    clean_loss,
    decomposition_sweep,
    expected_masked_loss,
    input_gradient,
    loss_decomposition,
    masked_loss_monte_carlo,
    masked_output_variance,
    quadratic_regularizer,
    smoothed_network,
)
from mgn.masked_gradient import masked_gradient_bias, masked_gradient_monte_carlo
from mgn.masks import (
    AdditiveGaussian,
    BernoulliDropout,
    GaussianFamilyMask,
    GaussianMask,
    LogNormalMask,
    Mask,
    TruncatedGaussianMask,
)
from mgn.network import network
from mgn.ntk import (
    GramConcentration,
    GramEstimate,
    lambda_0,
    linearised_ntk_loss,
    ntk_concentration,
    ntk_gram,
    ntk_gram_infinite,
    ntk_gram_monte_carlo,
    ntk_gram_smoothed,
)
from mgn.records import Check, Claim, Identity, Results
from mgn.smoothed import (
    mask_moments,
    smoothed_neuron,
    smoothed_neuron_grad,
    smoothed_relu,
    smoothed_relu_second_moment,
)
from mgn.train import MaskedGDResult, train_masked_gd
from mgn.trajectory import expected_loss_descent, probe_trajectory

__all__ = [
    "AdditiveGaussian",
    "BernoulliDropout",
    "Check",
    "Claim",
    "DecompositionSweep",
    "GaussianFamilyMask",
    "GaussianMask",
    "GramConcentration",
    "GramEstimate",
    "Identity",
    "LogNormalMask",
    "LossDecomposition",
    "MaskedGDResult",
    "Mask",
    "MonteCarloEstimate",
    "Results",
    "TruncatedGaussianMask",
    "bvn_cdf",
    "clean_loss",
    "decomposition_sweep",
    "expected_loss_descent",
    "expected_masked_loss",
    "init_network",
    "input_gradient",
    "lambda_0",
    "linearised_ntk_loss",
    "loss_decomposition",
    "mask_moments",
    "masked_gradient_bias",
    "masked_gradient_monte_carlo",
    "masked_loss_monte_carlo",
    "masked_output_variance",
    "network",
    "ntk_concentration",
    "ntk_gram",
    "ntk_gram_infinite",
    "ntk_gram_monte_carlo",
    "ntk_gram_smoothed",
    "probe_trajectory",
    "quadratic_regularizer",
    "relu_covariance",
    "relu_product_moment",
    "relu_variance",
    "smoothed_network",
    "smoothed_neuron",
    "smoothed_neuron_grad",
    "smoothed_relu",
    "smoothed_relu_second_moment",
    "sphere_teacher_data",
    "train_local_sgd",
    "train_masked_gd",
]
__version__ = "0.1.0"

# Re-exported from the subpackages on first use: the core never imports a subpackage at import time.
_SUBPACKAGE_NAMES = {"train_local_sgd": "mgn.distributed"}


def __getattr__(name: str):
    if name in _SUBPACKAGE_NAMES:
        import importlib

        return getattr(importlib.import_module(_SUBPACKAGE_NAMES[name]), name)
    raise AttributeError(f"module 'mgn' has no attribute {name!r}")

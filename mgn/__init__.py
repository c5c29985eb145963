"""mgn: the library behind the book on two-layer networks trained under Gaussian input masking.

Reference: Kolomvaki, Liao, Dramko, Guang, Kyrillidis, *Convergence Analysis of Two-Layer Neural
Networks under Gaussian Input Masking*, arXiv:2602.17423 (2026).

The public surface, each with its ``__all__`` (everything else is internal):

* ``mgn`` itself: the network, data, smoothed activation, masks, expected loss, NTK quantities,
  the masked-gradient bias, the theory trainers (:func:`train_masked_gd`, :func:`train_local_sgd`)
  and the records a chapter keeps (:class:`Results`, :class:`Check`);
* the domains ``mgn.distributed`` (with ``mgn.distributed.theory`` and
  ``mgn.distributed.drift``), ``mgn.vision`` and ``mgn.privacy``;
* the tools ``mgn.checks`` (checks that a wrong formula fails), ``mgn.report`` (tables and the
  verdict rule), ``mgn.curves``, ``mgn.biased_sgd``, ``mgn.converged_ball``, ``mgn.device``,
  ``mgn.plotting``, ``mgn.progress``, and what every trainer shares: ``mgn.seeds`` (the seed
  rule), ``mgn.resumable`` (the one training loop) and ``mgn.training`` (the result base).

Every public name is imported from its module on first use (PEP 562), so ``import mgn`` costs
nothing and the book's runner (``mgn.book``) never loads PyTorch: ``mgn.smoothed_relu`` and
``from mgn import smoothed_relu`` work as usual, and so does a submodule reached as an attribute
(``mgn.ntk.ntk_gram``).
"""

import importlib
import importlib.util
import sys
import types

# Each public name and the module that defines it; the core never imports a subpackage at import
# time, so ``train_local_sgd`` (chapter 6) is reached the same way.
_MODULE_OF = {
    "bvn_cdf": "mgn.bivariate",
    "relu_covariance": "mgn.bivariate",
    "relu_product_moment": "mgn.bivariate",
    "relu_variance": "mgn.bivariate",
    "init_network": "mgn.data",
    "sphere_teacher_data": "mgn.data",
    "DecompositionSweep": "mgn.expected_loss",
    "LossDecomposition": "mgn.expected_loss",
    "MonteCarloEstimate": "mgn.expected_loss",
    "clean_loss": "mgn.expected_loss",
    "decomposition_sweep": "mgn.expected_loss",
    "expected_masked_loss": "mgn.expected_loss",
    "input_gradient": "mgn.expected_loss",
    "loss_decomposition": "mgn.expected_loss",
    "masked_loss_monte_carlo": "mgn.expected_loss",
    "masked_output_variance": "mgn.expected_loss",
    "quadratic_regularizer": "mgn.expected_loss",
    "smoothed_network": "mgn.expected_loss",
    "masked_gradient_bias": "mgn.masked_gradient",
    "masked_gradient_monte_carlo": "mgn.masked_gradient",
    "masked_gradients": "mgn.masked_gradient",
    "AdditiveGaussian": "mgn.masks",
    "BernoulliDropout": "mgn.masks",
    "GaussianFamilyMask": "mgn.masks",
    "GaussianMask": "mgn.masks",
    "LogNormalMask": "mgn.masks",
    "Mask": "mgn.masks",
    "TruncatedGaussianMask": "mgn.masks",
    "network": "mgn.network",
    "kink_pair_share": "mgn.output_variance",
    "GramConcentration": "mgn.ntk",
    "GramEstimate": "mgn.ntk",
    "lambda_0": "mgn.ntk",
    "linearised_ntk_loss": "mgn.ntk",
    "ntk_concentration": "mgn.ntk",
    "ntk_gram": "mgn.ntk",
    "ntk_gram_infinite": "mgn.ntk",
    "ntk_gram_monte_carlo": "mgn.ntk",
    "ntk_gram_smoothed": "mgn.ntk",
    "Check": "mgn.records",
    "Claim": "mgn.records",
    "Identity": "mgn.records",
    "Results": "mgn.records",
    "recorded_values": "mgn.records",
    "mask_moments": "mgn.smoothed",
    "smoothed_neuron": "mgn.smoothed",
    "smoothed_neuron_grad": "mgn.smoothed",
    "smoothed_relu": "mgn.smoothed",
    "smoothed_relu_second_moment": "mgn.smoothed",
    "MaskedGDResult": "mgn.train",
    "train_masked_gd": "mgn.train",
    "expected_loss_descent": "mgn.trajectory",
    "probe_trajectory": "mgn.trajectory",
    "train_local_sgd": "mgn.distributed",
}

__all__ = sorted(_MODULE_OF)
__version__ = "0.1.0"


def __getattr__(name: str):
    """Import a public name (or a submodule) of ``mgn`` on first use and keep it."""
    if name in _MODULE_OF:
        value = getattr(importlib.import_module(_MODULE_OF[name]), name)
    elif not name.startswith("__") and importlib.util.find_spec(f"{__name__}.{name}") is not None:
        value = importlib.import_module(f"{__name__}.{name}")
    else:
        raise AttributeError(f"module 'mgn' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


class _Package(types.ModuleType):
    """``mgn`` itself: a loaded submodule named like its public function (``mgn.network``) leaves
    the package's attribute to the function, as the eager ``from mgn.network import network`` did."""

    def __setattr__(self, name: str, value: object) -> None:
        if isinstance(value, types.ModuleType) and _MODULE_OF.get(name) == value.__name__:
            value = getattr(value, name)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package

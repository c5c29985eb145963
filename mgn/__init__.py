"""mgn: the library behind the book on two-layer networks trained under Gaussian input masking.

Reference: Kolomvaki, Liao, Dramko, Guang, Kyrillidis, *Convergence Analysis of Two-Layer Neural
Networks under Gaussian Input Masking*, arXiv:2602.17423 (2026).
"""

from mgn.network import network
from mgn.records import Check, Results
from mgn.smoothed import (
    mask_moments,
    smoothed_neuron,
    smoothed_neuron_grad,
    smoothed_relu,
    smoothed_relu_second_moment,
)

__all__ = [
    "Check",
    "Results",
    "mask_moments",
    "network",
    "smoothed_neuron",
    "smoothed_neuron_grad",
    "smoothed_relu",
    "smoothed_relu_second_moment",
]
__version__ = "0.1.0"

"""Chapter 8 on a CIFAR-10 folder: the branch a CIFAR-10 user takes, executed at smoke sizes.

The folder (:mod:`tests.cifar_folder`) holds real CIFAR-10 python batches of coloured random
images, half of them with a random label: a model fits those only by memorising them, so the
unmasked models leak membership, as the chapter's checks require. The chapter runs with the smoke
mode's parameters plus ``cifar_root``, so the settings of a CIFAR-10 run (the parameters that
default to the paper's: ``group_size``, ``mlp_hidden``, ``cnn_channels``, ``cnn_kappas``,
``cnn_epochs``) run too, shrunk, on the CPU.
"""

import pytest

from tests.cifar_folder import execute_on_cifar, write_cifar10


@pytest.fixture(scope="module")
def chapter8_on_cifar(tmp_path_factory):
    """The results and the executed notebook of chapter 8 on a CIFAR-10 folder of 6 x 200 images."""
    root = tmp_path_factory.mktemp("cifar")
    write_cifar10(root / "data", per_batch=200, relabelled=0.5)
    results = execute_on_cifar("08_privacy", root / "data", root)
    return results, (root / "executed.ipynb").read_text()


def test_chapter8_reads_cifar10_with_the_cifar_settings(chapter8_on_cifar):
    results, executed = chapter8_on_cifar
    values = results["values"]
    assert {"cnn_auc_ML-Leaks_kappa_0", "cnn_auc_ML-Leaks_kappa_0.5"} <= set(values)
    assert "cnn_auc_ML-Leaks_kappa_1.8" not in values  # cnn_kappas, not the fallback's
    claims = {c["name"]: c for c in results["claims"]}
    assert claims["attack_auc_falls_with_kappa"]["measured"].startswith("cifar10, groups of 120")
    assert "CNN with widths [8, 16]" in executed and "CIFAR-10" in executed


def test_chapter8_on_cifar10_checks_pass_and_claims_stay_below_confirmed(chapter8_on_cifar):
    results, _ = chapter8_on_cifar
    assert results["checks"] and all(c["passed"] for c in results["checks"])
    verdicts = {c["name"]: c["verdict"] for c in results["claims"]}
    assert "confirmed" not in verdicts.values()  # smoke sizes are off the paper's scale

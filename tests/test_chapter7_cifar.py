"""Chapter 7 on a CIFAR-10 folder: the branch a CIFAR-10 user takes, executed at smoke sizes.

The folder is small (:mod:`tests.cifar_folder`: real CIFAR-10 python batches of coloured random
images); the chapter runs with the smoke mode's parameters plus ``cifar_root``, so the settings of a
CIFAR-10 run (the parameters that default to the paper's) run too, shrunk, on the CPU.
"""

import pytest

from tests.cifar_folder import execute_on_cifar, write_cifar10


@pytest.fixture(scope="module")
def chapter7_on_cifar(tmp_path_factory):
    """The results of chapter 7 executed on a CIFAR-10 folder of 6 x 500 images."""
    root = tmp_path_factory.mktemp("cifar")
    write_cifar10(root / "data", per_batch=500)
    return execute_on_cifar("07_accuracy", root / "data", root, device="cpu")


def test_chapter7_reads_cifar10_and_evaluates_on_the_official_test_images(chapter7_on_cifar):
    values = chapter7_on_cifar["values"]
    assert {"mlp_official_test_acc_kappa_0", "cnn_official_test_acc_kappa_0"} <= set(values)
    claims = {c["name"]: c for c in chapter7_on_cifar["claims"]}
    assert "on cifar10" in claims["fig4_mlp_flat_then_decline"]["measured"]


def test_chapter7_on_cifar10_checks_pass_and_claims_stay_below_confirmed(chapter7_on_cifar):
    checks = chapter7_on_cifar["checks"]
    assert checks and all(c["passed"] for c in checks)
    assert values_learn(chapter7_on_cifar)
    verdicts = {c["name"]: c["verdict"] for c in chapter7_on_cifar["claims"]}
    assert "confirmed" not in verdicts.values()  # smoke sizes are off the paper's scale
    assert verdicts["fig4_mlp_cifar_number"] == verdicts["fig4_cnn_cifar_number"] == "not tested"


def values_learn(results) -> bool:
    """Both models learn the colours at kappa = 0 (well above chance)."""
    values = results["values"]
    return values["mlp_test_acc_kappa_0"] > 0.5 and values["cnn_test_acc_kappa_0"] > 0.3

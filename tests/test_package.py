"""The package ``mgn`` itself: every public name reachable, imported only on first use, so that the
book's runner (``mgn.book``, ``python -m mgn``) never loads PyTorch or the science modules."""

import json
import subprocess
import sys

import pytest

import mgn
from tests.repository import ROOT

# What the runner may load of mgn: the package, the runner, and the record format it reads.
RUNNER_MODULES = ("mgn.book", "mgn.__main__")
ALLOWED = {"mgn", "mgn.records"}


def loaded_modules(statement: str) -> list[str]:
    """The modules loaded in a fresh interpreter by ``statement`` (run from the repository root)."""
    code = f"import json, sys\n{statement}\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    return json.loads(out.stdout.splitlines()[-1])


def test_runner_imports_no_torch_and_no_science():
    runner = [
        "mgn.book.baselines", "mgn.book.build", "mgn.book.cache", "mgn.book.claims",
        "mgn.book.environment", "mgn.book.execute", "mgn.book.layout", "mgn.book.mathjax",
        "mgn.book.mutation_catalogue", "mgn.book.mutations", "mgn.book.reading_order",
        "mgn.book.refresh", "mgn.book.reproducibility", "mgn.__main__",
    ]  # fmt: skip
    modules = loaded_modules("\n".join(f"import {name}" for name in runner))
    assert "torch" not in modules and "numpy" not in modules
    ours = [m for m in modules if m == "mgn" or m.startswith("mgn.")]
    assert set(runner) <= set(ours)
    science = [m for m in ours if m not in ALLOWED and not m.startswith(RUNNER_MODULES)]
    assert science == []


def test_importing_the_package_loads_nothing_of_the_library():
    modules = loaded_modules("import mgn")
    assert "torch" not in modules
    assert [m for m in modules if m.startswith("mgn.")] == []


def test_command_line_help_does_not_load_the_runner():
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "mgn", "execute", "--help"],
        capture_output=True, text=True, check=True, cwd=ROOT,
    )  # fmt: skip
    assert "--force" in out.stdout
    imported = [line.rsplit("|", 1)[-1].strip() for line in out.stderr.splitlines()]
    assert "torch" not in imported and "papermill" not in imported and "nbformat" not in imported


def test_every_public_name_is_reachable_and_listed():
    assert mgn.__all__ == sorted(mgn.__all__) and len(mgn.__all__) == len(set(mgn.__all__))
    assert set(mgn.__all__) <= set(dir(mgn))
    for name in mgn.__all__:
        value = getattr(mgn, name)
        assert getattr(value, "__name__", name) == name, name
    namespace = {}
    exec("from mgn import *", namespace)
    assert set(mgn.__all__) <= set(namespace)


def test_a_function_named_like_its_module_stays_the_function():
    # Loading the module mgn.network first (expected_loss imports it) binds the name to the module,
    # unless the package keeps it for the function, as the eager import did.
    code = "import mgn.expected_loss\nfrom mgn import network\nprint(network.__module__)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert out.stdout.strip() == "mgn.network"
    assert callable(mgn.network)
    assert mgn.ntk.ntk_gram is mgn.ntk_gram
    assert mgn.train_local_sgd.__module__ == "mgn.distributed.simulation"


def test_unknown_name_raises_attribute_error_naming_it():
    with pytest.raises(AttributeError, match="'no_such_name'"):
        mgn.no_such_name  # noqa: B018
    assert not hasattr(mgn, "__no_such_dunder__")
